package rules

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/hedui/hedui/facts"
)

// compiledRule holds a rule's programs, compiled once at load.
type compiledRule struct {
	// memberLists, when not nil, are the only things the rule reads besides
	// parameters, dates, its own values and pure functions: member list
	// fields (by index in facts.Member). A member with all of them empty
	// gets the same outcome as any other such member (see quietOn).
	memberLists [][]int
	values      []*vm.Program
	// fast holds the programs as closures (closure.go); nil when one of
	// them uses what the closures do not cover (fastErr says what): the
	// rule then runs on the VM.
	fast    *fastRule
	fastErr error
	// valueNeeds[i] lists the values value i reads, directly or through
	// other values, ascending.
	valueNeeds [][]int
	cases      []compiledCase
}

type compiledCase struct {
	when *vm.Program
	// needs lists the values when reads, directly or through other values,
	// ascending: a target that no case fits computes only these.
	needs []int
	facts *vm.Program // nil: the case names no facts of its own
	msg   []tmplPart
}

// tmplPart is a literal text, or a value of the rule (value >= 0) with an
// optional fmt verb.
type tmplPart struct {
	lit   string
	value int
	name  string
	verb  string
}

// Variables every expression may use. `member` exists in member and
// candidate rules only.
const (
	varHousehold = "household"
	varMember    = "member"
	varSize      = "size"
	varAsOf      = "as_of"
	varRefDate   = "ref_date"
	varMode      = "mode"
)

// Parameters the engine and the helper functions read themselves.
var helperParams = map[string][]string{
	"monthly_standard": {"dibao_standard"},
	"counted_income":   {"fund_rate", "medical_window_months"},
}

const engineParamMaxAge = "max_age_days"

// compile compiles every rule definition of s.
func (s *Set) compile() error {
	s.rules = s.rules[:0]
	s.byID = make(map[string]*Rule, len(s.defs))
	s.paramRefs = map[string][]string{engineParamMaxAge: {"engine"}}
	if _, ok := s.params[engineParamMaxAge]; !ok && len(s.defs) > 0 {
		return fmt.Errorf("%s: the engine needs parameter %q (days after which a source snapshot is stale)", s.name, engineParamMaxAge)
	}
	for _, def := range s.defs {
		s.byID[def.id] = &Rule{ID: def.id, Scope: def.scope} // for fires() checks
	}
	for _, def := range s.defs {
		r, err := s.compileRule(def)
		if err != nil {
			return err
		}
		s.byID[def.id] = r
		s.rules = append(s.rules, r)
	}
	return s.checkFiresCycles()
}

func (s *Set) compileRule(def *ruleDef) (*Rule, error) {
	r := &Rule{ID: def.id, Version: def.version, Title: def.title, Scope: def.scope, Modes: def.modes,
		Assistance: def.assistance, Sources: def.sources, Basis: def.basis, def: def}
	env := compileEnv(def.scope)
	c := &r.compiled
	index := map[string]int{}
	for i, v := range def.values {
		if _, taken := env[v.name]; taken {
			return nil, def.doc.errorf(v.key, "rule %s: value name %q is taken by the engine; reserved: %s", def.id, v.name, reservedNames(def.scope))
		}
		p, err := s.compileExpr(r, v.expr, "values."+v.name, env)
		if err != nil {
			return nil, err
		}
		env[v.name] = typeOf(p)
		c.valueNeeds = append(c.valueNeeds, c.needsOf(p, index))
		index[v.name] = i
		c.values = append(c.values, p)
		r.Values = append(r.Values, NamedExpr{Name: v.name, Expr: v.expr.text})
	}
	for i, cd := range def.cases {
		what := fmt.Sprintf("cases[%d]", i)
		var cc compiledCase
		var err error
		if cc.when, err = s.compileExpr(r, cd.when, what+".when", env, expr.AsBool()); err != nil {
			return nil, err
		}
		cc.needs = c.needsOf(cc.when, index)
		if cd.facts.text != "" {
			if cc.facts, err = s.compileExpr(r, cd.facts, what+".facts", env); err != nil {
				return nil, err
			}
		}
		if cc.msg, err = parseTemplate(def, cd.message, index); err != nil {
			return nil, err
		}
		c.cases = append(c.cases, cc)
		r.Cases = append(r.Cases, Case{When: cd.when.text, Outcome: cd.outcome, Message: cd.message.text, Facts: cd.facts.text})
	}
	if def.scope != ScopeHousehold {
		c.memberLists = memberListReads(c, index)
	}
	c.fast, c.fastErr = compileFast(def.scope, r, c)
	return r, nil
}

// pureFunctions are the helper functions whose result depends only on their
// arguments, parameters and dates, never on the household.
var pureFunctions = map[string]bool{"param": true, "codes": true, "monthly_standard": true,
	"months_between": true, "within_months": true, "has_prefix_any": true, "strip_spaces": true, "cents": true}

