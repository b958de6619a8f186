package rules

import (
	"strings"
	"testing"
)

// setWith returns a rule-set text with two parameters and the given rules
// (indented as list items under `rules:`).
func setWith(rules string) string {
	return `parameters:
  max_age_days:
    - {value: 365, from: 2020-01-01, region: "53", reference: x}
  limit:
    - {value: 100, from: 2020-01-01, region: "53", reference: y}
rules:
` + rules
}

const ruleHead = `  - id: test.rule
    version: 1
    title: {zh: 测试, en: Test}
    scope: member
    modes: [full]
    sources: [vehicle]
    basis: 测试依据
`

func TestCompileErrorsNameRuleAndPlace(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"plain scalar", `    when: len(member.vehicles) > foo
    outcome: review
    message: x
`, "s.yaml:14:34: rule test.rule: cases[0].when: unknown name foo"},
		{"quoted scalar", `    when: "member.vehicles[0].plate_nox == ''"
    outcome: review
    message: x
`, "s.yaml:14:31: rule test.rule: cases[0].when: type sources.Vehicle has no field plate_nox"},
		{"block scalar", `    when: |
      len(member.vehicles) > 0 &&
        member.nope
    outcome: review
    message: x
`, "s.yaml:16:16: rule test.rule: cases[0].when: type facts.Member has no field nope"},
		{"typed value through filter", `    values:
      over: filter(member.vehicles, .price > param("limit"))
      plates: map(over, .plate_nox)
    when: len(plates) > 0
    outcome: review
    message: x
`, "s.yaml:16:26: rule test.rule: values.plates: type sources.Vehicle has no field plate_nox"},
		{"unknown parameter", `    when: param("limt") > 0
    outcome: review
    message: x
`, `s.yaml:14:17: rule test.rule: cases[0].when: unknown parameter "limt"; known parameters: limit, max_age_days`},
		{"parameter argument not constant", `    when: param(member.name) > 0
    outcome: review
    message: x
`, "wants a constant name in quotes"},
		{"not boolean", `    when: len(member.vehicles)
    outcome: review
    message: x
`, "rule test.rule: cases[0].when"},
		{"message names unknown value", `    values:
      n: len(member.vehicles)
    when: n > 0
    outcome: review
    message: 有 {n} 辆车，{m} 元
`, "s.yaml:18:23: rule test.rule: message names {m}, which is not a value of the rule; values: n"},
		{"household rule has no member", strings.Replace(`    when: len(member.vehicles) > 0
    outcome: review
    message: x
`, "", "", 1), ""},
		{"unknown key", `    whne: true
    outcome: review
    message: x
`, `s.yaml:14:5: unknown key "whne" in rule; allowed keys: id, version`},
		{"bad outcome", `    when: true
    outcome: insufficient
    message: x
`, `s.yaml:15:14: rule test.rule outcome: unknown value "insufficient"; allowed: ineligible, review, adjust, omission, info`},
		{"fires unknown rule", `    when: fires("no.such")
    outcome: review
    message: x
`, `s.yaml:14:17: rule test.rule: cases[0].when: fires: unknown rule "no.such"`},
		{"value shadows variable", `    values:
      member: 1
    when: true
    outcome: review
    message: x
`, `s.yaml:15:7: rule test.rule: value name "member" is taken`},
		{"now is disabled", `    when: now().Year() > 2000
    outcome: review
    message: x
`, "rule test.rule: cases[0].when"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				return
			}
			_, err := Parse([]byte(setWith(ruleHead+tt.body)), "s.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestHouseholdRuleHasNoMember(t *testing.T) {
	body := strings.Replace(ruleHead, "scope: member", "scope: household", 1) + `    when: len(member.vehicles) > 0
    outcome: review
    message: x
`
	_, err := Parse([]byte(setWith(body)), "s.yaml")
	if err == nil || !strings.Contains(err.Error(), "s.yaml:14:15: rule test.rule: cases[0].when: unknown name member") {
		t.Fatalf("got %v", err)
	}
}

