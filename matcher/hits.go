package matcher

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// censusHit is a source row that matches somebody of the census: by ID, or
// (weak) by name + birth date + region for a row without a valid ID.
type censusHit struct {
	row, person int32
	weak        bool
}

// hukouHit is a police row whose hukou number is on a roster member's police
// record (by hash): a row the hukou housemates may come from.
type hukouHit struct {
	row  int32
	hash uint64
}

// entryHits is what the census found in one source entry, per chunk.
type entryHits struct {
	rows  [][]censusHit
	recs  [][]sources.Record // the rows decoded, same order, when the census decoded them
	hukou [][]hukouHit       // police entries only
}

// scanSources reads the key column of every source but staff once, counts
// its quality (and writes its quarantine) against the whole census, and
// keeps the rows that match somebody, so that shards decode them without
// reading the keys again. Staff rows can also match hukou housemates, which
// are found per shard: staff is read by every shard and counted by the last.
func (c *Census) scanSources(ctx context.Context) error {
	c.hits = make([]entryHits, len(c.m.Sources))
	rosterHukous := newKeyTable(64)
	police := map[int][][]uint64{} // entry → chunk → every row's hukou number hash
	for i, e := range c.m.Sources {
		if e.Kind == sources.KindStaff {
			continue
		}
		hashes, err := c.scanEntry(ctx, i, e)
		if err != nil {
			return err
		}
		if e.Kind != sources.KindPolice {
			continue
		}
		police[i] = hashes
		// The hukou numbers of roster members' police records matched by ID.
		for ci, hs := range hashes {
			for _, h := range c.hits[i].rows[ci] {
				if !h.weak && h.person < c.nRoster && hs[h.row] != 0 {
					rosterHukous.put(hs[h.row], 0)
				}
			}
		}
	}
	// Every police entry is read before any is filtered: a member's hukou
	// may be on a later entry than a housemate's row.
	for i, hashes := range police {
		c.hits[i].hukou = make([][]hukouHit, len(hashes))
		for ci, hs := range hashes {
			c.hits[i].hukou[ci] = hukouRows(hs, rosterHukous)
			hashes[ci] = nil
		}
	}
	return nil
}

// hukouRows keeps the rows whose hash is in set.
func hukouRows(hashes []uint64, set *keyTable) []hukouHit {
	var out []hukouHit
	for row, h := range hashes {
		if h != 0 && set.get(h) >= 0 {
			out = append(out, hukouHit{row: int32(row), hash: h})
		}
	}
	return out
}

