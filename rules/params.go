package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ParamValue is one dated, regional value of a parameter.
type ParamValue struct {
	Name      string
	Number    float64   // the value of a number parameter
	Codes     []string  // the value of a code-list parameter
	List      bool      // Codes is the value, not Number
	From      time.Time // first day the value applies
	Until     time.Time // last day the value applies (inclusive); zero: open-ended
	Region    string    // region-code prefix: "53" province, "5301" city, "530102" county
	Area      string    // urban | rural; empty: both
	Reference string    // document and article

	pos pos
}

// Value returns the value as evidence shows it: float64 or []string.
func (v *ParamValue) Value() any {
	if v.List {
		return v.Codes
	}
	return v.Number
}

// applies reports whether v may answer a question about date, region and area.
func (v *ParamValue) applies(date time.Time, region, area string) bool {
	if date.Before(v.From) || (!v.Until.IsZero() && date.After(v.Until)) {
		return false
	}
	if !strings.HasPrefix(region, v.Region) {
		return false
	}
	return v.Area == "" || v.Area == area
}

// better reports whether v is a more specific answer than w: the longer region
// prefix wins, then an area-specific value, then the later `from` (a newer
// value supersedes an older one, as in OpenFisca).
func (v *ParamValue) better(w *ParamValue) bool {
	if len(v.Region) != len(w.Region) {
		return len(v.Region) > len(w.Region)
	}
	if (v.Area != "") != (w.Area != "") {
		return v.Area != ""
	}
	return v.From.After(w.From)
}

// paramTable maps a parameter name to its values. Built at load, read-only after.
type paramTable map[string][]*ParamValue

// lookup returns the value of name that applies at date in region and area.
// No value is an error, never a silent zero.
func (t paramTable) lookup(name string, date time.Time, region, area string) (*ParamValue, error) {
	vals, ok := t[name]
	if !ok {
		return nil, fmt.Errorf("unknown parameter %q", name)
	}
	var best *ParamValue
	for _, v := range vals {
		if v.applies(date, region, area) && (best == nil || v.better(best)) {
			best = v
		}
	}
	if best == nil {
		return nil, fmt.Errorf("parameter %q has no value on %s for region %q area %q",
			name, date.Format(dateLayout), region, area)
	}
	return best, nil
}

// names returns the parameter names, sorted.
func (t paramTable) names() []string {
	out := make([]string, 0, len(t))
	for n := range t {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// check validates one parameter's values together: one kind (number or code
// list) and no two values with the same region, area and from.
func (t paramTable) check() error {
	for _, name := range t.names() {
		vals := t[name]
		for i, v := range vals {
			if v.List != vals[0].List {
				return v.pos.errorf("parameter %q mixes numbers and code lists", name)
			}
			for _, w := range vals[:i] {
				if v.Region == w.Region && v.Area == w.Area && v.From.Equal(w.From) {
					return v.pos.errorf("parameter %q has two values for region %q area %q from %s (the other at line %d)",
						name, v.Region, v.Area, v.From.Format(dateLayout), w.pos.line)
				}
			}
		}
	}
	return nil
}

// clone copies the table (values are shared: they are never modified).
func (t paramTable) clone() paramTable {
	out := make(paramTable, len(t))
	for n, vals := range t {
		out[n] = append([]*ParamValue(nil), vals...)
	}
	return out
}

// merge adds the values of o: a value with the same region, area and from
// replaces the old one, any other is added.
func (t paramTable) merge(o paramTable) {
	for _, name := range o.names() {
	next:
		for _, v := range o[name] {
			for i, w := range t[name] {
				if v.Region == w.Region && v.Area == w.Area && v.From.Equal(w.From) {
					t[name][i] = v
					continue next
				}
			}
			t[name] = append(t[name], v)
		}
	}
}

// ParamValues returns every value of the named parameter, in the set's
// order, or nil for an unknown name: what-if runs enumerate them to replace
// each one.
func (s *Set) ParamValues(name string) []ParamValue {
	vs := s.params[name]
	out := make([]ParamValue, 0, len(vs))
	for _, v := range vs {
		c := *v
		c.Codes = append([]string(nil), v.Codes...)
		out = append(out, c)
	}
	return out
}
