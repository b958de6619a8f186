package whatif

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
)

// Options control the evaluation of a scenario.
type Options struct {
	Workers int // 0 or less means 1
	// Full re-evaluates every rule on every household. Otherwise only the
	// households for which a changed parameter has another value (at their
	// ref_date, region and area) are re-evaluated, and on them only the rules
	// that read a changed parameter; every other flag is the run's. A
	// scenario without settings is always evaluated in full: it checks that
	// the saved facts reproduce the run.
	Full bool
}

// Change is one row of whatif.csv: a target (household, member or
// candidate) and rule whose outcome differs. An empty outcome means no flag.
type Change struct {
	Household   int    // index into Run.Rows
	HouseholdID string // empty for an omission candidate
	PersonID    string // the member or candidate; empty for household flags
	Region      string
	RuleID      string
	Before      rules.Outcome
	After       rules.Outcome
}

// Kind says whether the change is a new flag, a cleared flag or a changed outcome.
func (c Change) Kind() string {
	switch {
	case c.Before == "":
		return "newly_flagged"
	case c.After == "":
		return "cleared"
	}
	return "changed"
}

// Changes counts rows of whatif.csv.
type Changes struct {
	NewlyFlagged int `json:"newly_flagged"` // no flag before, a flag after
	Cleared      int `json:"cleared"`       // a flag before, none after
	Changed      int `json:"changed"`       // a flag before and after, another outcome
}

func (c *Changes) add(ch Change) {
	switch ch.Kind() {
	case "newly_flagged":
		c.NewlyFlagged++
	case "cleared":
		c.Cleared++
	default:
		c.Changed++
	}
}

// Totals are a county's (or the whole run's) counts: changes, households
// affected, and eligible dibao households with their monthly benefit total
// before and after. See package doc for the benefit definition.
type Totals struct {
	Changes
	HouseholdsChanged int     `json:"households_changed"` // households and candidates with a change
	EligibleBefore    int     `json:"eligible_before"`
	EligibleAfter     int     `json:"eligible_after"`
	BenefitBefore     float64 `json:"benefit_before"` // 元/month
	BenefitAfter      float64 `json:"benefit_after"`  // 元/month

	benefitBefore, benefitAfter int64 // fen: exact sums whatever the order
}

func (t *Totals) merge(o *Totals) {
	t.NewlyFlagged += o.NewlyFlagged
	t.Cleared += o.Cleared
	t.Changed += o.Changed
	t.HouseholdsChanged += o.HouseholdsChanged
	t.EligibleBefore += o.EligibleBefore
	t.EligibleAfter += o.EligibleAfter
	t.benefitBefore += o.benefitBefore
	t.benefitAfter += o.benefitAfter
	t.BenefitBefore, t.BenefitAfter = float64(t.benefitBefore)/100, float64(t.benefitAfter)/100
}

// Scenario is the result of one what-if: the settings, the overrides they
// generated, every change and the counts.
type Scenario struct {
	Settings  []Setting
	Overrides []string   // the override YAML of each setting, in order
	Set       *rules.Set // the run's rule set with the settings applied
	// Evaluated is how many households and candidates were re-evaluated.
	Evaluated int
	Changes   []Change // in household order, then rule order, then member order
	Total     Totals
	ByCounty  map[string]*Totals
	ByRule    map[string]*Changes
}

// Evaluate applies settings to the run's rule set and re-evaluates the
// run's facts under it.
func (r *Run) Evaluate(ctx context.Context, settings []Setting, opts Options) (*Scenario, error) {
	pr, err := r.prepare(ctx, settings, opts)
	if err != nil {
		return nil, err
	}
	scs, err := r.evaluate(ctx, []*prepared{pr}, opts.Workers)
	if err != nil {
		return nil, err
	}
	return scs[0], nil
}

// evaluate evaluates several prepared scenarios in one pass over the run:
// the facts of a row are read and decoded once for all the scenarios that
// select it.
func (r *Run) evaluate(ctx context.Context, prs []*prepared, workers int) ([]*Scenario, error) {
	parts, err := r.evalGroups(ctx, prs, workers)
	if err != nil {
		return nil, err
	}
	out := make([]*Scenario, len(prs))
	for k, pr := range prs {
		out[k] = pr.scenario(parts[k])
	}
	return out, nil
}

