package rules

// Typed Go closures for rule programs.
//
// expr's VM fetches struct fields by reflection and boxes every value it
// pushes, which made the rules stage allocate millions of times per run. A
// rule whose programs use only the node kinds compiled here runs as typed
// closures instead; any other rule keeps the VM. Results are those of the
// VM, value for value and type for type: the closures follow the VM's
// runtime (int/float promotion, `/` always float, filter and map building
// a fresh []any, flatten dereferencing records, ...), and where a closure
// meets a case it does not reproduce (a nil record, an index out of range,
// an argument of an unexpected type, a builtin that fails), it gives up
// and the rule runs again on the VM for that target, so that errors too
// are the VM's.

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/ast"

	"github.com/hedui/hedui/facts"
)

// kind is the Go type class of a closure's result.
type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kFloat
	kString
	kTime
	kList // []any, []string or a typed slice of records
	kRec  // a record: a pointer to a struct, or a struct value, in an any
	kDyn  // anything else, in an any exactly as the VM holds it
)

// String names the kind in messages (Rule.Interpreted's reasons).
func (k kind) String() string {
	names := [...]string{"invalid", "bool", "int", "float", "string", "time", "list", "record", "any"}
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ctype is the static type of a closure's result.
type ctype struct {
	k    kind
	rt   reflect.Type   // kRec: the dynamic type; kList: the Go slice type
	elem *ctype         // kList: the elements' type; nil when not known
	sw   unsafe.Pointer // kList of record pointers: rt's type word
}

func (t ctype) equal(u ctype) bool {
	if t.k != u.k || t.rt != u.rt {
		return false
	}
	if t.elem == nil || u.elem == nil {
		return t.elem == u.elem
	}
	return t.elem.equal(*u.elem)
}

var (
	anySliceType = reflect.TypeOf([]any(nil))
	strSliceType = reflect.TypeOf([]string(nil))
	timeGoType   = reflect.TypeOf(time.Time{})
)

func scalar(k kind) ctype { return ctype{k: k} }

// listView is a list value without boxing: the Go value the VM would hold
// is anys ([]any), strs ([]string), or a slice of pointers to records
// (e.g. []*sources.Vehicle, of the list's static type) read as ptrs, whose
// elements are of type word etyp.
type listView struct {
	anys []any
	strs []string
	ptrs []unsafe.Pointer
	etyp unsafe.Pointer
	form uint8 // 0 anys, 1 strs, 2 ptrs
}

func (l listView) len() int {
	switch l.form {
	case 0:
		return len(l.anys)
	case 1:
		return len(l.strs)
	}
	return len(l.ptrs)
}

func (l listView) at(i int) any {
	switch l.form {
	case 0:
		return l.anys[i]
	case 1:
		return l.strs[i]
	}
	return makeAny(l.etyp, l.ptrs[i])
}

// box returns the Go value the VM would hold for the list of static type
// t.
func (l listView) box(t ctype) any {
	switch l.form {
	case 0:
		return l.anys
	case 1:
		return l.strs
	}
	// An interface holds a slice by pointer to its header; a []*T header
	// has the layout of a []unsafe.Pointer one.
	h := new([]unsafe.Pointer)
	*h = l.ptrs
	return makeAny(t.sw, unsafe.Pointer(h))
}

// cnode is one compiled node: its type and the closure of that type.
type cnode struct {
	t  ctype
	b  func(*evaluator) bool
	i  func(*evaluator) int
	f  func(*evaluator) float64
	s  func(*evaluator) string
	tm func(*evaluator) time.Time
	l  func(*evaluator) listView
	a  func(*evaluator) any // kRec and kDyn
	// nf, for a kDyn that is always an int or a float64 (x ? 1 : 0.5),
	// gives it as a float64, which is how the VM's runtime takes it
	// whenever the other operand is a float64.
	nf func(*evaluator) float64
}

// boxed returns a closure giving the node's value as the VM would hold it.
func (n cnode) boxed() func(*evaluator) any {
	switch n.t.k {
	case kBool:
		f := n.b
		return func(ev *evaluator) any { return f(ev) }
	case kInt:
		f := n.i
		return func(ev *evaluator) any { return f(ev) }
	case kFloat:
		f := n.f
		return func(ev *evaluator) any { return f(ev) }
	case kString:
		f := n.s
		return func(ev *evaluator) any { return f(ev) }
	case kTime:
		f := n.tm
		return func(ev *evaluator) any { return f(ev) }
	case kList:
		f, t := n.l, n.t
		return func(ev *evaluator) any { return f(ev).box(t) }
	}
	return n.a
}

// slot holds a value of the rule running, typed by the value's kind.
type slot struct {
	b  bool
	i  int
	f  float64
	s  string
	tm time.Time
	l  listView
	a  any
}

func (s *slot) box(t ctype) any {
	switch t.k {
	case kBool:
		return s.b
	case kInt:
		return s.i
	case kFloat:
		return s.f
	case kString:
		return s.s
	case kTime:
		return s.tm
	case kList:
		return s.l.box(t)
	}
	return s.a
}

// set runs n and keeps its value in s.
func (s *slot) set(n *cnode, ev *evaluator) {
	switch n.t.k {
	case kBool:
		s.b = n.b(ev)
	case kInt:
		s.i = n.i(ev)
	case kFloat:
		s.f = n.f(ev)
	case kString:
		s.s = n.s(ev)
	case kTime:
		s.tm = n.tm(ev)
	case kList:
		s.l = n.l(ev)
	default:
		s.a = n.a(ev)
	}
}

// bailout is the panic a closure raises where the VM must decide.
type bailout struct{}

func bail() { panic(bailout{}) }

// fastRule holds a rule's programs as closures.
type fastRule struct {
	values []cnode
	when   []cnode
	facts  []func(*evaluator) any // nil: the case names no facts
}

// maxScope bounds nested predicates (filter inside any inside ...).
const maxScope = 8

// errUnsupported marks a program the closures do not cover: the rule
// keeps the VM.
var errUnsupported = errors.New("not compiled to closures")

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUnsupported, fmt.Sprintf(format, a...))
}

