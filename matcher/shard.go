package matcher

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

// run holds the state of one shard: its households and candidates and the
// people whose records it gathers.
type run struct {
	c       *Census
	persons []*person // this shard's people; c.localOf maps census indexes here
	global  []int32   // census index of each of persons
	// counting is set on the last shard: it alone counts rows, matches and
	// quarantined keys, against the whole census, so every count comes from
	// one pass.
	counting bool
	invalid  []invalidAt
	res      *Result
}

// invalidAt is an invalid roster member with its place in the roster.
type invalidAt struct {
	chunk, row int32
	m          InvalidMember
}

// Shard matches shard s (shards are matched in order, 0 first): every
// source is read again, and only the rows of this shard's people are
// decoded. The result holds the shard's households (sorted by ID), its
// candidates (sorted by key) and its invalid roster members (roster order).
// After the last shard, Result gives the quality of every source.
func (c *Census) Shard(ctx context.Context, s int) (*Result, error) {
	if s != c.done || s >= len(c.shards) {
		return nil, fmt.Errorf("matcher: shard %d asked; the next of %d is %d", s, len(c.shards), c.done)
	}
	sr := c.shards[s]
	if c.localOf == nil {
		c.localOf = make([]int32, c.table.len())
		for i := range c.localOf {
			c.localOf[i] = -1
		}
	}
	r := &run{c: c, counting: s == len(c.shards)-1, res: &Result{}}
	defer r.release()
	if err := c.timed("roster", func() error { return r.loadHouseholds(ctx, sr) }); err != nil {
		return nil, err
	}
	r.addCandidates(sr)
	if err := r.matchSources(ctx); err != nil {
		return nil, err
	}
	r.finish()
	c.done++
	c.log.Info("match shard done", "shard", s+1, "of", len(c.shards), "households", len(r.res.Households), "candidates", len(r.res.Candidates))
	return r.res, nil
}

// matchSources reads every source in the order that decides the order of
// each person's records: poverty and disability, police, then the hukou
// housemates and every other source.
func (r *run) matchSources(ctx context.Context) error {
	c := r.c
	phases := []struct {
		name string
		only func(sources.Kind) bool
	}{
		{"candidates", func(k sources.Kind) bool { return k == sources.KindPoverty || k == sources.KindDisability }},
		{"police", func(k sources.Kind) bool { return k == sources.KindPolice }},
	}
	for _, ph := range phases {
		if err := c.timed(ph.name, func() error { return r.matchEntries(ctx, ph.only, nil) }); err != nil {
			return err
		}
	}
	var hm *housemates
	if err := c.timed("hukou", func() (err error) { hm, err = r.findHousemates(ctx); return err }); err != nil {
		return err
	}
	rest := func(k sources.Kind) bool {
		return k != sources.KindPoverty && k != sources.KindDisability && k != sources.KindPolice
	}
	return c.timed("sources", func() error { return r.matchEntries(ctx, rest, hm) })
}

// release forgets this shard's people, so the next shard starts clean.
func (r *run) release() {
	for _, g := range r.global {
		r.c.localOf[g] = -1
	}
}

// local returns the shard's person for census index g, making it if needed.
func (r *run) local(g int32) *person {
	if l := r.c.localOf[g]; l >= 0 {
		return r.persons[l]
	}
	p := &person{}
	r.c.localOf[g] = int32(len(r.persons))
	r.persons = append(r.persons, p)
	r.global = append(r.global, g)
	return p
}

// loadHouseholds decodes the roster rows of the shard's households and
// builds each household in roster order.
func (r *run) loadHouseholds(ctx context.Context, sr shardRange) error {
	if sr.hLo == sr.hHi {
		return nil
	}
	c := r.c
	lo := c.households[sr.hLo].first
	last := c.households[sr.hHi-1]
	refs := c.rows[lo : last.first+last.n]
	recs, err := r.decodeRoster(ctx, refs)
	if err != nil {
		return err
	}
	r.res.Households = make([]*facts.Household, 0, sr.hHi-sr.hLo)
	for hi := sr.hLo; hi < sr.hHi; hi++ {
		ch := c.households[hi]
		h := &facts.Household{ID: ch.id}
		for i := ch.first; i < ch.first+ch.n; i++ {
			r.addMember(h, &c.rows[i], recs[i-lo])
		}
		r.res.Households = append(r.res.Households, h)
	}
	return nil
}

