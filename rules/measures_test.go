package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

func TestMeasureCountsIncomeLikeIncomeExcess(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h := &facts.Household{ID: "H", Region: "530102", Area: "rural", Assistance: "dibao", Status: "recipient",
		Members: []*facts.Member{
			{PersonID: "a", Payroll: []*sources.Payroll{{MonthlySalary: 3000, Status: "active"}},
				Fund: []*sources.Fund{{MonthlyDeposit: 480, AccountStatus: "active"}}}, // wage is the salary, never both
			{PersonID: "b", Fund: []*sources.Fund{{MonthlyDeposit: 240, AccountStatus: "active"}}, // 240 ÷ 0.24 = 1000
				Pension: []*sources.Pension{{Scheme: "resident", State: "receiving", MonthlyAmount: 150}}},
			{PersonID: "c", Medical: []*sources.Medical{
				{SettleDate: asOf.AddDate(0, -2, 0), SelfPaid: 1200},  // counted: 100 a month
				{SettleDate: asOf.AddDate(0, -13, 0), SelfPaid: 9999}, // too old
			}},
		}}
	m, err := s.Measure(h, Env{AsOf: asOf, Mode: ModeFull})
	if err != nil {
		t.Fatal(err)
	}
	want := Measures{CountedIncome: 3900, PerCapita: 1300, MonthlyStandard: 375}
	if m != want {
		t.Fatalf("Measure = %+v, want %+v", m, want)
	}
	h.Region = "110101" // Beijing: no parameter values there
	if _, err := s.Measure(h, Env{AsOf: asOf, Mode: ModeFull}); err == nil {
		t.Fatal("a region without parameters measured without error")
	}
}

func TestSourceReparsesToTheSameSet(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	county, err := Load("testdata/county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Set{def, county} {
		again, err := Parse(s.Source(), "again.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if again.Digest() != s.Digest() {
			t.Errorf("%s: re-parsed digest %s, want %s", s.Name(), again.Digest(), s.Digest())
		}
	}
	if def.Digest() == county.Digest() {
		t.Fatal("the county overrides did not change the digest")
	}
}

// TestEvaluateFailsOnAMissingParameter: a parameter with no value for the
// household's region stops the evaluation with an error naming it, never a
// silent zero, whichever helper function asked for it.
func TestEvaluateFailsOnAMissingParameter(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h := &facts.Household{ID: "H", Region: "110101", Area: "rural", Assistance: "dibao", Status: "recipient",
		Members: []*facts.Member{{PersonID: "a", Vehicles: []*sources.Vehicle{{PlateNo: "京A1", VehicleType: "K33", Status: "normal", Price: 90000}}}}}
	env := Env{AsOf: asOf, Mode: ModeFull, Sources: map[sources.Kind]time.Time{}}
	for _, k := range sources.SourceKinds {
		env.Sources[k] = asOf.AddDate(0, 0, -7)
	}
	_, err = s.Evaluate(h, env)
	if err == nil {
		t.Fatal("evaluated a household of a region without parameters")
	}
	if !strings.Contains(err.Error(), "110101") {
		t.Errorf("error does not name the region: %v", err)
	}
	// The evaluator that failed goes back to the pool clean: a good household
	// evaluates normally afterwards.
	h.Region = "530102"
	flags, err := s.Evaluate(h, env)
	if err != nil || len(flags) == 0 || flags[0].RuleID != "vehicle.owned" {
		t.Fatalf("after a failure: flags %v, err %v", flags, err)
	}
}

// TestHelperFailureInsideAnExpression: a parameter missing for the region,
// asked for from inside an expression, fails the evaluation (the helper's
// error is carried out of the expression), and the pooled evaluator is
// clean for the next household.
func TestHelperFailureInsideAnExpression(t *testing.T) {
	s, err := Parse([]byte(`
parameters:
  limit: [{value: 2, from: 2020-01-01, region: "5301", reference: test}]
  max_age_days: [{value: 365, from: 2020-01-01, region: "53", reference: test}]
rules:
  - id: t.size
    version: 1
    title: {zh: 人数, en: size}
    scope: household
    modes: [full]
    sources: [police]
    basis: test
    when: size > param("limit")
    outcome: review
    message: 人数超过
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	three := []*facts.Member{{PersonID: "a"}, {PersonID: "b"}, {PersonID: "c"}}
	env := Env{AsOf: asOf, Mode: ModeFull, Sources: map[sources.Kind]time.Time{sources.KindPolice: asOf}}
	for i := 0; i < 3; i++ {
		_, err := s.Evaluate(&facts.Household{ID: "X", Region: "530201", Area: "rural", Assistance: "dibao", Members: three}, env)
		if err == nil || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("missing parameter inside an expression: err %v", err)
		}
		flags, err := s.Evaluate(&facts.Household{ID: "Y", Region: "530102", Area: "rural", Assistance: "dibao", Members: three}, env)
		if err != nil || len(flags) != 1 {
			t.Fatalf("the next household: flags %v, err %v", flags, err)
		}
	}
}
