package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hedui/hedui/facts"
)

// only returns the default set narrowed to rule id and the rules it asks
// about with fires().
func only(t *testing.T, s *Set, id string) *Set {
	t.Helper()
	keep := map[string]bool{}
	var visit func(string)
	visit = func(id string) {
		if !keep[id] {
			keep[id] = true
			for _, f := range s.byID[id].fires {
				visit(f)
			}
		}
	}
	visit(id)
	var off []string
	for _, r := range s.rules {
		if !keep[r.ID] {
			off = append(off, fmt.Sprintf("%q", r.ID))
		}
	}
	if len(off) == 0 {
		return s
	}
	n, err := s.Extend([]byte("disable: ["+strings.Join(off, ", ")+"]\n"), "only "+id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// defaultCases parses the default cases file into its test cases.
func defaultCases(t *testing.T, s *Set) []*testCase {
	t.Helper()
	return caseHouseholds(t, s, DefaultCasesYAML(), "default_cases.yaml")
}

// keepFields returns a copy of h whose members hold only the fields named
// (and their identity); the other fields are zero, as a decoder that skips
// them leaves them.
func keepFields(h *facts.Household, names []string) *facts.Household {
	c := *h
	c.Members = make([]*facts.Member, len(h.Members))
	for i, m := range h.Members {
		if m == nil {
			continue
		}
		mc := *m
		v := reflect.ValueOf(&mc).Elem()
		for j := range v.NumField() {
			f := v.Type().Field(j)
			switch f.Name {
			case "Key", "PersonID", "Name", "Relation", "RelativeFiled":
				continue
			}
			if !slices.Contains(names, f.Tag.Get("expr")) {
				v.Field(j).SetZero()
			}
		}
		c.Members[i] = &mc
	}
	return &c
}

type outcomeKey struct {
	rule, person string
	outcome      Outcome
}

func outcomes(flags []Flag) []outcomeKey {
	var out []outcomeKey
	for _, f := range flags {
		out = append(out, outcomeKey{f.RuleID, f.PersonID, f.Outcome})
	}
	return out
}

// TestMemberFieldsDefault checks what MemberFields finds for each default
// rule, and that each rule gives every default case the same outcomes on
// the household reduced to those fields as on the whole household.
func TestMemberFieldsDefault(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"vehicle.owned":      {"vehicles"},
		"realestate.excess":  {"realestate"},
		"business.owner":     {"business"},
		"payroll.member":     {"payroll"},
		"income.excess":      {"fund", "medical", "payroll", "pension"},
		"assets.excess":      {"deposit"},
		"member.deceased":    {"police"},
		"member.hidden":      {"housemates", "police"},
		"divorce.recent":     {"court"},
		"roster.duplicate":   {"other_households", "roster"},
		"identity.mismatch":  {"name", "police"},
		"relative.unfiled":   {"housemates", "police", "relative_filed", "staff"},
		"single.eligible":    {"disability", "fund", "medical", "payroll", "pension"},
		"omission.candidate": {"business", "disability", "police", "poverty", "realestate", "vehicles", "payroll"},
	}
	cases := defaultCases(t, s)
	for _, r := range s.Rules() {
		set := only(t, s, r.ID)
		got, all := set.MemberFields()
		if all {
			t.Errorf("%s: MemberFields cannot follow the rule", r.ID)
			continue
		}
		w, ok := want[r.ID]
		if !ok {
			t.Errorf("%s: no expected fields in the test; got %v", r.ID, got)
			continue
		}
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: MemberFields %v; want %v", r.ID, got, w)
		}
		n := 0
		for _, tc := range cases {
			full, err := set.Evaluate(tc.h, tc.env)
			if err != nil {
				continue // a case about a failure: not this test's concern
			}
			part, err := set.Evaluate(keepFields(tc.h, got), tc.env)
			if err != nil {
				t.Errorf("%s: case %q: on the reduced household: %v", r.ID, tc.name, err)
				continue
			}
			if !slices.Equal(outcomes(full), outcomes(part)) {
				t.Errorf("%s: case %q: outcomes %v on the whole household, %v on its fields %v", r.ID, tc.name, outcomes(full), outcomes(part), got)
			}
			n += len(full)
		}
		if n == 0 && r.ID != "omission.candidate" {
			t.Errorf("%s: no default case gives a flag; the comparison proves nothing", r.ID)
		}
	}
}

// TestMeasureFields checks that Measure reads no member field but those
// MeasureFields lists.
func TestMeasureFields(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tc := range defaultCases(t, s) {
		full, err := s.Measure(tc.h, tc.env)
		if err != nil {
			continue
		}
		part, err := s.Measure(keepFields(tc.h, MeasureFields()), tc.env)
		if err != nil || part != full {
			t.Errorf("case %q: measures %+v on the whole household, %+v, %v on its fields %v", tc.name, full, part, err, MeasureFields())
		}
		if full.CountedIncome != 0 {
			n++
		}
	}
	if n == 0 {
		t.Error("no default case has a counted income; the comparison proves nothing")
	}
}

// TestMemberFieldsOpaque checks that reads MemberFields cannot follow make
// it answer all.
func TestMemberFieldsOpaque(t *testing.T) {
	base := `name: t
parameters:
  max_age_days: [{value: 365, from: 2020-01-01, region: "53", reference: t}]
rules:
  - id: r
    version: 1
    title: {zh: t, en: t}
    scope: %s
    modes: [full]
    assistance: [dibao]
    sources: [roster]
    basis: t
    values:
      x: '%s'
    when: x
    outcome: review
    message: t
`
	for _, c := range []struct {
		scope, expr string
		all         bool
		fields      []string // when not all
	}{
		{"member", `len(member.vehicles) > 0`, false, []string{"vehicles"}},
		{"household", `len(flatten(map(filter(household.members, .relation == "head"), .police))) > 0`, false, []string{"police", "relation"}},
		{"household", `any(household.members, len(.court) > 0) && len(household.members[0].staff) > 0`, false, []string{"court", "staff"}},
		{"household", `len(flatten(map(household.members, .deposit))) > 0`, false, []string{"deposit"}},
		{"member", `member != nil && counted_income() > 0`, false, []string{"fund", "medical", "payroll", "pension"}},
		{"member", `toJSON(member) != ""`, true, nil},
		{"member", `string(household) != ""`, true, nil},
		{"household", `household.members[0] == household.members[1]`, true, nil},
		{"household", `len(uniq(household.members)) > 1`, true, nil},
		{"household", `toJSON(map(household.members, #)) != ""`, true, nil},
		{"household", `len(map(household.members, #)) > 0`, true, nil},
		{"household", `toJSON(concat(household.members, [])) != ""`, true, nil},
		{"household", `toJSON([household.members[0]]) != ""`, true, nil},
		{"household", `toJSON(groupBy(household.members, .relation)) != ""`, true, nil},
		{"household", `get(household.members, 0) != nil`, true, nil},
		{"member", `len($env) > 0`, true, nil},
	} {
		s, err := Parse([]byte(fmt.Sprintf(base, c.scope, c.expr)), "t.yaml")
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		names, all := s.MemberFields()
		if all != c.all {
			t.Errorf("%s: all = %v (fields %v); want %v", c.expr, all, names, c.all)
		}
		if !all && !slices.Equal(names, c.fields) {
			t.Errorf("%s: fields %v; want %v", c.expr, names, c.fields)
		}
	}
}
