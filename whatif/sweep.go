package whatif

import (
	"context"
	"fmt"
)

// Step is one value of a sweep and the scenario's totals at it.
type Step struct {
	Value  float64 `json:"value"`
	Totals Totals  `json:"totals"`
}

// Sweep evaluates base plus sw's parameter at each of its values, one after
// another (each evaluation is parallel); the facts decoded by the first step
// serve the others.
func (r *Run) Sweep(ctx context.Context, base []Setting, sw Sweep, opts Options) ([]Step, error) {
	var steps []Step
	for _, v := range sw.Values() {
		settings := append(append([]Setting(nil), base...), sw.At(v))
		sc, err := r.Evaluate(ctx, settings, opts)
		if err != nil {
			return nil, fmt.Errorf("--sweep at %g: %w", v, err)
		}
		steps = append(steps, Step{Value: v, Totals: sc.Total})
	}
	return steps, nil
}