// closureCompiler compiles the checked, optimized trees of one rule.
type closureCompiler struct {
	scope  Scope
	values map[string]valueRef
	elems  []*ctype // predicate element types, innermost last
}

type valueRef struct {
	i int
	t ctype
}

// compileFast compiles every program of c, or returns why it cannot.
func compileFast(scope Scope, r *Rule, c *compiledRule) (*fastRule, error) {
	cc := &closureCompiler{scope: scope, values: map[string]valueRef{}}
	fr := &fastRule{}
	for i, p := range c.values {
		n, err := cc.node(p.Node())
		if err != nil {
			return nil, fmt.Errorf("values.%s: %w", r.Values[i].Name, err)
		}
		cc.values[r.Values[i].Name] = valueRef{i: i, t: n.t}
		fr.values = append(fr.values, n)
	}
	for i, cs := range c.cases {
		n, err := cc.node(cs.when.Node())
		if err != nil {
			return nil, fmt.Errorf("cases[%d].when: %w", i, err)
		}
		if n.t.k != kBool {
			return nil, unsupported("cases[%d].when is not a bool", i)
		}
		fr.when = append(fr.when, n)
		var facts func(*evaluator) any
		if cs.facts != nil {
			fn, err := cc.node(cs.facts.Node())
			if err != nil {
				return nil, fmt.Errorf("cases[%d].facts: %w", i, err)
			}
			facts = fn.boxed()
		}
		fr.facts = append(fr.facts, facts)
	}
	return fr, nil
}

func (c *closureCompiler) node(n ast.Node) (cnode, error) {
	switch n := n.(type) {
	case *ast.NilNode:
		return cnode{t: scalar(kDyn), a: func(*evaluator) any { return nil }}, nil
	case *ast.BoolNode:
		v := n.Value
		return cnode{t: scalar(kBool), b: func(*evaluator) bool { return v }}, nil
	case *ast.IntegerNode:
		v := n.Value
		return cnode{t: scalar(kInt), i: func(*evaluator) int { return v }}, nil
	case *ast.FloatNode:
		v := n.Value
		return cnode{t: scalar(kFloat), f: func(*evaluator) float64 { return v }}, nil
	case *ast.StringNode:
		v := n.Value
		return cnode{t: scalar(kString), s: func(*evaluator) string { return v }}, nil
	case *ast.ConstantNode:
		return c.constant(n)
	case *ast.ArrayNode:
		return c.array(n)
	case *ast.IdentifierNode:
		return c.ident(n)
	case *ast.MemberNode:
		return c.member(n)
	case *ast.PointerNode:
		return c.pointer(n)
	case *ast.UnaryNode:
		return c.unary(n)
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.ConditionalNode:
		return c.conditional(n)
	case *ast.CallNode:
		return c.call(n)
	case *ast.BuiltinNode:
		return c.builtin(n)
	}
	return cnode{}, unsupported("node %T", n)
}

func (c *closureCompiler) constant(n *ast.ConstantNode) (cnode, error) {
	switch v := n.Value.(type) {
	case []any:
		return cnode{t: ctype{k: kList, rt: anySliceType, elem: commonElem(v)},
			l: func(*evaluator) listView { return listView{anys: v} }}, nil
	}
	return cnode{}, unsupported("constant %T", n.Value)
}

// commonElem is the type of every element of v when they share one scalar
// type, else nil.
func commonElem(v []any) *ctype {
	t := &ctype{} // no element yet: see mergeElem
	for _, e := range v {
		var et ctype
		switch e.(type) {
		case string:
			et = scalar(kString)
		case int:
			et = scalar(kInt)
		case float64:
			et = scalar(kFloat)
		case bool:
			et = scalar(kBool)
		default:
			return nil
		}
		if t.k != 0 && !t.equal(et) {
			return nil
		}
		t = &et
	}
	return t
}

