package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

// extraRules exercise node kinds the default set uses little or not at all:
// mixed int/float arithmetic, string comparisons and concatenation, unary
// minus, nil comparisons, ternaries of two types, in over a list value,
// min/max, uniq/flatten/concat of typed lists, len of a string, sums.
const extraRules = `extends: default
rules:
  - id: extra.member
    version: 1
    title: {zh: 测试, en: test}
    scope: member
    modes: [full, incremental]
    sources: [police, vehicle, realestate, business, disability]
    basis: test
    values:
      n: len(member.vehicles) + len(member.police) * 2 - 1
      half: n / 2
      neg: -n
      f: 'len(member.vehicles) > 0 ? member.vehicles[0].price : 1'
      mix: f * n + 0.5 - n
      nf_ops: '[f * 2.5, 2.5 - f, f / 0.5, 0.5 / f, f + 0.25, f == 1.0, 1.0 != f, f < 3.5, 0.5 > f, f <= 1.0, f >= 1.0]'
      cmp: n > 1.5 && f >= n && n != 2.0 && 3 <= f
      name_len: len(member.name) + len(strip_spaces(member.name))
      label: 'member.name + "/" + member.relation'
      late: member.name > "成员" || member.name < "A" || member.name <= "" || member.name >= "Z"
      roster_known: member.roster != nil && member.roster.status == "recipient"
      no_roster: member.roster == nil
      hukous: map(member.police, .hukou_no)
      first_hukou: 'len(hukous) > 0 ? hukous[0] : "none"'
      in_list: first_hukou in hukous
      big: max(n, 0, len(hukous))
      small: min(f, 2)
      grades: sum(member.disability, .grade)
      prices: sum(member.vehicles, .price)
      areas: 'sum(member.realestate, .area_m2 * (.share == 0 ? 1 : .share))'
      all_types: uniq(concat(map(member.vehicles, .vehicle_type), map(member.business, .role), ["x"]))
      records: flatten(map(household.members, .vehicles))
      vehicle_lists: map(household.members, .vehicles)
      counted: count(member.police, .status == "normal")
      len_filter: len(filter(member.vehicles, .price > 0))
      many_hk1: len(filter(member.police, .hukou_no == "HK1")) > 1
      two_plus: count(member.realestate, .status == "normal") >= 2
      no_dead: none(member.police, .status == "deceased")
      one_disabled: one(member.vehicles, .disabled)
      unfused: flatten(vehicle_lists)
      same_first: 'len(records) > 0 && len(member.vehicles) > 0 ? records[0] == member.vehicles[0] : nil == member.roster'
      dyn_mix: 'len(records) > 1 ? 1 : 2.5'
      dyn_cmp: dyn_mix < f && dyn_mix == 2.5 || dyn_mix != 1
      mode_full: mode == "full" && ref_date == as_of
      quiet_rec: all(member.police, .status == "normal") && !any(member.vehicles, .disabled)
      ages: 'map(member.police, months_between(.birth_date, ref_date))'
      dead_recent: 'filter(member.police, !.status_date.IsZero() && within_months(.status_date, ref_date, 24.0))'
    cases:
      - when: cmp && late && in_list
        outcome: review
        message: '{n} {half} {neg} {f} {mix} {nf_ops} {name_len} {label} {roster_known} {no_roster} {first_hukou} {big} {small} {grades} {prices} {areas} {all_types} {dyn_mix} {dyn_cmp} {same_first} {mode_full} {quiet_rec} {ages} {counted} {len_filter} {many_hk1} {two_plus} {no_dead} {one_disabled}'
        facts: concat(member.vehicles, records, dead_recent)
      - when: no_roster || dyn_cmp
        outcome: info
        message: '{label}'
        facts: member.roster
`

