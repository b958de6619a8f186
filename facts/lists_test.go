package facts_test

import (
	"reflect"
	"testing"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

// partFields are the Go names of Member's fields in each part.
var partFields = map[facts.Lists]string{
	facts.ListRoster: "Roster", facts.ListOtherHouseholds: "OtherHouseholds", facts.ListHousemates: "Housemates",
	facts.ListPolice: "Police", facts.ListVehicles: "Vehicles", facts.ListRealEstate: "RealEstate",
	facts.ListPension: "Pension", facts.ListFund: "Fund", facts.ListCourt: "Court", facts.ListBusiness: "Business",
	facts.ListPayroll: "Payroll", facts.ListMedical: "Medical", facts.ListDisability: "Disability",
	facts.ListPoverty: "Poverty", facts.ListDeposit: "Deposit", facts.ListStaff: "Staff",
}

// reduced returns a copy of h whose members hold only the parts in keep.
func reduced(h *facts.Household, keep facts.Lists) *facts.Household {
	c := *h
	if h.Members == nil {
		return &c
	}
	c.Members = make([]*facts.Member, len(h.Members))
	for i, m := range h.Members {
		if m == nil {
			continue
		}
		mc := *m
		v := reflect.ValueOf(&mc).Elem()
		for part, name := range partFields {
			if keep&part == 0 {
				v.FieldByName(name).SetZero()
			}
		}
		c.Members[i] = &mc
	}
	return &c
}

// masks are the sets of parts the tests decode with: none, each alone,
// each left out, a what-if's, all.
func masks() []facts.Lists {
	out := []facts.Lists{0, facts.AllLists, facts.ListPayroll | facts.ListFund | facts.ListPension | facts.ListMedical | facts.ListDeposit | facts.ListDisability}
	for part := range partFields {
		out = append(out, part, facts.AllLists&^part)
	}
	return out
}

func TestDecodeListsKeepsOnlyThoseParts(t *testing.T) {
	if len(partFields) != reflect.TypeOf(facts.Member{}).NumField()-5 {
		t.Fatalf("%d parts in the test for %d fields of Member besides its identity", len(partFields), reflect.TypeOf(facts.Member{}).NumField()-5)
	}
	hs := []*facts.Household{fullHousehold(), edgeHousehold(), {}}
	if !testing.Short() {
		hs = append(hs, loadReal(t)...)
	}
	for _, keep := range masks() {
		for i, h := range hs {
			b := facts.AppendBinary(nil, h)
			got, err := facts.DecodeBinaryStringLists(string(b), keep)
			if err != nil {
				t.Fatalf("lists %b, household %d: %v", keep, i, err)
			}
			want, err := facts.DecodeBinary(b) // nil and empty lists both decode as nil
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, reduced(want, keep)) {
				t.Fatalf("lists %b, household %d: decoded %+v; want the household less the other parts", keep, i, got)
			}
		}
	}
}

func TestListsNamed(t *testing.T) {
	got, err := facts.ListsNamed("police", "housemates", "other_households", "roster", "person_id", "name", "deposit")
	if err != nil {
		t.Fatal(err)
	}
	if want := facts.ListPolice | facts.ListHousemates | facts.ListOtherHouseholds | facts.ListRoster | facts.ListDeposit; got != want {
		t.Errorf("ListsNamed: %b; want %b", got, want)
	}
	if _, err := facts.ListsNamed("polis"); err == nil {
		t.Error("an unknown name: no error")
	}
	for _, k := range sources.SourceKinds {
		part := facts.ListOf(k)
		if part == 0 || facts.AllLists&part != part {
			t.Errorf("ListOf(%s) = %b", k, part)
		}
	}
	if facts.ListOf(sources.KindRoster) != facts.ListRoster || facts.ListOf("nothing") != 0 {
		t.Error("ListOf of the roster or an unknown kind")
	}
	if facts.ListOf(sources.KindVehicle) != facts.ListVehicles || facts.ListOf(sources.KindStaff) != facts.ListStaff {
		t.Error("ListOf does not follow the layout order")
	}
}

