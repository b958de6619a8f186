package sources

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDateLayoutParse(t *testing.T) {
	tests := []struct {
		layout, in string
		want       time.Time
	}{
		{"%Y-%m-%d", "2020-10-01", date(2020, 10, 1)},
		{"%Y-%m-%d", "  2020-10-01 ", date(2020, 10, 1)},
		{"%Y%m%d", "20201001", date(2020, 10, 1)},
		{"%Y/%m/%d", "2020/10/01", date(2020, 10, 1)},
		{"%Y/%-m/%-d", "2020/1/5", date(2020, 1, 5)},
		{"%Y/%-m/%-d", "2020/11/25", date(2020, 11, 25)},
		{"%Y年%m月%d日", "2020年10月01日", date(2020, 10, 1)},
		{"%Y%m", "202010", date(2020, 10, 1)},
		{"%y%m%d", "201001", date(2020, 10, 1)},
		{"%y%m%d", "690101", date(1969, 1, 1)},
		{"%y%m%d", "681231", date(2068, 12, 31)},
		{"%d %b %Y", "01 Oct 2020", date(2020, 10, 1)},
		{"%d-%b-%Y", "01-OCT-2020", date(2020, 10, 1)},
		{"%Y%m%d%H%M%S", "20201001235959", date(2020, 10, 1)},
		{"%Y-%m-%d %H:%M:%S", "2020-10-01 23:30:00", date(2020, 10, 1)},
		{"%Y-%m-%d %-H:%M", "2020-10-01 8:05", date(2020, 10, 1)},
		{"%Y%%%m%%%d", "2020%10%01", date(2020, 10, 1)},
		{"%Y-%m-%d", "2020-02-29", date(2020, 2, 29)},
		{"%Y-%m-%d", "2000-02-29", date(2000, 2, 29)},
		// The default layout.
		{"", "2020-10-01", date(2020, 10, 1)},
		{"", "2020-10-01 00:00:00", date(2020, 10, 1)},
		{"", "2020-10-01T23:59:59Z", date(2020, 10, 1)},
		{"", "2020-10-01 12:00:00.000", date(2020, 10, 1)},
		{"", "2020-10-01T12:00:00.123456789Z", date(2020, 10, 1)},
	}
	for _, tt := range tests {
		l, err := ParseDateLayout(tt.layout)
		if err != nil {
			t.Fatalf("ParseDateLayout(%q): %v", tt.layout, err)
		}
		got, err := l.Parse(tt.in)
		if err != nil {
			t.Errorf("%q.Parse(%q): %v", tt.layout, tt.in, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%q.Parse(%q) = %v, want %v", tt.layout, tt.in, got, tt.want)
		}
	}
}

func TestDateLayoutParseErrors(t *testing.T) {
	tests := []struct {
		layout, in, want string
	}{
		{"%Y-%m-%d", "2020/10/01", `date "2020/10/01" does not match layout "%Y-%m-%d": want "-" at byte 4`},
		{"%Y-%m-%d", "2020-1-01", `want 2 digits for %m at byte 5`},
		{"%Y-%m-%d", "2020-10-01x", `unexpected "x" after the last field`},
		{"%Y-%m-%d", "2020-10-01 00:00:00", `unexpected " 00:00:00" after the last field`},
		{"%Y%m%d", "2020101", `want 2 digits for %d at byte 6`},
		{"%Y%m%d", "202010011", `unexpected "1"`},
		{"%Y%m%d", "20201301", `month 13 out of range 1–12`},
		{"%Y%m%d", "20200230", `day 30 out of range 1–29 for 2020-02`},
		{"%Y%m%d", "19000229", `day 29 out of range 1–28 for 1900-02`},
		{"%Y%m%d", "20200431", `day 31 out of range 1–30`},
		{"%Y%m%d", "20201000", `day 0 out of range`},
		{"%Y%m%d", "00000000", `year 0000 out of range`},
		{"%Y-%m-%d", "0000-00-00", `year 0000 out of range`},
		{"%Y%m%d%H", "2020100124", `hour 24 out of range`},
		{"%Y%m%d%H%M", "202010012360", `minute 60 out of range`},
		{"%Y%m%d%H%M%S", "20201001235960", `second 60 out of range`},
		{"%d %b %Y", "01 Okt 2020", `want a month abbreviation Jan–Dec at byte 3`},
		{"%Y/%-m/%-d", "2020//5", `want 1 or 2 digits for %-m at byte 5`},
		{"%Y/%-m/%-d", "2020/123/5", `want "/" at byte 7`},
		{"%Y-%m-%d", "", `want 4 digits for %Y at byte 0`},
		{"%Y-%m-%d", "２０２０-10-01", `want 4 digits for %Y`},
		{"", "2020/10/01", `want an ISO date YYYY-MM-DD`},
		{"", "20201001", `want an ISO date`},
		{"", "2020-10-01T08:00:00+08:00", `want an ISO date`},
		{"", "2020-10-01T08:00", `want an ISO date`},
		{"", "2020-10-01 25:00:00", `hour 25 out of range`},
		{"", "2020-13-01", `month 13 out of range`},
		{"", "2020-1a-01", `want an ISO date`},
		{"", "2020-10-01.", `want an ISO date`},
	}
	for _, tt := range tests {
		l, err := ParseDateLayout(tt.layout)
		if err != nil {
			t.Fatalf("ParseDateLayout(%q): %v", tt.layout, err)
		}
		got, err := l.Parse(tt.in)
		if err == nil {
			t.Errorf("%q.Parse(%q) = %v, want an error", tt.layout, tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q.Parse(%q) error %q, want it to contain %q", tt.layout, tt.in, err, tt.want)
		}
	}
}

func TestParseDateLayoutErrors(t *testing.T) {
	tests := []struct{ layout, want string }{
		{"%Y-%m-%e", `unsupported directive "%e" in date layout "%Y-%m-%e"; supported directives: %Y %y %m %-m`},
		{"%Y-%B", `unsupported directive "%B"`},
		{"%Y%m%", `ends with a lone %`},
		{"%Y-%m-%d%-", `unsupported directive "%-"`},
		{"%-Y%m", `unsupported directive "%-Y"`},
		{"%Y%m%-%", `unsupported directive "%-%"`},
		{"%Y%m%日", `unsupported directive "%日"`},
		{"%m-%d", `has no year; add %Y or %y`},
		{"%Y-%d", `has no month; add %m or %b`},
		{"%Y%m%d%Y", `gives the year twice`},
		{"%y%m%Y", `gives the year twice`},
		{"%Y%m%b", `gives the month twice`},
		{"%Y%m%d%d", `gives the day twice`},
		{"%Y%m%d ", `ends with white space`},
		{" %Y%m%d", `begins or ends with white space`},
		{"%Y%-m%d", `a variable-width field (%-m) must be followed by a literal or end the layout`},
	}
	for _, tt := range tests {
		_, err := ParseDateLayout(tt.layout)
		if err == nil {
			t.Errorf("ParseDateLayout(%q) succeeded, want an error", tt.layout)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseDateLayout(%q) error %q, want it to contain %q", tt.layout, err, tt.want)
		}
	}
}

func TestDateLayoutString(t *testing.T) {
	for _, s := range []string{"", "%Y%m%d", "%Y年%m月"} {
		l, err := ParseDateLayout(s)
		if err != nil {
			t.Fatal(err)
		}
		if l.String() != s {
			t.Errorf("String() = %q, want %q", l.String(), s)
		}
	}
	var zero DateLayout
	if got, err := zero.Parse("2021-03-04"); err != nil || !got.Equal(date(2021, 3, 4)) {
		t.Errorf("zero DateLayout: %v %v", got, err)
	}
}

func TestDateLayoutParseAllocs(t *testing.T) {
	for _, layout := range []string{"", "%Y%m%d", "%Y/%-m/%-d %H:%M:%S", "%d %b %Y"} {
		l, _ := ParseDateLayout(layout)
		in := map[string]string{"": "2020-10-01 12:00:00", "%Y%m%d": "20201001",
			"%Y/%-m/%-d %H:%M:%S": "2020/1/5 12:00:00", "%d %b %Y": "05 Jan 2020"}[layout]
		if _, err := l.Parse(in); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = l.Parse(in) }); n != 0 {
			t.Errorf("%q.Parse allocates %v times per call", layout, n)
		}
	}
}