// ruleSets returns the default set, the county test set and the extra set.
func ruleSets(t testing.TB) map[string]*Set {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	county, err := os.ReadFile("testdata/county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := def.Extend(county, "testdata/county.yaml")
	if err != nil {
		t.Fatal(err)
	}
	es, err := def.Extend([]byte(extraRules), "extra.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Set{"default": def, "county": cs, "extra": es}
}

// TestEveryRuleCompilesToClosures: a rule that stops compiling (a new node
// kind in default.yaml, say) would silently fall back to the slow VM.
func TestEveryRuleCompilesToClosures(t *testing.T) {
	for name, s := range ruleSets(t) {
		for _, r := range s.rules {
			if r.compiled.fast == nil {
				t.Errorf("%s: rule %s runs on the VM: %v", name, r.ID, r.compiled.fastErr)
			}
		}
	}
}

// outcome is everything one run of a rule on a target gives, rendered so
// that values compare by Go type and exact value.
type outcome struct {
	ci     int
	err    string
	msg    string
	params string
	facts  string
	values []string // every value, computed eagerly in order
	whens  []string // every condition
	factsE []string // every case's facts expression
}

func render(v any) string { return fmt.Sprintf("%T %#v", v, v) }

// runBoth runs r on (h, m) with closures and with the VM and returns both
// outcomes; bailed reports whether a closure gave up.
func runBoth(s *Set, r *Rule, h *facts.Household, m *facts.Member, env Env) (fast, slow outcome, bailed bool) {
	for _, useFast := range []bool{true, false} {
		if useFast && r.compiled.fast == nil {
			bailed = true
			continue
		}
		ev := s.pool.Get().(*evaluator)
		ev.begin(h, env)
		o, ok := runOne(ev, r, h, m, useFast)
		ev.release()
		if useFast {
			fast, bailed = o, !ok
		} else {
			slow = o
		}
	}
	return fast, slow, bailed
}

func runOne(ev *evaluator, r *Rule, h *facts.Household, m *facts.Member, useFast bool) (o outcome, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if _, isBail := p.(bailout); !isBail {
				panic(p)
			}
			ok = false
		}
	}()
	var err error
	if useFast {
		ev.fast = true
		o.ci, err, ok = ev.runFast(r, h, m)
		if !ok {
			return o, false
		}
	} else {
		o.ci, err = ev.runVM(r, h, m)
	}
	if err != nil {
		o.err = err.Error()
	}
	if o.ci >= 0 && err == nil {
		msg, vals, merr := ev.message(r, o.ci)
		o.msg = fmt.Sprintf("%s %v %v", msg, vals, merr)
	}
	o.params = render(paramUses(ev.params))
	fu, ferr := factUses(ev.facts)
	o.facts = render(fu) + fmt.Sprint(ferr)
	// Eagerly: every value, condition and facts expression.
	ev.fast = useFast
	ev.begin1(&r.compiled)
	for i := range r.compiled.values {
		if err := ev.value(r, i); err != nil {
			o.values = append(o.values, "error "+err.Error())
			return o, true
		}
		o.values = append(o.values, render(ev.valueOf(r, i)))
	}
	for i := range r.compiled.cases {
		w, err := ev.when(&r.compiled, i)
		o.whens = append(o.whens, fmt.Sprint(w, err))
		if r.compiled.cases[i].facts != nil {
			v, err := ev.runFacts(&r.compiled, i)
			o.factsE = append(o.factsE, render(v)+fmt.Sprint(err))
		}
	}
	return o, true
}

func (o outcome) diff(p outcome) string {
	a, b := fmt.Sprintf("%+v", o), fmt.Sprintf("%+v", p)
	if a == b {
		return ""
	}
	return fmt.Sprintf("closures: %s\nVM:       %s", a, b)
}

// compareAll runs every rule of s that applies to h on every target of h
// (ID view and full view) both ways and fails on any difference.
func compareAll(t *testing.T, setName string, s *Set, h *facts.Household, env Env, what string) (targets, bails int) {
	t.Helper()
	views := []*facts.Household{h}
	if hasNameDOB(h) {
		views = append(views, idOnly(h))
	}
	for _, r := range s.rules {
		if !r.applies(h, env.Mode) {
			continue
		}
		for _, v := range views {
			members := []*facts.Member{nil}
			if r.Scope != ScopeHousehold {
				members = append(v.Members[:len(v.Members):len(v.Members)], &facts.Member{})
			}
			for i, m := range members {
				fast, slow, bailed := runBoth(s, r, v, m, env)
				targets++
				if bailed {
					bails++
					if os.Getenv("SHOW_BAILS") != "" {
						t.Logf("%s: %s: rule %s member %d: closures gave up", setName, what, r.ID, i)
					}
					continue
				}
				if d := fast.diff(slow); d != "" {
					t.Errorf("%s: %s: rule %s member %d:\n%s", setName, what, r.ID, i, d)
				}
			}
		}
	}
	return targets, bails
}

