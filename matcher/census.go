package matcher

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Census is the first pass of a sharded match: it reads the roster's key,
// household and name columns and the key columns of the poverty and
// disability sources, and keeps only what every shard needs (the person key
// table, the name + birth date index, which rows make up which household,
// and the omission candidates' keys). Shards of households are then matched
// one after the other with Shard, each holding only its own facts, so that
// a province fits in memory.
//
// A Census is not safe for concurrent use: shards are matched one at a time.
type Census struct {
	m    *sources.Manifest
	opts Options
	log  *slog.Logger

	table   *keyTable        // person key → person index: roster persons, then candidates
	nameDOB map[uint64]int32 // name+birth date+region → roster person index; -1 if ambiguous
	nRoster int32            // persons [0, nRoster) are on the roster
	// firstHH is each roster person's first household (roster order); dups
	// lists, for people on more than one household row, every household
	// index in roster order.
	firstHH []int32
	dups    map[int32][]int32

	households []censusHousehold // sorted by ID
	rows       []rosterRef       // roster rows grouped by household (sorted), roster order within
	// roster holds the decoded roster rows per chunk when the roster is
	// small enough (keepRosterRows): shards then need not decode them again.
	roster     [][]sources.Record
	candidates []personid.Key // omission candidates, sorted by key
	hits       []entryHits    // per source entry (manifest order): the rows that match somebody
	decodeKept bool           // the census decodes the rows it keeps (Options.Shards said one shard)

	shards  []shardRange
	localOf []int32      // census person index → the current shard's person; -1 if not in it
	done    int          // shards matched so far
	mates   *keyTable    // housemate keys of every shard matched so far (counts staff rows)
	res     *Result      // Roster, Quality, Snapshots and Stages
	scanned atomic.Int64 // rows read by every pass, for the stage figures
}

// censusHousehold is one roster household: its ID and its rows in
// Census.rows[first : first+n].
type censusHousehold struct {
	id       string
	first, n int32
}

// rosterRef locates one roster row: its chunk and chunk-relative row, its
// parsed key, and its person (-1 when the ID is invalid).
type rosterRef struct {
	key                personid.Key
	chunk, row, person int32
	reason             personid.Reason
}

// shardRange is a contiguous run of sorted households then of sorted candidates.
type shardRange struct {
	hLo, hHi, cLo, cHi int
}

// NewCensus reads the roster, then the key column of every source once:
// the poverty and disability keys on no roster household are the omission
// candidates, and the rows that match anybody are kept (row and person)
// for the shards to decode. The quarantine and quality of every source but
// staff are complete when it returns; staff's are filled by the last shard.
// It splits the work into one shard; call Split for more.
func NewCensus(ctx context.Context, m *sources.Manifest, opts Options) (*Census, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	c := &Census{m: m, opts: opts, log: opts.Logger, res: &Result{Snapshots: map[sources.Kind]time.Time{}},
		mates: newKeyTable(64), dups: map[int32][]int32{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.timed("roster", func() error { return c.readRoster(ctx) }); err != nil {
		return nil, err
	}
	for _, e := range m.Sources {
		q := &sources.Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files), Snapshot: e.Snapshot.Format(time.DateOnly),
			AgeDays: int(m.AsOf.Sub(e.Snapshot).Hours() / 24), Quarantined: map[string]int64{}}
		c.res.Quality = append(c.res.Quality, q)
		if old, ok := c.res.Snapshots[e.Kind]; !ok || e.Snapshot.Before(old) {
			c.res.Snapshots[e.Kind] = e.Snapshot
		}
	}
	if err := c.timed("census", func() error { return c.findCandidates(ctx) }); err != nil {
		return nil, err
	}
	c.decodeKept = opts.Shards != nil && opts.Shards(c.Members()) == 1
	if err := c.timed("census", func() error { return c.scanSources(ctx) }); err != nil {
		return nil, err
	}
	c.Split(1)
	return c, nil
}

// Members is the number of roster members (rows) plus omission candidates:
// what a shard's memory grows with.
func (c *Census) Members() int { return len(c.rows) + len(c.candidates) }

// Households is the number of roster households.
func (c *Census) Households() int { return len(c.households) }

// Candidates is the number of omission candidates.
func (c *Census) Candidates() int { return len(c.candidates) }

// Shards is the number of shards Split made.
func (c *Census) Shards() int { return len(c.shards) }

