package matcher

import (
	"context"
	"fmt"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// hit is one source row tied to a person of the shard (or, for staff, a housemate).
type hit struct {
	row     int
	person  int32 // index into run.persons; -1 when only a housemate matched
	mate    int32 // index into housemates.groups; -1 when none
	nameDOB bool
}

// chunkHits is what probing one chunk found.
type chunkHits struct {
	hits []hit
	recs []sources.Record // decoded rows of hits, same order
	// matchedID and matchedNameDOB count the rows that match anybody of the
	// census (not only this shard), for the counting shard's quality.
	matchedID, matchedNameDOB int64
}

// matchEntries gathers the records of every entry whose kind passes only:
// the rows the census kept, or for staff (whose rows can match the shard's
// housemates, hm) a probe of every key.
func (r *run) matchEntries(ctx context.Context, only func(sources.Kind) bool, hm *housemates) error {
	for i, e := range r.c.m.Sources {
		if !only(e.Kind) {
			continue
		}
		var err error
		if e.Kind == sources.KindStaff {
			err = r.matchEntry(ctx, e, r.c.res.Quality[i], hm)
		} else {
			err = r.decodeHits(ctx, i, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// matchEntry reads one entry. Only the counting shard writes the quarantine
// and counts into q; other shards count into a scratch record.
func (r *run) matchEntry(ctx context.Context, e *sources.Entry, q *sources.Quality, hm *housemates) error {
	rd, err := sources.Open(ctx, r.c.m, e, sources.ReadOptions{CacheDir: r.c.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	quarantine := r.c.opts.Quarantine
	if !r.counting {
		q, quarantine = &sources.Quality{}, nil
	}
	chunks := rd.Chunks()
	out := make([]chunkHits, len(chunks))
	var total int64
	for _, c := range chunks {
		total += int64(c.Rows)
	}
	tick := r.c.progress(e, "match", total)
	err = rd.Scan(ctx, r.c.opts.Workers, quarantine, q, func(c sources.Chunk, keys []personid.Parsed) error {
		if err := r.probeChunk(rd, c, keys, hm, &out[c.Index]); err != nil {
			return err
		}
		tick(c.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range out {
		r.attach(&out[i], hm)
		q.MatchedID += out[i].matchedID
		q.MatchedNameDOB += out[i].matchedNameDOB
		out[i] = chunkHits{}
	}
	return nil
}

// probeChunk is the hot path: a plain loop over the chunk's keys, then one
// Decode of just the rows that matched somebody of this shard.
func (r *run) probeChunk(rd *sources.Reader, c sources.Chunk, keys []personid.Parsed, hm *housemates, out *chunkHits) error {
	var invalid []int
	table, localOf := r.c.table, r.c.localOf
	for i := range keys {
		p := &keys[i]
		if p.Reason != personid.ReasonNone {
			invalid = append(invalid, i)
			continue
		}
		g := table.get(uint64(p.Key))
		idx, mate := int32(-1), int32(-1)
		if g >= 0 {
			idx = localOf[g]
		}
		if hm != nil {
			mate = hm.table.get(uint64(p.Key))
		}
		if g >= 0 || mate >= 0 || (hm != nil && r.counting && r.c.mates.get(uint64(p.Key)) >= 0) {
			out.matchedID++
		}
		if idx >= 0 || mate >= 0 {
			out.hits = append(out.hits, hit{row: i, person: idx, mate: mate})
		}
	}
	if err := r.matchInvalid(rd, c, invalid, out); err != nil {
		return err
	}
	if len(out.hits) > 0 {
		rows := make([]int, len(out.hits))
		for i, h := range out.hits {
			rows[i] = h.row
		}
		recs, err := rd.Decode(c, rows)
		if err != nil {
			return err
		}
		out.recs = recs
	}
	return nil
}

// matchInvalid ties rows without a valid ID to a person by name + birth date
// + region, when the row carries all three and exactly one person has them.
// Hits are inserted in row order.
func (r *run) matchInvalid(rd *sources.Reader, c sources.Chunk, invalid []int, out *chunkHits) error {
	if len(invalid) == 0 || len(r.c.nameDOB) == 0 {
		return nil
	}
	// Only the key and the name, birth-date and region columns: the few rows
	// that match are decoded whole with the other hits.
	recs, err := rd.DecodeOrigins(c, invalid)
	if err != nil {
		return err
	}
	var weak []hit
	for i, rec := range recs {
		o := rec.Base()
		g, ok := r.c.nameDOB[nameDOBKey(o.Name, o.BirthDate, o.Region)]
		if !ok || g < 0 {
			continue
		}
		out.matchedNameDOB++
		if idx := r.c.localOf[g]; idx >= 0 {
			weak = append(weak, hit{row: invalid[i], person: idx, mate: -1, nameDOB: true})
		}
	}
	if len(weak) > 0 {
		out.hits = mergeHits(out.hits, weak)
	}
	return nil
}

// mergeHits merges two row-ordered hit lists.
func mergeHits(a, b []hit) []hit {
	out := make([]hit, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].row < b[j].row {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// attach adds the decoded records of one chunk to their people, in row order.
func (r *run) attach(ch *chunkHits, hm *housemates) {
	if len(ch.recs) != len(ch.hits) {
		panic(fmt.Sprintf("matcher: %d records decoded for %d hits", len(ch.recs), len(ch.hits)))
	}
	for i, h := range ch.hits {
		rec := ch.recs[i]
		o := rec.Base()
		o.Match = sources.MatchID
		if h.nameDOB {
			o.Match = sources.MatchNameDOB
		}
		if h.person >= 0 {
			p := r.persons[h.person]
			if p.candidate && p.members[0].PersonID == "" {
				// A candidate is known by its first record, as when it was found.
				p.members[0].PersonID, p.members[0].Name = o.PersonID, o.Name
			}
			for _, m := range p.members {
				m.Add(rec)
			}
		}
		if h.mate >= 0 {
			for _, mate := range hm.groups[h.mate] {
				if st, ok := rec.(*sources.Staff); ok {
					mate.Staff = append(mate.Staff, st)
				}
			}
		}
	}
}
