package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

var asOf = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

func fullEnv() Env {
	env := Env{AsOf: asOf, Mode: ModeFull, Sources: map[sources.Kind]time.Time{}}
	for _, k := range sources.SourceKinds {
		env.Sources[k] = asOf.AddDate(0, -1, 0)
	}
	return env
}

func origin(kind sources.Kind, id string, row int64) sources.Origin {
	return sources.Origin{PersonID: id, Kind: kind, File: string(kind) + ".parquet", Row: row, Snapshot: asOf.AddDate(0, -1, 0), Match: sources.MatchID}
}

// typical returns a 3-member urban dibao household with a few records; the
// head owns a car above the exempt price and receives an employee pension.
func typical() *facts.Household {
	h := &facts.Household{ID: "H100", Region: "530102", Area: "urban", Assistance: "dibao", Status: "recipient", MonthlyBenefit: 1500}
	ids := []string{"530102198001010011", "530102198202020022", "530102201003030033"}
	rel := []string{"head", "spouse", "child"}
	for i, id := range ids {
		m := &facts.Member{PersonID: id, Name: fmt.Sprintf("成员%d", i), Relation: rel[i]}
		m.Roster = &sources.RosterMember{Origin: origin(sources.KindRoster, id, int64(i+1)), HouseholdID: h.ID, Relation: rel[i], Area: "urban", Assistance: "dibao", Status: "recipient"}
		m.Police = []*sources.Police{{Origin: origin(sources.KindPolice, id, int64(10+i)), HukouNo: "HK1", RelationToHead: rel[i], Status: "normal"}}
		m.Police[0].Name = m.Name
		h.Members = append(h.Members, m)
	}
	h.Members[0].Vehicles = []*sources.Vehicle{{Origin: origin(sources.KindVehicle, ids[0], 7), PlateNo: "云A12345", VehicleType: "K33", Status: "normal", Price: 80000}}
	h.Members[0].Pension = []*sources.Pension{{Origin: origin(sources.KindPension, ids[0], 3), Scheme: "employee", State: "receiving", MonthlyAmount: 2100}}
	h.Members[1].Medical = []*sources.Medical{{Origin: origin(sources.KindMedical, ids[1], 4), SettleDate: asOf.AddDate(0, -2, 0), SelfPaid: 600}}
	h.Members[2].Deposit = []*sources.Deposit{{Origin: origin(sources.KindDeposit, ids[2], 5), Balance: 3000}}
	return h
}

func TestEvaluateTypical(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	flags, err := s.Evaluate(typical(), fullEnv())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flags {
		got = append(got, fmt.Sprintf("%s %s %s", f.RuleID, f.Outcome, f.PersonID))
	}
	// income: (2100 − 600/12) / 3 = 683.33 > 640, ≤ 960: adjust.
	want := []string{"vehicle.owned ineligible 530102198001010011", "income.excess adjust "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("flags\n got %q\nwant %q", got, want)
	}
	inc := flags[1]
	if !strings.Contains(inc.Message, "683.33") {
		t.Errorf("message %q", inc.Message)
	}
	if inc.HouseholdID != "H100" || inc.Basis == "" || inc.RuleVersion != 1 {
		t.Errorf("flag fields: %+v", inc)
	}
	var kinds []string
	for _, f := range inc.Evidence.Facts {
		kinds = append(kinds, f.Kind)
	}
	if strings.Join(kinds, ",") != "pension,medical" {
		t.Errorf("income facts: %v", kinds)
	}
	var params []string
	for _, p := range inc.Evidence.Parameters {
		params = append(params, p.Name)
	}
	if strings.Join(params, ",") != "dibao_standard,fund_rate,medical_window_months,gradual_exit_margin,gradual_exit_months" {
		t.Errorf("income parameters: %v", params)
	}
}

