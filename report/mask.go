package report

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources/personid"
)

// masker renders personal data for a reader who may or may not see it.
type masker struct{ unmasked bool }

// id renders a citizen ID number: a valid one as 530102********123X, any
// other value with personid.MaskString.
func (m masker) id(raw string) string {
	if m.unmasked || raw == "" {
		return raw
	}
	if p := personid.Parse(raw); p.Reason == personid.ReasonNone {
		return p.Key.Mask()
	}
	return personid.MaskString(raw)
}

// name keeps the first character (the surname, or its first character for
// a compound one) and stars the rest: 张** for 张小华.
func (m masker) name(n string) string {
	if m.unmasked || n == "" {
		return n
	}
	n = strings.TrimSpace(n)
	count := utf8.RuneCountInString(n)
	if count <= 1 {
		return strings.Repeat("*", count)
	}
	first, _ := utf8.DecodeRuneInString(n)
	return string(first) + strings.Repeat("*", count-1)
}

// text masks the ID numbers in free text, and every name of names (of two
// characters or more: a single character would match inside other words).
func (m masker) text(s string, names []string) string {
	if m.unmasked {
		return s
	}
	s = maskIDs(s)
	// Longer names first, so 张小华 is not half-replaced by 张小.
	ns := append([]string(nil), names...)
	sort.Slice(ns, func(i, j int) bool { return len(ns[i]) > len(ns[j]) })
	for _, n := range ns {
		if utf8.RuneCountInString(n) >= 2 && strings.Contains(s, n) {
			s = strings.ReplaceAll(s, n, m.name(n))
		}
	}
	return s
}

// maskIDs masks every run of 15 or 18 ID characters in s (digits, X as the
// last) that reads as an ID number, or as one with a wrong check character
// or birth date: a typo does not make a number less personal. Runs that fail
// the address check, such as business registration numbers (91…, 92…),
// pass unchanged.
func maskIDs(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isIDChar(s[i]) || (i > 0 && isAlnum(s[i-1])) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIDChar(s[j]) {
			j++
		}
		run := s[i:j]
		if (j == len(s) || !isAlnum(s[j])) && looksLikeID(run) {
			b.WriteString(s[last:i])
			b.WriteString(personid.MaskString(run))
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func looksLikeID(run string) bool {
	if len(run) != 15 && len(run) != 18 {
		return false
	}
	for k := 0; k < len(run)-1; k++ {
		if run[k] < '0' || run[k] > '9' {
			return false
		}
	}
	switch personid.Parse(run).Reason {
	case personid.ReasonNone, personid.ReasonChecksum, personid.ReasonBirthDate:
		return true
	}
	return false
}

func isIDChar(c byte) bool { return c >= '0' && c <= '9' || c == 'X' || c == 'x' }

func isAlnum(c byte) bool { return isIDChar(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// personNameKeys are the evidence value names that hold persons' names.
var personNameKeys = map[string]bool{"name": true, "roster_name": true, "police_names": true, "names": true}

// evidenceNames returns the persons' names a flag's evidence carries.
func evidenceNames(ev *rules.Evidence) []string {
	var out []string
	add := func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	for k, v := range ev.Values {
		if personNameKeys[k] {
			add(v)
		}
	}
	for _, f := range ev.Facts {
		for k, v := range f.Values {
			if personNameKeys[k] {
				add(v)
			}
		}
	}
	return out
}
