package rules

import (
	"reflect"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	exprrt "github.com/expr-lang/expr/vm/runtime"
)

// eface is the layout of an interface value: the pointer records are read
// through, without reflection, once the type word is checked.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(x any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&x)).typ }

// makeAny returns the interface of type word typ holding pointer p: what
// converting a *T to any gives, for the pointer types (pointer-shaped, so
// the interface holds p itself) whose type word typ is.
func makeAny(typ, p unsafe.Pointer) (x any) {
	e := (*eface)(unsafe.Pointer(&x))
	e.typ, e.data = typ, p
	return x
}

// recordPtr returns a closure giving the address of the struct behind a
// record of type rt (a pointer to a struct, or a struct value in an any,
// which the interface holds by pointer). A nil or mistyped record gives up.
func recordPtr(rt reflect.Type, get func(*evaluator) any) (func(*evaluator) unsafe.Pointer, error) {
	switch {
	case rt.Kind() == reflect.Pointer && rt.Elem().Kind() == reflect.Struct:
	case rt.Kind() == reflect.Struct && rt.Size() > unsafe.Sizeof(uintptr(0)):
	default:
		return nil, unsupported("record of type %s", rt)
	}
	tw := typeWord(reflect.Zero(rt).Interface())
	return func(ev *evaluator) unsafe.Pointer {
		x := get(ev)
		e := (*eface)(unsafe.Pointer(&x))
		if e.typ != tw || e.data == nil {
			bail()
		}
		return e.data
	}, nil
}

// recordField finds the field expr names name in struct st (by its expr
// tag, else its Go name; then in embedded structs), with its offset.
func recordField(st reflect.Type, name string) (reflect.Type, uintptr, bool) {
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Anonymous || !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("expr")
		if tag == name || (tag == "" && f.Name == name) {
			return f.Type, f.Offset, true
		}
	}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if ft, off, ok := recordField(f.Type, name); ok {
				return ft, f.Offset + off, true
			}
		}
	}
	return nil, 0, false
}

func (c *closureCompiler) member(n *ast.MemberNode) (cnode, error) {
	if n.Optional || n.Method {
		return cnode{}, unsupported("optional member or method value")
	}
	base, err := c.node(n.Node)
	if err != nil {
		return cnode{}, err
	}
	switch base.t.k {
	case kRec:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return cnode{}, unsupported("computed field name")
		}
		st := base.t.rt
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		ft, off, ok := recordField(st, prop.Value)
		if !ok {
			return cnode{}, unsupported("field %s of %s", prop.Value, st)
		}
		ptr, err := recordPtr(base.t.rt, base.a)
		if err != nil {
			return cnode{}, err
		}
		return fieldNode(ptr, ft, off)
	case kList:
		idx, ok := n.Property.(*ast.IntegerNode)
		if !ok || idx.Value < 0 {
			return cnode{}, unsupported("list index")
		}
		i, list := idx.Value, base.l
		get := func(ev *evaluator) any {
			l := list(ev)
			if i >= l.len() {
				bail()
			}
			return l.at(i)
		}
		if base.t.elem == nil {
			return cnode{t: scalar(kDyn), a: get}, nil
		}
		return fromAny(*base.t.elem, get)
	}
	return cnode{}, unsupported("member of %v", base.t.k)
}

// fieldNode reads the field of type ft at offset off of the struct ptr
// gives.
func fieldNode(ptr func(*evaluator) unsafe.Pointer, ft reflect.Type, off uintptr) (cnode, error) {
	switch {
	case ft == timeGoType:
		return cnode{t: scalar(kTime), tm: func(ev *evaluator) time.Time { return *(*time.Time)(unsafe.Add(ptr(ev), off)) }}, nil
	case ft.Kind() == reflect.String && ft == reflect.TypeOf(""):
		return cnode{t: scalar(kString), s: func(ev *evaluator) string { return *(*string)(unsafe.Add(ptr(ev), off)) }}, nil
	case ft == reflect.TypeOf(float64(0)):
		return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return *(*float64)(unsafe.Add(ptr(ev), off)) }}, nil
	case ft == reflect.TypeOf(0):
		return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return *(*int)(unsafe.Add(ptr(ev), off)) }}, nil
	case ft == reflect.TypeOf(false):
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return *(*bool)(unsafe.Add(ptr(ev), off)) }}, nil
	case ft == strSliceType:
		return cnode{t: ctype{k: kList, rt: ft, elem: &ctype{k: kString}},
			l: func(ev *evaluator) listView { return listView{strs: *(*[]string)(unsafe.Add(ptr(ev), off)), form: 1} }}, nil
	case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
		// A []*T has the layout of a []unsafe.Pointer.
		etyp := typeWord(reflect.Zero(ft.Elem()).Interface())
		sw := typeWord(reflect.Zero(ft).Interface())
		return cnode{t: ctype{k: kList, rt: ft, elem: &ctype{k: kRec, rt: ft.Elem()}, sw: sw},
			l: func(ev *evaluator) listView {
				return listView{ptrs: *(*[]unsafe.Pointer)(unsafe.Add(ptr(ev), off)), etyp: etyp, form: 2}
			}}, nil
	case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
		etyp := typeWord(reflect.Zero(ft).Interface())
		return cnode{t: ctype{k: kRec, rt: ft}, a: func(ev *evaluator) any {
			return makeAny(etyp, *(*unsafe.Pointer)(unsafe.Add(ptr(ev), off)))
		}}, nil
	}
	return cnode{}, unsupported("field of type %s", ft)
}