func TestEvidenceJSONStable(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var first [][]byte
	for run := 0; run < 5; run++ {
		flags, err := s.Evaluate(typical(), fullEnv())
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range flags {
			b, err := f.EvidenceJSON()
			if err != nil {
				t.Fatal(err)
			}
			if run == 0 {
				first = append(first, b)
				continue
			}
			if !bytes.Equal(b, first[i]) {
				t.Fatalf("run %d flag %d differs:\n%s\n%s", run, i, b, first[i])
			}
		}
	}
	veh := string(first[0])
	for _, want := range []string{
		`{"rule_id":"vehicle.owned","rule_version":1,"rule_set_digest":"` + s.Digest() + `","as_of":"2026-06-30","ref_date":"2026-06-30","mode":"full",`,
		`"values":{"limit":30000,"over_plates":["云A12345"],"over_prices":[80000]}`,
		`{"name":"vehicle_exempt_price","value":30000,"region":"53","from":"2020-06-01","reference":"`,
		`"facts":[{"kind":"vehicle","snapshot":"2026-05-30","file":"vehicle.parquet","row":7,"match":"id","person_id":"530102198001010011","values":{"plate_no":"云A12345","price":80000,"status":"normal","vehicle_type":"K33"}}]`,
	} {
		if !strings.Contains(veh, want) {
			t.Errorf("evidence lacks %s\nin %s", want, veh)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(first[0], &back); err != nil {
		t.Fatal(err)
	}
}

func TestCountyOverride(t *testing.T) {
	s, err := Load("testdata/county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Rule("single.eligible"); ok {
		t.Fatal("single.eligible not disabled")
	}
	for _, tt := range []struct {
		region string
		asOf   time.Time
		want   string
	}{
		{"530102", asOf, ""},                        // county value 100000 applies
		{"530103", asOf, "ineligible"},              // another county: province value
		{"530102", day("2025-12-31"), "ineligible"}, // before the county value
	} {
		h := typical()
		h.Region = tt.region
		env := fullEnv()
		env.AsOf = tt.asOf
		flags, err := s.Evaluate(h, env)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, f := range flags {
			if f.RuleID == "vehicle.owned" {
				got = string(f.Outcome)
				if tt.want != "" && f.Evidence.Parameters[0].Region != "53" {
					t.Errorf("evidence region %q", f.Evidence.Parameters[0].Region)
				}
			}
		}
		if got != tt.want {
			t.Errorf("region %s as of %s: vehicle.owned %q, want %q", tt.region, tt.asOf.Format(dateLayout), got, tt.want)
		}
	}
}

func TestWhatIfStandardChangesIncome(t *testing.T) {
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	higher, err := base.Extend([]byte(`parameters:
  dibao_standard:
    - {value: 9000, from: 2026-01-01, region: "53", area: urban, reference: what-if}
`), "what-if.yaml")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := higher.Evaluate(typical(), fullEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if f.RuleID == "income.excess" {
			t.Fatalf("683.33 per capita flagged under a 750 standard: %s", f.Message)
		}
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	env := fullEnv()
	bad := env
	bad.Mode = "partial"
	if _, err := s.Evaluate(typical(), bad); err == nil || !strings.Contains(err.Error(), `unknown mode "partial"`) {
		t.Errorf("mode: %v", err)
	}
	if _, err := s.Evaluate(&facts.Household{ID: "H"}, env); err == nil {
		t.Error("no members: no error")
	}
	h := typical()
	h.Region = "520102" // Guizhou: no parameter values
	if _, err := s.Evaluate(h, env); err == nil || !strings.Contains(err.Error(), `"520102"`) {
		t.Errorf("region without parameters: %v", err)
	}
}

func TestCandidateInsufficientNamesCandidate(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	env := fullEnv()
	delete(env.Sources, sources.KindVehicle)
	h := &facts.Household{Candidate: true, Members: []*facts.Member{{PersonID: "530102199001011234"}}}
	flags, err := s.Evaluate(h, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != 1 || flags[0].Outcome != OutcomeInsufficient || flags[0].PersonID != "530102199001011234" || flags[0].HouseholdID != "" {
		t.Fatalf("flags %+v", flags)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Evaluate(typical(), fullEnv())
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				h := typical()
				if i%2 == 1 {
					h.Members[0].Vehicles[0].Match = sources.MatchNameDOB
				}
				got, err := s.Evaluate(h, fullEnv())
				if err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					b, _ := json.Marshal(got)
					if !bytes.Equal(b, wantJSON) {
						errs <- fmt.Errorf("concurrent result differs")
						return
					}
				} else if got[0].Outcome != OutcomeReview {
					errs <- fmt.Errorf("name_dob vehicle gave %s", got[0].Outcome)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCasesReportDiffs(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunCasesData(s, []byte(`cases:
  - name: wrong expectation
    household:
      members:
        - vehicles: [{plate_no: X1, vehicle_type: K33, status: normal, price: 80000}]
    expect:
      - {rule: vehicle.owned, outcome: review, person: 0}
      - {rule: payroll.member, outcome: ineligible, person_id: P1}
  - name: message mismatch
    household:
      members:
        - vehicles: [{plate_no: X1, vehicle_type: K33, status: normal, price: 80000}]
    expect:
      - {rule: vehicle.owned, outcome: ineligible, person: 0, message: X2}
  - name: right
    household:
      members: [{}]
    expect: []
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Passed != 1 || rep.Failed != 2 {
		t.Fatalf("report %+v", rep)
	}
	text := rep.String()
	for _, want := range []string{
		"FAIL c.yaml:2 wrong expectation",
		"- missing    vehicle.owned review person P1",
		"- missing    payroll.member ineligible person P1",
		"+ unexpected vehicle.owned ineligible person P1: 名下有正常状态的非豁免机动车 X1",
		`! message    vehicle.owned ineligible person P1: 名下有正常状态的非豁免机动车 X1，价格 80000.00 元，超过豁免价值 30000.00 元 does not contain "X2"`,
		"PASS c.yaml:15 right",
		"1 passed, 2 failed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}

func TestCasesFileErrors(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, yaml, want string }{
		{"unknown record column", `cases:
  - name: x
    household:
      members:
        - vehicles: [{plate: X1}]
    expect: []
`, `c.yaml:5:23: unknown key "plate" in household.members[0].vehicles[0]; allowed keys:`},
		{"unknown rule", `cases:
  - name: x
    household: {members: [{}]}
    expect: [{rule: vehicle.own, outcome: review}]
`, `c.yaml:4:21: expect: unknown rule "vehicle.own"`},
		{"bad number", `cases:
  - name: x
    household:
      members:
        - vehicles: [{price: lots}]
    expect: []
`, `c.yaml:5:30: household.members[0].vehicles[0].price: "lots" is not a number`},
		{"person out of range", `cases:
  - name: x
    household: {members: [{}]}
    expect: [{rule: vehicle.owned, outcome: review, person: 3}]
`, "expect person: 3 is not a member index (0..0)"},
		{"duplicate case", `cases:
  - {name: x, household: {members: [{}]}, expect: []}
  - {name: x, household: {members: [{}]}, expect: []}
`, `c.yaml:3:5: case "x" is also at line 2`},
		{"unknown source kind", `cases:
  - {name: x, env: {missing: [cars]}, household: {members: [{}]}, expect: []}
`, `env missing: unknown source kind "cars"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunCasesData(s, []byte(tt.yaml), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestLintDefault(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	probs := Lint(s)
	// tekun_basic is documented but no default rule reads it: a warning.
	if len(probs) != 1 || !probs[0].Warning || !strings.Contains(probs[0].String(), `warning: parameter "tekun_basic" is not used`) {
		t.Fatalf("lint: %v", probs)
	}
	// A rule without cases and an unused value are reported.
	ext, err := s.Extend([]byte(`rules:
  - id: extra.rule
    version: 1
    title: {zh: 额外, en: Extra}
    scope: household
    modes: [full]
    sources: [deposit]
    basis: x
    values:
      unused: size * 2
    when: size > 10
    outcome: review
    message: 人口多
`), "ext.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range Lint(ext) {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`ext.yaml:10:7: rule extra.rule: value "unused" is not used`, "ext.yaml:2:5: rule extra.rule has no test case"} {
		if !strings.Contains(all, want) {
			t.Errorf("lint lacks %q:\n%s", want, all)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte(setWith(ruleHead + "    when: len(member.vehicles) > 0\n    outcome: review\n    message: x {n}\n")))
	f.Add([]byte("extends: default\nparameters:\n  fund_rate:\n    - {value: 0, from: 2020-06-01, region: \"53\", reference: x}\n"))
	f.Add([]byte("rules:\n  - {id: a, when: '|||'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "fuzz.yaml")
		if err == nil && s.Digest() == "" {
			t.Fatal("a set without digest")
		}
	})
}

func FuzzRunCases(f *testing.F) {
	s, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(DefaultCasesYAML()[:2000])
	f.Add([]byte("cases:\n  - {name: x, household: {members: [{vehicles: [{price: 1}]}]}, expect: []}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = RunCasesData(s, data, "fuzz.yaml")
	})
}

func BenchmarkEvaluate(b *testing.B) {
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	h, env := typical(), fullEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Evaluate(h, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateClean(b *testing.B) {
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	h, env := typical(), fullEnv()
	h.Members[0].Vehicles = nil
	h.Members[0].Pension = nil
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Evaluate(h, env); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLazyValuesNeverStale: values are computed only when a condition needs
// them, and values stay in the evaluator between households. A condition
// that reads a value through two others must see this household's values:
// the second household has no vehicle and must not inherit the first's.
// A message-only value is computed (and shown) when the case holds.
func TestLazyValuesNeverStale(t *testing.T) {
	s := vehicleRuleSet(t, `    values:
      n: len(member.vehicles)
      has: n > 0
      plates: map(member.vehicles, .plate_no)
      limit: param("vehicle_exempt_price")
      flagged: has
    cases:
      - when: flagged
        outcome: review
        message: 车辆 {plates}，豁免 {limit}
`, "lazy.yaml")
	with := typical()
	without := typical()
	without.Members[0].Vehicles = nil
	for round := 0; round < 3; round++ {
		for _, tt := range []struct {
			h    *facts.Household
			want int
		}{{with, 1}, {without, 0}} {
			flags, err := s.Evaluate(tt.h, fullEnv())
			if err != nil {
				t.Fatal(err)
			}
			var got []Flag
			for _, f := range flags {
				if f.RuleID == "vehicle.owned" {
					got = append(got, f)
				}
			}
			if len(got) != tt.want {
				t.Fatalf("round %d: %d vehicle flags, want %d: %+v", round, len(got), tt.want, got)
			}
			if tt.want == 1 {
				if got[0].Message != "车辆 云A12345，豁免 30000.00" {
					t.Errorf("message %q", got[0].Message)
				}
				if ps := got[0].Evidence.Parameters; len(ps) != 1 || ps[0].Name != "vehicle_exempt_price" {
					t.Errorf("evidence parameters %+v, want vehicle_exempt_price (read by a value the condition does not need)", ps)
				}
			}
		}
	}
}

// TestQuietRulesSkipOnlyWhatCannotFire: a member rule that reads nothing
// of a member but lists is skipped for members whose lists are empty only
// when it gives no flag to such a member under the same parameters. Traps:
// a rule that fires on empty lists, and one whose answer on empty lists
// depends on the county's parameter value, evaluated alternately in two
// counties by the same evaluator.
func TestQuietRulesSkipOnlyWhatCannotFire(t *testing.T) {
	base, err := Load("testdata/county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := base.Extend([]byte(`extends: default
rules:
  - id: test.no_vehicle
    version: 1
    title: {zh: 测试, en: test}
    scope: member
    modes: [full, incremental]
    sources: [vehicle]
    basis: test
    values:
      none: len(member.vehicles) == 0
    when: none
    outcome: info
    message: 无车辆
  - id: test.county_limit
    version: 1
    title: {zh: 测试, en: test}
    scope: member
    modes: [full, incremental]
    sources: [vehicle]
    basis: test
    values:
      limit: param("vehicle_exempt_price")
      n: len(member.vehicles)
    when: n == 0 && limit > 50000
    outcome: info
    message: 县级豁免价值 {limit}
`), "quiet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for id, gated := range map[string]bool{"vehicle.owned": true, "test.no_vehicle": true, "test.county_limit": true,
		"identity.mismatch": false, "member.deceased": false, "single.eligible": false} {
		r, ok := s.Rule(id)
		if !ok {
			continue // disabled by the county file
		}
		if got := r.compiled.memberLists != nil; got != gated {
			t.Errorf("%s: gated by member lists %v, want %v", id, got, gated)
		}
	}
	for round := 0; round < 2; round++ {
		for _, region := range []string{"530103", "530102", "530103", "530102"} {
			h := typical()
			h.Region = region
			flags, err := s.Evaluate(h, fullEnv())
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, f := range flags {
				count[f.RuleID]++
			}
			// Members 2 and 3 have no vehicle; member 1 has one.
			if count["test.no_vehicle"] != 2 {
				t.Errorf("region %s: test.no_vehicle flagged %d members, want 2", region, count["test.no_vehicle"])
			}
			want := 0
			if region == "530102" {
				want = 2 // the county's 100000 exceeds 50000; the province's 30000 does not
			}
			if count["test.county_limit"] != want {
				t.Errorf("region %s round %d: test.county_limit flagged %d members, want %d", region, round, count["test.county_limit"], want)
			}
		}
	}
}

// vehicleRuleSet is the default set with vehicle.owned replaced by a test
// rule (member scope, both modes, the vehicle source) whose values and
// cases are body, YAML indented as under the rule.
func vehicleRuleSet(t *testing.T, body, name string) *Set {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err = s.Extend([]byte(`extends: default
rules:
  - id: vehicle.owned
    version: 9
    title: {zh: 测试, en: test}
    scope: member
    modes: [full, incremental]
    sources: [vehicle]
    basis: test
`+body), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
