package whatif

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hedui/hedui/rules"
)

var asOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestParseSettingErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"dibao_standard", "want NAME=VALUE"},
		{"dibao_standard=", "no value"},
		{"Dibao=1", "lower-case"},
		{"dibao_standard@mars=1", "neither an area"},
		{"dibao_standard@530=1", "neither an area"},
	} {
		if _, err := ParseSetting(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSetting(%q) = %v; want an error with %q", tc.in, err, tc.want)
		}
	}
}

// TestApplyErrorsListKnownNames: unknown names and malformed values are
// errors that list the parameters the set knows.
func TestApplyErrorsListKnownNames(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"dibao_standrad=6000", `unknown parameter "dibao_standrad"`},
		{"dibao_standard=abc", `"abc" is not a number`},
		{"dibao_standard@rural=6,000", `is not a number`},
		{"dibao_standard=NaN", `is not a number`},
		{"dibao_standard=1e400", `is not a number`},
		{"fund_rate=-0.1", `is negative`},
		{"vehicle_exempt_type_prefixes=M2,,N", `is a code list`},
	} {
		s, err := ParseSetting(tc.in)
		if err != nil {
			t.Fatalf("ParseSetting(%q): %v", tc.in, err)
		}
		_, _, err = Apply(set, asOf, []Setting{s})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "known parameters: assets_months, business_capital_limit,") {
			t.Errorf("Apply(%q) = %v; want an error with %q listing the known parameters", tc.in, err, tc.want)
		}
	}
}