func TestFiresCycle(t *testing.T) {
	rule := func(id, other string) string {
		return strings.Replace(ruleHead, "test.rule", id, 1) + `    when: fires("` + other + `")
    outcome: review
    message: x
`
	}
	_, err := Parse([]byte(setWith(rule("a.one", "a.two")+rule("a.two", "a.one"))), "s.yaml")
	if err == nil || !strings.Contains(err.Error(), "circle: a.one → a.two → a.one") {
		t.Fatalf("got %v", err)
	}
}

func TestTopLevelErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown top key", "parameter: {}\n", `s.yaml:1:1: unknown key "parameter" in rule set; allowed keys: name, description, extends, parameters, rules, disable`},
		{"not a mapping", "- a\n", "s.yaml:1:1: want a mapping at the top level"},
		{"empty", "", "s.yaml: empty document"},
		{"bad yaml", "a: [\n", "s.yaml: yaml:"},
		{"extends other", "extends: other\n", `s.yaml:1:10: extends: unknown value "other"; allowed: default`},
		{"disable without extends", "disable: [x]\n", "only a file with `extends: default` may disable"},
		{"no max_age_days", "rules:\n" + ruleHead + "    when: true\n    outcome: review\n    message: x\n", `needs parameter "max_age_days"`},
		{"duplicate rule", setWith(ruleHead + "    when: true\n    outcome: review\n    message: x\n" + ruleHead + "    when: true\n    outcome: review\n    message: x\n"), `s.yaml:17:5: rule "test.rule" is defined twice`},
		{"unknown source", setWith(strings.Replace(ruleHead, "[vehicle]", "[vehicles]", 1) + "    when: true\n    outcome: review\n    message: x\n"), `s.yaml:12:15: rule test.rule sources: unknown value "vehicles"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "s.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestDefaultSetHasEveryDocumentedParameterAndRule(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dibao_standard", "tekun_basic", "vehicle_exempt_price", "vehicle_exempt_type_prefixes",
		"housing_floor_m2", "realestate_min_units", "realestate_area_factor", "business_capital_limit", "fund_rate",
		"assets_months", "gradual_exit_margin", "gradual_exit_months", "divorce_window_months", "single_income_factor",
		"medical_window_months", "max_age_days"} {
		if _, ok := s.params[p]; !ok {
			t.Errorf("parameter %s missing", p)
		}
	}
	var ids []string
	for _, r := range s.Rules() {
		ids = append(ids, r.ID)
	}
	want := "vehicle.owned realestate.excess business.owner payroll.member income.excess assets.excess member.deceased member.hidden divorce.recent roster.duplicate identity.mismatch relative.unfiled single.eligible omission.candidate"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("rules\n got %s\nwant %s", got, want)
	}
	u, err := s.Lookup("dibao_standard", day("2026-01-01"), "530102", "urban")
	if err != nil || u.Number != 7680 || !strings.Contains(u.Reference, "民发〔2021〕57号") {
		t.Fatalf("urban standard: %+v %v", u, err)
	}
	r, err := s.Lookup("dibao_standard", day("2026-01-01"), "530102", "rural")
	if err != nil || r.Number != 4500 {
		t.Fatalf("rural standard: %+v %v", r, err)
	}
	if _, err := s.Lookup("dibao_standard", day("2020-05-31"), "530102", "rural"); err == nil {
		t.Fatal("a value before 2020-06-01")
	}
}

func TestDigest(t *testing.T) {
	a, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte("# a comment changes nothing\n"+string(DefaultYAML())), "copy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest() != b.Digest() || len(a.Digest()) != 64 {
		t.Fatalf("digests differ: %s %s", a.Digest(), b.Digest())
	}
	c, err := a.Extend([]byte(`parameters:
  vehicle_exempt_price:
    - {value: 50000, from: 2020-06-01, region: "53", reference: changed}
`), "what-if.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() == a.Digest() {
		t.Fatal("a changed parameter leaves the digest unchanged")
	}
}
