package whatif

import (
	"slices"
	"sort"
	"testing"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
)

// TestAffectedRules: the rules a parameter reaches, directly, through a
// helper function or through fires().
func TestAffectedRules(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		param string
		want  []string
	}{
		{"dibao_standard", []string{"assets.excess", "income.excess", "single.eligible"}},
		{"fund_rate", []string{"income.excess", "single.eligible"}},
		{"vehicle_exempt_price", []string{"omission.candidate", "vehicle.owned"}},
		{"business_capital_limit", []string{"business.owner", "omission.candidate"}},
		{"divorce_window_months", []string{"divorce.recent"}},
		{"tekun_basic", nil},
	} {
		var got []string
		for id := range affectedRules(set, []string{tc.param}) {
			got = append(got, id)
		}
		sort.Strings(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s reaches %v; want %v", tc.param, got, tc.want)
		}
	}
	if n := len(affectedRules(set, []string{"max_age_days"})); n != len(set.Rules()) {
		t.Errorf("max_age_days (read by the engine for every rule) reaches %d of %d rules", n, len(set.Rules()))
	}
}

// TestPlanDecodesWhatItReads: a narrowed plan decodes of each member only
// the parts its rules and the benefit read; a full one decodes everything.
func TestPlanDecodesWhatItReads(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{Set: set}
	income := facts.ListPayroll | facts.ListFund | facts.ListPension | facts.ListMedical // counted income
	for _, tc := range []struct {
		param string
		want  facts.Lists
	}{
		{"dibao_standard", income | facts.ListDeposit | facts.ListDisability},
		{"divorce_window_months", income | facts.ListCourt},
		{"vehicle_exempt_price", income | facts.ListVehicles | facts.ListRealEstate | facts.ListBusiness |
			facts.ListPolice | facts.ListPoverty | facts.ListDisability}, // omission.candidate and what it fires
	} {
		p, err := r.plan(set, []string{tc.param}, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.lists != tc.want {
			t.Errorf("%s: decodes parts %b; want %b", tc.param, p.lists, tc.want)
		}
	}
	p, err := r.plan(set, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.lists != facts.AllLists {
		t.Errorf("a full plan decodes parts %b; want all", p.lists)
	}
}