// caseHouseholds parses the households and envs of a cases file.
func caseHouseholds(t *testing.T, s *Set, data []byte, name string) []*testCase {
	t.Helper()
	d := newDoc(data, name)
	root, err := d.root(data)
	if err != nil {
		t.Fatal(err)
	}
	top, err := d.mapping(root, "cases file", "cases")
	if err != nil {
		t.Fatal(err)
	}
	items, err := d.seq(top["cases"], "cases")
	if err != nil {
		t.Fatal(err)
	}
	var out []*testCase
	for _, it := range items {
		tc, err := parseTestCase(s, d, it)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tc)
	}
	return out
}

// TestClosuresEqualVMOnCases: on every household of default_cases.yaml and
// the evaluation tests' typical household, every rule of every test set
// gives the same values, conditions, facts, messages, parameters and
// errors with closures as on the VM, and no closure gives up.
func TestClosuresEqualVMOnCases(t *testing.T) {
	sets := ruleSets(t)
	cases := caseHouseholds(t, sets["default"], DefaultCasesYAML(), "default_cases.yaml")
	for name, s := range sets {
		cases = append(cases, &testCase{name: "typical", h: typical(), env: fullEnv()})
		var targets, bails int
		for _, tc := range cases {
			n, b := compareAll(t, name, s, tc.h, tc.env, tc.name)
			targets, bails = targets+n, bails+b
		}
		if targets < 500 {
			t.Errorf("%s: only %d targets compared", name, targets)
		}
		if bails > 0 {
			t.Errorf("%s: closures gave up on %d of %d targets", name, bails, targets)
		}
	}
}

// TestClosuresEqualVMRandom compares closures and VM on generated
// households whose records take edge values (zero prices and shares,
// zero dates, nil housemate records, name-and-birth-date matches, spaces
// in names, incremental mode with application dates).
func TestClosuresEqualVMRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 2026))
	sets := ruleSets(t)
	n := 400
	if testing.Short() {
		n = 60
	}
	var targets, bails int
	for i := 0; i < n; i++ {
		h, env := randomHousehold(rng, i)
		for name, s := range sets {
			a, b := compareAll(t, name, s, h, env, fmt.Sprintf("random household %d", i))
			targets, bails = targets+a, bails+b
		}
		if t.Failed() {
			return
		}
	}
	if bails > 0 {
		t.Errorf("closures gave up on %d of %d targets", bails, targets)
	}
	t.Logf("%d targets, %d fell back to the VM", targets, bails)
}

var randAsOf = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

func randDate(rng *rand.Rand) time.Time {
	if rng.IntN(4) == 0 {
		return time.Time{}
	}
	return randAsOf.AddDate(0, -rng.IntN(40), -rng.IntN(28))
}

func randOrigin(rng *rand.Rand, k sources.Kind, id, name string) sources.Origin {
	o := sources.Origin{PersonID: id, Name: name, Kind: k, File: string(k) + ".parquet", Row: rng.Int64N(100),
		Snapshot: randAsOf.AddDate(0, -1, 0), Match: sources.MatchID}
	if rng.IntN(5) == 0 {
		o.Match = sources.MatchNameDOB
	}
	if rng.IntN(3) == 0 {
		o.Name = pick(rng, "张 三", "李四", "", "王　五")
	}
	return o
}

func randList[T any](rng *rand.Rand, mk func() T) []T {
	var out []T
	for n := pick(rng, 0, 0, 0, 1, 1, 2, 3); n > 0; n-- {
		out = append(out, mk())
	}
	return out
}

