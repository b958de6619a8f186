package rules

import (
	"fmt"
	"os"
	"slices"
)

// Problem is one finding of Lint.
type Problem struct {
	Where   string // file:line:col, or the rule id / parameter name when no place applies
	Message string
	// Warning marks a finding that leaves the set's verdicts right: a
	// parameter no rule reads, which a set may keep as a documented
	// standard (the default set's 特困 basic living standard) for what-if
	// sweeps and reports.
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return p.Where + ": warning: " + p.Message
	}
	return p.Where + ": " + p.Message
}

// Lint checks a rule set for what compiles but is probably wrong:
// parameters no rule reads (warnings), values nothing uses, rules and
// outcomes no test case covers, failing cases. Coverage is checked against the given cases files; with none,
// against the embedded default cases (for the default set and its extensions).
func Lint(s *Set, casePaths ...string) []Problem {
	var out []Problem
	for _, name := range s.params.names() {
		if len(s.paramRefs[name]) == 0 {
			v := s.params[name][0]
			out = append(out, Problem{Where: v.pos.String(), Message: fmt.Sprintf("parameter %q is not used by any rule", name), Warning: true})
		}
	}
	for _, r := range s.rules {
		out = append(out, lintValues(r)...)
	}
	var reports []*CaseReport
	if len(casePaths) == 0 {
		rep, err := RunCasesData(s, defaultCasesYAML, "default_cases.yaml")
		if err != nil {
			out = append(out, Problem{Where: "default_cases.yaml", Message: "cannot run the default cases: " + err.Error()})
		} else {
			reports = append(reports, rep)
		}
	}
	for _, p := range casePaths {
		data, err := os.ReadFile(p)
		if err == nil {
			var rep *CaseReport
			if rep, err = RunCasesData(s, data, p); err == nil {
				reports = append(reports, rep)
			}
		}
		if err != nil {
			out = append(out, Problem{Where: p, Message: err.Error()})
		}
	}
	covered := map[string][]Outcome{}
	for _, rep := range reports {
		for _, c := range rep.Cases {
			if !c.Pass {
				out = append(out, Problem{Where: fmt.Sprintf("%s:%d", rep.File, c.Line), Message: fmt.Sprintf("case %q fails", c.Name)})
			}
			for _, e := range c.Expected {
				covered[e.RuleID] = append(covered[e.RuleID], e.Outcome)
			}
		}
	}
	for _, r := range s.rules {
		at := r.def.doc.pos(r.def.node).String()
		got := covered[r.ID]
		if len(got) == 0 {
			out = append(out, Problem{Where: at, Message: fmt.Sprintf("rule %s has no test case", r.ID)})
			continue
		}
		for _, o := range r.Outcomes() {
			if !slices.Contains(got, o) {
				out = append(out, Problem{Where: at, Message: fmt.Sprintf("rule %s: no test case expects outcome %s", r.ID, o)})
			}
		}
	}
	return out
}

// lintValues reports rule values that no later value, condition, facts
// expression or message uses.
func lintValues(r *Rule) []Problem {
	var out []Problem
	def := r.def
	for i, v := range def.values {
		used := false
		for _, w := range def.values[i+1:] {
			used = used || mentions(w.expr.text, v.name)
		}
		for _, c := range def.cases {
			used = used || mentions(c.when.text, v.name) || mentions(c.facts.text, v.name) ||
				mentions(c.message.text, "{"+v.name+"}") || mentions(c.message.text, "{"+v.name+":")
		}
		if !used {
			out = append(out, Problem{Where: def.doc.pos(v.key).String(), Message: fmt.Sprintf("rule %s: value %q is not used", r.ID, v.name)})
		}
	}
	return out
}

// mentions reports whether text uses the identifier name (not as part of a longer word).
func mentions(text, name string) bool {
	isWord := func(b byte) bool {
		return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
	}
	for i := 0; i+len(name) <= len(text); i++ {
		if text[i:i+len(name)] != name {
			continue
		}
		if name[0] == '{' {
			return true
		}
		before := i == 0 || !isWord(text[i-1]) && text[i-1] != '.'
		after := i+len(name) == len(text) || !isWord(text[i+len(name)])
		if before && after {
			return true
		}
	}
	return false
}
