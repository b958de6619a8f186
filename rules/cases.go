package rules

import (
	_ "embed"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

//go:embed default_cases.yaml
var defaultCasesYAML []byte

// DefaultCasesYAML returns the test cases of the default rule set.
func DefaultCasesYAML() []byte { return append([]byte(nil), defaultCasesYAML...) }

// CaseReport is the result of running a cases file.
type CaseReport struct {
	File           string
	Cases          []CaseResult
	Passed, Failed int
}

// CaseResult is the result of one case.
type CaseResult struct {
	Name  string
	Line  int
	Pass  bool
	Diff  []string // what differs: "- missing …", "+ unexpected …", "! message …", or the error
	Flags []Flag   // the flags the rule set gave
	// Expected lists the rule ids and outcomes the case expects (for lint).
	Expected []Expectation
}

// Expectation is one flag a case expects.
type Expectation struct {
	RuleID   string
	Outcome  Outcome
	PersonID string // empty: a household-level flag
	Message  string // a part the message must contain; may be empty
}

// OK reports whether every case passed.
func (r *CaseReport) OK() bool { return r.Failed == 0 }

// String renders the report for a terminal: one line per case, the diff
// under failing cases, and a total.
func (r *CaseReport) String() string {
	var b strings.Builder
	for _, c := range r.Cases {
		status := "PASS"
		if !c.Pass {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s:%d %s\n", status, r.File, c.Line, c.Name)
		for _, d := range c.Diff {
			fmt.Fprintf(&b, "    %s\n", d)
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed, r.Failed)
	return b.String()
}

// RunCases runs the cases file at path against s.
func RunCases(s *Set, path string) (*CaseReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return RunCasesData(s, data, path)
}

// RunCasesData runs cases from YAML text; name is used in messages.
//
// Format:
//
//	cases:
//	  - name: 车辆价格超过豁免价值
//	    env:                       # optional
//	      as_of: 2026-06-30        # default 2026-06-30
//	      mode: full               # default full
//	      sources: {vehicle: 2025-01-01}   # snapshot dates; default every kind at as_of
//	      missing: [court]         # kinds absent from the manifest
//	    household:                 # fields by expr/json name; defaults: id H1, region_code 530102,
//	      assistance: dibao        # area urban, assistance dibao, status recipient
//	      members:
//	        - person_id: P1        # default P1, P2, …; relation head for the first
//	          vehicles: [{plate_no: 云A12345, vehicle_type: K33, status: normal, price: 80000}]
//	    expect:                    # exactly these flags, no others
//	      - {rule: vehicle.owned, outcome: ineligible, person: 0, message: 云A12345}
//
// Records take their canonical column names; person_id defaults to the
// member's, match to id, file to the cases file, row to the YAML line,
// snapshot to the kind's snapshot date. `person` is a member index,
// `person_id` an ID; neither means a household-level flag.
func RunCasesData(s *Set, data []byte, name string) (*CaseReport, error) {
	d := newDoc(data, name)
	root, err := d.root(data)
	if err != nil {
		return nil, err
	}
	top, err := d.mapping(root, "cases file", "cases")
	if err != nil {
		return nil, err
	}
	if top["cases"] == nil {
		return nil, d.errorf(root, "cases file: missing cases")
	}
	items, err := d.seq(top["cases"], "cases")
	if err != nil {
		return nil, err
	}
	rep := &CaseReport{File: name}
	seen := map[string]int{}
	for _, it := range items {
		tc, err := parseTestCase(s, d, it)
		if err != nil {
			return nil, err
		}
		if line, dup := seen[tc.name]; dup {
			return nil, d.errorf(it, "case %q is also at line %d", tc.name, line)
		}
		seen[tc.name] = it.Line
		res := tc.run(s)
		if res.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Cases = append(rep.Cases, res)
	}
	return rep, nil
}

type testCase struct {
	name   string
	line   int
	env    Env
	h      *facts.Household
	expect []Expectation
}

func (tc *testCase) run(s *Set) CaseResult {
	res := CaseResult{Name: tc.name, Line: tc.line, Expected: tc.expect}
	flags, err := s.Evaluate(tc.h, tc.env)
	if err != nil {
		res.Diff = []string{"error: " + err.Error()}
		return res
	}
	res.Flags = flags
	used := make([]bool, len(flags))
	for _, e := range tc.expect {
		found := -1
		for i, f := range flags {
			if !used[i] && f.RuleID == e.RuleID && f.Outcome == e.Outcome && f.PersonID == e.PersonID {
				found = i
				break
			}
		}
		if found < 0 {
			res.Diff = append(res.Diff, "- missing    "+describe(e.RuleID, e.Outcome, e.PersonID, ""))
			continue
		}
		used[found] = true
		if e.Message != "" && !strings.Contains(flags[found].Message, e.Message) {
			res.Diff = append(res.Diff, fmt.Sprintf("! message    %s does not contain %q",
				describe(e.RuleID, e.Outcome, e.PersonID, flags[found].Message), e.Message))
		}
	}
	for i, f := range flags {
		if !used[i] {
			res.Diff = append(res.Diff, "+ unexpected "+describe(f.RuleID, f.Outcome, f.PersonID, f.Message))
		}
	}
	res.Pass = len(res.Diff) == 0
	return res
}

func describe(rule string, o Outcome, person, msg string) string {
	s := rule + " " + string(o)
	if person != "" {
		s += " person " + person
	} else {
		s += " (household)"
	}
	if msg != "" {
		s += ": " + msg
	}
	return s
}

var defaultCaseAsOf = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

func parseTestCase(s *Set, d *doc, n *yaml.Node) (*testCase, error) {
	f, err := d.mapping(n, "case", "name", "env", "household", "expect")
	if err != nil {
		return nil, err
	}
	for _, req := range []string{"name", "household", "expect"} {
		if f[req] == nil {
			return nil, d.errorf(n, "case: missing %s", req)
		}
	}
	tc := &testCase{line: n.Line}
	if tc.name, err = d.str(f["name"], "case name"); err != nil {
		return nil, err
	}
	if tc.env, err = parseCaseEnv(d, f["env"]); err != nil {
		return nil, err
	}
	h := &facts.Household{}
	if err := d.decodeStruct(f["household"], reflect.ValueOf(h).Elem(), "household"); err != nil {
		return nil, err
	}
	if len(h.Members) == 0 {
		return nil, d.errorf(f["household"], "case %q: household has no members", tc.name)
	}
	fillHousehold(h, d.file, tc.env)
	tc.h = h
	items, err := d.seq(f["expect"], "expect")
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		e, err := parseExpectation(s, d, it, h)
		if err != nil {
			return nil, err
		}
		tc.expect = append(tc.expect, e)
	}
	return tc, nil
}

func parseCaseEnv(d *doc, n *yaml.Node) (Env, error) {
	env := Env{AsOf: defaultCaseAsOf, Mode: ModeFull, Sources: map[sources.Kind]time.Time{}}
	var f map[string]*yaml.Node
	if n != nil {
		var err error
		if f, err = d.mapping(n, "env", "as_of", "mode", "sources", "missing"); err != nil {
			return env, err
		}
	}
	if an := f["as_of"]; an != nil {
		t, err := d.date(an, "env as_of")
		if err != nil {
			return env, err
		}
		env.AsOf = t
	}
	if mn := f["mode"]; mn != nil {
		m, err := d.oneOf(mn, "env mode", "full", "incremental")
		if err != nil {
			return env, err
		}
		env.Mode = Mode(m)
	}
	for _, k := range sources.SourceKinds {
		env.Sources[k] = env.AsOf
	}
	if sn := f["sources"]; sn != nil {
		pairs, err := d.pairs(sn, "env sources")
		if err != nil {
			return env, err
		}
		for _, p := range pairs {
			if _, err := sources.SchemaOf(sources.Kind(p[0].Value)); err != nil {
				return env, d.errorf(p[0], "env sources: %v", err)
			}
			t, err := d.date(p[1], "env sources "+p[0].Value)
			if err != nil {
				return env, err
			}
			env.Sources[sources.Kind(p[0].Value)] = t
		}
	}
	if mn := f["missing"]; mn != nil {
		kinds, err := d.strs(mn, "env missing")
		if err != nil {
			return env, err
		}
		for i, k := range kinds {
			if _, ok := env.Sources[sources.Kind(k)]; !ok {
				return env, d.errorf(mn.Content[i], "env missing: unknown source kind %q", k)
			}
			delete(env.Sources, sources.Kind(k))
		}
	}
	return env, nil
}

func parseExpectation(s *Set, d *doc, n *yaml.Node, h *facts.Household) (Expectation, error) {
	var e Expectation
	f, err := d.mapping(n, "expect", "rule", "outcome", "person", "person_id", "message")
	if err != nil {
		return e, err
	}
	if f["rule"] == nil || f["outcome"] == nil {
		return e, d.errorf(n, "expect: want rule and outcome")
	}
	if e.RuleID, err = d.str(f["rule"], "expect rule"); err != nil {
		return e, err
	}
	if _, ok := s.byID[e.RuleID]; !ok {
		return e, d.errorf(f["rule"], "expect: unknown rule %q", e.RuleID)
	}
	o, err := d.oneOf(f["outcome"], "expect outcome", "ineligible", "review", "adjust", "omission", "info", "insufficient")
	if err != nil {
		return e, err
	}
	e.Outcome = Outcome(o)
	switch {
	case f["person"] != nil && f["person_id"] != nil:
		return e, d.errorf(n, "expect: give person or person_id, not both")
	case f["person"] != nil:
		i, err := d.integer(f["person"], "expect person")
		if err != nil {
			return e, err
		}
		if i < 0 || i >= len(h.Members) {
			return e, d.errorf(f["person"], "expect person: %d is not a member index (0..%d)", i, len(h.Members)-1)
		}
		e.PersonID = h.Members[i].PersonID
	case f["person_id"] != nil:
		if e.PersonID, err = d.str(f["person_id"], "expect person_id"); err != nil {
			return e, err
		}
	}
	if mn := f["message"]; mn != nil {
		if e.Message, err = d.str(mn, "expect message"); err != nil {
			return e, err
		}
	}
	return e, nil
}

// fillHousehold gives a case's household the defaults the format promises
// and the roster rows and record provenance the matcher would give.
func fillHousehold(h *facts.Household, file string, env Env) {
	if !h.Candidate {
		h.ID = orDefault(h.ID, "H1")
		h.Region = orDefault(h.Region, "530102")
		h.Area = orDefault(h.Area, "urban")
		h.Assistance = orDefault(h.Assistance, "dibao")
		h.Status = orDefault(h.Status, "recipient")
	}
	for i, m := range h.Members {
		if h.Candidate {
			// The engine reads a candidate's region from the ID's address code.
			m.PersonID = orDefault(m.PersonID, fmt.Sprintf("5301021990010%05d", i+1))
		}
		m.PersonID = orDefault(m.PersonID, fmt.Sprintf("P%d", i+1))
		m.Name = orDefault(m.Name, fmt.Sprintf("成员%d", i+1))
		if i == 0 {
			m.Relation = orDefault(m.Relation, "head")
		}
		m.Relation = orDefault(m.Relation, "other")
		if !h.Candidate {
			m.Roster = &sources.RosterMember{
				Origin:      sources.Origin{PersonID: m.PersonID, Name: m.Name, Region: h.Region, Kind: sources.KindRoster, File: file, Row: int64(i + 1)},
				HouseholdID: h.ID, Relation: m.Relation, Area: h.Area, Assistance: h.Assistance,
				MonthlyBenefit: h.MonthlyBenefit, Since: h.Since, Status: h.Status,
				ApplicationDate: h.ApplicationDate, AuthorizationRef: h.AuthorizationRef, RelativeFiled: m.RelativeFiled,
			}
		}
		for _, r := range memberRecords(m) {
			fillOrigin(r.Base(), m.PersonID, env)
		}
		for j, hm := range m.Housemates {
			if hm.Police == nil {
				hm.Police = &sources.Police{RelationToHead: "other", Status: "normal"}
			}
			fillOrigin(&hm.Police.Origin, fmt.Sprintf("%s-H%d", m.PersonID, j+1), env)
			hm.Police.Kind = sources.KindPolice
			for _, st := range hm.Staff {
				fillOrigin(&st.Origin, hm.Police.PersonID, env)
			}
		}
	}
}

func fillOrigin(o *sources.Origin, personID string, env Env) {
	o.PersonID = orDefault(o.PersonID, personID)
	o.Match = orDefault(o.Match, sources.MatchID)
	if o.Snapshot.IsZero() {
		o.Snapshot = env.Sources[o.Kind]
		if o.Snapshot.IsZero() {
			o.Snapshot = env.AsOf
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// memberRecords lists every source record of m.
func memberRecords(m *facts.Member) []sources.Record {
	var out []sources.Record
	add := func(rs any) {
		v := reflect.ValueOf(rs)
		for i := 0; i < v.Len(); i++ {
			out = append(out, v.Index(i).Interface().(sources.Record))
		}
	}
	add(m.Police)
	add(m.Vehicles)
	add(m.RealEstate)
	add(m.Pension)
	add(m.Fund)
	add(m.Court)
	add(m.Business)
	add(m.Payroll)
	add(m.Medical)
	add(m.Disability)
	add(m.Poverty)
	add(m.Deposit)
	add(m.Staff)
	return out
}

// kindOfType maps a record struct type to its kind.
func kindOfType(t reflect.Type) (sources.Kind, bool) {
	for _, k := range append([]sources.Kind{sources.KindRoster}, sources.SourceKinds...) {
		sc, err := sources.SchemaOf(k)
		if err == nil && reflect.TypeOf(sc.New()).Elem() == t {
			return k, true
		}
	}
	return "", false
}

// skipCaseFields are fields a case may not set: the engine or fillHousehold sets them.
var skipCaseFields = map[string]bool{"key": true, "kind": true, "roster": true}

// caseFields maps the names a case may use for t's fields (expr and json
// tags, embedded structs flattened) to their index paths.
func caseFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			for _, tag := range []string{f.Tag.Get("expr"), f.Tag.Get("json")} {
				name, _, _ := strings.Cut(tag, ",")
				if name != "" && name != "-" && !skipCaseFields[name] {
					out[name] = idx
				}
			}
		}
	}
	walk(t, nil)
	return out
}

// decodeStruct fills struct v from mapping n by field names (caseFields).
// A source record gets its kind, file and row (the YAML line).
func (d *doc) decodeStruct(n *yaml.Node, v reflect.Value, what string) error {
	fields := caseFields(v.Type())
	pairs, err := d.pairs(n, what)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		idx, ok := fields[p[0].Value]
		if !ok {
			names := make([]string, 0, len(fields))
			for k := range fields {
				names = append(names, k)
			}
			sort.Strings(names)
			return d.errorf(p[0], "unknown key %q in %s; allowed keys: %s", p[0].Value, what, strings.Join(names, ", "))
		}
		if err := d.decodeValue(p[1], v.FieldByIndex(idx), what+"."+p[0].Value); err != nil {
			return err
		}
	}
	if k, ok := kindOfType(v.Type()); ok {
		o := v.Addr().Interface().(sources.Record).Base()
		o.Kind = k
		if o.File == "" {
			o.File = d.file
		}
		if o.Row == 0 {
			o.Row = int64(n.Line)
		}
	}
	return nil
}

func (d *doc) decodeValue(n *yaml.Node, v reflect.Value, what string) error {
	if v.Type() == timeType {
		t, err := d.date(n, what)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(t))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, err := d.str(n, what)
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Float64:
		x, err := d.num(n, what)
		if err != nil {
			return err
		}
		v.SetFloat(x)
	case reflect.Int, reflect.Int64:
		x, err := d.integer(n, what)
		if err != nil {
			return err
		}
		v.SetInt(int64(x))
	case reflect.Bool:
		x, err := d.boolean(n, what)
		if err != nil {
			return err
		}
		v.SetBool(x)
	case reflect.Slice:
		items, err := d.seq(n, what)
		if err != nil {
			return err
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := d.decodeValue(it, out.Index(i), fmt.Sprintf("%s[%d]", what, i)); err != nil {
				return err
			}
		}
		v.Set(out)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := d.decodeValue(n, p.Elem(), what); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		return d.decodeStruct(n, v, what)
	default:
		return d.errorf(n, "%s: cannot be set in a case", what)
	}
	return nil
}
