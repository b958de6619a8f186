package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Env is what a run knows besides the household's facts.
type Env struct {
	AsOf time.Time // the manifest's as-of date
	Mode Mode      // full or incremental
	// Sources holds the snapshot date of every source kind present in the
	// manifest; a kind not in the map is missing.
	Sources map[sources.Kind]time.Time
}

// Flag is one finding about a household, a member or a candidate.
type Flag struct {
	HouseholdID string // empty for omission candidates
	PersonID    string // empty for household-scope and insufficient flags of households
	RuleID      string
	RuleVersion int
	Outcome     Outcome
	Message     string // the rule's message with values filled in (Chinese)
	Basis       string // legal basis
	Evidence    Evidence
}

// Evaluate applies every rule that applies to h in env and returns the
// flags in rule order, then member order. h is not modified.
//
// Each rule is evaluated per target (the household, or each member or
// candidate) first on a view of h holding only records matched by ID; only
// if it gives no flag there is it evaluated on every record, and a flag it
// then gives has outcome review (it rests on a name + birth-date match).
func (s *Set) Evaluate(h *facts.Household, env Env) ([]Flag, error) {
	var flags []Flag
	var src sourceCheck
	err := s.eachTarget(h, env, func(ev *evaluator, r *Rule) (bool, error) {
		if src.ev == nil {
			src = sourceCheck{s: s, ev: ev, env: env}
		}
		f, err := src.insufficient(r, h)
		if f != nil {
			flags = append(flags, *f)
		}
		return f != nil, err
	}, func(ev *evaluator, r *Rule, idView *facts.Household, member int) error {
		f, err := ev.target(r, h, idView, member)
		if f != nil {
			flags = append(flags, *f)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return flags, nil
}

// eachTarget is the walk Evaluate and OutcomeEvaluator share: for every
// rule that applies to h, in rule order, insufficient says whether the
// rule's sources are missing or stale (the rule then has no target);
// otherwise target runs the rule on the household (member −1) or on each
// member in order, skipping the members quietOn rules out. idView is h
// with only the records matched by ID, or nil when h has no others.
func (s *Set) eachTarget(h *facts.Household, env Env,
	insufficient func(ev *evaluator, r *Rule) (bool, error),
	target func(ev *evaluator, r *Rule, idView *facts.Household, member int) error) error {
	if err := checkInput(h, env); err != nil {
		return err
	}
	ev := s.pool.Get().(*evaluator)
	defer ev.release()
	ev.begin(h, env)

	var idView *facts.Household
	if hasNameDOB(h) {
		idView = idOnly(h)
	}
	for _, r := range s.rules {
		if !r.applies(h, env.Mode) {
			continue
		}
		if bad, err := insufficient(ev, r); err != nil {
			return fmt.Errorf("rule %s, %s: %w", r.ID, who(h), err)
		} else if bad {
			continue
		}
		if r.Scope == ScopeHousehold {
			if err := target(ev, r, idView, -1); err != nil {
				return fmt.Errorf("rule %s, %s: %w", r.ID, who(h), err)
			}
			continue
		}
		for i, m := range h.Members {
			if ev.quietOn(r, h, m) {
				continue
			}
			if err := target(ev, r, idView, i); err != nil {
				return fmt.Errorf("rule %s, %s member %d: %w", r.ID, who(h), i+1, err)
			}
		}
	}
	return nil
}

func checkInput(h *facts.Household, env Env) error {
	if h == nil || len(h.Members) == 0 {
		return fmt.Errorf("evaluate: a household needs at least one member")
	}
	for i, m := range h.Members {
		if m == nil {
			return fmt.Errorf("evaluate: %s: member %d is nil", who(h), i+1)
		}
	}
	if env.Mode != ModeFull && env.Mode != ModeIncremental {
		return fmt.Errorf("evaluate: unknown mode %q; supported modes: full, incremental", env.Mode)
	}
	if env.AsOf.IsZero() {
		return fmt.Errorf("evaluate: as_of is not set")
	}
	return nil
}

// who names a household in errors without personal data.
func who(h *facts.Household) string {
	if h.Candidate && len(h.Members) > 0 {
		return "candidate " + personid.MaskString(h.Members[0].PersonID)
	}
	return fmt.Sprintf("household %q", h.ID)
}

// applies reports whether r is evaluated for h in mode.
func (r *Rule) applies(h *facts.Household, mode Mode) bool {
	if !slices.Contains(r.Modes, mode) {
		return false
	}
	if h.Candidate {
		return r.Scope == ScopeCandidate
	}
	return r.Scope != ScopeCandidate && slices.Contains(r.Assistance, h.Assistance)
}

// begin sets the evaluation-wide state: dates, region and area.
func (ev *evaluator) begin(h *facts.Household, env Env) {
	ev.asOf, ev.mode = env.AsOf, env.Mode
	ev.refDate = env.AsOf
	if env.Mode == ModeIncremental && h.Status == "applicant" && !h.ApplicationDate.IsZero() {
		ev.refDate = h.ApplicationDate
	}
	ev.region, ev.area = h.Region, h.Area
	if h.Candidate {
		ev.region, ev.area = candidatePlace(h)
	}
	ev.setDates()
}

// Place gives the region and area whose parameters apply to h: the
// household's own, or for an omission candidate its police region_code,
// else the ID's address code, and rural when unknown.
func Place(h *facts.Household) (region, area string) {
	if !h.Candidate {
		return h.Region, h.Area
	}
	return candidatePlace(h)
}

// candidatePlace gives a candidate's region (police region_code, else the
// ID's address code) and area (rural when unknown), unless the household
// already names them.
func candidatePlace(h *facts.Household) (region, area string) {
	region, area = h.Region, h.Area
	if region == "" {
		for _, p := range h.Members[0].Police {
			if p.Region != "" {
				region = p.Region
				break
			}
		}
	}
	if id := h.Members[0].PersonID; region == "" && len(id) >= 6 {
		region = id[:6]
	}
	if area == "" {
		area = "rural"
	}
	return region, area
}

// target evaluates r for the household (member < 0) or one member, with the
// name_dob downgrade. It returns nil when the rule gives no flag.
func (ev *evaluator) target(r *Rule, h, idView *facts.Household, member int) (*Flag, error) {
	view := h
	if idView != nil {
		view = idView
	}
	ci, err := ev.run(r, view, memberOf(view, member))
	if err != nil {
		return nil, err
	}
	downgraded := false
	if ci < 0 && idView != nil {
		view = h
		if ci, err = ev.run(r, h, memberOf(h, member)); err != nil {
			return nil, err
		}
		downgraded = ci >= 0
	}
	if ci < 0 {
		return nil, nil
	}
	f := ev.newFlag(r, h, member)
	f.Outcome = r.Cases[ci].Outcome
	if downgraded {
		f.Outcome = OutcomeReview
		f.Evidence.Downgraded = true
	}
	var err2 error
	f.Message, f.Evidence.Values, err2 = ev.message(r, ci)
	if err2 != nil {
		return nil, err2
	}
	f.Evidence.Parameters = paramUses(ev.params)
	f.Evidence.Facts, err2 = factUses(ev.facts)
	if err2 != nil {
		return nil, err2
	}
	return f, nil
}

func memberOf(h *facts.Household, i int) *facts.Member {
	if i < 0 {
		return nil
	}
	return h.Members[i]
}

// newFlag fills the fields every flag of r on h carries.
func (ev *evaluator) newFlag(r *Rule, h *facts.Household, member int) *Flag {
	f := &Flag{HouseholdID: h.ID, RuleID: r.ID, RuleVersion: r.Version, Basis: r.Basis}
	if member >= 0 {
		f.PersonID = h.Members[member].PersonID
	}
	f.Evidence = Evidence{
		RuleID:        r.ID,
		RuleVersion:   r.Version,
		RuleSetDigest: ev.s.digest,
		AsOf:          ev.asOf.Format(dateLayout),
		RefDate:       ev.refDate.Format(dateLayout),
		Mode:          string(ev.mode),
	}
	return f
}

// message fills case ci's template from the values in the environment and
// returns the values it used.
func (ev *evaluator) message(r *Rule, ci int) (string, map[string]any, error) {
	var b strings.Builder
	values := map[string]any{}
	for _, p := range r.compiled.cases[ci].msg {
		if p.value < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := ev.valueOf(r, p.value)
		s, err := formatValue(v, p.verb)
		if err != nil {
			return "", nil, fmt.Errorf("message {%s}: %w", p.name, err)
		}
		b.WriteString(s)
		values[p.name] = jsonValue(v)
	}
	return b.String(), values, nil
}

// quietOn reports whether r certainly gives member m of h no flag: r reads
// nothing of a member but lists that are all empty on m (compiledRule's
// memberLists), and r gives no flag to a member with nothing in them under
// the same parameters and dates. Most members own no vehicle, business,
// payroll or court record, so most of those rules need not run.
func (ev *evaluator) quietOn(r *Rule, h *facts.Household, m *facts.Member) bool {
	lists := r.compiled.memberLists
	if lists == nil {
		return false
	}
	mv := reflect.ValueOf(m).Elem()
	for _, idx := range lists {
		if mv.Field(idx[0]).Len() > 0 {
			return false
		}
	}
	k := quietKey{rule: r, at: paramPlace{region: ev.region, area: ev.area, date: ev.refDate}, asOf: ev.asOf, mode: ev.mode}
	q, ok := ev.quiet[k]
	if !ok {
		// An error here (a parameter without a value, say) is not
		// quiet: the rule then runs on the member and reports it.
		ci, err := ev.run(r, h, &facts.Member{})
		q = err == nil && ci < 0
		if len(ev.quiet) >= maxQuiet {
			clear(ev.quiet) // bounded: applicants bring many dates
		}
		ev.quiet[k] = q
	}
	return q
}

// maxQuiet bounds the answers an evaluator keeps for quietOn.
const maxQuiet = 4096

// quietKey is what one of quietOn's answers depends on.
type quietKey struct {
	rule *Rule
	at   paramPlace
	asOf time.Time
	mode Mode
}

// hasNameDOB reports whether any record of h was matched by name and birth date.
func hasNameDOB(h *facts.Household) bool {
	for _, m := range h.Members {
		if weak(m.Police) || weak(m.Vehicles) || weak(m.RealEstate) || weak(m.Pension) ||
			weak(m.Fund) || weak(m.Court) || weak(m.Business) || weak(m.Payroll) ||
			weak(m.Medical) || weak(m.Disability) || weak(m.Poverty) || weak(m.Deposit) || weak(m.Staff) {
			return true
		}
		for _, hm := range m.Housemates {
			if (hm.Police != nil && hm.Police.Match == sources.MatchNameDOB) || weak(hm.Staff) {
				return true
			}
		}
	}
	return false
}

func weak[T sources.Record](rs []T) bool {
	for _, r := range rs {
		if r.Base().Match == sources.MatchNameDOB {
			return true
		}
	}
	return false
}

func keepID[T sources.Record](rs []T) []T {
	if !weak(rs) {
		return rs
	}
	out := make([]T, 0, len(rs))
	for _, r := range rs {
		if r.Base().Match != sources.MatchNameDOB {
			out = append(out, r)
		}
	}
	return out
}

// idOnly returns a view of h without the records matched by name and birth
// date (members' lists and housemates). Records are shared, not copied.
func idOnly(h *facts.Household) *facts.Household {
	v := *h
	v.Members = make([]*facts.Member, len(h.Members))
	for i, m := range h.Members {
		c := *m
		c.Police, c.Vehicles, c.RealEstate = keepID(m.Police), keepID(m.Vehicles), keepID(m.RealEstate)
		c.Pension, c.Fund, c.Court = keepID(m.Pension), keepID(m.Fund), keepID(m.Court)
		c.Business, c.Payroll, c.Medical = keepID(m.Business), keepID(m.Payroll), keepID(m.Medical)
		c.Disability, c.Poverty, c.Deposit = keepID(m.Disability), keepID(m.Poverty), keepID(m.Deposit)
		c.Staff = keepID(m.Staff)
		c.Housemates = nil
		for _, hm := range m.Housemates {
			if hm.Police != nil && hm.Police.Match == sources.MatchNameDOB {
				continue
			}
			c.Housemates = append(c.Housemates, &facts.Housemate{Police: hm.Police, Staff: keepID(hm.Staff)})
		}
		v.Members[i] = &c
	}
	return &v
}

// sourceCheck decides, per rule, whether its sources are present and fresh.
type sourceCheck struct {
	s      *Set
	ev     *evaluator
	env    Env
	maxAge *ParamValue // looked up on first need
	ages   [16]kindAge // each source's age, computed on first need
	nages  int
}

// kindAge is the age in days of a source's snapshot at as_of.
type kindAge struct {
	kind sources.Kind
	days int
}

// age returns the age of snapshot snap of source k, computed once per
// household: the rules of a household share their sources.
func (c *sourceCheck) age(k sources.Kind, snap time.Time) int {
	for _, a := range c.ages[:c.nages] {
		if a.kind == k {
			return a.days
		}
	}
	d := c.ev.daysSince(snap, c.env.AsOf)
	if c.nages < len(c.ages) {
		c.ages[c.nages] = kindAge{k, d}
		c.nages++
	}
	return d
}

// insufficient returns the insufficient flag of r for h, or nil when every
// source r needs is present and fresh.
func (c *sourceCheck) insufficient(r *Rule, h *facts.Household) (*Flag, error) {
	var missing, stale []string
	var used bool
	for _, k := range r.Sources {
		if k == sources.KindRoster {
			continue // the roster is the input itself
		}
		snap, ok := c.env.Sources[k]
		if !ok {
			missing = append(missing, string(k))
			continue
		}
		if c.maxAge == nil {
			v, err := c.ev.memoLookup(engineParamMaxAge, c.env.AsOf)
			if err != nil {
				return nil, err
			}
			c.maxAge = v
		}
		used = true
		if age := c.age(k, snap); float64(age) > c.maxAge.Number {
			stale = append(stale, fmt.Sprintf("%s（快照 %s，距核对日 %d 天）", k, snap.Format(dateLayout), age))
		}
	}
	if len(missing) == 0 && len(stale) == 0 {
		return nil, nil
	}
	f := c.ev.newFlag(r, h, -1)
	if h.Candidate {
		// A candidate has no household id: the person id is its only key.
		f.PersonID = h.Members[0].PersonID
	}
	f.Outcome = OutcomeInsufficient
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "数据源缺失（清单中没有）："+strings.Join(missing, "、"))
	}
	if len(stale) > 0 {
		parts = append(parts, fmt.Sprintf("数据源过期（超过 %g 天）：%s", c.maxAge.Number, strings.Join(stale, "、")))
	}
	f.Message = "规则未执行，" + strings.Join(parts, "；")
	f.Evidence.Values = map[string]any{"missing": orEmpty(missing), "stale": orEmpty(stale)}
	if used {
		f.Evidence.Parameters = paramUses([]*ParamValue{c.maxAge})
	}
	f.Evidence.Facts = []FactUse{}
	return f, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// snapAge is one answer of daysSince.
type snapAge struct {
	snap, asOf time.Time
	days       int
}

// maxSnapAges bounds the answers an evaluator keeps for daysSince.
const maxSnapAges = 64

// daysSince is daysBetween(snap, asOf), kept across households: a run's
// households share their sources' snapshots, and the calendar arithmetic
// was a tenth of the rules stage once the expressions ran as closures.
// Times are compared with ==, which never finds a time of another
// location equal.
func (ev *evaluator) daysSince(snap, asOf time.Time) int {
	for _, a := range ev.snapAges {
		if a.snap == snap && a.asOf == asOf {
			return a.days
		}
	}
	d := daysBetween(snap, asOf)
	if len(ev.snapAges) >= maxSnapAges {
		ev.snapAges = ev.snapAges[:0]
	}
	ev.snapAges = append(ev.snapAges, snapAge{snap, asOf, d})
	return d
}

// daysBetween counts whole days from a to b by calendar date.
func daysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// addFactSlice records a typed list of records (e.g. []*sources.Vehicle).
func addFactSlice(ev *evaluator, v any) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if err := ev.addFacts(rv.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
	}
	return fmt.Errorf("want source records, got %T", v)
}
