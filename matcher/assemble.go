package matcher

import (
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Indexed is a record with its place in a scan of the manifest: the source
// entry's position (manifest order) and the row's ordinal within the entry
// (files sorted, rows in file order). Sorting by (Source, Seq) gives the
// order in which Match attaches records.
type Indexed struct {
	Source int
	Seq    uint32
	Rec    sources.Record
}

// Index answers the lookups that assemble a household's facts without
// scanning the sources. Every call returns fresh records that the caller may
// change, sorted by (Source, Seq).
type Index interface {
	// Records returns the source records (roster excluded) whose key is key;
	// kind "" means every kind.
	Records(key personid.Key, kind sources.Kind) ([]Indexed, error)
	// NameDOBRecords returns the source records without a valid ID whose
	// name, birth date and region hash to h (see NameDOBKey).
	NameDOBRecords(h uint64) ([]Indexed, error)
	// HukouRows returns the police rows whose hukou number hashes to h
	// (xxhash64 of the canonical hukou_no), invalid IDs included.
	HukouRows(h uint64) ([]Indexed, error)
	// RosterRows returns the roster rows of person key, in roster order.
	RosterRows(key personid.Key) ([]*sources.RosterMember, error)
	// RosterNameDOB returns the roster persons whose first roster row hashes
	// to h.
	RosterNameDOB(h uint64) ([]personid.Key, error)
}

// RowRepeats is implemented by an Index that can tell, without a lookup,
// that a person has at most one row by ID in the roster or in police. The
// assembly then takes that row from the rows it already holds (the
// household's own roster row, a police row read with a housemate's hukou)
// instead of asking for it again: on a large index each lookup is a seek
// through every level of the store.
type RowRepeats interface {
	// MayRepeat reports whether key may have more than one row by ID in
	// the source of kind (roster or police); false means certainly not.
	MayRepeat(key personid.Key, kind sources.Kind) bool
	// RecordsExcept is Records(key, "") without the records of kind.
	RecordsExcept(key personid.Key, kind sources.Kind) ([]Indexed, error)
}

// NameDOBKey hashes name + birth date + region as Match does for the weak
// match of rows without a valid ID; 0 means one of the three is missing.
func NameDOBKey(name string, birth time.Time, region string) uint64 {
	return nameDOBKey(name, birth, region)
}

// HukouHash is the hash under which Match and the index group police rows
// by hukou number.
func HukouHash(hukouNo string) uint64 { return xxhash.Sum64String(hukouNo) }

// AssembleHousehold builds the facts of one household from its roster rows
// (in roster order) and an index, exactly as Match builds them when the
// household is on the manifest's roster. Rows with an invalid ID become
// members without records and are returned as InvalidMembers.
func AssembleHousehold(ix Index, rows []*sources.RosterMember) (*facts.Household, []InvalidMember, error) {
	return assembleHousehold(ix, rows, false)
}

// AssembleRosterHousehold is AssembleHousehold for a household whose rows
// are all of its rows on the roster the index holds (as the index gives
// them): a member known to have no other roster row keeps the one given
// rather than have it read again.
func AssembleRosterHousehold(ix Index, rows []*sources.RosterMember) (*facts.Household, []InvalidMember, error) {
	return assembleHousehold(ix, rows, true)
}

func assembleHousehold(ix Index, rows []*sources.RosterMember, fromRoster bool) (*facts.Household, []InvalidMember, error) {
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("assemble: a household needs at least one roster row")
	}
	h := &facts.Household{ID: rows[0].HouseholdID}
	var invalid []InvalidMember
	for _, rm := range rows {
		if len(h.Members) == 0 || (rm.Relation == "head" && h.Members[0].Relation != "head") {
			setHouseholdFields(h, rm)
		}
		p := personid.Parse(rm.PersonID)
		m := &facts.Member{Key: p.Key, PersonID: rm.PersonID, Name: rm.Name, Relation: rm.Relation,
			RelativeFiled: rm.RelativeFiled, Roster: rm}
		if p.Reason != personid.ReasonNone {
			m.Key = 0
			invalid = append(invalid, InvalidMember{HouseholdID: rm.HouseholdID, Raw: rm.PersonID, Reason: p.Reason, File: rm.File, Row: rm.Row})
		}
		h.Members = append(h.Members, m)
	}
	a := &assembly{ix: ix, h: h, roster: make([][]*sources.RosterMember, len(h.Members))}
	a.rep, _ = ix.(RowRepeats)
	for i, m := range h.Members {
		if m.Key == 0 {
			continue
		}
		if fromRoster && a.rep != nil && !a.rep.MayRepeat(m.Key, sources.KindRoster) {
			a.roster[i] = []*sources.RosterMember{m.Roster}
			continue
		}
		var err error
		if a.roster[i], err = ix.RosterRows(m.Key); err != nil {
			return nil, nil, err
		}
	}
	for i, m := range h.Members {
		if m.Key == 0 {
			continue
		}
		if err := a.memberRecords(i, m); err != nil {
			return nil, nil, err
		}
		// The member's hukous now, rather than with the housemates: the
		// later members' police rows are mostly among their rows.
		if _, err := a.memberHukous(m); err != nil {
			return nil, nil, err
		}
	}
	for _, m := range h.Members {
		if m.Key == 0 {
			continue
		}
		if err := a.memberHousemates(m); err != nil {
			return nil, nil, err
		}
	}
	return h, invalid, nil
}

