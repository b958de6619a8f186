package facts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// BinaryVersion is the first byte of every encoding AppendBinary writes.
// Bump it whenever the layout changes: DecodeBinary refuses other versions
// rather than misread them.
const BinaryVersion = 1

// The binary layout (version 1). Strings are a uvarint length then the
// bytes; ints are zigzag varints; floats are their IEEE bits, 8 bytes little
// endian; bools one byte (0 or 1); person keys uvarints; counts uvarints.
// Times are one uvarint v: 0 for the zero time, v&3 == 1 for a UTC midnight
// (days since 1970-01-01 zigzagged in v>>2), v&3 == 2 for any other instant
// (seconds since 1970 zigzagged in v>>2, then the nanoseconds as a uvarint;
// the location is not kept, the time comes back in UTC).
//
//	household: version byte, ID, Region, Area, Assistance, Status,
//	           MonthlyBenefit, Since, ApplicationDate, AuthorizationRef,
//	           Candidate, member count, members
//	member:    presence byte, Key, PersonID, Name, Relation, RelativeFiled,
//	           Roster (record), OtherHouseholds (count, strings), then one
//	           record list per kind in sources.SourceKinds order, then
//	           Housemates (count; each: presence byte, Police (record),
//	           Staff (record list))
//	list:      count, records
//	record:    presence byte; if present the Origin (Key, PersonID, Name,
//	           BirthDate, Region, Kind, File, Row, Snapshot, Match), then the
//	           kind's own columns in sources.SchemaOf(kind).Columns order
//
// A nil slice and an empty one both encode as count 0 and decode as nil.

// field is one of a kind's own columns: where it lies in the record struct
// and how it is encoded.
type field struct {
	off uintptr
	typ sources.Type
}

// layout is the field table of one kind, built once from its schema.
type layout struct {
	kind   sources.Kind
	index  int // in layouts
	fields []field
}

// layouts holds the table of every kind, indexed by kindIndex. It is built
// at package initialization and never modified.
var layouts = buildLayouts()

const (
	rosterIndex = iota
	policeIndex
	vehicleIndex
	realEstateIndex
	pensionIndex
	fundIndex
	courtIndex
	businessIndex
	payrollIndex
	medicalIndex
	disabilityIndex
	povertyIndex
	depositIndex
	staffIndex
	kindCount
)

func buildLayouts() [kindCount]*layout {
	var out [kindCount]*layout
	kinds := append([]sources.Kind{sources.KindRoster}, sources.SourceKinds...)
	if len(kinds) != kindCount {
		panic(fmt.Sprintf("facts: %d record kinds, binary layout knows %d", len(kinds), kindCount))
	}
	for i, k := range kinds {
		l, err := buildLayout(k)
		if err != nil {
			panic(err) // a record struct the encoding cannot carry: a programming error
		}
		l.index = i
		out[i] = l
	}
	return out
}

var (
	originType = reflect.TypeOf(sources.Origin{})
	timeType   = reflect.TypeOf(time.Time{})
)

// buildLayout maps the kind's own columns (those outside the embedded
// Origin, which is encoded whole) to field offsets, checking that the
// columns cover every field of the struct so that nothing is silently lost.
func buildLayout(k sources.Kind) (*layout, error) {
	s, err := sources.SchemaOf(k)
	if err != nil {
		return nil, err
	}
	t := reflect.TypeOf(s.New()).Elem()
	l := &layout{kind: k}
	covered := map[int]bool{}
	for _, c := range s.Columns {
		top := t.Field(c.Field[0])
		if top.Anonymous && top.Type == originType {
			continue
		}
		if len(c.Field) != 1 {
			return nil, fmt.Errorf("facts: %s column %s: nested field path %v; binary layout supports top-level fields", k, c.Name, c.Field)
		}
		if err := checkType(c.Type, top.Type); err != nil {
			return nil, fmt.Errorf("facts: %s column %s (field %s): %w", k, c.Name, top.Name, err)
		}
		covered[c.Field[0]] = true
		l.fields = append(l.fields, field{off: top.Offset, typ: c.Type})
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type == originType {
			if f.Offset != 0 {
				return nil, fmt.Errorf("facts: %s: embedded Origin at offset %d; want 0", k, f.Offset)
			}
			continue
		}
		if !covered[i] {
			return nil, fmt.Errorf("facts: %s field %s has no column; the binary encoding would drop it", k, f.Name)
		}
	}
	return l, nil
}