func (c *closureCompiler) unary(n *ast.UnaryNode) (cnode, error) {
	x, err := c.node(n.Node)
	if err != nil {
		return cnode{}, err
	}
	switch {
	case (n.Operator == "!" || n.Operator == "not") && x.t.k == kBool:
		f := x.b
		return cnode{t: x.t, b: func(ev *evaluator) bool { return !f(ev) }}, nil
	case n.Operator == "-" && x.t.k == kInt:
		f := x.i
		return cnode{t: x.t, i: func(ev *evaluator) int { return -f(ev) }}, nil
	case n.Operator == "-" && x.t.k == kFloat:
		f := x.f
		return cnode{t: x.t, f: func(ev *evaluator) float64 { return -f(ev) }}, nil
	}
	return cnode{}, unsupported("unary %s", n.Operator)
}

func isNum(t ctype) bool { return t.k == kInt || t.k == kFloat }

// asFloat converts a number closure to float64, as the VM's runtime does
// when an int meets a float.
func asFloat(n cnode) func(*evaluator) float64 {
	switch {
	case n.t.k == kFloat:
		return n.f
	case n.nf != nil:
		return n.nf
	}
	f := n.i
	return func(ev *evaluator) float64 { return float64(f(ev)) }
}

func (c *closureCompiler) binary(n *ast.BinaryNode) (cnode, error) {
	if n.Operator == "in" {
		return c.in(n)
	}
	l, err := c.node(n.Left)
	if err != nil {
		return cnode{}, err
	}
	r, err := c.node(n.Right)
	if err != nil {
		return cnode{}, err
	}
	op := n.Operator
	if out, ok := nilCompare(op, n, l, r); ok {
		return out, nil
	}
	switch {
	case op == "&&" || op == "and" || op == "||" || op == "or":
		if l.t.k != kBool || r.t.k != kBool {
			return cnode{}, unsupported("%s of non-bools", op)
		}
		a, b := l.b, r.b
		if op == "&&" || op == "and" {
			return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return a(ev) && b(ev) }}, nil
		}
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return a(ev) || b(ev) }}, nil
	case l.t.k == kInt && r.t.k == kInt:
		if out, ok := intOp(op, l.i, r.i); ok {
			return out, nil
		}
	case isNum(l.t) && isNum(r.t):
		if out, ok := floatOp(op, asFloat(l), asFloat(r)); ok {
			return out, nil
		}
	case (l.t.k == kFloat && r.nf != nil) || (l.nf != nil && r.t.k == kFloat):
		// int or float64 against a float64: the runtime converts both
		if out, ok := floatOp(op, asFloat(l), asFloat(r)); ok {
			return out, nil
		}
	case l.t.k == kString && r.t.k == kString:
		if out, ok := stringOp(op, l.s, r.s); ok {
			return out, nil
		}
	case l.t.k == kBool && r.t.k == kBool && (op == "==" || op == "!="):
		a, b, ne := l.b, r.b, op == "!="
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return (a(ev) == b(ev)) != ne }}, nil
	}
	return dynOp(op, l, r)
}

func intOp(op string, a, b func(*evaluator) int) (cnode, bool) {
	cmp := func(f func(x, y int) bool) (cnode, bool) {
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return f(a(ev), b(ev)) }}, true
	}
	arith := func(f func(x, y int) int) (cnode, bool) {
		return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return f(a(ev), b(ev)) }}, true
	}
	switch op {
	case "==":
		return cmp(func(x, y int) bool { return x == y })
	case "!=":
		return cmp(func(x, y int) bool { return x != y })
	case "<":
		return cmp(func(x, y int) bool { return x < y })
	case ">":
		return cmp(func(x, y int) bool { return x > y })
	case "<=":
		return cmp(func(x, y int) bool { return x <= y })
	case ">=":
		return cmp(func(x, y int) bool { return x >= y })
	case "+":
		return arith(func(x, y int) int { return x + y })
	case "-":
		return arith(func(x, y int) int { return x - y })
	case "*":
		return arith(func(x, y int) int { return x * y })
	case "/":
		return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return float64(a(ev)) / float64(b(ev)) }}, true
	}
	return cnode{}, false
}