// assembly is one household being assembled: what the index said of its
// members, asked once per household rather than once per member and pair.
type assembly struct {
	ix     Index
	rep    RowRepeats // nil when ix cannot tell
	h      *facts.Household
	roster [][]*sources.RosterMember // each member's roster rows
	hukou  map[uint64][]Indexed      // police rows by hukou hash, as first read
}

// memberRecords attaches m's records by ID and, when m's name + birth date
// + region is unambiguous, the records without a valid ID that carry them;
// and fills OtherHouseholds.
func (a *assembly) memberRecords(i int, m *facts.Member) error {
	ix, h, roster := a.ix, a.h, a.roster[i]
	first := m.Roster
	if len(roster) > 0 {
		first = roster[0]
	}
	for _, rm := range roster {
		if rm.HouseholdID != h.ID && !contains(m.OtherHouseholds, rm.HouseholdID) {
			m.OtherHouseholds = append(m.OtherHouseholds, rm.HouseholdID)
		}
	}
	recs, err := a.records(m.Key)
	if err != nil {
		return err
	}
	for _, r := range recs {
		r.Rec.Base().Match = sources.MatchID
	}
	by, bm, bd := m.Key.BirthDate()
	nd := nameDOBKey(first.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), first.Region)
	if nd != 0 {
		// The records come first: most persons have none without a valid
		// ID (the presence filters tell without a seek), and then the
		// ambiguity test, a roster seek, is moot.
		weak, err := ix.NameDOBRecords(nd)
		if err != nil {
			return err
		}
		ok := len(weak) > 0
		if ok {
			if ok, err = a.unambiguous(m.Key, nd); err != nil {
				return err
			}
		}
		if ok {
			for _, r := range weak {
				r.Rec.Base().Match = sources.MatchNameDOB
			}
			recs = mergeIndexed(recs, weak)
		}
	}
	for _, r := range recs {
		m.Add(r.Rec)
	}
	return nil
}

// records returns the records of key by ID: those of police taken from the
// hukou rows read so far when they hold key's only police row.
func (a *assembly) records(key personid.Key) ([]Indexed, error) {
	if a.rep == nil || len(a.hukou) == 0 || a.rep.MayRepeat(key, sources.KindPolice) {
		return a.ix.Records(key, "")
	}
	var own *Indexed
	for _, rs := range a.hukou {
		for i := range rs {
			if rs[i].Rec.Base().Key == key {
				own = &rs[i]
			}
		}
	}
	if own == nil {
		return a.ix.Records(key, "")
	}
	recs, err := a.rep.RecordsExcept(key, sources.KindPolice)
	if err != nil {
		return nil, err
	}
	// A copy, as Records gives: the hukou rows stay as read.
	c := *own.Rec.(*sources.Police)
	return mergeIndexed(recs, []Indexed{{Source: own.Source, Seq: own.Seq, Rec: &c}}), nil
}

// unambiguous reports whether key is the only person under name + birth
// date hash nd, among the roster and this household's members.
func (a *assembly) unambiguous(key personid.Key, nd uint64) (bool, error) {
	keys, err := a.ix.RosterNameDOB(nd)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k != key {
			return false, nil
		}
	}
	for i, o := range a.h.Members {
		if o.Key == 0 || o.Key == key || slices.Contains(keys, o.Key) {
			continue
		}
		// A member the roster does not know yet (a household checked at intake).
		if len(a.roster[i]) > 0 {
			continue
		}
		by, bm, bd := o.Key.BirthDate()
		if nameDOBKey(o.Roster.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), o.Roster.Region) == nd {
			return false, nil
		}
	}
	return true, nil
}