func checkType(typ sources.Type, ft reflect.Type) error {
	var ok bool
	switch typ {
	case sources.TypeString:
		ok = ft.Kind() == reflect.String
	case sources.TypeDate:
		ok = ft == timeType
	case sources.TypeFloat:
		ok = ft.Kind() == reflect.Float64
	case sources.TypeInt:
		ok = ft.Kind() == reflect.Int
	case sources.TypeBool:
		ok = ft.Kind() == reflect.Bool
	}
	if !ok {
		return fmt.Errorf("column type %s does not fit Go type %s", typ, ft)
	}
	return nil
}

// AppendBinary appends the binary encoding of h to dst and returns the
// extended slice. DecodeBinary reads it back, person keys included.
func AppendBinary(dst []byte, h *Household) []byte {
	dst = append(dst, BinaryVersion)
	dst = appendString(dst, h.ID)
	dst = appendString(dst, h.Region)
	dst = appendString(dst, h.Area)
	dst = appendString(dst, h.Assistance)
	dst = appendString(dst, h.Status)
	dst = appendFloat(dst, h.MonthlyBenefit)
	dst = appendTime(dst, h.Since)
	dst = appendTime(dst, h.ApplicationDate)
	dst = appendString(dst, h.AuthorizationRef)
	dst = appendBool(dst, h.Candidate)
	dst = binary.AppendUvarint(dst, uint64(len(h.Members)))
	for _, m := range h.Members {
		dst = appendMember(dst, m)
	}
	return dst
}

func appendMember(dst []byte, m *Member) []byte {
	if m == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(m.Key))
	dst = appendString(dst, m.PersonID)
	dst = appendString(dst, m.Name)
	dst = appendString(dst, m.Relation)
	dst = appendBool(dst, m.RelativeFiled)
	dst = appendRecord(dst, m.Roster, layouts[rosterIndex])
	dst = binary.AppendUvarint(dst, uint64(len(m.OtherHouseholds)))
	for _, s := range m.OtherHouseholds {
		dst = appendString(dst, s)
	}
	dst = appendList(dst, m.Police, layouts[policeIndex])
	dst = appendList(dst, m.Vehicles, layouts[vehicleIndex])
	dst = appendList(dst, m.RealEstate, layouts[realEstateIndex])
	dst = appendList(dst, m.Pension, layouts[pensionIndex])
	dst = appendList(dst, m.Fund, layouts[fundIndex])
	dst = appendList(dst, m.Court, layouts[courtIndex])
	dst = appendList(dst, m.Business, layouts[businessIndex])
	dst = appendList(dst, m.Payroll, layouts[payrollIndex])
	dst = appendList(dst, m.Medical, layouts[medicalIndex])
	dst = appendList(dst, m.Disability, layouts[disabilityIndex])
	dst = appendList(dst, m.Poverty, layouts[povertyIndex])
	dst = appendList(dst, m.Deposit, layouts[depositIndex])
	dst = appendList(dst, m.Staff, layouts[staffIndex])
	dst = binary.AppendUvarint(dst, uint64(len(m.Housemates)))
	for _, hm := range m.Housemates {
		if hm == nil {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		dst = appendRecord(dst, hm.Police, layouts[policeIndex])
		dst = appendList(dst, hm.Staff, layouts[staffIndex])
	}
	return dst
}

// record is a pointer to one of the canonical record structs of package
// sources, each of which embeds Origin as its first field.
type record[T any] interface {
	*T
	sources.Record
}

func appendList[T any, P record[T]](dst []byte, rs []P, l *layout) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for _, r := range rs {
		dst = appendRecord(dst, r, l)
	}
	return dst
}

func appendRecord[T any, P record[T]](dst []byte, r P, l *layout) []byte {
	if r == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = appendOrigin(dst, r.Base())
	base := unsafe.Pointer(r)
	for _, f := range l.fields {
		p := unsafe.Add(base, f.off)
		switch f.typ {
		case sources.TypeString:
			dst = appendString(dst, *(*string)(p))
		case sources.TypeDate:
			dst = appendTime(dst, *(*time.Time)(p))
		case sources.TypeFloat:
			dst = appendFloat(dst, *(*float64)(p))
		case sources.TypeInt:
			dst = binary.AppendVarint(dst, int64(*(*int)(p)))
		case sources.TypeBool:
			dst = appendBool(dst, *(*bool)(p))
		}
	}
	return dst
}

