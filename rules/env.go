package rules

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

// evaluator runs a set's programs for one household at a time. It is not
// safe for concurrent use; the set keeps a pool of them.
type evaluator struct {
	s   *Set
	vm  vm.VM
	env map[string]any // variables, bound helper functions, rule values

	// the evaluation under way
	h             *facts.Household // the view being evaluated (ID-only or full)
	m             *facts.Member    // the member in scope; nil for household rules
	asOf, refDate time.Time
	mode          Mode
	region, area  string
	depth         int    // fires() nesting
	done          []bool // which values of the rule running are computed

	// closures (closure.go): whether the rule running runs as closures,
	// its values, and the element of each predicate under way
	fast  bool
	slots []slot
	scope [maxScope]any

	// kept between evaluations
	memo       map[string]*ParamValue // parameter answers at memoAt
	memoAt     paramPlace
	quiet      map[quietKey]bool // quietOn's answers
	snapAges   []snapAge         // daysSince's answers
	datesSet   bool              // as_of, ref_date and mode in env are these:
	envAsOf    time.Time
	envRefDate time.Time
	envMode    Mode

	// recorded while running one rule on one target
	params []*ParamValue
	facts  []sources.Record
	err    error // the first failure of a helper function in the program running
}

func newEvaluator(s *Set) *evaluator {
	ev := &evaluator{s: s, env: make(map[string]any, 32), memo: map[string]*ParamValue{}, quiet: map[quietKey]bool{}}
	for name, fn := range ev.functions() {
		ev.env[name] = fn
	}
	return ev
}

// functions returns the helper functions expressions may call, bound to ev.
// Compilation calls it on a zero evaluator only for the signatures.
func (ev *evaluator) functions() map[string]any {
	// The helpers that can fail keep error-free signatures (func(string)
	// float64 and the like), which expr calls without reflection; a failure
	// is kept in ev.err and ends the evaluation after the program returns.
	return map[string]any{
		// param returns a number parameter for the household's region and
		// area at ref_date; codes returns a code-list parameter.
		"param": ev.fnParam,
		"codes": ev.fnCodes,
		// monthly_standard is dibao_standard ÷ 12 (元/person/month).
		"monthly_standard": ev.fnMonthlyStandard,
		// counted_income is the household's counted monthly income
		// (docs/default-rules.md, income.excess).
		"counted_income": ev.fnCountedIncome,
		// fires reports whether another rule's cases would give a flag for
		// the current member (or household), whatever its modes,
		// assistance types and sources.
		"fires":          ev.fnFires,
		"months_between": monthsBetween,
		"within_months":  withinMonths,
		"has_prefix_any": hasPrefixAny,
		"strip_spaces":   stripSpaces,
		"cents":          cents,
	}
}

// The helpers as expressions call them, from the VM or from closures.

func (ev *evaluator) fnParam(name string) float64 { v, err := ev.param(name); ev.fail(err); return v }
func (ev *evaluator) fnCodes(name string) []string {
	v, err := ev.codes(name)
	ev.fail(err)
	return v
}
func (ev *evaluator) fnMonthlyStandard() float64 {
	v, err := ev.monthlyStandard()
	ev.fail(err)
	return v
}
func (ev *evaluator) fnCountedIncome() float64 { v, err := ev.countedIncome(); ev.fail(err); return v }
func (ev *evaluator) fnFires(id string) bool   { v, err := ev.fires(id); ev.fail(err); return v }

// fail keeps the first error a helper function met during a program.
func (ev *evaluator) fail(err error) {
	if err != nil && ev.err == nil {
		ev.err = err
	}
}

// takeErr returns and clears the error kept by fail.
func (ev *evaluator) takeErr() error {
	err := ev.err
	ev.err = nil
	return err
}

// monthsBetween is the number of calendar months from the month of a to the
// month of b: (b.year×12 + b.month) − (a.year×12 + a.month).
func monthsBetween(a, b time.Time) int {
	return (b.Year()*12 + int(b.Month())) - (a.Year()*12 + int(a.Month()))
}

