package pipeline

import (
	"cmp"
	"slices"
	"time"

	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// personFn joins, under one valid person key, the person's roster rows and
// source records, and routes them as Match would use them.
type personFn struct {
	Job Job
	w   *worker
}

// Setup loads the job once per DoFn instance.
func (f *personFn) Setup() error {
	w, err := f.Job.load()
	f.w = w
	return err
}

// ProcessElement emits a roster person to each of its households, by the
// name-DOB hash of its first roster row and by the hukou hashes of its
// police records; an omission candidate to candidates; staff records by
// key; and per entry the rows that count as matched by ID.
func (f *personFn) ProcessElement(key uint64, rosterIter func(*RosterRow) bool, recIter func(*Row) bool,
	toHousehold func(string, Person), candidates func(Person), byNameDOB func(uint64, Ref),
	byHukou func(uint64, Ref), staff func(uint64, Staff), counts func(int, Counts)) error {
	p := Person{Key: key, Roster: collect(rosterIter), Recs: collect(recIter)}
	slices.SortFunc(p.Roster, func(a, b RosterRow) int { return cmp.Compare(a.Seq, b.Seq) })
	sortRows(p.Recs)

	candidate := false
	if len(p.Roster) == 0 {
		for _, r := range p.Recs {
			if k := f.w.m.Sources[r.Source].Kind; k == sources.KindPoverty || k == sources.KindDisability {
				candidate = true
				break
			}
		}
	}
	counted := len(p.Roster) > 0 || candidate
	if counted {
		emitMatched(p.Recs, counts)
	}
	if st := f.staffOf(p.Recs); len(st) > 0 {
		staff(key, Staff{Key: key, Counted: counted, Rows: st})
	}
	switch {
	case candidate:
		candidates(p)
		return nil
	case len(p.Roster) == 0:
		return nil
	}
	households, first, err := householdsOf(p.Roster)
	if err != nil {
		return err
	}
	for _, h := range households {
		toHousehold(h, p)
	}
	ref := Ref{Key: key, Households: households}
	by, bm, bd := personid.Key(key).BirthDate()
	if nd := matcher.NameDOBKey(first.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), first.Region); nd != 0 {
		byNameDOB(nd, ref)
	}
	hashes, err := f.hukouHashes(p.Recs)
	if err != nil {
		return err
	}
	for _, h := range hashes {
		byHukou(h, ref)
	}
	return nil
}

// householdsOf returns the distinct households of roster rows (sorted by
// Seq), in roster order, and the first row.
func householdsOf(rows []RosterRow) ([]string, *sources.RosterMember, error) {
	var ids []string
	var first *sources.RosterMember
	for _, rr := range rows {
		rec, err := decodeRecord(rr.Data)
		if err != nil {
			return nil, nil, err
		}
		rm := rec.(*sources.RosterMember)
		if first == nil {
			first = rm
		}
		if !slices.Contains(ids, rm.HouseholdID) {
			ids = append(ids, rm.HouseholdID)
		}
	}
	return ids, first, nil
}

func (f *personFn) staffOf(recs []Row) []Row {
	var out []Row
	for _, r := range recs {
		if f.w.m.Sources[r.Source].Kind == sources.KindStaff {
			out = append(out, r)
		}
	}
	return out
}

// hukouHashes returns the distinct hashes of the hukou numbers on a
// person's police records (all matched by ID here), as Match gathers
// housemates.
func (f *personFn) hukouHashes(recs []Row) ([]uint64, error) {
	var out []uint64
	for _, r := range recs {
		if f.w.m.Sources[r.Source].Kind != sources.KindPolice {
			continue
		}
		rec, err := decodeRecord(r.Data)
		if err != nil {
			return nil, err
		}
		if no := rec.(*sources.Police).HukouNo; no != "" {
			if h := matcher.HukouHash(no); !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out, nil
}

// emitMatched counts rows as matched by ID, one Counts per entry present.
func emitMatched(rows []Row, counts func(int, Counts)) {
	per := map[int]int64{}
	for _, r := range rows {
		per[r.Source]++
	}
	for _, src := range sortedKeys(per) {
		counts(src, Counts{MatchedID: per[src]})
	}
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// collect drains a Beam iterator into fresh values: the SDK may decode
// each value into the variable it is given, so nothing kept may alias it.
func collect[T any](iter func(*T) bool) []T {
	var out []T
	for {
		var v T
		if !iter(&v) {
			return out
		}
		out = append(out, v)
	}
}

func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// weakFn ties rows without a valid ID to the one roster person their
// name-DOB hash names.
type weakFn struct{}

// ProcessElement sends the rows under nd to the households of the person
// when exactly one roster person has that hash. When two or more do, Match
// attaches none of the rows, and sending nothing gives AssembleHousehold
// the same answer (no records under nd).
func (*weakFn) ProcessElement(nd uint64, refIter func(*Ref) bool, rowIter func(*Row) bool,
	toHousehold func(string, Weak), counts func(int, Counts)) {
	refs := collect(refIter)
	if len(refs) != 1 {
		return
	}
	rows := collect(rowIter)
	if len(rows) == 0 {
		return
	}
	sortRows(rows)
	per := map[int]int64{}
	for _, r := range rows {
		per[r.Source]++
	}
	for _, src := range sortedKeys(per) {
		counts(src, Counts{MatchedNameDOB: per[src]})
	}
	w := Weak{ND: nd, Key: refs[0].Key, Rows: rows}
	for _, h := range refs[0].Households {
		toHousehold(h, w)
	}
}

// hukouFn sends the police rows of a hukou to the households of the roster
// members whose police record carries it, and asks for the staff records
// of the people on it.
type hukouFn struct{}

// ProcessElement does nothing for a hukou no roster member is on.
func (*hukouFn) ProcessElement(hash uint64, refIter func(*Ref) bool, rowIter func(*Row) bool,
	toHousehold func(string, Hukou), staffRequest func(uint64, string)) error {
	var households []string
	for _, ref := range collect(refIter) {
		for _, h := range ref.Households {
			if !slices.Contains(households, h) {
				households = append(households, h)
			}
		}
	}
	if len(households) == 0 {
		return nil
	}
	slices.Sort(households)
	rows := collect(rowIter)
	if len(rows) == 0 {
		return nil
	}
	sortRows(rows)
	hk := Hukou{Hash: hash, Rows: rows}
	for _, h := range households {
		toHousehold(h, hk)
	}
	var keys []uint64
	for _, r := range rows {
		rec, err := decodeRecord(r.Data)
		if err != nil {
			return err
		}
		if k := uint64(rec.Base().Key); k != 0 && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		for _, h := range households {
			staffRequest(k, h)
		}
	}
	return nil
}

// staffFn sends a person's staff records to the households that asked.
type staffFn struct{}

// ProcessElement also counts the records as matched when the person is
// neither on the roster nor a candidate: Match matches them as a housemate's.
func (*staffFn) ProcessElement(key uint64, reqIter func(*string) bool, staffIter func(*Staff) bool,
	toHousehold func(string, Staff), counts func(int, Counts)) {
	var households []string
	for _, h := range collect(reqIter) {
		if !slices.Contains(households, h) {
			households = append(households, h)
		}
	}
	sets := collect(staffIter) // one per person: stage 3 emits it once
	if len(sets) == 0 || len(households) == 0 {
		return
	}
	st := sets[0]
	if !st.Counted {
		emitMatched(st.Rows, counts)
	}
	slices.Sort(households)
	for _, h := range households {
		toHousehold(h, st)
	}
}
