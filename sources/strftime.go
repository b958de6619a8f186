package sources

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DateLayout is a compiled strftime date layout, e.g. "%Y%m%d" or
// "%Y年%m月%d日". Parse is strict: every literal must match exactly, every
// numeric field has a fixed width unless written with the GNU "-" flag
// ("%-m" accepts 1 or 2 digits), and nothing may follow the last field.
//
// Supported directives:
//
//	%Y  year, 4 digits
//	%y  year, 2 digits: 69–99 → 1969–1999, 00–68 → 2000–2068 (POSIX)
//	%m  month, 2 digits       %-m  month, 1–2 digits
//	%d  day, 2 digits         %-d  day, 1–2 digits
//	%b  month abbreviation, Jan–Dec, any case
//	%H  hour 00–23            %-H  hour, 1–2 digits
//	%M  minute 00–59          %-M  minute, 1–2 digits
//	%S  second 00–59          %-S  second, 1–2 digits
//	%%  a literal %
//
// A layout needs a year and a month; the day defaults to 1 (so "%Y%m" reads
// a month as its first day). Time-of-day fields are checked but dropped:
// canonical date columns hold the calendar date as written, at UTC midnight,
// so that a "2020-10-01 23:30:00" export never slides to another day.
//
// The zero DateLayout is the default layout used when neither the manifest
// nor the schema gives one: an ISO date "2020-10-01", optionally followed by
// a time after "T" or a space, with optional fractional seconds and an
// optional "Z" ("2020-10-01 00:00:00", "2020-10-01T08:00:00.000Z"). UTC
// offsets such as "+08:00" are refused because applying them would change
// the calendar date.
type DateLayout struct {
	src   string
	elems []layoutElem
}

// layoutElem is one literal or one directive of a compiled layout.
type layoutElem struct {
	lit      string // literal text; used when dir == 0
	dir      byte   // 'Y', 'y', 'm', 'd', 'b', 'H', 'M', 'S'
	min, max int    // digit count bounds for numeric directives
}

const supportedDirectives = "%Y %y %m %-m %d %-d %b %H %-H %M %-M %S %-S %%"