// memberListReads returns the member list fields the rule's programs read,
// or nil when they read anything else of the target: another member field,
// the household, size, the environment by name, or a helper that looks at
// the household or at other rules.
func memberListReads(c *compiledRule, values map[string]int) [][]int {
	v := &readVisitor{values: values}
	progs := append([]*vm.Program(nil), c.values...)
	for _, cc := range c.cases {
		progs = append(progs, cc.when)
		if cc.facts != nil {
			progs = append(progs, cc.facts)
		}
	}
	for _, p := range progs {
		node := p.Node()
		ast.Walk(&node, v)
	}
	if v.opaque || v.memberIdents != len(v.fields) || len(v.fields) == 0 {
		return nil
	}
	var out [][]int
	for _, name := range v.fields {
		idx, ok := memberListField(name)
		if !ok {
			return nil
		}
		if !slices.ContainsFunc(out, func(x []int) bool { return slices.Equal(x, idx) }) {
			out = append(out, idx)
		}
	}
	return out
}

// readVisitor collects what an expression reads of the target.
type readVisitor struct {
	values       map[string]int
	fields       []string // properties read directly off member
	memberIdents int      // identifiers naming member
	opaque       bool
}

func (v *readVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == varMember {
			prop, ok := n.Property.(*ast.StringNode)
			if !ok {
				v.opaque = true
				return
			}
			v.fields = append(v.fields, prop.Value)
		}
	case *ast.IdentifierNode:
		switch {
		case n.Value == varMember:
			v.memberIdents++
		case n.Value == varAsOf || n.Value == varRefDate || n.Value == varMode || pureFunctions[n.Value]:
		default:
			if _, ok := v.values[n.Value]; !ok {
				// household, size, $env, counted_income, fires, or a name
				// bound inside the expression: not known to be safe.
				v.opaque = true
			}
		}
	}
}

// memberListField returns the index of facts.Member's list field whose expr
// name is name.
func memberListField(name string) ([]int, bool) {
	t := reflect.TypeOf(facts.Member{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("expr") == name {
			return []int{i}, f.Type.Kind() == reflect.Slice
		}
	}
	return nil, false
}

// needsOf returns the values p reads, with the values those read, ascending.
// index holds the values declared so far. An expression that reads the
// environment by name ($env) needs them all.
func (c *compiledRule) needsOf(p *vm.Program, index map[string]int) []int {
	v := &identVisitor{}
	node := p.Node()
	ast.Walk(&node, v)
	need := make([]bool, len(c.values))
	for name := range v.names {
		if i, ok := index[name]; ok {
			need[i] = true
			for _, j := range c.valueNeeds[i] {
				need[j] = true
			}
		}
	}
	var out []int
	for i, n := range need {
		if n || v.env {
			out = append(out, i)
		}
	}
	return out
}

// identVisitor collects the identifiers an expression names.
type identVisitor struct {
	names map[string]bool
	env   bool // the expression reads $env
}

func (v *identVisitor) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == "$env" {
		v.env = true
	}
	if v.names == nil {
		v.names = map[string]bool{}
	}
	v.names[id.Value] = true
}

// compileEnv returns the typed environment expressions are checked against:
// typed nil samples for variables, and the helper functions with their
// signatures (bound to nothing: compilation only reads their types).
func compileEnv(scope Scope) types.Map {
	env := types.Map{
		varHousehold: types.TypeOf((*facts.Household)(nil)),
		varSize:      types.Int,
		varAsOf:      types.TypeOf(time.Time{}),
		varRefDate:   types.TypeOf(time.Time{}),
		varMode:      types.String,
	}
	if scope != ScopeHousehold {
		env[varMember] = types.TypeOf((*facts.Member)(nil))
	}
	var ev evaluator
	for name, fn := range ev.functions() {
		env[name] = types.TypeOf(fn)
	}
	return env
}

// natureType declares a rule value to the checker with the full nature the
// checker inferred for its expression (e.g. a list of *sources.Vehicle),
// so later expressions are checked against it.
type natureType struct{ n nature.Nature }

func (t natureType) Nature() nature.Nature { return t.n }
func (t natureType) Equal(o types.Type) bool {
	u, ok := o.(natureType)
	return ok && u.n.Type == t.n.Type && u.n.Kind == t.n.Kind
}
func (t natureType) String() string { return t.n.String() }

