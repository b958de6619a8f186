package facts

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"github.com/hedui/hedui/sources"
)

// Lists is a set of the parts of a member beyond its identity (key, person
// ID, name, relation, relative_filed): its roster row, its other
// households, each record list, its housemates. DecodeBinaryStringLists
// decodes only the parts a set names, for a reader (a what-if) whose rules
// read a few record kinds of a household: skipping a part reads its lengths,
// not its records, and allocates nothing.
type Lists uint32

// The parts of a member. The bits of the record kinds follow the order of
// the binary layout (the roster, then sources.SourceKinds).
const (
	ListRoster Lists = 1 << iota
	ListPolice
	ListVehicles
	ListRealEstate
	ListPension
	ListFund
	ListCourt
	ListBusiness
	ListPayroll
	ListMedical
	ListDisability
	ListPoverty
	ListDeposit
	ListStaff
	ListOtherHouseholds
	ListHousemates

	// AllLists names every part: DecodeBinaryStringLists then decodes what
	// DecodeBinaryString does.
	AllLists = ListHousemates<<1 - 1
)

// recordLists are the bits of the record lists (police to staff).
const recordLists = ListPolice | ListVehicles | ListRealEstate | ListPension | ListFund | ListCourt |
	ListBusiness | ListPayroll | ListMedical | ListDisability | ListPoverty | ListDeposit | ListStaff

// memberParts maps the Go name of each field of Member to its part; the
// identity fields, always decoded, map to 0.
var memberParts = map[string]Lists{
	"Key": 0, "PersonID": 0, "Name": 0, "Relation": 0, "RelativeFiled": 0,
	"Roster": ListRoster, "OtherHouseholds": ListOtherHouseholds, "Housemates": ListHousemates,
	"Police": ListPolice, "Vehicles": ListVehicles, "RealEstate": ListRealEstate, "Pension": ListPension,
	"Fund": ListFund, "Court": ListCourt, "Business": ListBusiness, "Payroll": ListPayroll,
	"Medical": ListMedical, "Disability": ListDisability, "Poverty": ListPoverty, "Deposit": ListDeposit,
	"Staff": ListStaff,
}

// partsByExprName maps the expr name of each field of Member (as rules
// read it: "police", "housemates", "person_id") to its part. Built at
// package initialization and never modified.
var partsByExprName = buildPartsByExprName()

func buildPartsByExprName() map[string]Lists {
	t := reflect.TypeOf(Member{})
	out := make(map[string]Lists, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		part, ok := memberParts[f.Name]
		if !ok {
			// A new field of Member needs a part (and a place in the layout).
			panic(fmt.Sprintf("facts: Member field %s belongs to no part of Lists", f.Name))
		}
		out[f.Tag.Get("expr")] = part
	}
	return out
}

// ListsNamed returns the parts holding the fields of Member with the given
// expr names (the names rule expressions use: "police", "other_households");
// identity fields ("person_id", "name") need no part. An unknown name is an
// error.
func ListsNamed(names ...string) (Lists, error) {
	var out Lists
	for _, n := range names {
		part, ok := partsByExprName[n]
		if !ok {
			return 0, fmt.Errorf("facts: a member has no field %q", n)
		}
		out |= part
	}
	return out, nil
}

// ListOf returns the part holding a member's records of kind k (ListRoster
// for the roster), or 0 for a kind a member holds no list of.
func ListOf(k sources.Kind) Lists {
	if k == sources.KindRoster {
		return ListRoster
	}
	for i, sk := range sources.SourceKinds {
		if sk == k {
			return ListPolice << i
		}
	}
	return 0
}

// DecodeBinaryStringLists is DecodeBinaryString that fills of each member
// only its identity and the parts keep names; the others stay nil. The
// skipped bytes are still checked as far as their structure goes (counts,
// lengths, presence and boolean bytes, time tags), so an encoding that
// DecodeBinaryString refuses is refused here too, and one it accepts
// decodes to the same household less the parts not kept.
func DecodeBinaryStringLists(s string, keep Lists) (*Household, error) {
	return decodeBinary(s, keep&AllLists)
}

// someLists decodes the record lists keep names and skips the others.
func (d *decoder) someLists(m *Member, keep Lists) {
	m.Police = keptList[sources.Police](d, keep, policeIndex)
	m.Vehicles = keptList[sources.Vehicle](d, keep, vehicleIndex)
	m.RealEstate = keptList[sources.RealEstate](d, keep, realEstateIndex)
	m.Pension = keptList[sources.Pension](d, keep, pensionIndex)
	m.Fund = keptList[sources.Fund](d, keep, fundIndex)
	m.Court = keptList[sources.Court](d, keep, courtIndex)
	m.Business = keptList[sources.Business](d, keep, businessIndex)
	m.Payroll = keptList[sources.Payroll](d, keep, payrollIndex)
	m.Medical = keptList[sources.Medical](d, keep, medicalIndex)
	m.Disability = keptList[sources.Disability](d, keep, disabilityIndex)
	m.Poverty = keptList[sources.Poverty](d, keep, povertyIndex)
	m.Deposit = keptList[sources.Deposit](d, keep, depositIndex)
	m.Staff = keptList[sources.Staff](d, keep, staffIndex)
}