func floatOp(op string, a, b func(*evaluator) float64) (cnode, bool) {
	cmp := func(f func(x, y float64) bool) (cnode, bool) {
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return f(a(ev), b(ev)) }}, true
	}
	arith := func(f func(x, y float64) float64) (cnode, bool) {
		return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return f(a(ev), b(ev)) }}, true
	}
	switch op {
	case "==":
		return cmp(func(x, y float64) bool { return x == y })
	case "!=":
		return cmp(func(x, y float64) bool { return x != y })
	case "<":
		return cmp(func(x, y float64) bool { return x < y })
	case ">":
		return cmp(func(x, y float64) bool { return x > y })
	case "<=":
		return cmp(func(x, y float64) bool { return x <= y })
	case ">=":
		return cmp(func(x, y float64) bool { return x >= y })
	case "+":
		return arith(func(x, y float64) float64 { return x + y })
	case "-":
		return arith(func(x, y float64) float64 { return x - y })
	case "*":
		return arith(func(x, y float64) float64 { return x * y })
	case "/":
		return arith(func(x, y float64) float64 { return x / y })
	}
	return cnode{}, false
}

func stringOp(op string, a, b func(*evaluator) string) (cnode, bool) {
	cmp := func(f func(x, y string) bool) (cnode, bool) {
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return f(a(ev), b(ev)) }}, true
	}
	switch op {
	case "==":
		return cmp(func(x, y string) bool { return x == y })
	case "!=":
		return cmp(func(x, y string) bool { return x != y })
	case "<":
		return cmp(func(x, y string) bool { return x < y })
	case ">":
		return cmp(func(x, y string) bool { return x > y })
	case "<=":
		return cmp(func(x, y string) bool { return x <= y })
	case ">=":
		return cmp(func(x, y string) bool { return x >= y })
	case "+":
		return cnode{t: scalar(kString), s: func(ev *evaluator) string { return a(ev) + b(ev) }}, true
	}
	return cnode{}, false
}

// dynOp boxes both sides and calls the VM's own runtime function, on
// records and values of unknown type dereferenced as the VM does
// (compiler.derefInNeeded): a record pointer compares as its struct.
func dynOp(op string, l, r cnode) (cnode, error) {
	a, b := derefed(l), derefed(r)
	cmp := func(f func(x, y any) bool) (cnode, error) {
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return f(a(ev), b(ev)) }}, nil
	}
	switch op {
	case "==":
		return cmp(exprrt.Equal)
	case "!=":
		return cmp(func(x, y any) bool { return !exprrt.Equal(x, y) })
	case "<":
		return cmp(exprrt.Less)
	case ">":
		return cmp(exprrt.More)
	case "<=":
		return cmp(exprrt.LessOrEqual)
	case ">=":
		return cmp(exprrt.MoreOrEqual)
	case "/":
		return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return exprrt.Divide(a(ev), b(ev)) }}, nil
	}
	var f func(x, y any) any
	switch op {
	case "+":
		f = exprrt.Add
	case "-":
		f = exprrt.Subtract
	case "*":
		f = exprrt.Multiply
	default:
		return cnode{}, unsupported("operator %s on %v and %v", op, l.t.k, r.t.k)
	}
	return cnode{t: scalar(kDyn), a: func(ev *evaluator) any { return f(a(ev), b(ev)) }}, nil
}

func (c *closureCompiler) in(n *ast.BinaryNode) (cnode, error) {
	l, err := c.node(n.Left)
	if err != nil {
		return cnode{}, err
	}
	if l.t.k != kString {
		return cnode{}, unsupported("in with a %v needle", l.t.k)
	}
	needle := l.s
	if k, ok := n.Right.(*ast.ConstantNode); ok {
		set, ok := k.Value.(map[string]struct{})
		if !ok {
			return cnode{}, unsupported("in constant %T", k.Value)
		}
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { _, ok := set[needle(ev)]; return ok }}, nil
	}
	r, err := c.node(n.Right)
	if err != nil {
		return cnode{}, err
	}
	if r.t.k != kList {
		return cnode{}, unsupported("in %v", r.t.k)
	}
	list := r.l
	return cnode{t: scalar(kBool), b: func(ev *evaluator) bool {
		x := needle(ev)
		l := list(ev)
		for i, n := 0, l.len(); i < n; i++ {
			e := l.at(i)
			if s, ok := e.(string); ok {
				if s == x {
					return true
				}
			} else if exprrt.Equal(e, x) {
				return true
			}
		}
		return false
	}}, nil
}