func appendOrigin(dst []byte, o *sources.Origin) []byte {
	dst = binary.AppendUvarint(dst, uint64(o.Key))
	dst = appendString(dst, o.PersonID)
	dst = appendString(dst, o.Name)
	dst = appendTime(dst, o.BirthDate)
	dst = appendString(dst, o.Region)
	dst = appendString(dst, string(o.Kind))
	dst = appendString(dst, o.File)
	dst = binary.AppendVarint(dst, o.Row)
	dst = appendTime(dst, o.Snapshot)
	return appendString(dst, o.Match)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendFloat(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

const (
	timeZero    = 0
	timeDate    = 1
	timeInstant = 2
	secondsADay = 24 * 60 * 60
)

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, timeZero)
	}
	sec := t.Unix()
	if t.Nanosecond() == 0 && t.Location() == time.UTC && sec%secondsADay == 0 {
		return binary.AppendUvarint(dst, zigzag(sec/secondsADay)<<2|timeDate)
	}
	dst = binary.AppendUvarint(dst, zigzag(sec)<<2|timeInstant)
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// errCorrupt is wrapped by every decoding error about the bytes themselves.
var errCorrupt = errors.New("facts: corrupt binary encoding")

// DecodeBinary decodes a household that AppendBinary encoded. It returns an
// error, never panics, for another format version and for truncated or
// garbled input. The strings of the result share one copy of b, so b may be
// reused once DecodeBinary returns.
func DecodeBinary(b []byte) (*Household, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty input", errCorrupt)
	}
	return DecodeBinaryString(string(b))
}

// DecodeBinaryString is DecodeBinary on a string: the strings of the result
// are substrings of s, no copy is made. A caller decoding many households
// can copy their encodings into one string and decode each from a slice of
// it, one allocation for all instead of one each.
func DecodeBinaryString(s string) (*Household, error) {
	return decodeBinary(s, AllLists)
}

// decodeBinary decodes s, filling of each member only the parts keep names
// (see Lists); the bytes of the others are checked and skipped.
func decodeBinary(s string, keep Lists) (*Household, error) {
	return decodeWith(decoder{s: s, i: 1}, keep)
}

// decodeWith decodes d.s from d.i = 1 on.
func decodeWith(d decoder, keep Lists) (*Household, error) {
	s := d.s
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: empty input", errCorrupt)
	}
	if s[0] != BinaryVersion {
		return nil, fmt.Errorf("facts: binary encoding version %d; supported version: %d", s[0], BinaryVersion)
	}
	h := takeOne(d.mem.households())
	*h = Household{
		ID: d.str(), Region: d.str(), Area: d.str(), Assistance: d.str(), Status: d.str(),
		MonthlyBenefit: d.float(), Since: d.time(), ApplicationDate: d.time(),
		AuthorizationRef: d.str(), Candidate: d.bool(),
	}
	if n := d.count(); n > 0 {
		// One array for the members and one for their roster rows: two
		// allocations per household instead of two per member.
		h.Members = take(d.mem.memberPtrs(), n)
		members := take(d.mem.members(), n)
		var rosters []sources.RosterMember
		for i := range h.Members {
			h.Members[i] = d.member(&members[i], &rosters, n, keep)
			if d.err != nil {
				break
			}
		}
	}
	if d.err == nil && d.i != len(d.s) {
		d.fail("%d trailing bytes", len(d.s)-d.i)
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// decoder reads the encoding from a string so that decoded strings are
// substrings of one copy, not one allocation each. After the first error
// every read returns a zero value.
type decoder struct {
	s   string
	i   int
	err error
	// strs, when not nil, receives a copy of every string decoded: s is
	// then an encoding the caller will reuse (see Decoder).
	strs *strArena
	// mem, when not nil, provides the structs and slices of households,
	// members and records (see Decoder.Reuse).
	mem *slabs
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", errCorrupt, d.i, fmt.Sprintf(format, args...))
	}
	d.i = len(d.s)
}

func (d *decoder) uvarint() uint64 {
	// Most numbers (lengths, counts, tags) are below 128: one byte, inlined.
	if i := d.i; uint(i) < uint(len(d.s)) {
		if c := d.s[i]; c < 0x80 {
			d.i = i + 1
			return uint64(c)
		}
	}
	return d.uvarintLong()
}

