package rules

import (
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