func (c *closureCompiler) conditional(n *ast.ConditionalNode) (cnode, error) {
	cond, err := c.node(n.Cond)
	if err != nil {
		return cnode{}, err
	}
	if cond.t.k != kBool {
		return cnode{}, unsupported("condition of kind %v", cond.t.k)
	}
	x, err := c.node(n.Exp1)
	if err != nil {
		return cnode{}, err
	}
	y, err := c.node(n.Exp2)
	if err != nil {
		return cnode{}, err
	}
	p := cond.b
	if x.t.k == kList && y.t.k == kList && x.t.rt == y.t.rt {
		// [] and a filter: the same Go type, whose elements are the filter's
		x.t.elem = mergeElem(x.t.elem, y.t.elem)
		y.t.elem = x.t.elem
	}
	if !x.t.equal(y.t) {
		a, b := x.boxed(), y.boxed()
		out := cnode{t: scalar(kDyn), a: func(ev *evaluator) any {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}}
		if isNum(x.t) && isNum(y.t) {
			fa, fb := asFloat(x), asFloat(y)
			out.nf = func(ev *evaluator) float64 {
				if p(ev) {
					return fa(ev)
				}
				return fb(ev)
			}
		}
		return out, nil
	}
	out := cnode{t: x.t}
	switch x.t.k {
	case kBool:
		a, b := x.b, y.b
		out.b = func(ev *evaluator) bool {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	case kInt:
		a, b := x.i, y.i
		out.i = func(ev *evaluator) int {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	case kFloat:
		a, b := x.f, y.f
		out.f = func(ev *evaluator) float64 {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	case kString:
		a, b := x.s, y.s
		out.s = func(ev *evaluator) string {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	case kTime:
		a, b := x.tm, y.tm
		out.tm = func(ev *evaluator) time.Time {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	case kList:
		a, b := x.l, y.l
		out.l = func(ev *evaluator) listView {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	default:
		a, b := x.a, y.a
		out.a = func(ev *evaluator) any {
			if p(ev) {
				return a(ev)
			}
			return b(ev)
		}
	}
	return out, nil
}

// Argument conversions of helper-function calls: the VM asserts the
// argument's dynamic type, so a value of another type gives up.

func argString(n cnode) (func(*evaluator) string, error) {
	if n.t.k == kString {
		return n.s, nil
	}
	if n.t.k == kDyn {
		return fromAnyString(n.a), nil
	}
	return nil, unsupported("string argument of kind %v", n.t.k)
}

func fromAnyString(get func(*evaluator) any) func(*evaluator) string {
	x, _ := fromAny(scalar(kString), get)
	return x.s
}

func argFloat(n cnode) (func(*evaluator) float64, error) {
	if n.t.k == kFloat {
		return n.f, nil
	}
	if n.t.k == kDyn {
		x, _ := fromAny(scalar(kFloat), n.a)
		return x.f, nil
	}
	return nil, unsupported("float argument of kind %v", n.t.k)
}

func argTime(n cnode) (func(*evaluator) time.Time, error) {
	if n.t.k == kTime {
		return n.tm, nil
	}
	if n.t.k == kDyn {
		x, _ := fromAny(scalar(kTime), n.a)
		return x.tm, nil
	}
	return nil, unsupported("time argument of kind %v", n.t.k)
}

func argStrings(n cnode) (func(*evaluator) []string, error) {
	if n.t.k != kList || n.t.rt != strSliceType {
		return nil, unsupported("[]string argument of type %v", n.t.rt)
	}
	f := n.l
	return func(ev *evaluator) []string {
		l := f(ev)
		if l.form != 1 {
			bail()
		}
		return l.strs
	}, nil
}

func (c *closureCompiler) call(n *ast.CallNode) (cnode, error) {
	if m, ok := n.Callee.(*ast.MemberNode); ok {
		return c.method(m, n.Arguments)
	}
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return cnode{}, unsupported("call of %T", n.Callee)
	}
	var args []cnode
	for _, a := range n.Arguments {
		x, err := c.node(a)
		if err != nil {
			return cnode{}, err
		}
		args = append(args, x)
	}
	want := map[string]int{"param": 1, "codes": 1, "monthly_standard": 0, "counted_income": 0, "fires": 1,
		"months_between": 2, "within_months": 3, "has_prefix_any": 2, "strip_spaces": 1, "cents": 1}
	if nargs, ok := want[id.Value]; !ok || nargs != len(args) {
		return cnode{}, unsupported("call of %s with %d arguments", id.Value, len(args))
	}
	return helperCall(id.Value, args)
}

func helperCall(name string, args []cnode) (cnode, error) {
	switch name {
	case "monthly_standard":
		return cnode{t: scalar(kFloat), f: (*evaluator).fnMonthlyStandard}, nil
	case "counted_income":
		return cnode{t: scalar(kFloat), f: (*evaluator).fnCountedIncome}, nil
	case "param", "codes", "fires", "strip_spaces":
		s, err := argString(args[0])
		if err != nil {
			return cnode{}, err
		}
		switch name {
		case "param":
			return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return ev.fnParam(s(ev)) }}, nil
		case "codes":
			return cnode{t: ctype{k: kList, rt: strSliceType, elem: &ctype{k: kString}},
				l: func(ev *evaluator) listView { return listView{strs: ev.fnCodes(s(ev)), form: 1} }}, nil
		case "fires":
			return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return ev.fnFires(s(ev)) }}, nil
		}
		return cnode{t: scalar(kString), s: func(ev *evaluator) string { return stripSpaces(s(ev)) }}, nil
	case "cents":
		f, err := argFloat(args[0])
		if err != nil {
			return cnode{}, err
		}
		return cnode{t: scalar(kFloat), f: func(ev *evaluator) float64 { return cents(f(ev)) }}, nil
	case "months_between", "within_months":
		a, err := argTime(args[0])
		if err != nil {
			return cnode{}, err
		}
		b, err := argTime(args[1])
		if err != nil {
			return cnode{}, err
		}
		if name == "months_between" {
			return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return monthsBetween(a(ev), b(ev)) }}, nil
		}
		m, err := argFloat(args[2])
		if err != nil {
			return cnode{}, err
		}
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return withinMonths(a(ev), b(ev), m(ev)) }}, nil
	case "has_prefix_any":
		s, err := argString(args[0])
		if err != nil {
			return cnode{}, err
		}
		p, err := argStrings(args[1])
		if err != nil {
			return cnode{}, err
		}
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return hasPrefixAny(s(ev), p(ev)) }}, nil
	}
	return cnode{}, unsupported("function %s", name)
}