// keptList decodes the list of kind index k when keep names it, else skips it.
func keptList[T any, P record[T]](d *decoder, keep Lists, k int) []P {
	if keep&(1<<k) == 0 {
		d.skipList(layouts[k])
		return nil
	}
	return decodeList[T, P](d, layouts[k])
}

func (d *decoder) skipString() {
	n := d.count()
	d.i += n
}

func (d *decoder) skipStrings() {
	for n := d.count(); n > 0 && d.err == nil; n-- {
		d.skipString()
	}
}

// skipTime skips a time as time() reads it, with the same checks.
func (d *decoder) skipTime() {
	v := d.uvarint()
	switch v & 3 {
	case timeZero:
		if v != 0 {
			d.fail("time tag %d", v)
		}
	case timeDate:
		if days := unzigzag(v >> 2); days > math.MaxInt64/secondsADay || days < math.MinInt64/secondsADay {
			d.fail("date %d days out of range", days)
		}
	case timeInstant:
		if ns := d.uvarint(); ns >= 1e9 {
			d.fail("nanoseconds %d; want below 1e9", ns)
		}
	default:
		d.fail("time tag %d", v)
	}
}

func (d *decoder) skipFloat() {
	if len(d.s)-d.i < 8 {
		d.fail("truncated float")
		return
	}
	d.i += 8
}

func (d *decoder) skipList(l *layout) {
	for n := d.count(); n > 0 && d.err == nil; n-- {
		d.skipRecord(l)
	}
}

// skipRecord skips a record as decodeRecord reads it, with the same checks.
func (d *decoder) skipRecord(l *layout) {
	if !d.present() {
		return
	}
	d.uvarint()    // Key
	d.skipString() // PersonID
	d.skipString() // Name
	_ = d.time()   // BirthDate
	d.skipString() // Region
	d.skipString() // Kind
	d.skipString() // File
	d.uvarint()    // Row
	_ = d.time()   // Snapshot
	d.skipString() // Match
	for _, f := range l.fields {
		switch f.typ {
		case sources.TypeString:
			d.skipString()
		case sources.TypeDate:
			d.skipTime()
		case sources.TypeFloat:
			d.skipFloat()
		case sources.TypeInt:
			d.uvarint()
		case sources.TypeBool:
			d.bool()
		}
	}
}

func (d *decoder) skipHousemates() {
	for n := d.count(); n > 0 && d.err == nil; n-- {
		if !d.present() {
			continue
		}
		d.skipRecord(layouts[policeIndex])
		d.skipList(layouts[staffIndex])
	}
}

// Decoder decodes households one after another from encodings the caller
// reuses (the values of a Parquet page, valid until the page is released).
// It keeps of each member only the parts of its Lists, and copies the
// strings of what it keeps into chunks of memory of its own: a household
// stays valid once its encoding is gone and holds no more memory than its
// strings, where DecodeBinaryString's hold the whole encoding. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	lists Lists
	strs  strArena
	mem   slabs
}

// NewDecoder returns a Decoder that keeps the parts lists names.
func NewDecoder(lists Lists) *Decoder { return &Decoder{lists: lists & AllLists} }

// Decode decodes a household that AppendBinary encoded, as
// DecodeBinaryStringLists does; b is not retained.
func (dec *Decoder) Decode(b []byte) (*Household, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty input", errCorrupt)
	}
	// Only the strings saved to the arena outlive this call.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	return decodeWith(decoder{s: s, i: 1, strs: &dec.strs, mem: &dec.mem}, dec.lists)
}

// Reuse lets the Decoder hand out again the memory of the households it
// decoded so far (their structs and slices; their strings stay): none of
// them may be used after the call. A reader that evaluates a page of
// households and drops them calls it before decoding the next page.
func (dec *Decoder) Reuse() { dec.mem.reuse() }

// strArenaChunk is the size of the chunks a strArena allocates: large
// enough for the strings of a few hundred households.
const strArenaChunk = 64 << 10

// strArena copies strings into chunks it allocates. A chunk's bytes are
// written once, before the strings that point into them are handed out,
// and never again; a new chunk starts when one is full.
type strArena struct {
	chunk []byte
}

func (a *strArena) save(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > cap(a.chunk)-len(a.chunk) {
		a.chunk = make([]byte, 0, max(strArenaChunk, len(s)))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, s...)
	return unsafe.String(&a.chunk[start], len(s))
}