// TestDecodeListsErrors checks that skipping a part still refuses what
// DecodeBinary refuses: every truncation, trailing bytes, a bad boolean
// inside a skipped record.
func TestDecodeListsErrors(t *testing.T) {
	good := facts.AppendBinary(nil, fullHousehold())
	for _, keep := range masks() {
		for n := range len(good) {
			if _, err := facts.DecodeBinaryStringLists(string(good[:n]), keep); err == nil {
				t.Fatalf("lists %b, truncated to %d of %d bytes: no error", keep, n, len(good))
			}
		}
		if _, err := facts.DecodeBinaryStringLists(string(good)+"\x00", keep); err == nil {
			t.Errorf("lists %b, trailing byte: no error", keep)
		}
	}
	// Garble every byte in turn: the decoders agree on what they refuse.
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0xfe
		_, errAll := facts.DecodeBinary(bad)
		for _, keep := range masks() {
			_, err := facts.DecodeBinaryStringLists(string(bad), keep)
			if errAll != nil && err == nil {
				t.Fatalf("byte %d garbled, lists %b: DecodeBinary refuses it (%v), DecodeBinaryStringLists does not", i, keep, errAll)
			}
		}
	}
}

func FuzzDecodeBinaryLists(f *testing.F) {
	f.Add(facts.AppendBinary(nil, fullHousehold()), uint32(facts.ListPolice))
	f.Add(facts.AppendBinary(nil, edgeHousehold()), uint32(facts.ListHousemates|facts.ListDeposit))
	f.Fuzz(func(t *testing.T, b []byte, keep uint32) {
		h, err := facts.DecodeBinaryStringLists(string(b), facts.Lists(keep))
		all, errAll := facts.DecodeBinary(b)
		if errAll != nil {
			if err == nil {
				t.Fatalf("DecodeBinary refuses (%v), DecodeBinaryStringLists accepts", errAll)
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeBinary accepts, DecodeBinaryStringLists refuses: %v", err)
		}
		if !reflect.DeepEqual(h, reduced(all, facts.Lists(keep))) {
			t.Fatal("DecodeBinaryStringLists differs from DecodeBinary less the other parts")
		}
	})
}

// TestDecoderOutlivesItsInput: a Decoder's households equal
// DecodeBinaryStringLists's and stay intact when their encodings are
// overwritten, as a page's buffer is when the page is released.
func TestDecoderOutlivesItsInput(t *testing.T) {
	hs := []*facts.Household{fullHousehold(), edgeHousehold(), {}}
	if !testing.Short() {
		hs = append(hs, loadReal(t)...)
	}
	for _, keep := range masks() {
		dec := facts.NewDecoder(keep)
		var buf []byte
		var got, want []*facts.Household
		for i, h := range hs {
			buf = facts.AppendBinary(buf[:0], h)
			w, err := facts.DecodeBinaryStringLists(string(buf), keep)
			if err != nil {
				t.Fatal(err)
			}
			g, err := dec.Decode(buf)
			if err != nil {
				t.Fatalf("lists %b, household %d: %v", keep, i, err)
			}
			clear(buf) // the next household's encoding reuses it
			got, want = append(got, g), append(want, w)
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("lists %b, household %d: Decoder gives %+v; want %+v", keep, i, got[i], want[i])
			}
		}
		bad := facts.AppendBinary(nil, fullHousehold())
		for n := range len(bad) {
			if _, err := dec.Decode(bad[:n]); err == nil {
				t.Fatalf("lists %b, truncated to %d bytes: no error", keep, n)
			}
		}
	}
}

// TestDecoderReuse: with Reuse between households a Decoder still decodes
// each right, and no longer allocates per household (only a chunk for
// strings now and then).
func TestDecoderReuse(t *testing.T) {
	hs := []*facts.Household{fullHousehold(), edgeHousehold(), {}, fullHousehold()}
	if !testing.Short() {
		hs = append(hs, loadReal(t)...)
	}
	for _, keep := range masks() {
		dec := facts.NewDecoder(keep)
		for i, h := range hs {
			b := facts.AppendBinary(nil, h)
			want, err := facts.DecodeBinaryStringLists(string(b), keep)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.Decode(b)
			if err != nil {
				t.Fatalf("lists %b, household %d: %v", keep, i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("lists %b, household %d: after Reuse, Decoder gives %+v; want %+v", keep, i, got, want)
			}
			dec.Reuse()
		}
	}
	dec := facts.NewDecoder(facts.AllLists)
	b := facts.AppendBinary(nil, fullHousehold())
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := dec.Decode(b); err != nil {
			t.Fatal(err)
		}
		dec.Reuse()
	})
	if allocs >= 1 {
		t.Errorf("%.2f allocations per household decoded with Reuse; want less than 1", allocs)
	}
}