// method compiles the one method call the rule sets use: time.IsZero.
func (c *closureCompiler) method(m *ast.MemberNode, args []ast.Node) (cnode, error) {
	prop, ok := m.Property.(*ast.StringNode)
	if !ok || !m.Method || m.Optional || prop.Value != "IsZero" || len(args) != 0 {
		return cnode{}, unsupported("method call")
	}
	base, err := c.node(m.Node)
	if err != nil {
		return cnode{}, err
	}
	if base.t.k != kTime {
		return cnode{}, unsupported("IsZero of %v", base.t.k)
	}
	t := base.tm
	return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return t(ev).IsZero() }}, nil
}

func (c *closureCompiler) builtin(n *ast.BuiltinNode) (cnode, error) {
	if n.Map != nil || (n.Threshold != nil && n.Name != "count") {
		return cnode{}, unsupported("optimized builtin %s", n.Name)
	}
	switch n.Name {
	case "filter", "map", "all", "any", "none", "one", "count", "sum":
		return c.loop(n)
	case "len":
		if len(n.Arguments) != 1 {
			return cnode{}, unsupported("len arguments")
		}
		x, err := c.node(n.Arguments[0])
		if err != nil {
			return cnode{}, err
		}
		switch x.t.k {
		case kList:
			l := x.l
			return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return l(ev).len() }}, nil
		case kString:
			s := x.s
			return cnode{t: scalar(kInt), i: func(ev *evaluator) int { return utf8.RuneCountInString(s(ev)) }}, nil
		}
		return cnode{}, unsupported("len of %v", x.t.k)
	case "flatten", "uniq", "concat":
		return c.listBuiltin(n)
	case "max", "min":
		return c.library(n)
	}
	return cnode{}, unsupported("builtin %s", n.Name)
}

// loopParts compiles a predicate builtin's list and body; d is the scope
// depth of the body's element.
func (c *closureCompiler) loopParts(n *ast.BuiltinNode) (src, body cnode, d int, err error) {
	if n.Map != nil || (n.Threshold != nil && n.Name != "count") || len(n.Arguments) != 2 {
		return src, body, 0, unsupported("%s with %d arguments", n.Name, len(n.Arguments))
	}
	if src, err = c.node(n.Arguments[0]); err != nil {
		return src, body, 0, err
	}
	pred, ok := n.Arguments[1].(*ast.PredicateNode)
	if src.t.k != kList || !ok || len(c.elems) >= maxScope {
		return src, body, 0, unsupported("%s over %v", n.Name, src.t.k)
	}
	d = len(c.elems)
	c.elems = append(c.elems, src.t.elem)
	body, err = c.node(pred.Node)
	c.elems = c.elems[:d]
	return src, body, d, err
}