func (c *closureCompiler) array(n *ast.ArrayNode) (cnode, error) {
	var fns []func(*evaluator) any
	elem := &ctype{} // no element yet: see mergeElem
	for i, e := range n.Nodes {
		en, err := c.node(e)
		if err != nil {
			return cnode{}, err
		}
		if i == 0 {
			t := en.t
			elem = &t
		} else if elem != nil && !elem.equal(en.t) {
			elem = nil
		}
		fns = append(fns, en.boxed())
	}
	return cnode{t: ctype{k: kList, rt: anySliceType, elem: elem}, l: func(ev *evaluator) listView {
		out := make([]any, len(fns))
		for i, f := range fns {
			out[i] = f(ev)
		}
		return listView{anys: out}
	}}, nil
}

var (
	householdPtrType = reflect.TypeOf((*facts.Household)(nil))
	memberPtrType    = reflect.TypeOf((*facts.Member)(nil))
)

func (c *closureCompiler) ident(n *ast.IdentifierNode) (cnode, error) {
	switch n.Value {
	case varHousehold:
		return cnode{t: ctype{k: kRec, rt: householdPtrType}, a: func(ev *evaluator) any { return ev.h }}, nil
	case varMember:
		if c.scope == ScopeHousehold {
			return cnode{}, unsupported("member in a household rule")
		}
		return cnode{t: ctype{k: kRec, rt: memberPtrType}, a: func(ev *evaluator) any { return ev.m }}, nil
	case varSize:
		return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return len(ev.h.Members) }}, nil
	case varAsOf:
		return cnode{t: scalar(kTime), tm: func(ev *evaluator) time.Time { return ev.asOf }}, nil
	case varRefDate:
		return cnode{t: scalar(kTime), tm: func(ev *evaluator) time.Time { return ev.refDate }}, nil
	case varMode:
		return cnode{t: scalar(kString), s: func(ev *evaluator) string { return string(ev.mode) }}, nil
	}
	v, ok := c.values[n.Value]
	if !ok {
		return cnode{}, unsupported("identifier %s", n.Value)
	}
	i := v.i
	out := cnode{t: v.t}
	switch v.t.k {
	case kBool:
		out.b = func(ev *evaluator) bool { return ev.slots[i].b }
	case kInt:
		out.i = func(ev *evaluator) int { return ev.slots[i].i }
	case kFloat:
		out.f = func(ev *evaluator) float64 { return ev.slots[i].f }
	case kString:
		out.s = func(ev *evaluator) string { return ev.slots[i].s }
	case kTime:
		out.tm = func(ev *evaluator) time.Time { return ev.slots[i].tm }
	case kList:
		out.l = func(ev *evaluator) listView { return ev.slots[i].l }
	default:
		out.a = func(ev *evaluator) any { return ev.slots[i].a }
	}
	return out, nil
}

func (c *closureCompiler) pointer(n *ast.PointerNode) (cnode, error) {
	if n.Name != "" || len(c.elems) == 0 {
		return cnode{}, unsupported("pointer #%s", n.Name)
	}
	d := len(c.elems) - 1
	get := func(ev *evaluator) any { return ev.scope[d] }
	if c.elems[d] == nil {
		return cnode{t: scalar(kDyn), a: get}, nil
	}
	return fromAny(*c.elems[d], get)
}

// fromAny converts a closure giving an any of dynamic type t into one of
// t's kind, giving up when the value is of another type.
func fromAny(t ctype, get func(*evaluator) any) (cnode, error) {
	out := cnode{t: t}
	switch t.k {
	case kBool:
		out.b = func(ev *evaluator) bool {
			v, ok := get(ev).(bool)
			if !ok {
				bail()
			}
			return v
		}
	case kInt:
		out.i = func(ev *evaluator) int {
			v, ok := get(ev).(int)
			if !ok {
				bail()
			}
			return v
		}
	case kFloat:
		out.f = func(ev *evaluator) float64 {
			v, ok := get(ev).(float64)
			if !ok {
				bail()
			}
			return v
		}
	case kString:
		out.s = func(ev *evaluator) string {
			v, ok := get(ev).(string)
			if !ok {
				bail()
			}
			return v
		}
	case kTime:
		out.tm = func(ev *evaluator) time.Time {
			v, ok := get(ev).(time.Time)
			if !ok {
				bail()
			}
			return v
		}
	case kList:
		switch t.rt {
		case anySliceType:
			out.l = func(ev *evaluator) listView {
				v, ok := get(ev).([]any)
				if !ok {
					bail()
				}
				return listView{anys: v}
			}
		case strSliceType:
			out.l = func(ev *evaluator) listView {
				v, ok := get(ev).([]string)
				if !ok {
					bail()
				}
				return listView{strs: v, form: 1}
			}
		default:
			return cnode{}, unsupported("list element of type %s", t.rt)
		}
	case kRec:
		rt := t.rt
		out.a = func(ev *evaluator) any {
			v := get(ev)
			if reflect.TypeOf(v) != rt {
				bail()
			}
			return v
		}
	default:
		out.a = get
	}
	return out, nil
}
