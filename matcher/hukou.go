package matcher

import (
	"context"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// housemates indexes the people found on roster members' hukous who are not
// on the member's household, so that staff rows can reach them.
type housemates struct {
	table  *keyTable
	groups [][]*facts.Housemate // per housemate key, every Housemate value made for that person
}

// hukouMembers maps the hash of a hukou number to the roster members whose
// police record carries it.
func (r *run) hukouMembers() map[uint64][]*facts.Member {
	out := make(map[uint64][]*facts.Member, len(r.res.Households)) // about a hukou per household
	for _, h := range r.res.Households {
		for _, m := range h.Members {
			for _, p := range m.Police {
				if p.HukouNo == "" || p.Match != sources.MatchID {
					continue
				}
				k := xxhash.Sum64String(p.HukouNo)
				if !containsMember(out[k], m) {
					out[k] = append(out[k], m)
				}
			}
		}
	}
	return out
}

func containsMember(list []*facts.Member, m *facts.Member) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}

// mateHit is one police row on a roster member's hukou.
type mateHit struct {
	rows []int
	recs []sources.Record
}

// findHousemates decodes the police rows the census kept for their hukou
// number and picks those on a hukou of this shard's roster members: everyone
// on a member's hukou.
func (r *run) findHousemates(ctx context.Context) (*housemates, error) {
	byHukou := r.hukouMembers()
	hm := &housemates{table: newKeyTable(64)}
	if len(byHukou) == 0 {
		return hm, nil
	}
	for i, e := range r.c.m.Sources {
		if e.Kind != sources.KindPolice {
			continue
		}
		if err := r.decodeHukou(ctx, i, e, byHukou, hm); err != nil {
			return nil, err
		}
	}
	// The counting shard counts staff rows on any shard's housemates.
	for _, s := range hm.table.slots {
		if s.key != 0 {
			r.c.mates.put(s.key, 0)
		}
	}
	return hm, nil
}

func (r *run) decodeHukou(ctx context.Context, i int, e *sources.Entry, byHukou map[uint64][]*facts.Member, hm *housemates) error {
	c := r.c
	out := make([]mateHit, len(c.hits[i].hukou))
	pick := func(ci int) []int {
		var rows []int
		for _, h := range c.hits[i].hukou[ci] {
			if byHukou[h.hash] != nil {
				rows = append(rows, int(h.row))
			}
		}
		return rows
	}
	keep := func(ci int, rows []int, recs []sources.Record) { out[ci] = mateHit{rows: rows, recs: recs} }
	if err := c.decodeChosen(ctx, e, "hukou", len(out), pick, keep); err != nil {
		return err
	}
	for _, mh := range out {
		for _, rec := range mh.recs {
			r.addHousemate(rec.(*sources.Police), byHukou[xxhash.Sum64String(rec.(*sources.Police).HukouNo)], hm)
		}
	}
	return nil
}

// addHousemate records p as a housemate of every member on its hukou whose
// household does not list p.
func (r *run) addHousemate(p *sources.Police, members []*facts.Member, hm *housemates) {
	p.Match = sources.MatchID
	for _, m := range members {
		if r.onHousehold(m, p.Key) {
			continue
		}
		mate := &facts.Housemate{Police: p}
		m.Housemates = append(m.Housemates, mate)
		if p.Key == 0 {
			continue
		}
		idx, inserted := hm.table.put(uint64(p.Key), int32(len(hm.groups)))
		if inserted {
			hm.groups = append(hm.groups, nil)
		}
		hm.groups[idx] = append(hm.groups[idx], mate)
	}
}

// onHousehold reports whether key is a member of m's roster household.
func (r *run) onHousehold(m *facts.Member, key personid.Key) bool {
	if key == 0 {
		return false
	}
	// Everyone on m's household is in m's shard.
	g := r.c.table.get(uint64(key))
	if g < 0 || r.c.localOf[g] < 0 {
		return false
	}
	for _, other := range r.persons[r.c.localOf[g]].members {
		if other.Roster != nil && m.Roster != nil && other.Roster.HouseholdID == m.Roster.HouseholdID {
			return true
		}
	}
	return false
}
