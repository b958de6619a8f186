package pipeline

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// memIndex implements matcher.Index over the records grouped for one
// household (or one candidate). Lookups decode afresh, so every call returns
// records the caller may change, as the interface asks.
type memIndex struct {
	m       *sources.Manifest
	persons map[uint64]*Person
	staff   map[uint64][]Row
	weak    map[uint64]Weak
	hukou   map[uint64][]Row
}

func newMemIndex(m *sources.Manifest) *memIndex {
	return &memIndex{m: m, persons: map[uint64]*Person{}, staff: map[uint64][]Row{}, weak: map[uint64]Weak{}, hukou: map[uint64][]Row{}}
}

func decodeRows(rows []Row) ([]matcher.Indexed, error) {
	out := make([]matcher.Indexed, 0, len(rows))
	for _, r := range rows {
		rec, err := decodeRecord(r.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, matcher.Indexed{Source: r.Source, Seq: r.Seq, Rec: rec})
	}
	return out, nil
}

// Records implements matcher.Index: the person's records, and the staff
// records sent for a housemate, each once.
func (ix *memIndex) Records(key personid.Key, kind sources.Kind) ([]matcher.Indexed, error) {
	var rows []Row
	if p := ix.persons[uint64(key)]; p != nil {
		rows = append(rows, p.Recs...)
	}
	rows = append(rows, ix.staff[uint64(key)]...)
	sortRows(rows)
	rows = slices.CompactFunc(rows, func(a, b Row) bool { return a.Source == b.Source && a.Seq == b.Seq })
	if kind != "" {
		rows = slices.DeleteFunc(rows, func(r Row) bool { return ix.m.Sources[r.Source].Kind != kind })
	}
	return decodeRows(rows)
}

// NameDOBRecords implements matcher.Index.
func (ix *memIndex) NameDOBRecords(h uint64) ([]matcher.Indexed, error) {
	return decodeRows(ix.weak[h].Rows)
}

// HukouRows implements matcher.Index.
func (ix *memIndex) HukouRows(h uint64) ([]matcher.Indexed, error) { return decodeRows(ix.hukou[h]) }

// RosterRows implements matcher.Index.
func (ix *memIndex) RosterRows(key personid.Key) ([]*sources.RosterMember, error) {
	p := ix.persons[uint64(key)]
	if p == nil {
		return nil, nil
	}
	out := make([]*sources.RosterMember, 0, len(p.Roster))
	for _, rr := range p.Roster {
		rec, err := decodeRecord(rr.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, rec.(*sources.RosterMember))
	}
	return out, nil
}

// RosterNameDOB implements matcher.Index. Only an unambiguous hash with
// rows reaches a household (see weakFn); for any other hash the answer
// "nobody" leads AssembleHousehold to the same facts: no rows under it.
func (ix *memIndex) RosterNameDOB(h uint64) ([]personid.Key, error) {
	if w, ok := ix.weak[h]; ok {
		return []personid.Key{personid.Key(w.Key)}, nil
	}
	return nil, nil
}

// householdFn assembles one household's facts from everything grouped
// under its ID and evaluates the rule set.
type householdFn struct {
	Job Job
	w   *worker
}

// Setup loads the job once per DoFn instance.
func (f *householdFn) Setup() error {
	w, err := f.Job.load()
	f.w = w
	return err
}