// uvarintLong reads a uvarint of any length.
func (d *decoder) uvarintLong() uint64 {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			d.fail("truncated number")
			return 0
		}
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			if shift == 63 && c > 1 {
				d.fail("number overflows 64 bits")
				return 0
			}
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	d.fail("number overflows 64 bits")
	return 0
}

func (d *decoder) varint() int64 { return unzigzag(d.uvarint()) }

// count reads a length of items that take at least one byte each, so a
// garbled count cannot ask for more memory than the input could fill.
func (d *decoder) count() int {
	// Most counts and lengths take one byte: read it here, not through
	// uvarint (the decoder's hottest path).
	if i := d.i; uint(i) < uint(len(d.s)) {
		if c := d.s[i]; c < 0x80 && int(c) < len(d.s)-i {
			d.i = i + 1
			return int(c)
		}
	}
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.s)-d.i)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	s := d.s[d.i : d.i+n]
	d.i += n
	if d.strs != nil {
		return d.strs.save(s)
	}
	return s
}

func (d *decoder) byte() byte {
	if d.i >= len(d.s) {
		d.fail("truncated")
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

func (d *decoder) bool() bool {
	switch c := d.byte(); c {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("boolean byte %d; want 0 or 1", c)
		return false
	}
}

// present reads the presence byte of a pointer.
func (d *decoder) present() bool { return d.bool() }

func (d *decoder) float() float64 {
	if len(d.s)-d.i < 8 {
		d.fail("truncated float")
		return 0
	}
	u := uint64(d.s[d.i]) | uint64(d.s[d.i+1])<<8 | uint64(d.s[d.i+2])<<16 | uint64(d.s[d.i+3])<<24 |
		uint64(d.s[d.i+4])<<32 | uint64(d.s[d.i+5])<<40 | uint64(d.s[d.i+6])<<48 | uint64(d.s[d.i+7])<<56
	d.i += 8
	return math.Float64frombits(u)
}

func (d *decoder) time() time.Time {
	v := d.uvarint()
	switch v & 3 {
	case timeZero:
		if v != 0 {
			d.fail("time tag %d", v)
		}
		return time.Time{}
	case timeDate:
		days := unzigzag(v >> 2)
		if days > math.MaxInt64/secondsADay || days < math.MinInt64/secondsADay {
			d.fail("date %d days out of range", days)
			return time.Time{}
		}
		return time.Unix(days*secondsADay, 0).UTC()
	case timeInstant:
		sec := unzigzag(v >> 2)
		ns := d.uvarint()
		if ns >= 1e9 {
			d.fail("nanoseconds %d; want below 1e9", ns)
			return time.Time{}
		}
		return time.Unix(sec, int64(ns)).UTC()
	default:
		d.fail("time tag %d", v)
		return time.Time{}
	}
}

// member decodes a member into m, or returns nil for an absent one. Its
// roster row goes into the next free element of *rosters, made for n
// members on first use. Of the parts Lists names, only those in keep are
// decoded; the others are skipped (and left empty).
func (d *decoder) member(m *Member, rosters *[]sources.RosterMember, n int, keep Lists) *Member {
	if !d.present() {
		return nil
	}
	*m = Member{
		Key: personid.Key(d.uvarint()), PersonID: d.str(), Name: d.str(), Relation: d.str(), RelativeFiled: d.bool(),
	}
	switch {
	case keep&ListRoster == 0:
		d.skipRecord(layouts[rosterIndex])
	case d.i < len(d.s) && d.s[d.i] == 1: // a roster row follows
		if cap(*rosters) == 0 {
			*rosters = take(d.mem.rosters(), n)[:0]
		}
		*rosters = (*rosters)[:len(*rosters)+1]
		m.Roster = decodeRecord[sources.RosterMember](d, layouts[rosterIndex], &(*rosters)[len(*rosters)-1])
	default:
		m.Roster = decodeRecord[sources.RosterMember](d, layouts[rosterIndex], nil)
	}
	if keep&ListOtherHouseholds == 0 {
		d.skipStrings()
	} else if n := d.count(); n > 0 {
		m.OtherHouseholds = take(d.mem.strings(), n)
		for i := range m.OtherHouseholds {
			m.OtherHouseholds[i] = d.str()
		}
	}
	if keep&recordLists == recordLists {
		d.allLists(m)
	} else {
		d.someLists(m, keep)
	}
	if keep&ListHousemates == 0 {
		d.skipHousemates()
	} else if n := d.count(); n > 0 {
		m.Housemates = take(d.mem.housematePtrs(), n)
		mates := take(d.mem.housemates(), n)
		for i := range m.Housemates {
			if !d.present() {
				continue
			}
			var police *sources.Police
			if d.mem != nil {
				police = takeOne(&kindSlabOf[sources.Police, *sources.Police](d.mem, layouts[policeIndex]).recs)
			}
			mates[i] = Housemate{
				Police: decodeRecord[sources.Police](d, layouts[policeIndex], police),
				Staff:  decodeList[sources.Staff](d, layouts[staffIndex]),
			}
			m.Housemates[i] = &mates[i]
		}
	}
	return m
}

// allLists decodes every record list of a member.
func (d *decoder) allLists(m *Member) {
	m.Police = decodeList[sources.Police](d, layouts[policeIndex])
	m.Vehicles = decodeList[sources.Vehicle](d, layouts[vehicleIndex])
	m.RealEstate = decodeList[sources.RealEstate](d, layouts[realEstateIndex])
	m.Pension = decodeList[sources.Pension](d, layouts[pensionIndex])
	m.Fund = decodeList[sources.Fund](d, layouts[fundIndex])
	m.Court = decodeList[sources.Court](d, layouts[courtIndex])
	m.Business = decodeList[sources.Business](d, layouts[businessIndex])
	m.Payroll = decodeList[sources.Payroll](d, layouts[payrollIndex])
	m.Medical = decodeList[sources.Medical](d, layouts[medicalIndex])
	m.Disability = decodeList[sources.Disability](d, layouts[disabilityIndex])
	m.Poverty = decodeList[sources.Poverty](d, layouts[povertyIndex])
	m.Deposit = decodeList[sources.Deposit](d, layouts[depositIndex])
	m.Staff = decodeList[sources.Staff](d, layouts[staffIndex])
}

// decodeList decodes a record list into one backing array: one allocation
// for the records and one for the pointers, or a single one for a list of
// one record (most lists: a member's police row, pension, car).
func decodeList[T any, P record[T]](d *decoder, l *layout) []P {
	n := d.count()
	if n == 0 {
		return nil
	}
	if d.mem != nil {
		ks := kindSlabOf[T, P](d.mem, l)
		backing, out := take(&ks.recs, n), take(&ks.ptrs, n)
		for i := range out {
			out[i] = decodeRecord[T, P](d, l, &backing[i])
			if d.err != nil {
				return nil
			}
		}
		return out
	}
	if n == 1 {
		one := new(struct {
			rec T
			ptr [1]P
		})
		if one.ptr[0] = decodeRecord[T, P](d, l, &one.rec); d.err != nil {
			return nil
		}
		return one.ptr[:]
	}
	backing := make([]T, n)
	out := make([]P, n)
	for i := range out {
		out[i] = decodeRecord[T, P](d, l, &backing[i])
		if d.err != nil {
			return nil
		}
	}
	return out
}

// decodeRecord decodes one record into into, or a new one when into is nil.
func decodeRecord[T any, P record[T]](d *decoder, l *layout, into P) P {
	if !d.present() {
		return nil
	}
	if into == nil {
		into = new(T)
	}
	d.origin(into.Base())
	base := unsafe.Pointer(into)
	for _, f := range l.fields {
		p := unsafe.Add(base, f.off)
		switch f.typ {
		case sources.TypeString:
			*(*string)(p) = d.str()
		case sources.TypeDate:
			*(*time.Time)(p) = d.time()
		case sources.TypeFloat:
			*(*float64)(p) = d.float()
		case sources.TypeInt:
			*(*int)(p) = int(d.varint())
		case sources.TypeBool:
			*(*bool)(p) = d.bool()
		}
	}
	return into
}

func (d *decoder) origin(o *sources.Origin) {
	o.Key = personid.Key(d.uvarint())
	o.PersonID = d.str()
	o.Name = d.str()
	o.BirthDate = d.time()
	o.Region = d.str()
	o.Kind = sources.Kind(d.str())
	o.File = d.str()
	o.Row = d.varint()
	o.Snapshot = d.time()
	o.Match = d.str()
}