// loop compiles the predicate builtins.
func (c *closureCompiler) loop(n *ast.BuiltinNode) (cnode, error) {
	src, body, d, err := c.loopParts(n)
	if err != nil {
		return cnode{}, err
	}
	list := src.l
	switch {
	case n.Name == "map":
		f := body.boxed()
		et := body.t
		return cnode{t: ctype{k: kList, rt: anySliceType, elem: &et}, l: func(ev *evaluator) listView {
			l := list(ev)
			out := make([]any, l.len())
			for i := range out {
				ev.scope[d] = l.at(i)
				out[i] = f(ev)
			}
			return listView{anys: out}
		}}, nil
	case n.Name == "sum":
		return sumLoop(list, d, body)
	case body.t.k != kBool:
		return cnode{}, unsupported("%s predicate of kind %v", n.Name, body.t.k)
	}
	p := body.b
	switch n.Name {
	case "filter":
		return cnode{t: ctype{k: kList, rt: anySliceType, elem: src.t.elem}, l: func(ev *evaluator) listView {
			l := list(ev)
			var out []any
			for i, n := 0, l.len(); i < n; i++ {
				e := l.at(i)
				ev.scope[d] = e
				if p(ev) {
					out = append(out, e)
				}
			}
			if out == nil {
				out = []any{}
			}
			return listView{anys: out}
		}}, nil
	case "count", "one":
		// expr's optimizer turns len(filter(l, p)) into count(l, p), and
		// count(l, p) > 2 into a count that stops at the threshold.
		thr := -1
		if n.Threshold != nil {
			thr = *n.Threshold
		}
		count := func(ev *evaluator) int {
			l := list(ev)
			c := 0
			for i, n := 0, l.len(); i < n; i++ {
				ev.scope[d] = l.at(i)
				if p(ev) {
					if c++; c == thr {
						break
					}
				}
			}
			return c
		}
		if n.Name == "one" {
			return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return count(ev) == 1 }}, nil
		}
		return cnode{t: scalar(kInt), i: count}, nil
	case "none":
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool {
			l := list(ev)
			for i, n := 0, l.len(); i < n; i++ {
				ev.scope[d] = l.at(i)
				if p(ev) {
					return false
				}
			}
			return true
		}}, nil
	case "all", "any":
		want := n.Name == "any" // the answer when p holds for one element
		return cnode{t: scalar(kBool), b: func(ev *evaluator) bool {
			l := list(ev)
			for i, n := 0, l.len(); i < n; i++ {
				ev.scope[d] = l.at(i)
				if p(ev) == want {
					return want
				}
			}
			return !want
		}}, nil
	}
	return cnode{}, unsupported("builtin %s", n.Name)
}

// sumLoop is sum(list, body): the VM starts from int 0 and adds each
// value, so an empty list sums to int 0 and floats to a float64.
func sumLoop(list func(*evaluator) listView, d int, body cnode) (cnode, error) {
	switch body.t.k {
	case kFloat:
		f := body.f
		return cnode{t: scalar(kDyn), a: func(ev *evaluator) any {
			l := list(ev)
			n := l.len()
			if n == 0 {
				return 0
			}
			acc := 0.0
			for i := 0; i < n; i++ {
				ev.scope[d] = l.at(i)
				acc = f(ev) + acc
			}
			return acc
		}}, nil
	case kInt:
		f := body.i
		return cnode{t: scalar(kDyn), a: func(ev *evaluator) any {
			l := list(ev)
			acc := 0
			for i, n := 0, l.len(); i < n; i++ {
				ev.scope[d] = l.at(i)
				acc = f(ev) + acc
			}
			return acc
		}}, nil
	case kDyn:
		f := body.a
		return cnode{t: scalar(kDyn), a: func(ev *evaluator) any {
			l := list(ev)
			var acc any = 0
			for i, n := 0, l.len(); i < n; i++ {
				ev.scope[d] = l.at(i)
				acc = exprrt.Add(f(ev), acc)
			}
			return acc
		}}, nil
	}
	return cnode{}, unsupported("sum of %v", body.t.k)
}