// scenario adds up the parts of blocks of rows, in row order.
func (pr *prepared) scenario(parts []*part) *Scenario {
	sc := &Scenario{Settings: pr.settings, Set: pr.plan.after, ByCounty: map[string]*Totals{}, ByRule: map[string]*Changes{}}
	for _, d := range pr.docs {
		sc.Overrides = append(sc.Overrides, string(d))
	}
	for _, p := range parts {
		sc.Evaluated += p.evaluated
		sc.Changes = append(sc.Changes, p.changes...)
		for c, t := range p.byCounty {
			if sc.ByCounty[c] == nil {
				sc.ByCounty[c] = &Totals{}
			}
			sc.ByCounty[c].merge(t)
			sc.Total.merge(t)
		}
	}
	for _, ch := range sc.Changes {
		if sc.ByRule[ch.RuleID] == nil {
			sc.ByRule[ch.RuleID] = &Changes{}
		}
		sc.ByRule[ch.RuleID].add(ch)
	}
	return sc
}

// prepared is a scenario ready to evaluate: its settings, its plan, the
// override YAML of each setting and the rows it re-evaluates.
type prepared struct {
	settings []Setting
	plan     *plan
	docs     [][]byte
	sel      selection
}

// prepare applies settings and selects the rows to re-evaluate (see
// selectRows), returning the plan, the override YAML of each setting and
// the selection.
func (r *Run) prepare(ctx context.Context, settings []Setting, opts Options) (*prepared, error) {
	after, docs, err := Apply(r.Set, r.Env.AsOf, settings)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range settings {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	plan, err := r.plan(after, names, opts.Full || len(settings) == 0)
	if err != nil {
		return nil, err
	}
	sel, err := r.selectRows(ctx, plan, opts.Workers)
	if err != nil {
		return nil, err
	}
	return &prepared{settings: settings, plan: plan, docs: docs, sel: sel}, nil
}

// plan is how a scenario is evaluated.
type plan struct {
	before, after *rules.Set
	eval          *rules.Set      // after, less the rules no changed parameter reaches
	rerun         map[string]bool // rules whose flags eval gives; the run's are kept for the others
	order         map[string]int  // rule id → position in the set, for row order
	names         []string        // changed parameters; nil when full
	full          bool
	// lists are the parts of a member eval and Measure can read: the facts
	// of a re-evaluated row are decoded with only these.
	lists facts.Lists
}

func (r *Run) plan(after *rules.Set, names []string, full bool) (*plan, error) {
	p := &plan{before: r.Set, after: after, eval: after, rerun: map[string]bool{}, order: map[string]int{}, full: full, lists: facts.AllLists}
	for i, rl := range after.Rules() {
		p.order[rl.ID] = i
	}
	if full {
		for _, rl := range after.Rules() {
			p.rerun[rl.ID] = true
		}
		return p, nil
	}
	p.names = names
	p.rerun = affectedRules(after, names)
	// Keep the rerun rules and the rules they ask about with fires().
	keep := map[string]bool{}
	reads := ruleFires(after)
	var visit func(string)
	visit = func(id string) {
		if keep[id] {
			return
		}
		keep[id] = true
		for _, f := range reads[id] {
			visit(f)
		}
	}
	for id := range p.rerun {
		visit(id)
	}
	var off []string
	for _, rl := range after.Rules() {
		if !keep[rl.ID] {
			off = append(off, fmt.Sprintf("%q", rl.ID))
		}
	}
	if len(off) > 0 {
		set, err := after.Extend([]byte("disable: ["+strings.Join(off, ", ")+"]\n"), "what-if (rules no changed parameter reaches)")
		if err != nil {
			return nil, fmt.Errorf("narrow the rule set: %w", err)
		}
		p.eval = set
	}
	p.lists = listsRead(p.eval)
	return p, nil
}

// listsRead returns the parts of a member that evaluating set's rules and
// Measure can read (every part when rules cannot tell).
func listsRead(set *rules.Set) facts.Lists {
	names, all := set.MemberFields()
	if all {
		return facts.AllLists
	}
	lists, err := facts.ListsNamed(append(names, rules.MeasureFields()...)...)
	if err != nil {
		return facts.AllLists // rules and facts disagree on a field: decode it all
	}
	return lists
}

func ruleFires(set *rules.Set) map[string][]string {
	out := map[string][]string{}
	for _, r := range set.Rules() {
		out[r.ID] = callsOf(r).fires
	}
	return out
}

// part is what one block of households contributed.
type part struct {
	evaluated int
	changes   []Change
	byCounty  map[string]*Totals
}

// evalGroups evaluates the scenarios prs over the rows each selects, row
// group by row group of households.parquet on up to workers goroutines, and
// returns per scenario the parts of blocks of blockSize rows in row order.
// Facts already decoded (by Facts or DecodeAll) are used; the others are
// read here, once for all the scenarios, and dropped with their row group,
// so that memory holds the facts of one row group per worker.
func (r *Run) evalGroups(ctx context.Context, prs []*prepared, workers int) ([][]*part, error) {
	need := make(selection, len(r.Rows))
	var lists facts.Lists
	for _, pr := range prs {
		need.or(pr.sel)
		lists |= pr.plan.lists
	}
	var f *pqFile
	for i, ok := range need {
		if ok && r.decoded[i] == nil {
			var err error
			if f, err = r.openFacts(); err != nil {
				return nil, err
			}
			defer f.close()
			break
		}
	}
	ng := len(r.groups) - 1
	groups := make([][]*part, ng*len(prs)) // scenario k, row group g at k*ng+g
	err := blocksOf(ctx, ng, 1, workers, func(g, _ int) error {
		lo, hi := r.groups[g], r.groups[g+1]
		hs := r.decoded[lo:hi]
		var want []int
		for i := lo; i < hi; i++ {
			if need[i] && r.decoded[i] == nil {
				want = append(want, i)
			}
		}
		// Evaluate the rows up to the last of each page of facts as soon as
		// the page is decoded, then drop its facts: memory holds the facts
		// of a page, not of a row group, and the decoder reuses it.
		next := lo // the first row not yet evaluated
		upTo := func(end int) error {
			for next < end {
				b := min(next+blockSize, end)
				for k, pr := range prs {
					part, err := r.evalBlock(pr.plan, pr.sel, hs[next-lo:], next, b)
					if err != nil {
						return err
					}
					groups[k*ng+g] = append(groups[k*ng+g], part)
				}
				if len(want) > 0 {
					clear(hs[next-lo : b-lo])
				}
				next = b
			}
			return nil
		}
		if len(want) > 0 {
			hs = slices.Clone(hs)
			err := r.fetchGroup(f, g, want, lists, true, func(rows []int, page []*facts.Household) error {
				for j, i := range rows {
					hs[i-lo] = page[j]
				}
				return upTo(rows[len(rows)-1] + 1)
			})
			if err != nil {
				return err
			}
		}
		return upTo(hi)
	})
	if err != nil {
		return nil, err
	}
	out := make([][]*part, len(prs))
	for k := range prs {
		out[k] = slices.Concat(groups[k*ng : (k+1)*ng]...)
	}
	return out, nil
}

// evalBlock evaluates rows lo..hi-1; hs[i-lo] holds the facts of each
// selected row i.
func (r *Run) evalBlock(p *plan, sel selection, hs []*facts.Household, lo, hi int) (*part, error) {
	out := &part{byCounty: map[string]*Totals{}}
	outcomes := p.eval.Outcomes(r.Env) // flags without messages: only outcomes are compared
	var t *Totals
	var lastRegion string
	var scratch []FlagKey
	for i := lo; i < hi; i++ {
		row := &r.Rows[i]
		h, region, _, _, err := r.where(i)
		if err != nil {
			return nil, err
		}
		if t == nil || region != lastRegion { // rows come grouped by region: look the county up once per run of rows
			c := countyOf(region)
			if t = out.byCounty[c]; t == nil {
				t = &Totals{}
				out.byCounty[c] = t
			}
			lastRegion = region
		}
		before := r.Before[i]
		after := before
		dibao := !row.Candidate && row.Assistance == "dibao"
		std, pc := row.MonthlyStandard, row.PerCapitaIncome
		if sel[i] {
			if h == nil {
				h = hs[i-lo]
			}
			out.evaluated++
			flags, err := outcomes.Evaluate(h)
			if err != nil {
				return nil, err
			}
			after = merge(scratch[:0], before, flags, p.rerun, h.Candidate)
			scratch = after // read only until the next row: its buffer serves again
			if dibao {
				m, err := p.after.Measure(h, r.Env)
				if err != nil {
					return nil, fmt.Errorf("household %q: %w", h.ID, err)
				}
				std, pc = m.MonthlyStandard, m.PerCapita
			}
			n := len(out.changes)
			out.changes = diff(out.changes, i, h, region, before, after, p.order)
			for _, ch := range out.changes[n:] {
				t.add(ch)
			}
			if len(out.changes) > n {
				t.HouseholdsChanged++
			}
		}
		if dibao {
			if eligible(before) {
				t.EligibleBefore++
				t.benefitBefore += benefit(row.MonthlyStandard, row.PerCapitaIncome, int(row.Members))
			}
			if eligible(after) {
				t.EligibleAfter++
				t.benefitAfter += benefit(std, pc, int(row.Members))
			}
		}
	}
	return out, nil
}

// where gives the region, area and ref_date rules use for row i, decoding
// its facts only when the saved columns do not tell (a candidate without a
// region, an applicant of an incremental run); h is then the facts.
func (r *Run) where(i int) (h *facts.Household, region, area string, ref time.Time, err error) {
	row := &r.Rows[i]
	region, area, ref = row.RegionCode, row.Area, r.Env.AsOf
	if r.placeNeedsFacts(i) {
		if h, err = r.Facts(i); err != nil {
			return nil, "", "", ref, err
		}
		region, area = rules.Place(h)
		ref = r.refDate(h)
	}
	return h, region, area, ref, nil
}

// applies reports whether a re-evaluated rule applies to the row (as
// rules.Rule.applies decides).
func (p *plan) applies(row *review.HouseholdRow, mode rules.Mode) bool {
	for _, rl := range p.after.Rules() {
		if !p.rerun[rl.ID] || !slices.Contains(rl.Modes, mode) {
			continue
		}
		if row.Candidate {
			if rl.Scope == rules.ScopeCandidate {
				return true
			}
		} else if rl.Scope != rules.ScopeCandidate && slices.Contains(rl.Assistance, row.Assistance) {
			return true
		}
	}
	return false
}

// differs reports whether a changed parameter has another value for h
// under the new set: if none has, h's outcomes and measures cannot change.
// A lookup that fails under one set and not the other counts as a difference.
func (p *plan) differs(refDate, asOf time.Time, region, area string) bool {
	for _, n := range p.names {
		date := refDate
		if engineParams[n] {
			date = asOf
		}
		a, errA := p.before.Lookup(n, date, region, area)
		b, errB := p.after.Lookup(n, date, region, area)
		if (errA == nil) != (errB == nil) || (errA == nil && !sameValue(a, b)) {
			return true
		}
	}
	return false
}

func sameValue(a, b rules.ParamValue) bool {
	return a.List == b.List && a.Number == b.Number && slices.Equal(a.Codes, b.Codes)
}

// refDate is the date rules read parameters at (rules.Env): as_of, or the
// application date of an applicant in an incremental run.
func (r *Run) refDate(h *facts.Household) time.Time {
	if r.Env.Mode == rules.ModeIncremental && h.Status == "applicant" && !h.ApplicationDate.IsZero() {
		return h.ApplicationDate
	}
	return r.Env.AsOf
}

// countyOf gives the county (6-digit code) counts are kept by.
func countyOf(region string) string {
	switch {
	case len(region) >= 6:
		return region[:6]
	case region == "":
		return "unknown"
	}
	return region
}

// eligible reports whether no flag says the household is not eligible.
func eligible(fs []FlagKey) bool {
	for _, f := range fs {
		if f.Outcome == rules.OutcomeIneligible {
			return false
		}
	}
	return true
}

// benefit is max(0, monthly standard − per-capita counted income) × size,
// in fen, from the figures as rounded to 0.01 元.
func benefit(std, perCapita float64, size int) int64 {
	return max(0, int64(math.Round((std-perCapita)*100))) * int64(size)
}

// merge appends to out the run's flags of the rules not re-evaluated and
// the new flags of the others.
func merge(out, before []FlagKey, flags []rules.Flag, rerun map[string]bool, candidate bool) []FlagKey {
	for _, f := range before {
		if !rerun[f.RuleID] {
			out = append(out, f)
		}
	}
	for _, f := range flags {
		if !rerun[f.RuleID] {
			continue
		}
		k := FlagKey{RuleID: f.RuleID, PersonID: f.PersonID, Outcome: f.Outcome}
		if candidate {
			k.PersonID = ""
		}
		out = append(out, k)
	}
	return out
}

// diff appends the changes of household i, ordered by rule, then member.
func diff(dst []Change, i int, h *facts.Household, region string, before, after []FlagKey, order map[string]int) []Change {
	n := len(dst)
	find := func(fs []FlagKey, k FlagKey) rules.Outcome {
		for _, f := range fs {
			if f.RuleID == k.RuleID && f.PersonID == k.PersonID {
				return f.Outcome
			}
		}
		return ""
	}
	for _, f := range before {
		if o := find(after, f); o != f.Outcome {
			dst = append(dst, change(i, h, region, f, f.Outcome, o))
		}
	}
	for _, f := range after {
		if find(before, f) == "" {
			dst = append(dst, change(i, h, region, f, "", f.Outcome))
		}
	}
	added := dst[n:]
	member := func(id string) int {
		for j, m := range h.Members {
			if m.PersonID == id {
				return j
			}
		}
		return -1
	}
	slices.SortStableFunc(added, func(a, b Change) int {
		if c := order[a.RuleID] - order[b.RuleID]; c != 0 {
			return c
		}
		return member(a.PersonID) - member(b.PersonID)
	})
	return dst
}

// change makes a Change. Its ids are copies: h's strings are slices of the
// encodings of a whole page of facts, which a kept change must not hold.
func change(i int, h *facts.Household, region string, f FlagKey, before, after rules.Outcome) Change {
	c := Change{Household: i, HouseholdID: strings.Clone(h.ID), PersonID: f.PersonID, Region: region, RuleID: f.RuleID, Before: before, After: after}
	if h.Candidate {
		c.PersonID = h.Members[0].PersonID
	}
	c.PersonID = strings.Clone(c.PersonID)
	return c
}