func reservedNames(scope Scope) string {
	var names []string
	for n := range compileEnv(scope) {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// typeOf returns the type the checker inferred for the program's result.
func typeOf(p *vm.Program) types.Type {
	if n := p.Node().Nature(); n != nil {
		return natureType{*n}
	}
	return types.Any
}

func (s *Set) compileExpr(r *Rule, src exprSrc, what string, env types.Map, opts ...expr.Option) (*vm.Program, error) {
	def := r.def
	opts = append([]expr.Option{expr.Env(env), expr.DisableBuiltin("now")}, opts...)
	p, err := expr.Compile(src.text, opts...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) && fe.Line > 0 {
			at := src.doc.exprPos(src.node, fe.Line-1, fe.Column)
			return nil, fmt.Errorf("%s: rule %s: %s: %s%s", at, def.id, what, fe.Message, fe.Snippet)
		}
		return nil, fmt.Errorf("%s: rule %s: %s: %v", src.doc.pos(src.node), def.id, what, err)
	}
	if err := s.checkCalls(r, src, what, p); err != nil {
		return nil, err
	}
	return p, nil
}

// callChecker walks an expression and checks the calls whose argument names
// a parameter or a rule: the name must be a constant and must exist, so that
// a typo fails at load, and lint knows which parameters are used.
type callChecker struct {
	s     *Set
	def   *ruleDef
	rule  *Rule
	err   error
	errAt ast.Node
}

func (c *callChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || c.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch id.Value {
	case "param", "codes", "fires":
	default:
		for _, p := range helperParams[id.Value] {
			c.s.useParam(p, c.def.id)
		}
		return
	}
	c.errAt = call
	if len(call.Arguments) != 1 {
		c.err = fmt.Errorf("%s wants one argument", id.Value)
		return
	}
	arg, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		c.err = fmt.Errorf("%s wants a constant name in quotes, e.g. %s(\"name\")", id.Value, id.Value)
		return
	}
	c.errAt = arg
	switch id.Value {
	case "param", "codes":
		vals, ok := c.s.params[arg.Value]
		switch {
		case !ok:
			c.err = fmt.Errorf("unknown parameter %q; known parameters: %s", arg.Value, strings.Join(c.s.params.names(), ", "))
		case id.Value == "param" && vals[0].List:
			c.err = fmt.Errorf("parameter %q is a code list: read it with codes(%q)", arg.Value, arg.Value)
		case id.Value == "codes" && !vals[0].List:
			c.err = fmt.Errorf("parameter %q is a number: read it with param(%q)", arg.Value, arg.Value)
		default:
			c.s.useParam(arg.Value, c.def.id)
		}
	case "fires":
		target, ok := c.s.byID[arg.Value]
		switch {
		case !ok:
			c.err = fmt.Errorf("fires: unknown rule %q", arg.Value)
		case arg.Value == c.def.id:
			c.err = fmt.Errorf("fires: a rule cannot ask about itself")
		case c.def.scope == ScopeHousehold && target.Scope != ScopeHousehold:
			c.err = fmt.Errorf("fires: household rule cannot ask about %s rule %q (no member)", target.Scope, arg.Value)
		default:
			c.rule.fires = append(c.rule.fires, arg.Value)
		}
	}
}

func (s *Set) useParam(name, by string) {
	refs := s.paramRefs[name]
	if len(refs) == 0 || refs[len(refs)-1] != by {
		s.paramRefs[name] = append(refs, by)
	}
}

func (s *Set) checkCalls(r *Rule, src exprSrc, what string, p *vm.Program) error {
	def := r.def
	c := &callChecker{s: s, def: def, rule: r}
	node := p.Node()
	ast.Walk(&node, c)
	if c.err == nil {
		return nil
	}
	at := src.doc.pos(src.node)
	if loc := c.errAt.Location(); loc.From > 0 || loc.To > 0 {
		line, col := lineCol(src.text, loc.From)
		at = src.doc.exprPos(src.node, line, col)
	}
	return fmt.Errorf("%s: rule %s: %s: %v", at, def.id, what, c.err)
}

// lineCol converts a rune offset into a 0-based line and column.
func lineCol(text string, offset int) (line, col int) {
	i := 0
	for _, r := range text {
		if i == offset {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
		i++
	}
	return line, col
}

// checkFiresCycles rejects rules that ask about each other in a circle.
func (s *Set) checkFiresCycles() error {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string, path []string) error
	visit = func(id string, path []string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("%s: rules ask about each other in a circle: %s", s.name, strings.Join(append(path, id), " → "))
		case 2:
			return nil
		}
		state[id] = 1
		for _, t := range s.byID[id].fires {
			if err := visit(t, append(path, id)); err != nil {
				return err
			}
		}
		state[id] = 2
		return nil
	}
	for _, r := range s.rules {
		if err := visit(r.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]*)(?::(%[^{}]+))?\}`)

// parseTemplate splits a message into literals and value references; every
// reference must name a value of the rule.
func parseTemplate(def *ruleDef, src exprSrc, index map[string]int) ([]tmplPart, error) {
	text := src.text
	var parts []tmplPart
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[2]:m[3]]
		i, ok := index[name]
		if !ok {
			line, col := lineCol(text, len([]rune(text[:m[0]])))
			at := src.doc.exprPos(src.node, line, col)
			known := make([]string, 0, len(index))
			for n := range index {
				known = append(known, n)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("%s: rule %s: message names {%s}, which is not a value of the rule; values: %s",
				at, def.id, name, strings.Join(known, ", "))
		}
		if m[0] > last {
			parts = append(parts, tmplPart{lit: text[last:m[0]], value: -1})
		}
		p := tmplPart{value: i, name: name}
		if m[4] >= 0 {
			p.verb = text[m[4]:m[5]]
		}
		parts = append(parts, p)
		last = m[1]
	}
	if last < len(text) {
		parts = append(parts, tmplPart{lit: text[last:], value: -1})
	}
	return parts, nil
}
