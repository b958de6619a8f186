package sources

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, unit string
		want     float64
	}{
		{"1234.50", "yuan", 1234.50},
		{"1234.5", "", 1234.50},
		{"1,234.50", "yuan", 1234.50},
		{"1,234,567", "yuan", 1234567},
		{" 30000 ", "yuan", 30000},
		{"+12", "yuan", 12},
		{"-12.34", "yuan", -12.34},
		{"-0", "yuan", 0},
		{"0.00", "yuan", 0},
		{".5", "yuan", 0.5},
		{"5.", "yuan", 5},
		{"0.295", "yuan", 0.30},   // half away from zero, on the decimal text
		{"0.285", "yuan", 0.29},   // float64(0.285) is below .285: integer arithmetic rounds up
		{"-0.285", "yuan", -0.29}, // symmetric
		{"0.004", "yuan", 0},
		{"1.2345E+05", "yuan", 123450},
		{"1.5e-2", "yuan", 0.02},
		{"12345", "fen", 123.45},
		{"12345.5", "fen", 123.46},
		{"3000000", "fen", 30000},
		{"1,000", "fen", 10},
		{"3", "wan", 30000},
		{"3.5", "wan", 35000},
		{"0.000001", "wan", 0.01},
		{"0.0000004", "wan", 0},
		{"1.50000000000000000000000", "yuan", 1.5},
		{"000000000000000000000000012", "yuan", 12},
		{"1234.5600000000000001", "yuan", 1234.56},
		{"90000000000000", "yuan", 9e13},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.unit)
		if err != nil {
			t.Errorf("ParseAmount(%q, %q): %v", tt.in, tt.unit, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAmount(%q, %q) = %v, want %v", tt.in, tt.unit, got, tt.want)
		}
	}
}

func TestParseAmountErrors(t *testing.T) {
	tests := []struct{ in, unit, want string }{
		{"12", "jiao", `unknown unit "jiao"; supported units: fen, yuan, wan`},
		{"12", "Yuan", `unknown unit "Yuan"`},
		{"¥12", "yuan", `amount "¥12" is not a number; want digits with an optional sign, decimal point, comma thousands separators and exponent`},
		{"12元", "yuan", `amount "12元" is not a number`},
		{"1,23", "yuan", `is not a number`},
		{"12,34.5", "yuan", `is not a number`},
		{"1234,567", "yuan", `is not a number`},
		{",123", "yuan", `is not a number`},
		{"1,234,", "yuan", `is not a number`},
		{"1,234.5,6", "yuan", `is not a number`},
		{"1.2.3", "yuan", `is not a number`},
		{"--1", "yuan", `is not a number`},
		{"+", "yuan", `is not a number`},
		{".", "yuan", `is not a number`},
		{"1e", "yuan", `is not a number`},
		{"0x10", "yuan", `is not a number`},
		{"NaN", "yuan", `is not a number`},
		{"Inf", "yuan", `is not a number`},
		{"1 234", "yuan", `is not a number`},
		{"一百", "yuan", `is not a number`},
		{"12345678901234567890123", "yuan", `too many significant digits`},
		{"100000000000000", "yuan", `is too large`},
		{"1e300", "yuan", `is too large`},
		{"10000000000", "wan", `"10000000000" wan is too large`},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.unit)
		if err == nil {
			t.Errorf("ParseAmount(%q, %q) = %v, want an error", tt.in, tt.unit, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAmount(%q, %q) error %q, want it to contain %q", tt.in, tt.unit, err, tt.want)
		}
	}
	for _, blank := range []string{"", "  ", "\t"} {
		if _, err := ParseAmount(blank, "yuan"); !errors.Is(err, ErrEmpty) {
			t.Errorf("ParseAmount(%q) error %v, want ErrEmpty", blank, err)
		}
	}
}

