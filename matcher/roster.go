package matcher

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// loadRoster reads the whole roster (the build side), groups members into
// households and fills the probe table and the name + birth date index.
func (r *run) loadRoster(ctx context.Context) error {
	e := r.m.Roster
	rd, err := sources.Open(ctx, r.m, e, sources.ReadOptions{CacheDir: r.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	q := &sources.Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files), Snapshot: e.Snapshot.Format(time.DateOnly),
		AgeDays: int(r.m.AsOf.Sub(e.Snapshot).Hours() / 24), Quarantined: map[string]int64{}}
	r.res.Roster = q
	chunks := rd.Chunks()
	rows := make([][]sources.Record, len(chunks))
	reasons := make([][]personid.Parsed, len(chunks))
	var total int64
	for _, c := range chunks {
		total += int64(c.Rows)
	}
	tick := r.progress(e, "roster", total)
	err = rd.Scan(ctx, r.opts.Workers, r.opts.Quarantine, q, func(c sources.Chunk, keys []personid.Parsed) error {
		recs, err := rd.Decode(c, nil)
		if err != nil {
			return err
		}
		rows[c.Index] = recs
		reasons[c.Index] = append([]personid.Parsed(nil), keys...)
		tick(c.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	r.table = newKeyTable(int(total))
	r.nameDOB = map[uint64]int32{}
	byID := map[string]*facts.Household{}
	for ci, recs := range rows {
		for i, rec := range recs {
			rm := rec.(*sources.RosterMember)
			r.addMember(byID, rm, reasons[ci][i])
		}
	}
	q.MatchedID = q.ValidKeys
	for _, h := range byID {
		r.res.Households = append(r.res.Households, h)
	}
	r.markDuplicates()
	return nil
}

// addMember puts one roster row into its household and the probe table.
func (r *run) addMember(byID map[string]*facts.Household, rm *sources.RosterMember, p personid.Parsed) {
	h := byID[rm.HouseholdID]
	if h == nil {
		h = &facts.Household{ID: rm.HouseholdID}
		byID[rm.HouseholdID] = h
	}
	if len(h.Members) == 0 || (rm.Relation == "head" && h.Members[0].Relation != "head") {
		setHouseholdFields(h, rm)
	}
	m := &facts.Member{Key: p.Key, PersonID: rm.PersonID, Name: rm.Name, Relation: rm.Relation,
		RelativeFiled: rm.RelativeFiled, Roster: rm}
	h.Members = append(h.Members, m)
	if p.Reason != personid.ReasonNone {
		r.res.InvalidMembers = append(r.res.InvalidMembers, InvalidMember{HouseholdID: rm.HouseholdID,
			Raw: rm.PersonID, Reason: p.Reason, File: rm.File, Row: rm.Row})
		return
	}
	idx, inserted := r.table.put(uint64(p.Key), int32(len(r.persons)))
	if inserted {
		r.persons = append(r.persons, &person{key: p.Key})
	}
	ps := r.persons[idx]
	ps.members = append(ps.members, m)
	if inserted {
		by, bm, bd := p.Key.BirthDate()
		r.addNameDOB(nameDOBKey(rm.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), rm.Region), idx)
	}
}

func setHouseholdFields(h *facts.Household, rm *sources.RosterMember) {
	h.Region, h.Area, h.Assistance, h.Status = rm.Region, rm.Area, rm.Assistance, rm.Status
	h.MonthlyBenefit, h.Since, h.ApplicationDate, h.AuthorizationRef = rm.MonthlyBenefit, rm.Since, rm.ApplicationDate, rm.AuthorizationRef
}

// addNameDOB indexes a person under name + birth date + region; a second
// person under the same triple makes it ambiguous, and ambiguous triples never match.
func (r *run) addNameDOB(k uint64, idx int32) {
	if k == 0 {
		return
	}
	if old, ok := r.nameDOB[k]; ok && old != idx {
		r.nameDOB[k] = -1
		return
	}
	r.nameDOB[k] = idx
}

// markDuplicates fills OtherHouseholds for people on more than one household.
func (r *run) markDuplicates() {
	for _, p := range r.persons {
		if len(p.members) < 2 {
			continue
		}
		ids := make([]string, len(p.members))
		for i, m := range p.members {
			ids[i] = m.Roster.HouseholdID
		}
		for _, m := range p.members {
			for _, id := range ids {
				if id != m.Roster.HouseholdID && !contains(m.OtherHouseholds, id) {
					m.OtherHouseholds = append(m.OtherHouseholds, id)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nameDOBKey hashes name + birth date + region for the weak match of rows
// without a valid ID; 0 means the row lacks one of the three.
func nameDOBKey(name string, birth time.Time, region string) uint64 {
	name = normalizeName(name)
	if name == "" || birth.IsZero() || len(region) != 6 {
		return 0
	}
	return xxhash.Sum64String(fmt.Sprintf("%s\x00%s\x00%s", name, birth.Format("20060102"), region))
}

// normalizeName drops half- and full-width spaces, which exports scatter
// inside Chinese names.
func normalizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u3000' || r == '\t' {
			return -1
		}
		return r
	}, s)
}
