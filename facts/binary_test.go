package facts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

var timeType = reflect.TypeOf(time.Time{})

// filler sets every field of a value to a distinct non-zero value, so a
// round trip that drops or swaps any field fails.
type filler struct{ n int }

func (f *filler) fill(v reflect.Value) {
	f.n++
	switch {
	case v.Type() == timeType:
		// Alternate UTC midnights (pre- and post-1970) with other instants.
		var t time.Time
		switch f.n % 3 {
		case 0:
			t = time.Date(1950+f.n%70, time.Month(1+f.n%12), 1+f.n%28, 0, 0, 0, 0, time.UTC)
		case 1:
			t = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -f.n*40)
		default:
			t = time.Date(2026, 3, 4, 5, 6, 7, f.n, time.UTC)
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("值-%d", f.n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(f.n) * -7919)
	case reflect.Uint64:
		v.SetUint(uint64(f.n) * 1_000_000_007_919)
	case reflect.Float64:
		v.SetFloat(float64(f.n)*1234.5678 + 0.1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	default:
		panic(fmt.Sprintf("filler: unsupported %s", v.Type()))
	}
}

// zeroField returns the path of a zero field in v, or "" when every field
// (and every element reachable from it) is set.
func zeroField(v reflect.Value, path string) string {
	if v.IsZero() {
		return path
	}
	switch {
	case v.Type() == timeType:
		return ""
	case v.Kind() == reflect.Pointer:
		return zeroField(v.Elem(), path)
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			if p := zeroField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if p := zeroField(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}

func fullHousehold() *facts.Household {
	h := new(facts.Household)
	(&filler{}).fill(reflect.ValueOf(h).Elem())
	return h
}

// edgeHousehold is built by hand around the values an encoding gets wrong:
// the zero time next to 1970-01-01, times before 1970 and off midnight, nil
// pointers, extreme numbers, long and non-ASCII strings.
func edgeHousehold() *facts.Household {
	epoch := time.Unix(0, 0).UTC()
	return &facts.Household{
		ID: "H-1", Region: "530102", Area: "rural", Assistance: "dibao", Status: "recipient",
		MonthlyBenefit: math.MaxFloat64, Since: epoch, ApplicationDate: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		Members: []*facts.Member{
			{Key: math.MaxUint64, PersonID: "53010219800101001X", Name: "张三", Relation: "head",
				Roster: &sources.RosterMember{Origin: sources.Origin{Kind: sources.KindRoster, Row: math.MinInt64, Snapshot: epoch},
					MonthlyBenefit: math.Inf(-1)},
				OtherHouseholds: []string{"", string(bytes.Repeat([]byte("户"), 300))},
				Disability:      []*sources.Disability{{Origin: sources.Origin{BirthDate: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)}, Grade: math.MinInt}},
				Vehicles:        []*sources.Vehicle{{Price: -0.5, Disabled: true}, {}},
				Housemates:      []*facts.Housemate{{Police: nil, Staff: []*sources.Staff{{Role: "handler"}}}, {Police: &sources.Police{HukouNo: "x"}}},
			},
			{PersonID: "bad id"},
		},
	}
}

func TestBinaryRoundTripByHand(t *testing.T) {
	full := fullHousehold()
	if p := zeroField(reflect.ValueOf(full).Elem(), "Household"); p != "" {
		t.Fatalf("filler left %s zero; the test would not cover it", p)
	}
	for name, h := range map[string]*facts.Household{
		"every field": full, "edges": edgeHousehold(), "empty": {}, "candidate": {Candidate: true, Members: []*facts.Member{{PersonID: "p"}}},
	} {
		t.Run(name, func(t *testing.T) {
			b := facts.AppendBinary(nil, h)
			got, err := facts.DecodeBinary(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, h) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(h)
				t.Fatalf("round trip differs:\n got %s\nwant %s", gj, wj)
			}
			// Decoding from a slice of a longer string gives the same.
			s := "x" + string(b) + "y"
			if got, err := facts.DecodeBinaryString(s[1 : len(s)-1]); err != nil || !reflect.DeepEqual(got, h) {
				t.Fatalf("DecodeBinaryString differs from DecodeBinary (err %v)", err)
			}
			// Appending to a non-empty buffer leaves its head alone.
			b2 := facts.AppendBinary([]byte("head"), h)
			if string(b2[:4]) != "head" || !bytes.Equal(b2[4:], b) {
				t.Fatal("AppendBinary with a prefix differs")
			}
		})
	}
}

// TestBinaryDetectsEachField changes one field at a time and checks the
// encoding changes, so no field is silently left out.
func TestBinaryDetectsEachField(t *testing.T) {
	h := fullHousehold()
	base := facts.AppendBinary(nil, h)
	m := h.Members[0]
	for name, change := range map[string]func(){
		"member key":   func() { m.Key++ },
		"origin key":   func() { m.Vehicles[1].Key++ },
		"origin match": func() { m.Staff[0].Match += "x" },
		"deposit as_of": func() {
			m.Deposit[0].AsOf = m.Deposit[0].AsOf.Add(time.Nanosecond)
		},
		"housemate staff role": func() { m.Housemates[1].Staff[1].Role += "x" },
		"disability grade":     func() { m.Disability[0].Grade++ },
	} {
		saved := facts.AppendBinary(nil, h)
		change()
		if bytes.Equal(facts.AppendBinary(nil, h), saved) {
			t.Errorf("%s: encoding did not change", name)
		}
	}
	if bytes.Equal(facts.AppendBinary(nil, h), base) {
		t.Fatal("no change seen")
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	good := facts.AppendBinary(nil, fullHousehold())
	wrongVersion := append([]byte{facts.BinaryVersion + 1}, good[1:]...)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"wrong version":  wrongVersion,
		"trailing bytes": append(append([]byte{}, good...), 0),
		"huge count":     {facts.BinaryVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad bool": func() []byte {
			// An empty household with a candidate byte of 2.
			b := facts.AppendBinary(nil, &facts.Household{})
			b[len(b)-2] = 2
			return b
		}(),
		"overlong varint": {facts.BinaryVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	} {
		if h, err := facts.DecodeBinary(b); err == nil {
			t.Errorf("%s: no error; got %+v", name, h)
		}
	}
	if _, err := facts.DecodeBinaryString(""); err == nil {
		t.Error("DecodeBinaryString of an empty string: no error")
	}
	if _, err := facts.DecodeBinary(wrongVersion); err == nil || !strings.Contains(err.Error(), "version 2; supported version: 1") {
		t.Errorf("wrong version: error %v does not name the version", err)
	}
	// Every truncation of a valid encoding is an error.
	for n := range len(good) {
		if _, err := facts.DecodeBinary(good[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(good))
		}
	}
}

func FuzzDecodeBinary(f *testing.F) {
	f.Add(facts.AppendBinary(nil, fullHousehold()))
	f.Add(facts.AppendBinary(nil, edgeHousehold()))
	f.Add(facts.AppendBinary(nil, &facts.Household{}))
	f.Add([]byte{facts.BinaryVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := facts.DecodeBinary(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a form that decodes to the same.
		h2, err := facts.DecodeBinary(facts.AppendBinary(nil, h))
		if err != nil {
			t.Fatalf("re-encoding of a decoded household does not decode: %v", err)
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatal("re-encoding of a decoded household differs")
		}
	})
}

// testRoot holds the synthetic county; TestMain removes it.
var testRoot string

func TestMain(m *testing.M) {
	code := m.Run()
	if testRoot != "" {
		os.RemoveAll(testRoot)
	}
	os.Exit(code)
}

func tempDir() (string, error) {
	var err error
	testRoot, err = os.MkdirTemp("", "hedui-facts-test-")
	return testRoot, err
}

// realHouseholds matches a small synthetic county, once per test binary.
var realHouseholds = sync.OnceValues(func() ([]*facts.Household, error) {
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := synth.Generate(context.Background(), synth.Config{Out: dir, Seed: 3, Residents: 12000, Households: 900, AsOf: asOf}); err != nil {
		return nil, err
	}
	m, err := sources.LoadManifest(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		return nil, err
	}
	res, err := matcher.Match(context.Background(), m, matcher.Options{CacheDir: filepath.Join(dir, "cache"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	return append(res.Households, res.Candidates...), nil
})

func TestBinaryRoundTripReal(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and matches a county")
	}
	hs := loadReal(t)
	var buf []byte
	records := 0
	for i, h := range hs {
		buf = facts.AppendBinary(buf[:0], h)
		got, err := facts.DecodeBinary(buf)
		if err != nil {
			t.Fatalf("household %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("household %d (%s): round trip differs", i, h.ID)
		}
		for _, m := range h.Members {
			records += len(m.Police) + len(m.Vehicles) + len(m.Pension) + len(m.Medical) + len(m.Housemates)
		}
	}
	if len(hs) < 900 || records == 0 {
		t.Fatalf("%d households, %d records: the county is not what the test means to cover", len(hs), records)
	}
}

func loadReal(tb testing.TB) []*facts.Household {
	tb.Helper()
	hs, err := realHouseholds()
	if err != nil {
		tb.Fatal(err)
	}
	return hs
}

// typical picks the household with the median encoded size.
func typical(tb testing.TB) *facts.Household {
	hs := loadReal(tb)
	sizes := make([]int, len(hs))
	for i, h := range hs {
		sizes[i] = len(facts.AppendBinary(nil, h))
	}
	best, want := 0, median(sizes)
	for i, s := range sizes {
		if abs(s-want) < abs(sizes[best]-want) {
			best = i
		}
	}
	return hs[best]
}

func median(xs []int) int {
	s := append([]int(nil), xs...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func BenchmarkEncodeBinary(b *testing.B) {
	h := typical(b)
	var buf []byte
	for b.Loop() {
		buf = facts.AppendBinary(buf[:0], h)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkEncodeJSON(b *testing.B) {
	h := typical(b)
	var n int
	for b.Loop() {
		js, err := json.Marshal(h)
		if err != nil {
			b.Fatal(err)
		}
		n = len(js)
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkDecodeBinary(b *testing.B) {
	buf := facts.AppendBinary(nil, typical(b))
	for b.Loop() {
		if _, err := facts.DecodeBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	js, err := json.Marshal(typical(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var h facts.Household
		if err := json.Unmarshal(js, &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBinaryFamily decodes a household of 3 or more members
// with a roster row each (typical() may pick a one-person candidate).
func BenchmarkDecodeBinaryFamily(b *testing.B) {
	var h *facts.Household
	for _, x := range loadReal(b) {
		if len(x.Members) >= 3 && !x.Candidate {
			h = x
			break
		}
	}
	if h == nil {
		b.Fatal("no household of 3 or more members")
	}
	buf := facts.AppendBinary(nil, h)
	for b.Loop() {
		if _, err := facts.DecodeBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}
