package rules

import (
	"fmt"
	"slices"
	"testing"
)

type flagOutcome struct {
	household, person, rule string
	version                 int
	outcome                 Outcome
}

func flagOutcomes(flags []Flag) []flagOutcome {
	var out []flagOutcome
	for _, f := range flags {
		out = append(out, flagOutcome{f.HouseholdID, f.PersonID, f.RuleID, f.RuleVersion, f.Outcome})
	}
	return out
}

// TestOutcomesEqualEvaluate: on every default case, an OutcomeEvaluator
// gives the flags Evaluate gives (rule, target, outcome, in order), also
// when it serves many households of the same environment.
func TestOutcomesEqualEvaluate(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	evaluators := map[string]*OutcomeEvaluator{} // by environment: shared across cases
	seen := map[Outcome]bool{}
	for _, tc := range defaultCases(t, s) {
		key := fmt.Sprint(tc.env.AsOf, tc.env.Mode, tc.env.Sources)
		o := evaluators[key]
		if o == nil {
			o = s.Outcomes(tc.env)
			evaluators[key] = o
		}
		want, errW := s.Evaluate(tc.h, tc.env)
		for range 2 { // the second time from the kept source checks
			got, errG := o.Evaluate(tc.h)
			if (errW == nil) != (errG == nil) {
				t.Fatalf("case %q: Evaluate error %v, Outcomes error %v", tc.name, errW, errG)
			}
			if !slices.Equal(flagOutcomes(got), flagOutcomes(want)) {
				t.Fatalf("case %q: Outcomes %v; Evaluate %v", tc.name, flagOutcomes(got), flagOutcomes(want))
			}
		}
		for _, f := range want {
			seen[f.Outcome] = true
		}
	}
	for _, o := range []Outcome{OutcomeIneligible, OutcomeReview, OutcomeAdjust, OutcomeInsufficient} {
		if !seen[o] {
			t.Errorf("no default case gives outcome %s: the comparison does not cover it", o)
		}
	}
	if len(evaluators) == len(defaultCases(t, s)) {
		t.Error("no two cases share an environment: the kept source checks are not exercised")
	}
}
