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

// Sweep evaluates base plus sw's parameter at each of its values. The rows
// each step re-evaluates are selected first from the saved columns; then one
// pass over households.parquet reads and decodes the facts of every row some
// step selects, once, and evaluates every step on them (in parallel by row
// group).
func (r *Run) Sweep(ctx context.Context, base []Setting, sw Sweep, opts Options) ([]Step, error) {
	if err := sw.Check(r.Set); err != nil {
		return nil, err
	}
	var prs []*prepared
	for _, v := range sw.Values() {
		pr, err := r.prepare(ctx, append(append([]Setting(nil), base...), sw.At(v)), opts)
		if err != nil {
			return nil, fmt.Errorf("--sweep at %g: %w", v, err)
		}
		prs = append(prs, pr)
	}
	scs, err := r.evaluate(ctx, prs, opts.Workers)
	if err != nil {
		return nil, err
	}
	steps := make([]Step, len(scs))
	for k, v := range sw.Values() {
		steps[k] = Step{Value: v, Totals: scs[k].Total}
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