// decodeRoster decodes the given roster rows, chunk by chunk in parallel,
// and returns their records in the same order.
func (r *run) decodeRoster(ctx context.Context, refs []rosterRef) ([]*sources.RosterMember, error) {
	c := r.c
	if c.roster != nil {
		out := make([]*sources.RosterMember, len(refs))
		for i, ref := range refs {
			out[i] = c.roster[ref.chunk][ref.row].(*sources.RosterMember)
		}
		return out, nil
	}
	rd, err := sources.Open(ctx, c.m, c.m.Roster, sources.ReadOptions{CacheDir: c.opts.CacheDir})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	chunks := rd.Chunks()
	want := make([][]int, len(chunks)) // chunk → rows wanted, ascending
	for _, ref := range refs {
		want[ref.chunk] = append(want[ref.chunk], int(ref.row))
	}
	got := make([][]sources.Record, len(chunks))
	var g errgroup.Group
	g.SetLimit(c.opts.Workers)
	for ci, rows := range want {
		if len(rows) == 0 {
			continue
		}
		slices.Sort(rows)
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			recs, err := rd.Decode(chunks[ci], rows)
			got[ci] = recs
			c.scanned.Add(int64(len(rows)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]*sources.RosterMember, len(refs))
	for i, ref := range refs {
		j, ok := slices.BinarySearch(want[ref.chunk], int(ref.row))
		if !ok {
			return nil, fmt.Errorf("matcher: roster chunk %d row %d not decoded", ref.chunk, ref.row)
		}
		out[i] = got[ref.chunk][j].(*sources.RosterMember)
	}
	return out, nil
}

// addMember puts one roster row into its household and the shard's people.
func (r *run) addMember(h *facts.Household, ref *rosterRef, rm *sources.RosterMember) {
	if len(h.Members) == 0 || (rm.Relation == "head" && h.Members[0].Relation != "head") {
		setHouseholdFields(h, rm)
	}
	m := &facts.Member{Key: ref.key, PersonID: rm.PersonID, Name: rm.Name, Relation: rm.Relation,
		RelativeFiled: rm.RelativeFiled, Roster: rm}
	h.Members = append(h.Members, m)
	if ref.person < 0 {
		r.invalid = append(r.invalid, invalidAt{chunk: ref.chunk, row: ref.row, m: InvalidMember{HouseholdID: rm.HouseholdID,
			Raw: rm.PersonID, Reason: ref.reason, File: rm.File, Row: rm.Row}})
		return
	}
	p := r.local(ref.person)
	p.key = ref.key
	p.members = append(p.members, m)
	// People on several households see the others (roster order).
	for _, hx := range r.c.dups[ref.person] {
		if id := r.c.households[hx].id; id != h.ID && !contains(m.OtherHouseholds, id) {
			m.OtherHouseholds = append(m.OtherHouseholds, id)
		}
	}
}

// addCandidates makes the shard's omission candidates; each member's ID and
// name come from its first poverty or disability record.
func (r *run) addCandidates(sr shardRange) {
	for _, k := range r.c.candidates[sr.cLo:sr.cHi] {
		m := &facts.Member{Key: k}
		r.res.Candidates = append(r.res.Candidates, &facts.Household{Candidate: true, Members: []*facts.Member{m}})
		p := r.local(r.c.table.get(uint64(k)))
		p.key, p.candidate, p.members = k, true, []*facts.Member{m}
	}
}

// finish fills the candidates' regions and orders the invalid members as
// the roster does.
func (r *run) finish() {
	for _, h := range r.res.Candidates {
		fillCandidate(h)
	}
	slices.SortStableFunc(r.invalid, func(a, b invalidAt) int {
		if a.chunk != b.chunk {
			return int(a.chunk - b.chunk)
		}
		return int(a.row - b.row)
	})
	for _, iv := range r.invalid {
		r.res.InvalidMembers = append(r.res.InvalidMembers, iv.m)
	}
	if r.counting {
		for _, q := range r.c.res.Quality {
			q.Unmatched = q.ValidKeys - q.MatchedID
		}
	}
}
