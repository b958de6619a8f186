package rules

import "github.com/hedui/hedui/facts"

// OutcomeEvaluator gives the flags Evaluate gives, without their messages
// and evidence: rule, target and outcome only. A caller re-evaluating many
// households to compare outcomes (a what-if) spends a fifth of Evaluate on
// what it drops, and on checking the rules' sources, whose answer depends
// only on the rule, the environment and the household's region and area:
// an OutcomeEvaluator keeps it. Not safe for concurrent use; one per
// goroutine.
type OutcomeEvaluator struct {
	s   *Set
	env Env
	// insufficient keeps, per rule and place, whether the rule's sources
	// are missing or stale.
	insufficient map[insufficientKey]bool
}

type insufficientKey struct {
	rule         *Rule
	region, area string
}

// Outcomes returns an OutcomeEvaluator of s in env.
func (s *Set) Outcomes(env Env) *OutcomeEvaluator {
	return &OutcomeEvaluator{s: s, env: env, insufficient: map[insufficientKey]bool{}}
}

// Evaluate returns the flags s.Evaluate(h, env) returns, in the same order,
// with only HouseholdID, PersonID, RuleID, RuleVersion and Outcome set. It
// fails where Evaluate fails, except on a message or facts expression that
// cannot be formatted or recorded, which it does not compute.
func (o *OutcomeEvaluator) Evaluate(h *facts.Household) ([]Flag, error) {
	var flags []Flag
	err := o.s.eachTarget(h, o.env, func(ev *evaluator, r *Rule) (bool, error) {
		bad, err := o.sourcesBad(ev, r, h)
		if bad {
			f := Flag{HouseholdID: h.ID, RuleID: r.ID, RuleVersion: r.Version, Outcome: OutcomeInsufficient}
			if h.Candidate {
				f.PersonID = h.Members[0].PersonID // as Evaluate's insufficient flag
			}
			flags = append(flags, f)
		}
		return bad, err
	}, func(ev *evaluator, r *Rule, idView *facts.Household, member int) error {
		oc, err := ev.outcome(r, h, idView, member)
		if oc != "" {
			f := Flag{HouseholdID: h.ID, RuleID: r.ID, RuleVersion: r.Version, Outcome: oc}
			if member >= 0 {
				f.PersonID = h.Members[member].PersonID
			}
			flags = append(flags, f)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return flags, nil
}

// sourcesBad reports whether Evaluate gives r an insufficient flag on h,
// asking sourceCheck once per rule and place.
func (o *OutcomeEvaluator) sourcesBad(ev *evaluator, r *Rule, h *facts.Household) (bool, error) {
	k := insufficientKey{rule: r, region: ev.region, area: ev.area}
	if bad, ok := o.insufficient[k]; ok {
		return bad, nil
	}
	src := sourceCheck{s: o.s, ev: ev, env: o.env}
	f, err := src.insufficient(r, h)
	if err != nil {
		return false, err
	}
	o.insufficient[k] = f != nil
	return f != nil, nil
}

// outcome is target without the flag: the outcome of r for the household
// (member < 0) or one member, with the name_dob downgrade, or "" for none.
func (ev *evaluator) outcome(r *Rule, h, idView *facts.Household, member int) (Outcome, error) {
	view := h
	if idView != nil {
		view = idView
	}
	ci, err := ev.run(r, view, memberOf(view, member))
	if err != nil {
		return "", err
	}
	if ci < 0 && idView != nil {
		if ci, err = ev.run(r, h, memberOf(h, member)); err != nil {
			return "", err
		}
		if ci >= 0 {
			return OutcomeReview, nil // rests on a name + birth-date match
		}
	}
	if ci < 0 {
		return "", nil
	}
	return r.Cases[ci].Outcome, nil
}
