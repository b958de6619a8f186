package rules

import (
	"reflect"
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/vm"

	"github.com/hedui/hedui/facts"
)

// helperFields are the member fields (expr names) the helper functions
// read of every member of the household (env.go: countedIncome).
var helperFields = map[string][]string{
	"counted_income": {"payroll", "fund", "pension", "medical"},
}

// MeasureFields returns the member fields (expr names) Measure reads.
func MeasureFields() []string { return slices.Clone(helperFields["counted_income"]) }

// MemberFields returns the fields of facts.Member, by expr name ("police",
// "housemates", "person_id"), that evaluating the set's rules can read, in
// name order, so that a caller re-evaluating many households (a what-if)
// can decode only those. The household's own fields and its list of members
// are not listed: they are always needed.
//
// The answer comes from the compiled expressions: every field named in
// them, the fields the helper functions read (counted_income), and police
// when a rule is for candidates (the engine finds a candidate's place from
// its police records, see Place). It holds because a value that is or holds
// a member (member, household, household.members, # over them) is typed,
// and the walk checks that such a value is only read by a constant field
// name, indexed, counted, iterated or passed on still typed. all is true
// when an expression uses one otherwise (a dynamic property, $env, an
// equality, a builtin such as toJSON or uniq, a list literal, a closure
// returning members, a message printing one): the caller must then provide
// every field.
//
// Fields not listed may be left empty without changing any flag's outcome:
// the engine's other reads of records (whether a record was matched by
// name and birth date, see Evaluate) only decide between the ID-only view
// and the whole household, which agree on the fields listed.
func (s *Set) MemberFields() (names []string, all bool) {
	v := &fieldVisitor{names: map[string]bool{}}
	for _, r := range s.rules {
		if r.Scope == ScopeCandidate {
			v.names["police"] = true
		}
		for _, p := range r.programs() {
			v.walk(p.Node())
		}
		for _, c := range r.compiled.cases {
			for _, part := range c.msg {
				if part.value >= 0 && holdsMember(r.compiled.values[part.value].Node().Nature()) {
					v.opaque = true // formatting a member reads every field
				}
			}
		}
	}
	if v.opaque {
		return nil, true
	}
	for _, name := range memberFieldNames() {
		if v.names[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, false
}

// programs returns every compiled program of r: values, conditions, facts.
func (r *Rule) programs() []*vm.Program {
	c := &r.compiled
	out := slices.Clone(c.values)
	for _, cc := range c.cases {
		out = append(out, cc.when)
		if cc.facts != nil {
			out = append(out, cc.facts)
		}
	}
	return out
}

// memberFieldNames lists the expr names of facts.Member's fields.
func memberFieldNames() []string {
	t := reflect.TypeOf(facts.Member{})
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("expr"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// fieldVisitor collects the names an expression may read fields by and
// notes reads it cannot follow.
type fieldVisitor struct {
	names  map[string]bool
	opaque bool
}

// walk visits n and its children (the optimizer's folded map closure of a
// builtin too, which ast.Walk leaves out), checking how each child that
// holds members is used.
func (v *fieldVisitor) walk(n ast.Node) {
	if n == nil || v.opaque {
		return
	}
	for _, c := range children(n, &v.opaque) {
		v.walk(c)
		if c != nil && holdsMember(c.Nature()) && !usedSafely(n, c) {
			v.opaque = true
		}
	}
	switch n := n.(type) {
	case *ast.StringNode:
		v.names[n.Value] = true
	case *ast.ConstantNode:
		v.constant(reflect.ValueOf(n.Value))
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			v.opaque = true
		}
	case *ast.CallNode:
		v.call(n)
	}
}

// children returns the child nodes of n; a node type the walk does not
// know sets *unknown.
func children(n ast.Node, unknown *bool) []ast.Node {
	switch n := n.(type) {
	case *ast.NilNode, *ast.IdentifierNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode,
		*ast.StringNode, *ast.BytesNode, *ast.ConstantNode, *ast.PointerNode:
		return nil
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}
	case *ast.ChainNode:
		return []ast.Node{n.Node}
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.SliceNode:
		return []ast.Node{n.Node, n.From, n.To}
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.BuiltinNode:
		return append(slices.Clone(n.Arguments), n.Map)
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		return n.Pairs
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	*unknown = true
	return nil
}

// iterating are the builtins that bind each element of their first
// argument to # for a closure; their result holds elements only as typed
// as the argument (filter, find) or not at all (any, count, map's closure
// results, which are checked where the closure returns them).
var iterating = map[string]bool{"filter": true, "map": true, "all": true, "any": true, "none": true,
	"one": true, "find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
	"sum": true, "mean": true, "median": true, "groupBy": true, "sortBy": true, "reduce": true}

// keepsElements are the iterating builtins whose result holds elements of
// the argument.
var keepsElements = map[string]bool{"filter": true, "find": true, "findLast": true, "groupBy": true, "sortBy": true}

// reflective are the builtins that read every field of what they are given
// (formatting, JSON, map views, deep equality) or hand it back untyped.
var reflective = map[string]bool{"string": true, "toJSON": true, "keys": true, "values": true,
	"toPairs": true, "fromPairs": true, "uniq": true, "get": true, "sort": true}

// usedSafely reports whether parent p uses its child c, a value holding
// members, only through field names the walk sees (or passes it on typed,
// to be checked where it goes).
func usedSafely(p, c ast.Node) bool {
	typed := holdsMember(p.Nature()) // the result still holds members, typed
	switch p := p.(type) {
	case *ast.MemberNode:
		if c != p.Node {
			return false
		}
		if _, ok := p.Property.(*ast.StringNode); ok {
			return true
		}
		k := c.Nature().Kind
		return k == reflect.Slice || k == reflect.Array // an index
	case *ast.ChainNode:
		return typed
	case *ast.ConditionalNode:
		return c != p.Cond && typed
	case *ast.SequenceNode:
		return c != p.Nodes[len(p.Nodes)-1] || typed
	case *ast.VariableDeclaratorNode:
		return c == p.Value || typed // uses of the variable are typed
	case *ast.SliceNode:
		return c == p.Node && typed
	case *ast.BinaryNode:
		// Only a comparison with nil: any other equality is deep.
		return (p.Operator == "==" || p.Operator == "!=") && (isNil(p.Left) || isNil(p.Right))
	case *ast.BuiltinNode:
		switch {
		case reflective[p.Name]:
			return false
		case p.Name == "len":
			return true
		case iterating[p.Name] && len(p.Arguments) > 0 && c == p.Arguments[0]:
			// With a folded map closure (p.Map) filter returns the
			// closure's results, checked where the closure returns them.
			return !keepsElements[p.Name] || p.Map != nil || typed
		case iterating[p.Name]:
			return false // a closure or another argument holding members
		}
		return typed // first, last, take, concat, flatten...
	}
	return false // a closure returning members, a list literal, a call, an operator
}

// call notes the fields a helper function reads.
func (v *fieldVisitor) call(n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return // a method of a value: members have none, and it is checked as a field
	}
	if fields, ok := helperFields[id.Value]; ok {
		for _, f := range fields {
			v.names[f] = true
		}
		return
	}
	if !pureFunctions[id.Value] && id.Value != "fires" {
		v.opaque = true // a helper this walk does not know; fires reads a rule of the set, walked with it
	}
}

// constant collects the strings of a folded constant (a list of names, a
// set of them).
func (v *fieldVisitor) constant(c reflect.Value) {
	switch c.Kind() {
	case reflect.String:
		v.names[c.String()] = true
	case reflect.Slice, reflect.Array:
		for i := range c.Len() {
			v.constant(c.Index(i))
		}
	case reflect.Map:
		for _, k := range c.MapKeys() {
			v.constant(k)
		}
	case reflect.Interface, reflect.Pointer:
		if !c.IsNil() {
			v.constant(c.Elem())
		}
	}
}

func isNil(n ast.Node) bool {
	_, ok := n.(*ast.NilNode)
	return ok
}

var (
	memberType    = reflect.TypeOf(facts.Member{})
	householdType = reflect.TypeOf(facts.Household{})
)

// holdsMember reports whether a value of nature n is or holds a member (or
// a household, which holds its members) by its type. A value of unknown
// type (any) holds none: the walk makes sure no member becomes one, since
// every use that would lose the type is refused.
func holdsMember(n *nature.Nature) bool {
	if n == nil || n.Type == nil {
		return false
	}
	if (n.Kind == reflect.Slice || n.Kind == reflect.Array) && n.Ref != nil && holdsMember(n.Ref) {
		return true // a list the checker knows the elements of
	}
	return typeHoldsMember(n.Type)
}

func typeHoldsMember(t reflect.Type) bool {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			t = t.Elem()
		case reflect.Map:
			return typeHoldsMember(t.Key()) || typeHoldsMember(t.Elem())
		case reflect.Struct:
			return t == memberType || t == householdType
		default:
			return false
		}
	}
}