func randMember(rng *rand.Rand, id string) *facts.Member {
	name := pick(rng, "张 三", "李四", "", "王　五", "Zed")
	m := &facts.Member{PersonID: id, Name: name, Relation: pick(rng, "head", "spouse", "child"), RelativeFiled: rng.IntN(2) == 0}
	if rng.IntN(4) > 0 {
		m.Roster = &sources.RosterMember{Origin: randOrigin(rng, sources.KindRoster, id, name), Status: pick(rng, "recipient", "applicant")}
	}
	if rng.IntN(4) == 0 {
		m.OtherHouseholds = []string{"H9"}
	}
	police := func() *sources.Police {
		return &sources.Police{Origin: randOrigin(rng, sources.KindPolice, id, name), HukouNo: pick(rng, "HK1", "HK2"),
			RelationToHead: pick(rng, "head", "spouse", "child"), Status: pick(rng, "normal", "normal", "deceased", "moved", "cancelled"),
			StatusDate: randDate(rng)}
	}
	m.Police = randList(rng, police)
	m.Vehicles = randList(rng, func() *sources.Vehicle {
		return &sources.Vehicle{Origin: randOrigin(rng, sources.KindVehicle, id, name), PlateNo: pick(rng, "云A1", "云A2"),
			VehicleType: pick(rng, "K33", "M21", "N11", "T1", "H31"), Status: pick(rng, "normal", "scrapped"),
			Price: pick(rng, 0.0, 29999.99, 30000, 30000.01, 90000), Disabled: rng.IntN(6) == 0}
	})
	m.RealEstate = randList(rng, func() *sources.RealEstate {
		return &sources.RealEstate{Origin: randOrigin(rng, sources.KindRealEstate, id, name), CertNo: pick(rng, "C1", "C2", "C3"),
			Usage: pick(rng, "residential", "residential", "commercial", "office", "parking"), AreaM2: pick(rng, 45.5, 90, 120, 0.1),
			Share: pick(rng, 0.0, 0.5, 1, 1.0/3), Status: pick(rng, "normal", "cancelled")}
	})
	m.Pension = randList(rng, func() *sources.Pension {
		return &sources.Pension{Origin: randOrigin(rng, sources.KindPension, id, name), Scheme: pick(rng, "employee", "resident", "civil-service"),
			State: pick(rng, "receiving", "paying"), MonthlyAmount: pick(rng, 0.0, 150.5, 2100)}
	})
	m.Fund = randList(rng, func() *sources.Fund {
		return &sources.Fund{Origin: randOrigin(rng, sources.KindFund, id, name), AccountStatus: pick(rng, "active", "sealed"), MonthlyDeposit: pick(rng, 0.0, 300, 1200)}
	})
	m.Court = randList(rng, func() *sources.Court {
		return &sources.Court{Origin: randOrigin(rng, sources.KindCourt, id, name), CaseNo: "(2026)云01民初1号",
			CaseType: pick(rng, "divorce", "support"), EffectiveDate: randDate(rng)}
	})
	m.Business = randList(rng, func() *sources.Business {
		return &sources.Business{Origin: randOrigin(rng, sources.KindBusiness, id, name), USCC: "91530100X", EntityName: pick(rng, "", "某公司"),
			Role: pick(rng, "legal_rep", "shareholder", "sole_trader"), SubscribedCapital: pick(rng, 0.0, 100000, 100000.01, 5e6), Status: pick(rng, "active", "revoked")}
	})
	m.Payroll = randList(rng, func() *sources.Payroll {
		return &sources.Payroll{Origin: randOrigin(rng, sources.KindPayroll, id, name), Employer: pick(rng, "", "某局"),
			MonthlySalary: pick(rng, 0.0, 3200.5), Status: pick(rng, "active", "left")}
	})
	m.Medical = randList(rng, func() *sources.Medical {
		return &sources.Medical{Origin: randOrigin(rng, sources.KindMedical, id, name), SettleDate: randDate(rng), SelfPaid: pick(rng, 0.0, 600, 12345.67)}
	})
	m.Disability = randList(rng, func() *sources.Disability {
		return &sources.Disability{Origin: randOrigin(rng, sources.KindDisability, id, name),
			Category: pick(rng, "physical", "intellectual", "mental"), Grade: pick(rng, 0, 1, 2, 3, 4)}
	})
	m.Poverty = randList(rng, func() *sources.Poverty {
		return &sources.Poverty{Origin: randOrigin(rng, sources.KindPoverty, id, name), Status: pick(rng, "monitored", "stable")}
	})
	m.Deposit = randList(rng, func() *sources.Deposit {
		return &sources.Deposit{Origin: randOrigin(rng, sources.KindDeposit, id, name), Balance: pick(rng, 0.0, 0.1, 0.2, 50000, 123456.78)}
	})
	staff := func() *sources.Staff {
		return &sources.Staff{Origin: randOrigin(rng, sources.KindStaff, id, name), Role: pick(rng, "handler", "village-committee")}
	}
	m.Staff = randList(rng, staff)
	m.Housemates = randList(rng, func() *facts.Housemate {
		hm := &facts.Housemate{Staff: randList(rng, staff)}
		if rng.IntN(4) > 0 {
			hm.Police = police()
		}
		return hm
	})
	return m
}

