package rules

import "github.com/hedui/hedui/facts"

// Measures are a household's money figures under a rule set, computed the
// way income.excess counts them: what reports chart and what-if totals add up.
type Measures struct {
	CountedIncome   float64 // 元/month: wages, counted pensions, minus rigid medical spending
	PerCapita       float64 // CountedIncome ÷ members
	MonthlyStandard float64 // dibao_standard ÷ 12 for the household's region and area at ref_date
}

// Measure computes h's Measures in env. A missing parameter is an error.
func (s *Set) Measure(h *facts.Household, env Env) (Measures, error) {
	if err := checkInput(h, env); err != nil {
		return Measures{}, err
	}
	ev := s.pool.Get().(*evaluator)
	defer ev.release()
	ev.begin(h, env)
	ev.h = h
	income, err := ev.countedIncome()
	if err != nil {
		return Measures{}, err
	}
	std, err := ev.monthlyStandard()
	if err != nil {
		return Measures{}, err
	}
	return Measures{CountedIncome: cents(income), PerCapita: cents(income / float64(len(h.Members))), MonthlyStandard: cents(std)}, nil
}