// library calls one of expr's own builtin functions on boxed arguments:
// they run rarely (household-wide lists, message values), and calling
// expr's code keeps their results exactly the VM's.
func (c *closureCompiler) library(n *ast.BuiltinNode) (cnode, error) {
	id, ok := builtin.Index[n.Name]
	if !ok {
		return cnode{}, unsupported("builtin %s", n.Name)
	}
	fn := builtin.Builtins[id]
	var args []func(*evaluator) any
	var types []ctype
	for _, a := range n.Arguments {
		x, err := c.node(a)
		if err != nil {
			return cnode{}, err
		}
		switch x.t.k {
		case kRec:
			return cnode{}, unsupported("%s of a record", n.Name) // the VM dereferences records
		case kDyn:
			args = append(args, notPointer(x.a))
		default:
			args = append(args, x.boxed())
		}
		types = append(types, x.t)
	}
	call := func(ev *evaluator) any {
		in := make([]any, len(args))
		for i, a := range args {
			in[i] = a(ev)
		}
		var out any
		var err error
		switch {
		case fn.Safe != nil:
			out, _, err = fn.Safe(in...)
		case fn.Func != nil:
			out, err = fn.Func(in...)
		default:
			bail()
		}
		if err != nil {
			bail()
		}
		return out
	}
	switch n.Name {
	case "max", "min":
		return cnode{t: scalar(kDyn), a: call}, nil
	}
	if len(types) == 0 || types[0].k != kList {
		return cnode{}, unsupported("%s arguments", n.Name)
	}
	var elem *ctype
	switch n.Name {
	case "uniq":
		elem = types[0].elem
	case "flatten":
		elem = flattenElem(types[0].elem)
	case "concat":
		elem = types[0].elem
		for _, t := range types[1:] {
			if t.k != kList {
				return cnode{}, unsupported("concat of %v", t.k)
			}
			elem = mergeElem(elem, t.elem)
		}
	}
	x, _ := fromAny(ctype{k: kList, rt: anySliceType}, call)
	x.t.elem = elem
	return x, nil
}

// flattenElem is the element type of flatten over a list of elements of
// type t: nested lists are flattened, records dereferenced.
func flattenElem(t *ctype) *ctype {
	if t == nil {
		return nil
	}
	if t.k == kList {
		return flattenElem(t.elem)
	}
	if t.k == kRec && t.rt.Kind() == reflect.Pointer {
		return &ctype{k: kRec, rt: t.rt.Elem()}
	}
	if t.k == kDyn {
		return nil
	}
	return t
}

// mergeElem is the element type of a list that holds a's elements or b's:
// the empty list literal's "no element" type gives way to the other.
func mergeElem(a, b *ctype) *ctype {
	switch {
	case a == nil || b == nil:
		return nil
	case a.k == 0:
		return b
	case b.k == 0:
		return a
	case a.equal(*b):
		return a
	}
	return nil
}

// notPointer gives up on pointers: the VM dereferences a builtin's
// argument of unknown type, which changes only pointers.
func notPointer(get func(*evaluator) any) func(*evaluator) any {
	return func(ev *evaluator) any {
		x := get(ev)
		if x != nil && reflect.TypeOf(x).Kind() == reflect.Pointer {
			bail()
		}
		return x
	}
}

// listBuiltin compiles flatten, uniq and concat over lists: the same steps
// as expr's own functions (builtin/builtin.go, builtin/lib.go), without
// boxing the lists they are given.
func (c *closureCompiler) listBuiltin(n *ast.BuiltinNode) (cnode, error) {
	var lists []func(*evaluator) listView
	var elem *ctype
	for i, a := range n.Arguments {
		x, err := c.node(a)
		if err != nil {
			return cnode{}, err
		}
		if x.t.k != kList {
			return cnode{}, unsupported("%s of %v", n.Name, x.t.k)
		}
		lists = append(lists, x.l)
		if i == 0 {
			elem = x.t.elem
		} else {
			elem = mergeElem(elem, x.t.elem)
		}
	}
	if len(lists) == 0 || (n.Name != "concat" && len(lists) != 1) {
		return cnode{}, unsupported("%s with %d arguments", n.Name, len(lists))
	}
	t := ctype{k: kList, rt: anySliceType, elem: elem}
	switch n.Name {
	case "flatten":
		if m, ok := n.Arguments[0].(*ast.BuiltinNode); ok && m.Name == "map" {
			if out, ok := c.flattenMap(m, flattenElem(elem)); ok {
				return out, nil
			}
		}
		t.elem = flattenElem(elem)
		l := lists[0]
		return cnode{t: t, l: func(ev *evaluator) listView { return listView{anys: flattenList(l(ev))} }}, nil
	case "uniq":
		l := lists[0]
		return cnode{t: t, l: func(ev *evaluator) listView { return listView{anys: uniqList(l(ev))} }}, nil
	}
	return cnode{t: t, l: func(ev *evaluator) listView {
		var out []any // nil when every list is empty, as expr's concat
		for _, l := range lists {
			v := l(ev)
			for i, n := 0, v.len(); i < n; i++ {
				out = append(out, v.at(i))
			}
		}
		return listView{anys: out}
	}}, nil
}