// randomHousehold makes household i: a candidate one time in five.
func randomHousehold(rng *rand.Rand, i int) (*facts.Household, Env) {
	env := fullEnv()
	env.AsOf = randAsOf
	if rng.IntN(3) == 0 {
		env.Mode = ModeIncremental
	}
	h := &facts.Household{ID: fmt.Sprintf("H%d", i), Region: pick(rng, "530102", "530103"), Area: pick(rng, "urban", "rural"),
		Assistance: pick(rng, "dibao", "tekun", "edge"), Status: pick(rng, "recipient", "applicant"),
		MonthlyBenefit: pick(rng, 0.0, 640, 1500.5), ApplicationDate: randDate(rng)}
	n := 1 + rng.IntN(4)
	if rng.IntN(5) == 0 {
		h = &facts.Household{Candidate: true}
		n = 1
	}
	for j := 0; j < n; j++ {
		h.Members = append(h.Members, randMember(rng, fmt.Sprintf("5301021980010100%02d", j)))
	}
	return h, env
}

// TestUnsupportedNodeFallsBack: a rule using what the closures do not
// compile (% and #index here) keeps the VM, and evaluates as before.
func TestUnsupportedNodeFallsBack(t *testing.T) {
	s := vehicleRuleSet(t, `    values:
      odd: len(member.vehicles) % 2 == 1
      idx: 'map(member.vehicles, #index)'
    cases:
      - when: odd
        outcome: review
        message: '{idx}'
`, "fallback.yaml")
	r := s.byID["vehicle.owned"]
	if r.compiled.fast != nil || !errors.Is(r.compiled.fastErr, errUnsupported) {
		t.Fatalf("rule compiled to closures (%v); want the VM", r.compiled.fastErr)
	}
	flags, err := s.Evaluate(typical(), fullEnv())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flags {
		if f.RuleID == "vehicle.owned" {
			got = append(got, f.Message)
		}
	}
	if strings.Join(got, "|") != "0" {
		t.Fatalf("vehicle.owned messages %q, want 0", got)
	}
}

// TestClosureGivesUpToVM: where a closure meets what only the VM decides
// (a nil record's field, an index out of range), the rule runs on the VM,
// so the error is the VM's, word for word.
func TestClosureGivesUpToVM(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`member.roster.status == "x"`, "cannot get status"},
		{`member.vehicles[3].price > 0`, "out of range"},
	} {
		s := vehicleRuleSet(t, `    values:
      x: `+tt.expr+`
    cases:
      - when: x
        outcome: review
        message: x
`, "bail.yaml")
		r := s.byID["vehicle.owned"]
		if r.compiled.fast == nil {
			t.Fatalf("%s: not compiled: %v", tt.expr, r.compiled.fastErr)
		}
		h := typical()
		h.Members[0].Roster = nil
		fast, slow, bailed := runBoth(s, r, h, h.Members[0], fullEnv())
		if !bailed {
			t.Errorf("%s: the closure did not give up: %+v", tt.expr, fast)
		}
		_, err := s.Evaluate(h, fullEnv())
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), slow.err) || slow.err == "" {
			t.Errorf("%s: Evaluate error %v; VM error %q", tt.expr, err, slow.err)
		}
	}
}

func BenchmarkEvaluateRandom(b *testing.B) {
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var hs []*facts.Household
	var envs []Env
	for i := 0; i < 200; i++ {
		h, env := randomHousehold(rng, i)
		hs, envs = append(hs, h), append(envs, env)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Evaluate(hs[i%len(hs)], envs[i%len(hs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// withoutClosures makes every rule of s run on the VM, for benchmarks
// that compare the two in one binary.
func withoutClosures(s *Set) *Set {
	for _, r := range s.rules {
		r.compiled.fast = nil
	}
	return s
}

func benchmarkSet(b *testing.B, vm bool, h *facts.Household) {
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	if vm {
		s = withoutClosures(s)
	}
	env := fullEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Evaluate(h, env); err != nil {
			b.Fatal(err)
		}
	}
}

func clean() *facts.Household {
	h := typical()
	h.Members[0].Vehicles = nil
	h.Members[0].Pension = nil
	return h
}

func BenchmarkEvaluateVM(b *testing.B)            { benchmarkSet(b, true, typical()) }
func BenchmarkEvaluateClosures(b *testing.B)      { benchmarkSet(b, false, typical()) }
func BenchmarkEvaluateCleanVM(b *testing.B)       { benchmarkSet(b, true, clean()) }
func BenchmarkEvaluateCleanClosures(b *testing.B) { benchmarkSet(b, false, clean()) }