// TestOverrideSemantics checks what each form of --set changes, through
// rules.Set.Lookup on the extended set.
func TestOverrideSemantics(t *testing.T) {
	base, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	// A county with its own urban standard until the end of 2026, and one
	// area-less number with a county value.
	base, err = base.Extend([]byte(`
parameters:
  dibao_standard:
    - {value: 8400, from: 2024-01-01, until: 2026-12-31, region: "530102", area: urban, reference: 五华区}
  vehicle_exempt_price:
    - {value: 40000, from: 2020-06-01, region: "530103", reference: 盘龙区}
`), "county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type look struct {
		name, region, area string
		want               float64
	}
	for _, tc := range []struct {
		set   string
		looks []look
	}{
		{"dibao_standard=9000", []look{
			{"dibao_standard", "530102", "urban", 9000}, {"dibao_standard", "530102", "rural", 9000},
			{"dibao_standard", "530303", "urban", 9000}, {"dibao_standard", "530303", "rural", 9000}}},
		{"dibao_standard@rural=6000", []look{
			{"dibao_standard", "530102", "urban", 8400}, {"dibao_standard", "530303", "urban", 7680},
			{"dibao_standard", "530102", "rural", 6000}, {"dibao_standard", "530303", "rural", 6000}}},
		{"vehicle_exempt_price@rural=50000", []look{
			{"vehicle_exempt_price", "530303", "rural", 50000}, {"vehicle_exempt_price", "530303", "urban", 30000},
			{"vehicle_exempt_price", "530103", "rural", 50000}, {"vehicle_exempt_price", "530103", "urban", 40000}}},
		// A region value: replaces the area values at the same prefix level
		// only where it is the most specific; the county's own value wins.
		{"dibao_standard@5301=9000", []look{
			{"dibao_standard", "530103", "urban", 9000}, {"dibao_standard", "530103", "rural", 9000},
			{"dibao_standard", "530102", "rural", 9000}, {"dibao_standard", "530102", "urban", 8400},
			{"dibao_standard", "530303", "rural", 4500}}},
		{"dibao_standard@530102=9600", []look{
			{"dibao_standard", "530102", "urban", 9600}, {"dibao_standard", "530102", "rural", 9600},
			{"dibao_standard", "530103", "urban", 7680}}},
		{"vehicle_exempt_price@53=35000", []look{
			{"vehicle_exempt_price", "530303", "rural", 35000}, {"vehicle_exempt_price", "530103", "rural", 40000}}},
	} {
		s, err := ParseSetting(tc.set)
		if err != nil {
			t.Fatal(err)
		}
		set, docs, err := Apply(base, asOf, []Setting{s})
		if err != nil {
			t.Fatalf("%s: %v", tc.set, err)
		}
		if len(docs) != 1 || !strings.Contains(string(docs[0]), `reference: "what-if"`) {
			t.Errorf("%s: override %q", tc.set, docs)
		}
		for _, l := range tc.looks {
			v, err := set.Lookup(l.name, asOf, l.region, l.area)
			if err != nil {
				t.Errorf("%s: Lookup(%s, %s, %s): %v", tc.set, l.name, l.region, l.area, err)
				continue
			}
			if v.Number != l.want {
				t.Errorf("%s: %s in %s %s = %g (reference %q); want %g", tc.set, l.name, l.region, l.area, v.Number, v.Reference, l.want)
			}
		}
	}
	// The county's urban value keeps its end date when replaced.
	s, _ := ParseSetting("dibao_standard=9000")
	set, _, err := Apply(base, asOf, []Setting{s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Lookup("dibao_standard", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "530102", "urban"); err != nil {
		t.Fatal(err)
	}
	v, _ := set.Lookup("dibao_standard", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "530102", "urban")
	if v.Region != "53" {
		t.Errorf("after the county value's end the province value applies; got region %q", v.Region)
	}
}

func TestLaterSettingWins(t *testing.T) {
	base, _ := rules.Default()
	set, _, err := Apply(base, asOf, []Setting{
		{Name: "dibao_standard", Value: "7000"}, {Name: "dibao_standard", Area: "rural", Value: "6000"},
		{Name: "vehicle_exempt_type_prefixes", Value: "M2, N"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for area, want := range map[string]float64{"urban": 7000, "rural": 6000} {
		if v, _ := set.Lookup("dibao_standard", asOf, "530102", area); v.Number != want {
			t.Errorf("%s: %g; want %g", area, v.Number, want)
		}
	}
	if v, _ := set.Lookup("vehicle_exempt_type_prefixes", asOf, "530102", "rural"); !slices.Equal(v.Codes, []string{"M2", "N"}) {
		t.Errorf("codes %v", v.Codes)
	}
}

func TestSweepValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []float64
	}{
		{"dibao_standard@rural=4500:6000:500", []float64{4500, 5000, 5500, 6000}},
		{"fund_rate=0.1:0.3:0.1", []float64{0.1, 0.2, 0.3}},
		{"assets_months=24:24:1", []float64{24}},
		{"assets_months=1:2.5:1", []float64{1, 2}},
	} {
		sw, err := ParseSweep(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := sw.Values(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: values %v; want %v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"x=1:2", "x=1:2:0", "x=3:2:1", "x=a:2:1", "x=0:100000:1", "x@moon=1:2:1", "x"} {
		if _, err := ParseSweep(bad); err == nil {
			t.Errorf("ParseSweep(%q) succeeded", bad)
		}
	}
}

func FuzzParseSetting(f *testing.F) {
	for _, s := range []string{"dibao_standard=6000", "dibao_standard@rural=6000", "x@5301=1", "a=b=c", "@=", "x@=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSetting(in)
		if err != nil {
			return
		}
		again, err := ParseSetting(s.String())
		if err != nil || again != s {
			t.Fatalf("ParseSetting(%q) = %+v; its String %q parses as %+v, %v", in, s, s.String(), again, err)
		}
	})
}

func FuzzParseSweep(f *testing.F) {
	for _, s := range []string{"dibao_standard@rural=4500:6000:500", "x=0.1:0.3:0.1", "x=1:1:1", "x=1e308:1e308:1e-308"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sw, err := ParseSweep(in)
		if err != nil {
			return
		}
		vs := sw.Values()
		if len(vs) == 0 || len(vs) > MaxSweepSteps+1 {
			t.Fatalf("ParseSweep(%q) gives %d values", in, len(vs))
		}
	})
}

func TestSweepCheck(t *testing.T) {
	set, _ := rules.Default()
	for in, want := range map[string]string{
		"vehicle_exempt_type_prefixes=1:2:1": "is a code list",
		"dibao_standrad=1:2:1":               "unknown parameter",
	} {
		sw, err := ParseSweep(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := sw.Check(set); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "known parameters: ") {
			t.Errorf("Check(%s) = %v; want %q and the known parameters", in, err, want)
		}
	}
	sw, _ := ParseSweep("dibao_standard@rural=4500:6000:500")
	if err := sw.Check(set); err != nil {
		t.Error(err)
	}
}