// ParseDateLayout compiles a strftime layout. The empty string gives the
// default layout (see DateLayout).
func ParseDateLayout(s string) (DateLayout, error) {
	if s == "" {
		return DateLayout{}, nil
	}
	if strings.TrimSpace(s) != s {
		// Parse trims values, so such a layout could never match.
		return DateLayout{}, fmt.Errorf("date layout %q begins or ends with white space; values are trimmed before parsing", s)
	}
	var (
		elems []layoutElem
		lit   strings.Builder
		seen  [256]bool
	)
	flush := func() {
		if lit.Len() > 0 {
			elems = append(elems, layoutElem{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		start := i
		i++
		if i == len(s) {
			return DateLayout{}, fmt.Errorf("date layout %q ends with a lone %%; write %%%% for a literal %%", s)
		}
		pad := true
		if s[i] == '-' && i+1 < len(s) {
			pad = false
			i++
		}
		d := s[i]
		if d == '%' && pad {
			lit.WriteByte('%')
			continue
		}
		e, ok := directive(d, pad)
		if !ok {
			return DateLayout{}, fmt.Errorf("unsupported directive %q in date layout %q; supported directives: %s",
				directiveText(s, start, i), s, supportedDirectives)
		}
		field := fieldOf(d)
		if seen[field] {
			return DateLayout{}, fmt.Errorf("date layout %q gives the %s twice", s, fieldName(field))
		}
		seen[field] = true
		flush()
		elems = append(elems, e)
	}
	flush()
	if !seen['Y'] {
		return DateLayout{}, fmt.Errorf("date layout %q has no year; add %%Y or %%y", s)
	}
	if !seen['m'] {
		return DateLayout{}, fmt.Errorf("date layout %q has no month; add %%m or %%b", s)
	}
	for i, e := range elems[:len(elems)-1] {
		// A variable-width field right before another numeric field would be
		// ambiguous ("%-m%d" on "1112").
		if e.dir != 0 && e.min != e.max && elems[i+1].dir != 0 && elems[i+1].dir != 'b' {
			return DateLayout{}, fmt.Errorf("date layout %q: a variable-width field (%%-%c) must be followed by a literal or end the layout", s, e.dir)
		}
	}
	return DateLayout{src: s, elems: elems}, nil
}

// directiveText returns the directive as written, up to the end of its
// UTF-8 character, for error messages.
func directiveText(s string, start, i int) string {
	end := i + 1
	for end < len(s) && s[end]&0xC0 == 0x80 {
		end++
	}
	return s[start:end]
}

func directive(d byte, pad bool) (layoutElem, bool) {
	switch d {
	case 'Y':
		if !pad {
			return layoutElem{}, false
		}
		return layoutElem{dir: 'Y', min: 4, max: 4}, true
	case 'y':
		if !pad {
			return layoutElem{}, false
		}
		return layoutElem{dir: 'y', min: 2, max: 2}, true
	case 'b':
		if !pad {
			return layoutElem{}, false
		}
		return layoutElem{dir: 'b'}, true
	case 'm', 'd', 'H', 'M', 'S':
		e := layoutElem{dir: d, min: 2, max: 2}
		if !pad {
			e.min = 1
		}
		return e, true
	}
	return layoutElem{}, false
}

// fieldOf maps a directive to the date field it sets, so that "%Y" and "%y"
// (or "%m" and "%b") count as the same field.
func fieldOf(d byte) byte {
	switch d {
	case 'y':
		return 'Y'
	case 'b':
		return 'm'
	}
	return d
}

func fieldName(f byte) string {
	switch f {
	case 'Y':
		return "year"
	case 'm':
		return "month"
	case 'd':
		return "day"
	case 'H':
		return "hour"
	case 'M':
		return "minute"
	}
	return "second"
}

// String returns the layout as written; "" for the default layout.
func (l DateLayout) String() string { return l.src }

// Parse reads s (surrounding white space ignored) and returns its calendar
// date at UTC midnight. It does not allocate unless it fails.
func (l DateLayout) Parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if l.elems == nil {
		return parseDefaultDate(s)
	}
	year, month, day := -1, -1, 1
	hour, minute, second := 0, 0, 0
	i := 0
	for k := range l.elems {
		e := &l.elems[k]
		if e.dir == 0 {
			if !strings.HasPrefix(s[i:], e.lit) {
				return time.Time{}, l.mismatch(s, i, fmt.Sprintf("%q", e.lit))
			}
			i += len(e.lit)
			continue
		}
		if e.dir == 'b' {
			m := monthAbbrev(s[i:])
			if m == 0 {
				return time.Time{}, l.mismatch(s, i, "a month abbreviation Jan–Dec")
			}
			month = m
			i += 3
			continue
		}
		v, n := digits(s[i:], e.max)
		if n < e.min {
			return time.Time{}, l.mismatch(s, i, digitsWanted(*e))
		}
		i += n
		switch e.dir {
		case 'Y':
			year = v
		case 'y':
			year = 2000 + v
			if v >= 69 {
				year = 1900 + v
			}
		case 'm':
			month = v
		case 'd':
			day = v
		case 'H':
			hour = v
		case 'M':
			minute = v
		case 'S':
			second = v
		}
	}
	if i != len(s) {
		return time.Time{}, fmt.Errorf("date %q does not match layout %q: unexpected %q after the last field", s, l.src, s[i:])
	}
	return checkedDate(s, year, month, day, hour, minute, second)
}

func (l DateLayout) mismatch(s string, at int, want string) error {
	return fmt.Errorf("date %q does not match layout %q: want %s at byte %d", s, l.src, want, at)
}

func digitsWanted(e layoutElem) string {
	if e.min == e.max {
		return fmt.Sprintf("%d digits for %%%c", e.max, e.dir)
	}
	return fmt.Sprintf("1 or 2 digits for %%-%c", e.dir)
}

// digits reads up to max ASCII digits from the start of s.
func digits(s string, max int) (v, n int) {
	for n < max && n < len(s) && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

var monthAbbrevs = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// monthAbbrev returns 1–12 for a leading English month abbreviation, 0 if none.
func monthAbbrev(s string) int {
	if len(s) < 3 {
		return 0
	}
	for i, m := range monthAbbrevs {
		if strings.EqualFold(s[:3], m) {
			return i + 1
		}
	}
	return 0
}

// checkedDate validates the fields and returns the date at UTC midnight.
func checkedDate(s string, year, month, day, hour, minute, second int) (time.Time, error) {
	switch {
	case year < 1:
		return time.Time{}, fmt.Errorf("date %q: year %04d out of range 0001–9999", s, year)
	case month < 1 || month > 12:
		return time.Time{}, fmt.Errorf("date %q: month %d out of range 1–12", s, month)
	case day < 1 || day > daysIn(year, month):
		return time.Time{}, fmt.Errorf("date %q: day %d out of range 1–%d for %04d-%02d", s, day, daysIn(year, month), year, month)
	case hour > 23:
		return time.Time{}, fmt.Errorf("date %q: hour %d out of range 0–23", s, hour)
	case minute > 59:
		return time.Time{}, fmt.Errorf("date %q: minute %d out of range 0–59", s, minute)
	case second > 59:
		return time.Time{}, fmt.Errorf("date %q: second %d out of range 0–59", s, second)
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), nil
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

var errDefaultDate = errors.New("want an ISO date YYYY-MM-DD, optionally followed by hh:mm:ss after T or a space, optional fractional seconds and Z")

// parseDefaultDate implements the zero DateLayout.
func parseDefaultDate(s string) (time.Time, error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, fmt.Errorf("date %q: %w", s, errDefaultDate)
	}
	year, n1 := digits(s, 4)
	month, n2 := digits(s[5:], 2)
	day, n3 := digits(s[8:], 2)
	if n1 != 4 || n2 != 2 || n3 != 2 {
		return time.Time{}, fmt.Errorf("date %q: %w", s, errDefaultDate)
	}
	hour, minute, second := 0, 0, 0
	if rest := s[10:]; rest != "" {
		var ok bool
		hour, minute, second, ok = parseClock(rest)
		if !ok {
			return time.Time{}, fmt.Errorf("date %q: %w", s, errDefaultDate)
		}
	}
	return checkedDate(s, year, month, day, hour, minute, second)
}

// parseClock reads "Thh:mm:ss[.fff][Z]" or " hh:mm:ss[.fff][Z]".
func parseClock(s string) (hour, minute, second int, ok bool) {
	if len(s) < 9 || (s[0] != 'T' && s[0] != ' ') || s[3] != ':' || s[6] != ':' {
		return 0, 0, 0, false
	}
	h, n1 := digits(s[1:], 2)
	m, n2 := digits(s[4:], 2)
	sec, n3 := digits(s[7:], 2)
	if n1 != 2 || n2 != 2 || n3 != 2 {
		return 0, 0, 0, false
	}
	rest := s[9:]
	if len(rest) > 0 && rest[0] == '.' {
		_, n := digits(rest[1:], 9)
		if n == 0 {
			return 0, 0, 0, false
		}
		rest = rest[1+n:]
	}
	if rest != "" && rest != "Z" {
		return 0, 0, 0, false
	}
	return h, m, sec, true
}