// withinMonths reports whether d lies in (ref − months, ref].
func withinMonths(d, ref time.Time, months float64) bool {
	start := ref.AddDate(0, -int(months), 0)
	return d.After(start) && !d.After(ref)
}

// hasPrefixAny reports whether s starts with one of prefixes.
func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// stripSpaces removes half- and full-width spaces (and other white space).
func stripSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u3000' || r == '\t' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
}

// cents rounds an amount to 0.01 元, so that comparisons of money are not
// upset by binary fractions (e.g. 153.6 ÷ 0.24).
func cents(x float64) float64 { return math.Round(x*100) / 100 }

// lookup finds parameter name at date for the evaluation's region and
// area. Answers are kept until the region, area or date changes: one
// household asks for the same parameters once per member and rule, and
// consecutive households mostly share a county.
func (ev *evaluator) lookup(name string, date time.Time) (*ParamValue, error) {
	v, err := ev.memoLookup(name, date)
	if err != nil {
		return nil, err
	}
	ev.params = append(ev.params, v)
	return v, nil
}

// memoLookup is lookup without recording the value as evidence.
func (ev *evaluator) memoLookup(name string, date time.Time) (*ParamValue, error) {
	k := paramPlace{region: ev.region, area: ev.area, date: date}
	if k != ev.memoAt {
		clear(ev.memo)
		ev.memoAt = k
	}
	v, ok := ev.memo[name]
	if !ok {
		var err error
		if v, err = ev.s.params.lookup(name, date, ev.region, ev.area); err != nil {
			return nil, err
		}
		ev.memo[name] = v
	}
	return v, nil
}

// paramPlace is what a parameter lookup depends on besides the name.
type paramPlace struct {
	region, area string
	date         time.Time
}

func (ev *evaluator) param(name string) (float64, error) {
	v, err := ev.lookup(name, ev.refDate)
	if err != nil {
		return 0, err
	}
	if v.List {
		return 0, fmt.Errorf("parameter %q is a code list, not a number", name)
	}
	return v.Number, nil
}

func (ev *evaluator) codes(name string) ([]string, error) {
	v, err := ev.lookup(name, ev.refDate)
	if err != nil {
		return nil, err
	}
	if !v.List {
		return nil, fmt.Errorf("parameter %q is a number, not a code list", name)
	}
	return v.Codes, nil
}

func (ev *evaluator) monthlyStandard() (float64, error) {
	y, err := ev.param("dibao_standard")
	return y / 12, err
}

// countedIncome sums over members: wage (active payroll salaries; without
// any, active provident-fund deposits ÷ (2 × fund_rate)), employee and
// civil-service pensions being received, minus self-paid medical costs
// settled in (ref_date − medical_window_months, ref_date] ÷ that many months.
// Every record it counts becomes evidence.
func (ev *evaluator) countedIncome() (float64, error) {
	rate, err := ev.param("fund_rate")
	if err != nil {
		return 0, err
	}
	window, err := ev.param("medical_window_months")
	if err != nil {
		return 0, err
	}
	if rate <= 0 || window <= 0 {
		return 0, fmt.Errorf("parameters fund_rate (%g) and medical_window_months (%g) must be above 0", rate, window)
	}
	var income, medical float64
	for _, m := range ev.h.Members {
		paid := false
		for _, p := range m.Payroll {
			if p.Status == "active" {
				income += p.MonthlySalary
				paid = true
				ev.facts = append(ev.facts, p)
			}
		}
		if !paid {
			for _, f := range m.Fund {
				if f.AccountStatus == "active" {
					income += f.MonthlyDeposit / (2 * rate)
					ev.facts = append(ev.facts, f)
				}
			}
		}
		for _, p := range m.Pension {
			if p.State == "receiving" && (p.Scheme == "employee" || p.Scheme == "civil-service") {
				income += p.MonthlyAmount
				ev.facts = append(ev.facts, p)
			}
		}
		for _, md := range m.Medical {
			if withinMonths(md.SettleDate, ev.refDate, window) {
				medical += md.SelfPaid
				ev.facts = append(ev.facts, md)
			}
		}
	}
	return income - medical/window, nil
}

// maxFiresDepth bounds fires() nesting; cycles are rejected at load, this
// only guards against very deep chains.
const maxFiresDepth = 8