func mergeIndexed(a, b []Indexed) []Indexed {
	if len(b) == 0 {
		return a
	}
	out := append(append(make([]Indexed, 0, len(a)+len(b)), a...), b...)
	slices.SortStableFunc(out, func(x, y Indexed) int {
		if x.Source != y.Source {
			return x.Source - y.Source
		}
		switch {
		case x.Seq < y.Seq:
			return -1
		case x.Seq > y.Seq:
			return 1
		}
		return 0
	})
	return out
}

// memberHousemates finds the people on m's hukous (from m's police rows
// matched by ID) who are not on m's household, with their staff records.
func (a *assembly) memberHousemates(m *facts.Member) error {
	ix, h := a.ix, a.h
	rows, err := a.memberHukous(m)
	if err != nil {
		return err
	}
	for _, r := range rows {
		p := r.Rec.(*sources.Police)
		if onHouseholdOf(h, p.Key) {
			continue
		}
		// Members on one hukou share its rows: a copy each, as Match gives.
		c := *p
		p = &c
		p.Match = sources.MatchID
		mate := &facts.Housemate{Police: p}
		if p.Key != 0 {
			staff, err := ix.Records(p.Key, sources.KindStaff)
			if err != nil {
				return err
			}
			for _, s := range staff {
				s.Rec.Base().Match = sources.MatchID
				mate.Staff = append(mate.Staff, s.Rec.(*sources.Staff))
			}
		}
		m.Housemates = append(m.Housemates, mate)
	}
	return nil
}

// memberHukous returns the police rows of m's hukous (from m's police rows
// matched by ID), in (Source, Seq) order.
func (a *assembly) memberHukous(m *facts.Member) ([]Indexed, error) {
	var hashes []uint64
	for _, p := range m.Police {
		if p.HukouNo == "" || p.Match != sources.MatchID {
			continue
		}
		if hh := HukouHash(p.HukouNo); !slices.Contains(hashes, hh) {
			hashes = append(hashes, hh)
		}
	}
	var rows []Indexed
	for _, hh := range hashes {
		rs, err := a.hukouRows(hh)
		if err != nil {
			return nil, err
		}
		rows = mergeIndexed(rows, rs)
	}
	return rows, nil
}

// hukouRows returns the police rows of hukou hash hh, read from the index
// once per household (its members mostly share a hukou).
func (a *assembly) hukouRows(hh uint64) ([]Indexed, error) {
	if rs, ok := a.hukou[hh]; ok {
		return rs, nil
	}
	rs, err := a.ix.HukouRows(hh)
	if err != nil {
		return nil, err
	}
	if a.hukou == nil {
		a.hukou = map[uint64][]Indexed{}
	}
	a.hukou[hh] = rs
	return rs, nil
}

func onHouseholdOf(h *facts.Household, key personid.Key) bool {
	if key == 0 {
		return false
	}
	for _, m := range h.Members {
		if m.Key == key {
			return true
		}
	}
	return false
}

// AssembleCandidate builds the facts of an omission candidate: a person
// with a poverty or disability record by ID who is on no roster household.
// It returns nil when key is not such a person.
func AssembleCandidate(ix Index, key personid.Key) (*facts.Household, error) {
	roster, err := ix.RosterRows(key)
	if err != nil || len(roster) > 0 {
		return nil, err
	}
	recs, err := ix.Records(key, "")
	if err != nil {
		return nil, err
	}
	var m *facts.Member
	for _, r := range recs {
		if k := r.Rec.Base().Kind; k == sources.KindPoverty || k == sources.KindDisability {
			o := r.Rec.Base()
			m = &facts.Member{Key: key, PersonID: o.PersonID, Name: o.Name}
			break
		}
	}
	if m == nil {
		return nil, nil
	}
	for _, r := range recs {
		r.Rec.Base().Match = sources.MatchID
		m.Add(r.Rec)
	}
	h := &facts.Household{Candidate: true, Members: []*facts.Member{m}}
	fillCandidate(h)
	return h, nil
}
