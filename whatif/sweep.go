package whatif

import (
	"context"
	"fmt"
	"strings"

	"github.com/hedui/hedui/rules"
)

// Step is one value of a sweep and the scenario's totals at it.
type Step struct {
	Value  float64 `json:"value"`
	Totals Totals  `json:"totals"`
}

// Sweep evaluates base plus sw's parameter at each of its values, one after
// another (each evaluation is parallel). The rows any step re-evaluates are
// selected first and their facts read in one pass over households.parquet;
// each step then evaluates the decoded rows it selects.
func (r *Run) Sweep(ctx context.Context, base []Setting, sw Sweep, opts Options) ([]Step, error) {
	if err := sw.Check(r.Set); err != nil {
		return nil, err
	}
	at := func(v float64) []Setting { return append(append([]Setting(nil), base...), sw.At(v)) }
	need := make(selection, len(r.Rows))
	for _, v := range sw.Values() {
		_, _, sel, err := r.prepare(ctx, at(v), opts)
		if err != nil {
			return nil, fmt.Errorf("--sweep at %g: %w", v, err)
		}
		need.or(sel)
	}
	if err := r.fetch(ctx, need.rows(), opts.Workers); err != nil {
		return nil, err
	}
	var steps []Step
	for _, v := range sw.Values() {
		sc, err := r.Evaluate(ctx, at(v), opts)
		if err != nil {
			return nil, fmt.Errorf("--sweep at %g: %w", v, err)
		}
		steps = append(steps, Step{Value: v, Totals: sc.Total})
	}
	return steps, nil
}

// Check reports an unknown or code-list parameter: a sweep needs a number.
func (sw Sweep) Check(set *rules.Set) error {
	vals := set.ParamValues(sw.Name)
	switch {
	case len(vals) == 0:
		return fmt.Errorf("--sweep %s: unknown parameter %q; known parameters: %s", sw.target(), sw.Name, strings.Join(set.ParamNames(), ", "))
	case vals[0].List:
		return fmt.Errorf("--sweep %s: parameter %q is a code list; a sweep needs a number parameter; known parameters: %s", sw.target(), sw.Name, strings.Join(set.ParamNames(), ", "))
	}
	return nil
}