func TestParseFloat(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"12.5", 12.5}, {"-0.75", -0.75}, {"1,234.5", 1234.5}, {"0", 0}, {"-0", 0},
		{"1e3", 1000}, {"1.5E-3", 0.0015}, {"0.1", 0.1}, {"0.30000000000000004", 0.30000000000000004},
		{"123456789012345678901234567890", 1.2345678901234568e29},
		{"1e-400", 0}, {"4.9e-324", 5e-324}, {"1.7976931348623157e308", math.MaxFloat64},
		{"9007199254740993", 9007199254740992}, // correctly rounded (ties to even)
	}
	for _, tt := range tests {
		got, err := ParseFloat(tt.in)
		if err != nil {
			t.Errorf("ParseFloat(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseFloat(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"NaN", "inf", "-Inf", "1e400", "0x1p3", "1_000", "abc", "1,2", "12m²"} {
		if got, err := ParseFloat(in); err == nil {
			t.Errorf("ParseFloat(%q) = %v, want an error", in, got)
		}
	}
	if _, err := ParseFloat("12m²"); err == nil || !strings.Contains(err.Error(), `number "12m²" is not a decimal number; want digits`) {
		t.Errorf("ParseFloat error: %v", err)
	}
	if _, err := ParseFloat(" "); !errors.Is(err, ErrEmpty) {
		t.Errorf("ParseFloat blank: %v, want ErrEmpty", err)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"3", 3}, {" -12 ", -12}, {"+7", 7}, {"1,024", 1024}, {"3.0", 3}, {"3.000", 3},
		{"0", 0}, {"-0", 0}, {"0.0", 0}, {"1e3", 1000}, {"007", 7},
		{"9223372036854775807", math.MaxInt64}, {"-9223372036854775807", -math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseInt(tt.in)
		if err != nil {
			t.Errorf("ParseInt(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseInt(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	errs := []struct{ in, want string }{
		{"2.5", `integer "2.5" has a fraction; want a whole number`},
		{"1e-1", `has a fraction`},
		{"一级", `integer "一级" is not a number; want digits`},
		{"9223372036854775808", `out of range`},
		{"1e19", `out of range`},
		{"99999999999999999999999", `out of range`},
		{"1,00", `is not a number`},
	}
	for _, tt := range errs {
		got, err := ParseInt(tt.in)
		if err == nil {
			t.Errorf("ParseInt(%q) = %v, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInt(%q) error %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
	if _, err := ParseInt(""); !errors.Is(err, ErrEmpty) {
		t.Errorf("ParseInt blank: %v, want ErrEmpty", err)
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{
		"true": true, "TRUE": true, "True": true, "false": false, "FALSE": false,
		"1": true, "0": false, "是": true, "否": false, " 是 ": true,
		"yes": true, "YES": true, "no": false, "No": false, "Y": true, "y": true, "N": false, "n": false,
	} {
		got, err := ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "t", "f", "on", "off", "对", "yess", "01"} {
		_, err := ParseBool(in)
		if err == nil {
			t.Errorf("ParseBool(%q) succeeded, want an error", in)
			continue
		}
		if want := "want true/false, 1/0, 是/否, yes/no or Y/N"; !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBool(%q) error %q lacks %q", in, err, want)
		}
	}
	if _, err := ParseBool(""); !errors.Is(err, ErrEmpty) {
		t.Errorf("ParseBool blank: %v, want ErrEmpty", err)
	}
}

func TestValueParsersDoNotAllocate(t *testing.T) {
	checks := map[string]func(){
		"ParseAmount": func() { _, _ = ParseAmount(" 1,234.56 ", "fen") },
		"ParseFloat":  func() { _, _ = ParseFloat("1,234.56") },
		"ParseInt":    func() { _, _ = ParseInt("1,024") },
		"ParseBool":   func() { _, _ = ParseBool("否") },
	}
	for name, fn := range checks {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func BenchmarkParseAmount(b *testing.B) {
	for b.Loop() {
		if _, err := ParseAmount("1234567", "fen"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseAmount compares ParseAmount with an independent computation on
// plain decimals and checks invariants on everything it accepts.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1234.50", "1,234.50", "-0.285", "12345", "3.5", "1.2E+05", "0.000001", "1,2", "¥1", ".5"} {
		for _, u := range []string{"fen", "yuan", "wan"} {
			f.Add(s, u)
		}
	}
	f.Fuzz(func(t *testing.T, s, unit string) {
		got, err := ParseAmount(s, unit)
		if err != nil {
			return
		}
		if math.IsNaN(got) || math.IsInf(got, 0) || math.Abs(got) > 9.1e13 {
			t.Fatalf("ParseAmount(%q, %q) = %v", s, unit, got)
		}
		// A whole number of fen.
		if got != math.Round(got*100)/100 {
			t.Fatalf("ParseAmount(%q, %q) = %v, not rounded to the fen", s, unit, got)
		}
		// Cross-check against strconv where its float is exact enough: the
		// result differs from the exact value by at most half a fen.
		plain := strings.ReplaceAll(strings.TrimSpace(s), ",", "")
		v, err := strconv.ParseFloat(plain, 64)
		if err != nil {
			t.Fatalf("ParseAmount(%q, %q) = %v but strconv rejects %q: %v", s, unit, got, plain, err)
		}
		scale := map[string]float64{"fen": 0.01, "yuan": 1, "": 1, "wan": 10000}[unit]
		want := v * scale
		if diff := math.Abs(got - want); diff > 0.005+math.Abs(want)*1e-12 {
			t.Fatalf("ParseAmount(%q, %q) = %v, want about %v", s, unit, got, want)
		}
	})
}

// FuzzParseNumber checks ParseFloat against strconv and ParseInt against
// ParseFloat on everything they accept.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"12.5", "-1,234.5", "3.0", "1e3", "0.30000000000000004", "9007199254740993", "1,00", "2.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFloat(s)
		if err == nil {
			want, serr := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
			if serr != nil && !errors.Is(serr, strconv.ErrRange) {
				t.Fatalf("ParseFloat(%q) = %v but strconv rejects it: %v", s, v, serr)
			}
			if v != want && !(v == 0 && want == 0) {
				t.Fatalf("ParseFloat(%q) = %v, strconv says %v", s, v, want)
			}
		}
		n, err := ParseInt(s)
		if err == nil {
			if v, ferr := ParseFloat(s); ferr != nil || (math.Abs(v) < 1<<53 && float64(n) != v) {
				t.Fatalf("ParseInt(%q) = %d but ParseFloat gives %v, %v", s, n, v, ferr)
			}
		}
	})
}