// flattenMap compiles flatten(map(list, body)) for a body giving lists
// without building and boxing the mapped lists: the same elements come
// out, in the same order, as flattenList of the map's result.
func (c *closureCompiler) flattenMap(m *ast.BuiltinNode, elem *ctype) (cnode, bool) {
	src, body, d, err := c.loopParts(m)
	if err != nil || body.t.k != kList {
		return cnode{}, false
	}
	list, inner := src.l, body.l
	return cnode{t: ctype{k: kList, rt: anySliceType, elem: elem}, l: func(ev *evaluator) listView {
		ret := []any{}
		l := list(ev)
		for i, n := 0, l.len(); i < n; i++ {
			ev.scope[d] = l.at(i)
			v := inner(ev)
			for j, vn := 0, v.len(); j < vn; j++ {
				ret = flattenAny(ret, v.at(j), 1)
			}
		}
		return listView{anys: ret}
	}}, true
}

// flattenList is expr's flatten: nested lists are spliced in, pointers
// and interfaces dereferenced (records come out as struct values).
func flattenList(l listView) []any {
	ret := []any{}
	for i, n := 0, l.len(); i < n; i++ {
		ret = flattenAny(ret, l.at(i), 0)
	}
	return ret
}

// flattenAny appends element x of a list at depth to ret, as flatten
// does: a nil element stays nil.
func flattenAny(ret []any, x any, depth int) []any {
	if x == nil {
		return append(ret, nil)
	}
	return flattenValue(ret, reflect.ValueOf(x), depth)
}

// maxFlattenDepth is where the closures leave deeper nesting to the VM.
const maxFlattenDepth = 32

func flattenValue(ret []any, v reflect.Value, depth int) []any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			break
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Array && v.Kind() != reflect.Slice {
		return append(ret, v.Interface())
	}
	if depth >= maxFlattenDepth {
		bail()
	}
	for i := 0; i < v.Len(); i++ {
		ret = flattenValue(ret, v.Index(i), depth+1)
	}
	return ret
}

// uniqList is expr's uniq: the first of each run of equal elements, in
// order, compared as the VM's == does.
func uniqList(l listView) []any {
	ret := []any{}
	for i, n := 0, l.len(); i < n; i++ {
		x := l.at(i)
		dup := false
		for _, r := range ret {
			if exprrt.Equal(x, r) {
				dup = true
				break
			}
		}
		if !dup {
			ret = append(ret, x)
		}
	}
	return ret
}

// derefed gives n's value boxed, dereferenced where the VM dereferences
// an operand: when its type may be a pointer.
func derefed(n cnode) func(*evaluator) any {
	f := n.boxed()
	if n.t.k != kRec && n.t.k != kDyn {
		return f
	}
	return func(ev *evaluator) any { return derefAny(f(ev)) }
}

// derefAny is expr's deref.Interface: pointers and interfaces are followed
// to the value, a nil one gives nil.
func derefAny(p any) any {
	if p == nil {
		return nil
	}
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface {
		return p
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// nilCompare compiles x == nil and x != nil for records, lists and values
// of unknown type without boxing a dereferenced copy: the VM's
// Equal(deref(x), nil) holds exactly when derefIsNil(x).
func nilCompare(op string, n *ast.BinaryNode, l, r cnode) (cnode, bool) {
	if op != "==" && op != "!=" {
		return cnode{}, false
	}
	x := l
	if _, isNil := n.Left.(*ast.NilNode); isNil {
		x = r
	} else if _, isNil := n.Right.(*ast.NilNode); !isNil {
		return cnode{}, false
	}
	if x.t.k != kRec && x.t.k != kDyn && x.t.k != kList {
		return cnode{}, false
	}
	f, ne := x.boxed(), op == "!="
	return cnode{t: scalar(kBool), b: func(ev *evaluator) bool { return derefIsNil(f(ev)) != ne }}, true
}

// derefIsNil reports whether derefAny(p) is nil or a nil map, slice,
// channel or function.
func derefIsNil(p any) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return true
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Chan, reflect.Func, reflect.Map, reflect.Slice:
		return v.IsNil()
	}
	return false
}