// ProcessElement emits the household's flags: invalid roster IDs first,
// then the rule set's, as review.Run orders them.
func (f *householdFn) ProcessElement(id string, rosterIter func(*RosterRow) bool, personIter func(*Person) bool,
	weakIter func(*Weak) bool, hukouIter func(*Hukou) bool, staffIter func(*Staff) bool,
	emit func(int, FlagOut)) error {
	ix := newMemIndex(f.w.m)
	rosterRows := collect(rosterIter)
	for _, p := range collect(personIter) {
		ix.persons[p.Key] = &p
	}
	for _, w := range collect(weakIter) {
		ix.weak[w.ND] = w
	}
	for _, h := range collect(hukouIter) {
		ix.hukou[h.Hash] = h.Rows
	}
	for _, s := range collect(staffIter) {
		ix.staff[s.Key] = s.Rows
	}
	if len(rosterRows) == 0 {
		return nil // records of a person whose roster rows went elsewhere: cannot happen, nothing to assess
	}
	slices.SortFunc(rosterRows, func(a, b RosterRow) int { return cmp.Compare(a.Seq, b.Seq) })
	rows := make([]*sources.RosterMember, len(rosterRows))
	for i, rr := range rosterRows {
		rec, err := decodeRecord(rr.Data)
		if err != nil {
			return err
		}
		rows[i] = rec.(*sources.RosterMember)
	}
	h, invalid, err := matcher.AssembleHousehold(ix, rows)
	if err != nil {
		return fmt.Errorf("household %q: %w", id, err)
	}
	flags, err := f.w.set.Evaluate(h, f.w.env)
	if err != nil {
		return fmt.Errorf("household %q: %w", id, err)
	}
	flags = append(invalidMemberFlags(invalid), flags...)
	return emitFlags(f.Job.shards(), h, 0, flags, emit)
}

// candidateFn assembles and evaluates one omission candidate.
type candidateFn struct {
	Job Job
	w   *worker
}

// Setup loads the job once per DoFn instance.
func (f *candidateFn) Setup() error {
	w, err := f.Job.load()
	f.w = w
	return err
}

// ProcessElement emits the candidate's flags.
func (f *candidateFn) ProcessElement(p Person, emit func(int, FlagOut)) error {
	ix := newMemIndex(f.w.m)
	ix.persons[p.Key] = &p
	h, err := matcher.AssembleCandidate(ix, personid.Key(p.Key))
	if err != nil || h == nil {
		return err
	}
	flags, err := f.w.set.Evaluate(h, f.w.env)
	if err != nil {
		return fmt.Errorf("omission candidate %s: %w", personid.Key(p.Key).Mask(), err)
	}
	return emitFlags(f.Job.shards(), h, p.Key, flags, emit)
}

// emitFlags turns flags into rows as review's flagRows does, keyed by
// shard. A household's flags all land in one shard.
func emitFlags(shards int, h *facts.Household, candidate uint64, flags []rules.Flag, emit func(int, FlagOut)) error {
	group := h.ID
	if h.Candidate {
		group = "C" + h.Members[0].PersonID
	}
	hs := fnv.New64a()
	hs.Write([]byte(group))
	shard := int(hs.Sum64() % uint64(shards))
	for i := range flags {
		fl := &flags[i]
		ev, err := fl.EvidenceJSON()
		if err != nil {
			return fmt.Errorf("evidence of %s for household %q: %w", fl.RuleID, fl.HouseholdID, err)
		}
		region := h.Region
		if h.Candidate && fl.PersonID != h.Members[0].PersonID {
			region = "" // review looks a candidate's region up by the flag's person
		}
		emit(shard, FlagOut{Candidate: candidate, Seq: i, Row: review.FlagRow{
			HouseholdID: fl.HouseholdID, PersonID: fl.PersonID, RegionCode: region,
			RuleID: fl.RuleID, RuleVersion: int32(fl.RuleVersion), Outcome: string(fl.Outcome),
			Message: fl.Message, Basis: fl.Basis, Evidence: string(ev)}})
	}
	return nil
}

// invalidMemberFlags mirrors review's flags for roster members whose ID
// could not be validated (rule roster.invalid_id): nothing could be checked
// for them, which must never read as a pass. The parity test compares
// these rows with `hedui run`'s, so a change of wording there fails it.
func invalidMemberFlags(ms []matcher.InvalidMember) []rules.Flag {
	out := make([]rules.Flag, 0, len(ms))
	for _, m := range ms {
		out = append(out, rules.Flag{
			HouseholdID: m.HouseholdID, PersonID: m.Raw, RuleID: "roster.invalid_id", RuleVersion: 1,
			Outcome: rules.Outcome("insufficient"),
			Message: fmt.Sprintf("成员身份证号码无效（%s，%s 第 %d 行），无法与各部门数据核对，请核实后重新核对", m.Reason, filepath.Base(m.File), m.Row),
			Basis:   "最低生活保障审核确认办法（民发〔2021〕57号）",
		})
	}
	return out
}