func (ev *evaluator) fires(id string) (bool, error) {
	r, ok := ev.s.byID[id]
	if !ok {
		return false, fmt.Errorf("fires: unknown rule %q", id)
	}
	if ev.depth >= maxFiresDepth {
		return false, fmt.Errorf("fires: rules ask about other rules more than %d deep", maxFiresDepth)
	}
	child := ev.s.pool.Get().(*evaluator)
	child.h, child.m = ev.h, ev.m
	child.asOf, child.refDate, child.mode = ev.asOf, ev.refDate, ev.mode
	child.region, child.area = ev.region, ev.area
	child.depth = ev.depth + 1
	child.setDates()
	ci, err := child.run(r, ev.h, ev.m)
	ev.params = append(ev.params, child.params...)
	child.release()
	return ci >= 0, err
}

// setDates puts the evaluation-wide variables into the environment.
//
// Households of a run share them, and each assignment boxes a time.Time,
// so they are put only when they change.
func (ev *evaluator) setDates() {
	if ev.datesSet && ev.envAsOf.Equal(ev.asOf) && ev.envRefDate.Equal(ev.refDate) && ev.envMode == ev.mode &&
		ev.envAsOf.Location() == ev.asOf.Location() && ev.envRefDate.Location() == ev.refDate.Location() {
		return
	}
	ev.env[varAsOf] = ev.asOf
	ev.env[varRefDate] = ev.refDate
	ev.env[varMode] = string(ev.mode)
	ev.datesSet, ev.envAsOf, ev.envRefDate, ev.envMode = true, ev.asOf, ev.refDate, ev.mode
}

// release clears what the evaluator holds of a household and returns it to
// the pool.
//
// Rule values stay in the environment: a rule's expressions can only read
// its own values, which run assigns before its cases, so a value left by
// another household is never read (deleting them all cost a seventh of
// Evaluate).
func (ev *evaluator) release() {
	ev.env[varHousehold], ev.env[varMember] = nil, nil
	ev.h, ev.m = nil, nil
	ev.params, ev.facts = ev.params[:0], ev.facts[:0]
	ev.depth = 0
	ev.err = nil
	ev.s.pool.Put(ev)
}

// run evaluates rule r's cases on household h (a view) and member m (nil for
// household rules). It returns the index of the first case that holds, or
// -1. When a case holds, its facts are added to ev.facts.
//
// Values are computed when a case's condition first needs them: most
// targets fit no case, and the values only a message shows (plates, names,
// amounts) were a third of the programs run. When a case holds, the rule
// runs again with every value in declaration order, so that the message
// values and the parameters and records the evidence lists come out the
// same as if every value had been computed first.
func (ev *evaluator) run(r *Rule, h *facts.Household, m *facts.Member) (int, error) {
	if r.compiled.fast != nil {
		if ci, err, ok := ev.runFast(r, h, m); ok {
			return ci, err
		}
	}
	return ev.runVM(r, h, m)
}

// runVM runs r on expr's VM.
func (ev *evaluator) runVM(r *Rule, h *facts.Household, m *facts.Member) (int, error) {
	ev.fast = false
	ev.h, ev.m = h, m
	ev.env[varHousehold] = h
	ev.env[varMember] = m
	ev.env[varSize] = len(h.Members)
	return ev.runCases(r)
}

// runFast runs r as closures. ok is false when a closure gave up: the
// caller then runs r on the VM from the start, which gives the VM's
// result or error (whatever the closures recorded is cleared by begin1).
func (ev *evaluator) runFast(r *Rule, h *facts.Household, m *facts.Member) (ci int, err error, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ev.fast = true
	ev.h, ev.m = h, m
	ci, err = ev.runCases(r)
	return ci, err, true
}

// runCases is run once the environment is set for the VM or closures.
func (ev *evaluator) runCases(r *Rule) (int, error) {
	c := &r.compiled
	ev.begin1(c)
	for i := range c.cases {
		for _, v := range c.cases[i].needs {
			if err := ev.value(r, v); err != nil {
				return -1, err
			}
		}
		ok, err := ev.when(c, i)
		if err != nil {
			return -1, err
		}
		if ok {
			return ev.runFired(r, i)
		}
	}
	return -1, nil
}

