package matcher

import (
	"context"
	"fmt"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// hit is one source row tied to a person (or, for staff, a housemate).
type hit struct {
	row     int
	person  int32 // index into run.persons; -1 when only a housemate matched
	mate    int32 // index into housemates.groups; -1 when none
	nameDOB bool
}

// chunkHits is what probing one chunk found.
type chunkHits struct {
	hits          []hit
	recs          []sources.Record // decoded rows of hits, same order
	unmatched     []int            // valid keys on no person, kept when candidates are made
	unmatchedRecs []sources.Record
}

// matchEntries probes every entry whose kind passes only. With makeCandidates
// the valid keys that match nobody become omission candidates. hm, when not
// nil, is also probed for staff rows.
func (r *run) matchEntries(ctx context.Context, only func(sources.Kind) bool, makeCandidates bool, hm *housemates) error {
	for i, e := range r.m.Sources {
		if !only(e.Kind) {
			continue
		}
		var mates *housemates
		if e.Kind == sources.KindStaff {
			mates = hm
		}
		if err := r.matchEntry(ctx, e, r.res.Quality[i], makeCandidates, mates); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) matchEntry(ctx context.Context, e *sources.Entry, q *sources.Quality, makeCandidates bool, hm *housemates) error {
	rd, err := sources.Open(ctx, r.m, e, sources.ReadOptions{CacheDir: r.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	chunks := rd.Chunks()
	out := make([]chunkHits, len(chunks))
	var total int64
	for _, c := range chunks {
		total += int64(c.Rows)
	}
	tick := r.progress(e, "match", total)
	err = rd.Scan(ctx, r.opts.Workers, r.opts.Quarantine, q, func(c sources.Chunk, keys []personid.Parsed) error {
		if err := r.probeChunk(rd, c, keys, makeCandidates, hm, &out[c.Index]); err != nil {
			return err
		}
		tick(c.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range out {
		r.attach(&out[i], q, hm)
		if makeCandidates {
			r.addCandidates(&out[i], q)
		}
		out[i] = chunkHits{}
	}
	return nil
}

// probeChunk is the hot path: a plain loop over the chunk's keys, then one
// Decode of just the rows that matched.
func (r *run) probeChunk(rd *sources.Reader, c sources.Chunk, keys []personid.Parsed, makeCandidates bool, hm *housemates, out *chunkHits) error {
	var invalid []int
	for i := range keys {
		p := &keys[i]
		if p.Reason != personid.ReasonNone {
			invalid = append(invalid, i)
			continue
		}
		idx := r.table.get(uint64(p.Key))
		mate := int32(-1)
		if hm != nil {
			mate = hm.table.get(uint64(p.Key))
		}
		switch {
		case idx >= 0 || mate >= 0:
			out.hits = append(out.hits, hit{row: i, person: idx, mate: mate})
		case makeCandidates:
			out.unmatched = append(out.unmatched, i)
		}
	}
	if err := r.matchInvalid(rd, c, invalid, out); err != nil {
		return err
	}
	rows := make([]int, len(out.hits))
	for i, h := range out.hits {
		rows[i] = h.row
	}
	if len(rows) > 0 {
		recs, err := rd.Decode(c, rows)
		if err != nil {
			return err
		}
		out.recs = recs
	}
	if len(out.unmatched) > 0 {
		recs, err := rd.Decode(c, out.unmatched)
		if err != nil {
			return err
		}
		out.unmatchedRecs = recs
	}
	return nil
}

// matchInvalid ties rows without a valid ID to a person by name + birth date
// + region, when the row carries all three and exactly one person has them.
// Hits are inserted in row order.
func (r *run) matchInvalid(rd *sources.Reader, c sources.Chunk, invalid []int, out *chunkHits) error {
	if len(invalid) == 0 || len(r.nameDOB) == 0 {
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
		idx, ok := r.nameDOB[nameDOBKey(o.Name, o.BirthDate, o.Region)]
		if ok && idx >= 0 {
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
func (r *run) attach(ch *chunkHits, q *sources.Quality, hm *housemates) {
	if len(ch.recs) != len(ch.hits) {
		panic(fmt.Sprintf("matcher: %d records decoded for %d hits", len(ch.recs), len(ch.hits)))
	}
	for i, h := range ch.hits {
		rec := ch.recs[i]
		o := rec.Base()
		if h.nameDOB {
			o.Match = sources.MatchNameDOB
			q.MatchedNameDOB++
		} else {
			o.Match = sources.MatchID
			q.MatchedID++
		}
		if h.person >= 0 {
			for _, m := range r.persons[h.person].members {
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

// addCandidates makes omission candidates of the people a poverty or
// disability chunk found on no roster household.
func (r *run) addCandidates(ch *chunkHits, q *sources.Quality) {
	for _, rec := range ch.unmatchedRecs {
		o := rec.Base()
		o.Match = sources.MatchID
		q.MatchedID++
		idx, inserted := r.table.put(uint64(o.Key), int32(len(r.persons)))
		if inserted {
			m := &facts.Member{Key: o.Key, PersonID: o.PersonID, Name: o.Name}
			h := &facts.Household{Candidate: true, Members: []*facts.Member{m}}
			r.persons = append(r.persons, &person{key: o.Key, members: []*facts.Member{m}})
			r.res.Candidates = append(r.res.Candidates, h)
		}
		for _, m := range r.persons[idx].members {
			m.Add(rec)
		}
	}
}
