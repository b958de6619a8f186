package whatif

import (
	"context"
	"time"

	"github.com/hedui/hedui/rules"
)

// selection marks the rows a scenario re-evaluates.
type selection []bool

// or marks in s every row marked in o.
func (s selection) or(o selection) {
	for i, ok := range o {
		if ok {
			s[i] = true
		}
	}
}

// selectBlock is the number of rows a worker selects at a time: large, so
// that its memo of lookups serves many rows.
const selectBlock = 1 << 14

// selectRows marks the rows to re-evaluate from the saved columns alone: all
// of them for a full evaluation; otherwise the rows that a re-evaluated rule
// applies to (or dibao households, whose benefit reads the standard) and for
// which a changed parameter has another value at their region, area and
// reference date. Only rows whose place the columns do not tell (a candidate
// without a region, an applicant of an incremental run) have their facts
// read for it. Parameter lookups are memoized by place within a block.
func (r *Run) selectRows(ctx context.Context, p *plan, workers int) (selection, error) {
	sel := make(selection, len(r.Rows))
	if p.full {
		for i := range sel {
			sel[i] = true
		}
		return sel, nil
	}
	var place []int
	for i := range r.Rows {
		if r.placeNeedsFacts(i) {
			place = append(place, i)
		}
	}
	if err := r.fetch(ctx, place, workers); err != nil {
		return nil, err
	}
	type placeKey struct {
		region, area string
		ref          time.Time
	}
	type applyKey struct {
		candidate  bool
		assistance string
	}
	err := blocksOf(ctx, len(r.Rows), selectBlock, workers, func(lo, hi int) error {
		differs, applies := map[placeKey]bool{}, map[applyKey]bool{}
		for i := lo; i < hi; i++ {
			row := &r.Rows[i]
			ak := applyKey{row.Candidate, row.Assistance}
			a, ok := applies[ak]
			if !ok {
				a = (!row.Candidate && row.Assistance == "dibao") || p.applies(row, r.Env.Mode)
				applies[ak] = a
			}
			if !a {
				continue
			}
			_, region, area, ref, err := r.where(i)
			if err != nil {
				return err
			}
			pk := placeKey{region, area, ref}
			d, ok := differs[pk]
			if !ok {
				d = p.differs(ref, r.Env.AsOf, region, area)
				differs[pk] = d
			}
			sel[i] = d
		}
		return nil
	})
	return sel, err
}

// placeNeedsFacts reports whether the region, area or reference date rules
// use for row i can only be found in its facts (see where).
func (r *Run) placeNeedsFacts(i int) bool {
	row := &r.Rows[i]
	return (row.Candidate && (row.RegionCode == "" || row.Area == "")) || (r.Env.Mode == rules.ModeIncremental && row.Status == "applicant")
}