// begin1 clears what one run of a rule on one target records.
func (ev *evaluator) begin1(c *compiledRule) {
	ev.params, ev.facts = ev.params[:0], ev.facts[:0]
	ev.err = nil
	ev.done = ev.done[:0]
	for range c.values {
		ev.done = append(ev.done, false)
	}
	if ev.fast && len(ev.slots) < len(c.values) {
		ev.slots = make([]slot, len(c.values))
	}
}

// value computes value i of r, into the environment (VM) or its slot
// (closures), unless done already.
func (ev *evaluator) value(r *Rule, i int) error {
	if ev.done[i] {
		return nil
	}
	if ev.fast {
		ev.slots[i].set(&r.compiled.fast.values[i], ev)
		if err := ev.takeErr(); err != nil {
			return fmt.Errorf("values.%s: %w", r.Values[i].Name, err)
		}
		ev.done[i] = true
		return nil
	}
	out, err := ev.vm.Run(r.compiled.values[i], ev.env)
	if err == nil {
		err = ev.takeErr()
	}
	if err != nil {
		return fmt.Errorf("values.%s: %w", r.Values[i].Name, err)
	}
	ev.env[r.Values[i].Name] = out
	ev.done[i] = true
	return nil
}

// when evaluates case i's condition.
func (ev *evaluator) when(c *compiledRule, i int) (bool, error) {
	if ev.fast {
		ok := c.fast.when[i].b(ev)
		if err := ev.takeErr(); err != nil {
			return false, fmt.Errorf("cases[%d].when: %w", i, err)
		}
		return ok, nil
	}
	out, err := ev.vm.Run(c.cases[i].when, ev.env)
	if err == nil {
		err = ev.takeErr()
	}
	if err != nil {
		return false, fmt.Errorf("cases[%d].when: %w", i, err)
	}
	ok, _ := out.(bool)
	return ok, nil
}

// runFired runs r again the eager way — every value, then the conditions
// up to case ci — and records case ci's facts. It returns the case that
// holds, ci unless an expression is not a pure function of its inputs.
func (ev *evaluator) runFired(r *Rule, ci int) (int, error) {
	c := &r.compiled
	ev.begin1(c)
	for i := range c.values {
		if err := ev.value(r, i); err != nil {
			return -1, err
		}
	}
	for i := 0; i <= ci; i++ {
		ok, err := ev.when(c, i)
		if err != nil {
			return -1, err
		}
		if ok {
			ci = i
			break
		}
	}
	cc := &c.cases[ci]
	if cc.facts != nil {
		out, err := ev.runFacts(c, ci)
		if err == nil {
			err = ev.takeErr()
		}
		if err != nil {
			return -1, fmt.Errorf("cases[%d].facts: %w", ci, err)
		}
		if err := ev.addFacts(out); err != nil {
			return -1, fmt.Errorf("cases[%d].facts: %w", ci, err)
		}
	}
	return ci, nil
}

// runFacts runs case ci's facts expression.
func (ev *evaluator) runFacts(c *compiledRule, ci int) (any, error) {
	if ev.fast {
		return c.fast.facts[ci](ev), nil
	}
	return ev.vm.Run(c.cases[ci].facts, ev.env)
}

// valueOf returns value i of r as the VM holds it.
func (ev *evaluator) valueOf(r *Rule, i int) any {
	if ev.fast {
		return ev.slots[i].box(r.compiled.fast.values[i].t)
	}
	return ev.env[r.Values[i].Name]
}

// addFacts records the records a facts expression returned: one record, a
// list of records, or lists of them.
func (ev *evaluator) addFacts(v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case sources.Record:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil
		}
		ev.facts = append(ev.facts, x)
		return nil
	case []any:
		for _, e := range x {
			if err := ev.addFacts(e); err != nil {
				return err
			}
		}
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Struct {
		// Some builtins (flatten) hand back records by value.
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		if r, ok := p.Interface().(sources.Record); ok {
			ev.facts = append(ev.facts, r)
			return nil
		}
	}
	return addFactSlice(ev, v)
}