func BenchmarkDateLayoutParse(b *testing.B) {
	l, _ := ParseDateLayout("%Y%m%d")
	for b.Loop() {
		if _, err := l.Parse("20201001"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDateLayoutParse checks that compiling and parsing never panic, that a
// successful parse gives a valid UTC midnight date, and that formatting that
// date back with a zero-padded layout reproduces it.
func FuzzDateLayoutParse(f *testing.F) {
	for _, s := range [][2]string{
		{"%Y-%m-%d", "2020-10-01"}, {"%Y%m%d", "20201001"}, {"%y%m%d", "991231"},
		{"%Y/%-m/%-d", "2020/1/5"}, {"%d %b %Y", "01 Oct 2020"}, {"", "2020-10-01T00:00:00Z"},
		{"%Y年%m月%d日 %H:%M:%S", "2020年10月01日 12:00:00"}, {"%%%Y%m", "%202001"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, layout, in string) {
		l, err := ParseDateLayout(layout)
		if err != nil {
			return
		}
		got, err := l.Parse(in)
		if err != nil {
			return
		}
		if got.Location() != time.UTC || got.Hour() != 0 || got.Minute() != 0 || got.Second() != 0 || got.Nanosecond() != 0 {
			t.Fatalf("%q.Parse(%q) = %v, not UTC midnight", layout, in, got)
		}
		if got.Year() < 1 || got.Year() > 9999 {
			t.Fatalf("%q.Parse(%q) = %v, year out of range", layout, in, got)
		}
		// Fixed-width date-only layouts are strict: formatting the result
		// must give back the input exactly.
		if text, ok := formatDate(l, got); ok && text != strings.TrimSpace(in) {
			t.Fatalf("%q.Parse(%q) = %v, which formats back as %q", layout, in, got, text)
		}
	})
}

// formatDate formats t with l when l holds only %Y, %m, %d and literals.
func formatDate(l DateLayout, t time.Time) (string, bool) {
	var b strings.Builder
	for _, e := range l.elems {
		switch e.dir {
		case 0:
			b.WriteString(e.lit)
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			if e.min != 2 {
				return "", false
			}
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			if e.min != 2 {
				return "", false
			}
			fmt.Fprintf(&b, "%02d", t.Day())
		default:
			return "", false
		}
	}
	return b.String(), l.elems != nil
}