// Split cuts the households (in ID order) then the candidates (in key
// order) into n contiguous shards of about the same number of members. It
// must be called before the first Shard.
func (c *Census) Split(n int) {
	if c.done > 0 {
		panic("matcher: Split after a shard was matched")
	}
	total := c.Members()
	nh := len(c.households)
	items := nh + len(c.candidates)
	n = max(1, min(n, items))
	c.shards = c.shards[:0]
	units := 0
	// Shard k closes once the members so far reach k/n of the total, never
	// on the last household or candidate (the last shard is not empty).
	full := func(item int) bool {
		return len(c.shards) < n-1 && item < items-1 && units >= (total*(len(c.shards)+1)+n-1)/n
	}
	cur := shardRange{}
	for i, h := range c.households {
		units += int(h.n)
		if full(i) {
			cur.hHi = i + 1
			c.shards = append(c.shards, cur)
			cur = shardRange{hLo: i + 1}
		}
	}
	cur.hHi = nh
	for i := range c.candidates {
		units++
		if full(nh + i) {
			cur.cHi = i + 1
			c.shards = append(c.shards, cur)
			cur = shardRange{hLo: nh, hHi: nh, cLo: i + 1}
		}
	}
	cur.cHi = len(c.candidates)
	c.shards = append(c.shards, cur)
}

// Result returns the roster and source quality (complete once the last shard
// is matched), the snapshot dates and the stage timings summed over shards.
// Households, Candidates and InvalidMembers are left empty: they come per shard.
func (c *Census) Result() *Result {
	return &Result{Roster: c.res.Roster, Quality: c.res.Quality, Snapshots: c.res.Snapshots, Stages: slices.Clone(c.res.Stages)}
}

// timed runs one stage, adds its wall time and the rows it read to the
// stage of that name, and logs it.
func (c *Census) timed(name string, fn func() error) error {
	before := c.scanned.Load()
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	d := time.Since(start)
	rows := c.scanned.Load() - before
	c.log.Info("match stage done", "stage", name, "rows", rows, "seconds", fmt.Sprintf("%.3f", d.Seconds()))
	for i := range c.res.Stages {
		if st := &c.res.Stages[i]; st.Name == name {
			st.Rows += rows
			st.Duration += d
			st.Seconds = st.Duration.Seconds()
			return nil
		}
	}
	c.res.Stages = append(c.res.Stages, Stage{Name: name, Rows: rows, Duration: d, Seconds: d.Seconds()})
	return nil
}

// progress returns a per-chunk callback that reports rows done for e and
// counts them as read.
func (c *Census) progress(e *sources.Entry, pass string, total int64) func(rows int) {
	var done atomic.Int64
	return func(rows int) {
		c.scanned.Add(int64(rows))
		n := done.Add(int64(rows))
		if c.opts.Progress != nil {
			c.opts.Progress(e, pass, n, total)
		}
	}
}

// keepRosterRows is the default Options.KeepRosterRows: a city's roster, not a province's.
const keepRosterRows = 1 << 20

// rosterChunk is what the census keeps of one roster chunk.
type rosterChunk struct {
	ids     []string // household IDs, cloned
	keys    []personid.Parsed
	nameDOB []uint64 // of valid rows; 0 otherwise
}

