package whatif

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/hedui/hedui/rules"
)

// helperParams are the parameters the rules package's helper functions read
// (rules/env.go; rules keeps this table unexported).
var helperParams = map[string][]string{
	"monthly_standard": {"dibao_standard"},
	"counted_income":   {"fund_rate", "medical_window_months"},
}

// engineParams are read by the engine for every rule with a source
// (max_age_days decides whether a snapshot is stale).
var engineParams = map[string]bool{"max_age_days": true}

// allParams marks a rule whose parameters could not be worked out: it is
// taken to read every parameter.
const allParams = "*"

// ruleReads maps each rule id to the parameters its expressions can read,
// directly, through a helper or through fires() of another rule.
func ruleReads(set *rules.Set) map[string]map[string]bool {
	direct := map[string]map[string]bool{}
	fires := map[string][]string{}
	for _, r := range set.Rules() {
		d := callsOf(r)
		direct[r.ID], fires[r.ID] = d.params, d.fires
	}
	out := map[string]map[string]bool{}
	var visit func(id string, into map[string]bool, seen map[string]bool)
	visit = func(id string, into, seen map[string]bool) {
		if seen[id] {
			return
		}
		seen[id] = true
		for p := range direct[id] {
			into[p] = true
		}
		for _, f := range fires[id] {
			visit(f, into, seen)
		}
	}
	for _, r := range set.Rules() {
		into := map[string]bool{}
		visit(r.ID, into, map[string]bool{})
		out[r.ID] = into
	}
	return out
}

// affectedRules returns the ids of the rules whose outcome may depend on one
// of the named parameters.
func affectedRules(set *rules.Set, names []string) map[string]bool {
	reads := ruleReads(set)
	out := map[string]bool{}
	for _, r := range set.Rules() {
		for _, n := range names {
			if engineParams[n] || reads[r.ID][n] || reads[r.ID][allParams] {
				out[r.ID] = true
			}
		}
	}
	return out
}

type calls struct {
	params map[string]bool
	fires  []string
}

// callsOf finds the param/codes/fires calls and helper calls of r's
// expressions. rules only accepts constant names in these calls, so the
// names can be read from the syntax tree.
func callsOf(r *rules.Rule) calls {
	c := calls{params: map[string]bool{}}
	texts := make([]string, 0, len(r.Values)+2*len(r.Cases))
	for _, v := range r.Values {
		texts = append(texts, v.Expr)
	}
	for _, cs := range r.Cases {
		texts = append(texts, cs.When)
		if cs.Facts != "" {
			texts = append(texts, cs.Facts)
		}
	}
	for _, t := range texts {
		tree, err := parser.Parse(t)
		if err != nil {
			c.params[allParams] = true
			continue
		}
		ast.Walk(&tree.Node, &c)
	}
	return c
}

// Visit implements ast.Visitor.
func (c *calls) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	for _, p := range helperParams[id.Value] {
		c.params[p] = true
	}
	if id.Value != "param" && id.Value != "codes" && id.Value != "fires" {
		return
	}
	var name string
	if len(call.Arguments) == 1 {
		if s, ok := call.Arguments[0].(*ast.StringNode); ok {
			name = s.Value
		}
	}
	switch {
	case name == "":
		c.params[allParams] = true // rules rejects this at load; stay safe
	case id.Value == "fires":
		c.fires = append(c.fires, name)
	default:
		c.params[name] = true
	}
}