// scanEntry probes one entry's keys against the census and records its
// matching rows; for police it returns every row's hukou number hash.
func (c *Census) scanEntry(ctx context.Context, i int, e *sources.Entry) ([][]uint64, error) {
	rd, err := sources.Open(ctx, c.m, e, sources.ReadOptions{CacheDir: c.opts.CacheDir})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	chunks := rd.Chunks()
	rows := make([][]censusHit, len(chunks))
	var recs [][]sources.Record
	if c.decodeKept {
		recs = make([][]sources.Record, len(chunks))
	}
	counts := make([][2]int64, len(chunks))
	var hashes [][]uint64
	if e.Kind == sources.KindPolice {
		hashes = make([][]uint64, len(chunks))
	}
	var total int64
	for _, ch := range chunks {
		total += int64(ch.Rows)
	}
	tick := c.progress(e, "census", total)
	q := c.res.Quality[i]
	err = rd.Scan(ctx, c.opts.Workers, c.opts.Quarantine, q, func(ch sources.Chunk, keys []personid.Parsed) error {
		hs, n, err := c.probeKeys(rd, ch, keys)
		if err != nil {
			return err
		}
		rows[ch.Index], counts[ch.Index] = hs, n
		if recs != nil && len(hs) > 0 {
			// Scan keeps the chunk's pages while this runs: the key
			// column just parsed is not decompressed again.
			at := make([]int, len(hs))
			for k, h := range hs {
				at[k] = int(h.row)
			}
			if recs[ch.Index], err = rd.Decode(ch, at); err != nil {
				return err
			}
		}
		if hashes != nil {
			if hashes[ch.Index], err = rd.Hashes(ch, "hukou_no", nil); err != nil {
				return err
			}
		}
		tick(ch.Rows)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range counts {
		q.MatchedID += n[0]
		q.MatchedNameDOB += n[1]
	}
	q.Unmatched = q.ValidKeys - q.MatchedID
	c.hits[i].rows, c.hits[i].recs = rows, recs
	return hashes, nil
}

// probeKeys finds one chunk's rows that match somebody of the census, in
// row order, and counts the matches by ID and by name + birth date.
func (c *Census) probeKeys(rd *sources.Reader, ch sources.Chunk, keys []personid.Parsed) ([]censusHit, [2]int64, error) {
	var out []censusHit
	var invalid []int
	var n [2]int64
	for i := range keys {
		p := &keys[i]
		if p.Reason != personid.ReasonNone {
			invalid = append(invalid, i)
			continue
		}
		if g := c.table.get(uint64(p.Key)); g >= 0 {
			out = append(out, censusHit{row: int32(i), person: g})
		}
	}
	n[0] = int64(len(out))
	if len(invalid) == 0 || len(c.nameDOB) == 0 {
		return out, n, nil
	}
	// Only the key and the name, birth-date and region columns.
	recs, err := rd.DecodeOrigins(ch, invalid)
	if err != nil {
		return nil, n, err
	}
	var weak []censusHit
	for i, rec := range recs {
		o := rec.Base()
		if g, ok := c.nameDOB[nameDOBKey(o.Name, o.BirthDate, o.Region)]; ok && g >= 0 {
			weak = append(weak, censusHit{row: int32(invalid[i]), person: g, weak: true})
		}
	}
	n[1] = int64(len(weak))
	if len(weak) > 0 {
		out = append(out, weak...)
		slices.SortFunc(out, func(a, b censusHit) int { return int(a.row - b.row) })
	}
	return out, n, nil
}

// decodeHits decodes, chunk by chunk in parallel, the rows of one entry that
// the census found for this shard's people, and attaches them in row order.
func (r *run) decodeHits(ctx context.Context, i int, e *sources.Entry) error {
	c := r.c
	out := make([]chunkHits, len(c.hits[i].rows))
	pick := func(ci int) []int {
		o := &out[ci]
		o.hits = make([]hit, 0, len(c.hits[i].rows[ci]))
		for _, h := range c.hits[i].rows[ci] {
			if l := c.localOf[h.person]; l >= 0 {
				o.hits = append(o.hits, hit{row: int(h.row), person: l, mate: -1, nameDOB: h.weak})
			}
		}
		rows := make([]int, len(o.hits))
		for k, h := range o.hits {
			rows[k] = h.row
		}
		return rows
	}
	keep := func(ci int, _ []int, recs []sources.Record) { out[ci].recs = recs }
	if kept := c.hits[i].recs; kept != nil && len(c.shards) == 1 {
		c.hits[i].recs = nil
		if err := keptHits(out, c.hits[i].rows, kept, pick); err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
	} else if err := c.decodeChosen(ctx, e, "match", len(out), pick, keep); err != nil {
		return err
	}
	for k := range out {
		r.attach(&out[k], nil)
		out[k] = chunkHits{}
	}
	return nil
}

// keptHits gives each chunk the records the census decoded for its picked
// rows: the census decoded every row it kept (hits, ascending), and pick
// chooses an ascending subsequence of those rows.
func keptHits(out []chunkHits, hits [][]censusHit, kept [][]sources.Record, pick func(ci int) []int) error {
	for ci := range out {
		rows := pick(ci)
		if len(rows) == 0 {
			continue
		}
		recs := make([]sources.Record, 0, len(rows))
		for j, h := range hits[ci] {
			if len(recs) < len(rows) && int(h.row) == rows[len(recs)] {
				recs = append(recs, kept[ci][j])
			}
		}
		if len(recs) != len(rows) || len(kept[ci]) != len(hits[ci]) {
			return fmt.Errorf("chunk %d: %d of the %d rows picked were decoded by the census", ci, len(recs), len(rows))
		}
		out[ci].recs = recs
	}
	return nil
}

// decodeChosen decodes, chunk by chunk in parallel on the census's workers,
// the rows pick chooses among the first n chunks of entry e, and gives each
// chunk's rows and records to keep (concurrently, once per chunk with rows).
// Progress counts every row of those chunks under pass.
func (c *Census) decodeChosen(ctx context.Context, e *sources.Entry, pass string, n int,
	pick func(ci int) []int, keep func(ci int, rows []int, recs []sources.Record)) error {
	rd, err := sources.Open(ctx, c.m, e, sources.ReadOptions{CacheDir: c.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	chunks := rd.Chunks()
	if n > len(chunks) {
		return fmt.Errorf("%s: %d chunks, the census saw %d", e.Path, len(chunks), n)
	}
	var total int64
	for _, ch := range chunks {
		total += int64(ch.Rows)
	}
	tick := c.progress(e, pass, total)
	var g errgroup.Group
	g.SetLimit(c.opts.Workers)
	for ci := range n {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if rows := pick(ci); len(rows) > 0 {
				recs, err := rd.Decode(chunks[ci], rows)
				if err != nil {
					return err
				}
				keep(ci, rows, recs)
			}
			tick(chunks[ci].Rows)
			return nil
		})
	}
	return g.Wait()
}