// readRoster reads the roster chunk by chunk, keeping per row only its
// household, person and location, and fills the probe table and the name +
// birth date index.
func (c *Census) readRoster(ctx context.Context) error {
	e := c.m.Roster
	rd, err := sources.Open(ctx, c.m, e, sources.ReadOptions{CacheDir: c.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	q := &sources.Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files), Snapshot: e.Snapshot.Format(time.DateOnly),
		AgeDays: int(c.m.AsOf.Sub(e.Snapshot).Hours() / 24), Quarantined: map[string]int64{}}
	c.res.Roster = q
	chunks := rd.Chunks()
	out := make([]rosterChunk, len(chunks))
	var total int64
	for _, ch := range chunks {
		total += int64(ch.Rows)
	}
	tick := c.progress(e, "roster", total)
	limit := int64(c.opts.KeepRosterRows)
	if limit == 0 {
		limit = keepRosterRows
	}
	keep := total <= limit
	var kept [][]sources.Record
	if keep {
		kept = make([][]sources.Record, len(chunks))
	}
	err = rd.Scan(ctx, c.opts.Workers, c.opts.Quarantine, q, func(ch sources.Chunk, keys []personid.Parsed) error {
		recs, err := rd.Decode(ch, nil)
		if err != nil {
			return err
		}
		rc := rosterChunk{ids: make([]string, len(recs)), keys: slices.Clone(keys), nameDOB: make([]uint64, len(recs))}
		for i, rec := range recs {
			rm := rec.(*sources.RosterMember)
			rc.ids[i] = strings.Clone(rm.HouseholdID)
			if p := keys[i]; p.Reason == personid.ReasonNone {
				by, bm, bd := p.Key.BirthDate()
				rc.nameDOB[i] = nameDOBKey(rm.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), rm.Region)
			}
		}
		if keep {
			kept[ch.Index] = recs
		}
		out[ch.Index] = rc
		tick(ch.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	c.buildRoster(out, int(total))
	c.roster = kept
	q.MatchedID = q.ValidKeys
	return nil
}

// buildRoster merges the chunks in roster order: households, persons, the
// name + birth date index, and the rows grouped by sorted household.
func (c *Census) buildRoster(chunks []rosterChunk, total int) {
	c.table = newKeyTable(total)
	c.nameDOB = map[uint64]int32{}
	byID := map[string]int32{}
	var ids []string
	hh := make([]int32, 0, total)
	refs := make([]rosterRef, 0, total)
	for ci := range chunks {
		rc := &chunks[ci]
		for i, id := range rc.ids {
			h, ok := byID[id]
			if !ok {
				h = int32(len(ids))
				byID[id] = h
				ids = append(ids, id)
			}
			hh = append(hh, h)
			p := rc.keys[i]
			refs = append(refs, rosterRef{key: p.Key, reason: p.Reason, chunk: int32(ci), row: int32(i), person: c.addPerson(p, rc.nameDOB[i], h)})
		}
		chunks[ci] = rosterChunk{}
	}
	c.nRoster = int32(len(c.firstHH))
	c.groupRows(ids, hh, refs)
}

// addPerson enters one roster row's person in the probe table and returns
// its index, or -1 for an invalid ID.
func (c *Census) addPerson(p personid.Parsed, nd uint64, h int32) int32 {
	if p.Reason != personid.ReasonNone {
		return -1
	}
	idx, inserted := c.table.put(uint64(p.Key), int32(len(c.firstHH)))
	if inserted {
		c.firstHH = append(c.firstHH, h)
		c.addNameDOB(nd, idx)
		return idx
	}
	if d, ok := c.dups[idx]; ok {
		c.dups[idx] = append(d, h)
	} else {
		c.dups[idx] = []int32{c.firstHH[idx], h}
	}
	return idx
}

// addNameDOB indexes a person under name + birth date + region; a second
// person under the same triple makes it ambiguous, and ambiguous triples never match.
func (c *Census) addNameDOB(k uint64, idx int32) {
	if k == 0 {
		return
	}
	if old, ok := c.nameDOB[k]; ok && old != idx {
		c.nameDOB[k] = -1
		return
	}
	c.nameDOB[k] = idx
}

// groupRows sorts the households by ID and orders the roster rows by
// household (a counting sort, so rows keep roster order within a household).
// dups' household indexes are renumbered to the sorted order.
func (c *Census) groupRows(ids []string, hh []int32, refs []rosterRef) {
	order := make([]int32, len(ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	rank := make([]int32, len(ids))
	for r, h := range order {
		rank[h] = int32(r)
	}
	c.households = make([]censusHousehold, len(ids))
	for _, h := range hh {
		c.households[rank[h]].n++
	}
	var first int32
	for r, h := range order {
		c.households[r].id, c.households[r].first = ids[h], first
		first += c.households[r].n
	}
	c.rows = make([]rosterRef, len(refs))
	next := make([]int32, len(ids))
	for i, ref := range refs {
		r := rank[hh[i]]
		c.rows[c.households[r].first+next[r]] = ref
		next[r]++
	}
	for i, h := range c.firstHH {
		c.firstHH[i] = rank[h]
	}
	for p, d := range c.dups {
		for i, h := range d {
			d[i] = rank[h]
		}
		c.dups[p] = d
	}
}

// findCandidates scans the key columns of the poverty and disability
// sources: valid keys on no roster household are omission candidates, and
// join the probe table after the roster's persons.
func (c *Census) findCandidates(ctx context.Context) error {
	for _, e := range c.m.Sources {
		if e.Kind != sources.KindPoverty && e.Kind != sources.KindDisability {
			continue
		}
		if err := c.scanCandidates(ctx, e); err != nil {
			return err
		}
	}
	slices.Sort(c.candidates)
	return nil
}

func (c *Census) scanCandidates(ctx context.Context, e *sources.Entry) error {
	rd, err := sources.Open(ctx, c.m, e, sources.ReadOptions{CacheDir: c.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	chunks := rd.Chunks()
	out := make([][]personid.Key, len(chunks))
	var total int64
	for _, ch := range chunks {
		total += int64(ch.Rows)
	}
	tick := c.progress(e, "census", total)
	err = rd.Scan(ctx, c.opts.Workers, nil, nil, func(ch sources.Chunk, keys []personid.Parsed) error {
		var found []personid.Key
		for i := range keys {
			if p := &keys[i]; p.Reason == personid.ReasonNone && c.table.get(uint64(p.Key)) < 0 {
				found = append(found, p.Key)
			}
		}
		out[ch.Index] = found
		tick(ch.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	for _, keys := range out {
		for _, k := range keys {
			if _, inserted := c.table.put(uint64(k), int32(int(c.nRoster)+len(c.candidates))); inserted {
				c.candidates = append(c.candidates, k)
			}
		}
	}
	return nil
}
