package rules

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hedui/hedui/sources"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the text of the embedded default (Yunnan) rule set.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default compiles the embedded default rule set.
func Default() (*Set, error) { return Parse(defaultYAML, "default.yaml") }

// Mode is how a run reviews households.
type Mode string

// Modes of a run.
const (
	ModeFull        Mode = "full"        // full-base review (全库比对): ref_date = as_of
	ModeIncremental Mode = "incremental" // applicants (逢进必核): ref_date = application_date
)

// Outcome is what a flag asks staff to do.
type Outcome string

// Outcomes. Rules may give any but OutcomeInsufficient, which the engine
// gives when a rule's sources are missing or stale.
const (
	OutcomeIneligible   Outcome = "ineligible"   // cancel or refuse
	OutcomeReview       Outcome = "review"       // a person must look
	OutcomeAdjust       Outcome = "adjust"       // benefit or membership changes
	OutcomeOmission     Outcome = "omission"     // should be covered, is not (漏保)
	OutcomeInfo         Outcome = "info"         // for information
	OutcomeInsufficient Outcome = "insufficient" // a needed source is missing or stale
)

// Scope says what a rule gives flags for.
type Scope string

// Scopes of a rule.
const (
	ScopeMember    Scope = "member"    // one flag per member meeting the condition
	ScopeHousehold Scope = "household" // one flag per household
	ScopeCandidate Scope = "candidate" // omission candidates (no household)
)

// Title is a rule's name in Chinese and English.
type Title struct{ Zh, En string }

// NamedExpr is a named value a rule computes before its cases: later values,
// conditions, facts and messages may use it by name.
type NamedExpr struct {
	Name string
	Expr string
}

// Case is one branch of a rule: the first case whose When holds gives the
// flag its outcome and message.
type Case struct {
	When    string  // boolean expression
	Outcome Outcome //
	Message string  // template: {value} or {value:%.0f} names one of the rule's values
	Facts   string  // expression giving the source records that made the case fire; may be empty
}

// Rule is one compiled rule. Treat it as read-only.
type Rule struct {
	ID         string
	Version    int
	Title      Title
	Scope      Scope
	Modes      []Mode
	Assistance []string       // dibao, tekun, edge
	Sources    []sources.Kind // kinds the rule needs; roster needs no snapshot
	Values     []NamedExpr
	Cases      []Case
	Basis      string // legal basis

	def      *ruleDef
	compiled compiledRule
	fires    []string // rules its expressions ask about
}

// Outcomes lists the distinct outcomes the rule's cases give, in case order.
func (r *Rule) Outcomes() []Outcome {
	var out []Outcome
	for _, c := range r.Cases {
		found := false
		for _, o := range out {
			found = found || o == c.Outcome
		}
		if !found {
			out = append(out, c.Outcome)
		}
	}
	return out
}

// Set is a compiled rule set: parameters and rules. Safe for concurrent use.
type Set struct {
	name   string
	params paramTable
	defs   []*ruleDef
	rules  []*Rule
	byID   map[string]*Rule
	// paramRefs lists, per parameter, who uses it (rule ids, or "engine").
	paramRefs map[string][]string
	digest    string
	canonical []byte
	source    []byte    // the text Parse read; nil for a set made by Extend
	pool      sync.Pool // *evaluator
}

// Source returns the YAML text the set was parsed from, so that a run can
// keep it and a later what-if re-parse the very same set. It is nil for a
// set made by Extend.
func (s *Set) Source() []byte { return s.source }

// Name returns the rule set's name (its `name:` or the file name).
func (s *Set) Name() string { return s.name }

// Rules returns the rules in evaluation order.
func (s *Set) Rules() []*Rule { return s.rules }

// Interpreted reports why the rule runs on expr's VM rather than as
// compiled closures (about twice as slow; the outcome is the same), or nil
// when it runs as closures. A rule using what the closures do not cover
// (`matches`, `?.`, `reduce`…) runs on the VM.
func (r *Rule) Interpreted() error {
	if r.compiled.fast != nil {
		return nil
	}
	if r.compiled.fastErr == nil {
		return errors.New("not compiled to closures")
	}
	return r.compiled.fastErr
}

// Rule returns the rule with the given id.
func (s *Set) Rule(id string) (*Rule, bool) {
	r, ok := s.byID[id]
	return r, ok
}

// Digest returns the sha256 (hex) of the canonical rule-set text: parameters
// and rules after `extends` is applied, independent of comments and layout.
func (s *Set) Digest() string { return s.digest }

// Canonical returns the canonical rule-set text the digest is computed over.
func (s *Set) Canonical() []byte { return append([]byte(nil), s.canonical...) }

// ParamNames lists the parameter names, sorted.
func (s *Set) ParamNames() []string { return s.params.names() }

// Lookup returns the value of a parameter at date for a region code and area:
// the most specific region prefix wins, then an area-specific value, then the
// latest `from`. No value is an error naming the parameter, date, region and area.
func (s *Set) Lookup(name string, date time.Time, region, area string) (ParamValue, error) {
	v, err := s.params.lookup(name, date, region, area)
	if err != nil {
		return ParamValue{}, err
	}
	return *v, nil
}

// Load reads a rule-set file. A file with `extends: default` holds overrides
// of the embedded default set (see Extend).
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse compiles a rule set from YAML text; name is used in error messages.
func Parse(data []byte, name string) (*Set, error) {
	s, err := parse(data, name)
	if err != nil {
		return nil, err
	}
	s.source = append([]byte(nil), data...)
	return s, nil
}

func parse(data []byte, name string) (*Set, error) {
	d := newDoc(data, name)
	root, err := d.root(data)
	if err != nil {
		return nil, err
	}
	top, err := d.mapping(root, "rule set", "name", "description", "extends", "parameters", "rules", "disable")
	if err != nil {
		return nil, err
	}
	if n := top["extends"]; n != nil {
		base, err := d.oneOf(n, "extends", "default")
		if err != nil {
			return nil, err
		}
		_ = base
		def, err := Default()
		if err != nil {
			return nil, fmt.Errorf("the default rule set: %w", err)
		}
		return def.extend(d, top)
	}
	if n := top["disable"]; n != nil {
		return nil, d.errorf(n, "disable: only a file with `extends: default` may disable rules")
	}
	return build(d, top, paramTable{}, nil)
}

// Extend applies an override file (the same format, without `extends`) to s
// and returns the new set: a parameter value with the same region, area and
// from as one of s replaces it, other values are added; a rule with the id
// of one of s replaces it in place, others are appended; `disable: [ids]`
// removes rules. What-if runs use it to change parameters.
func (s *Set) Extend(data []byte, name string) (*Set, error) {
	d := newDoc(data, name)
	root, err := d.root(data)
	if err != nil {
		return nil, err
	}
	top, err := d.mapping(root, "rule set", "name", "description", "extends", "parameters", "rules", "disable")
	if err != nil {
		return nil, err
	}
	return s.extend(d, top)
}

func (s *Set) extend(d *doc, top map[string]*yaml.Node) (*Set, error) {
	defs := append([]*ruleDef(nil), s.defs...)
	if n := top["disable"]; n != nil {
		ids, err := d.strs(n, "disable")
		if err != nil {
			return nil, err
		}
		for i, id := range ids {
			j := indexDef(defs, id)
			if j < 0 {
				return nil, d.errorf(n.Content[i], "disable: no rule %q in %s", id, s.name)
			}
			defs = append(defs[:j], defs[j+1:]...)
		}
	}
	if _, ok := top["name"]; !ok {
		top["name"] = &yaml.Node{Kind: yaml.ScalarNode, Value: s.name + " + " + d.file}
	}
	return build(d, top, s.params.clone(), defs)
}

func indexDef(defs []*ruleDef, id string) int {
	for i, r := range defs {
		if r.id == id {
			return i
		}
	}
	return -1
}

// build parses parameters and rules from top, merges them over the base ones
// and compiles the result.
func build(d *doc, top map[string]*yaml.Node, params paramTable, defs []*ruleDef) (*Set, error) {
	s := &Set{name: d.file, params: params}
	if n := top["name"]; n != nil {
		name, err := d.str(n, "name")
		if err != nil {
			return nil, err
		}
		s.name = name
	}
	if n := top["parameters"]; n != nil {
		own, err := parseParams(d, n)
		if err != nil {
			return nil, err
		}
		if err := own.check(); err != nil {
			return nil, err // two values for one key in the same file
		}
		s.params.merge(own)
	}
	if err := s.params.check(); err != nil {
		return nil, err
	}
	if n := top["rules"]; n != nil {
		items, err := d.seq(n, "rules")
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			def, err := parseRule(d, it)
			if err != nil {
				return nil, err
			}
			if i := indexDef(defs, def.id); i >= 0 {
				if i < len(defs) && defs[i].doc == d {
					return nil, d.errorf(it, "rule %q is defined twice", def.id)
				}
				defs[i] = def
				continue
			}
			defs = append(defs, def)
		}
	}
	s.defs = defs
	if err := s.compile(); err != nil {
		return nil, err
	}
	s.canonical = s.canonicalText()
	sum := sha256.Sum256(s.canonical)
	s.digest = hex.EncodeToString(sum[:])
	s.pool.New = func() any { return newEvaluator(s) }
	return s, nil
}

var regionRE = regexp.MustCompile(`^(\d{2}|\d{4}|\d{6})$`)

func parseParams(d *doc, n *yaml.Node) (paramTable, error) {
	pairs, err := d.pairs(n, "parameters")
	if err != nil {
		return nil, err
	}
	t := paramTable{}
	for _, p := range pairs {
		name := p[0].Value
		if !identRE.MatchString(name) {
			return nil, d.errorf(p[0], "parameter name %q: use lower-case letters, digits and _", name)
		}
		items, err := d.seq(p[1], "parameter "+name)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, d.errorf(p[1], "parameter %q has no values", name)
		}
		for _, it := range items {
			v, err := parseParamValue(d, name, it)
			if err != nil {
				return nil, err
			}
			t[name] = append(t[name], v)
		}
	}
	return t, nil
}

func parseParamValue(d *doc, name string, n *yaml.Node) (*ParamValue, error) {
	what := "parameter " + name
	f, err := d.mapping(n, what, "value", "from", "until", "region", "area", "reference")
	if err != nil {
		return nil, err
	}
	for _, req := range []string{"value", "from", "region", "reference"} {
		if f[req] == nil {
			return nil, d.errorf(n, "%s: missing %s", what, req)
		}
	}
	v := &ParamValue{Name: name, pos: d.pos(n)}
	if vn := f["value"]; vn.Kind == yaml.SequenceNode {
		v.List = true
		if v.Codes, err = d.strs(vn, what+" value"); err != nil {
			return nil, err
		}
	} else if v.Number, err = d.num(vn, what+" value"); err != nil {
		return nil, err
	}
	if v.From, err = d.date(f["from"], what+" from"); err != nil {
		return nil, err
	}
	if un := f["until"]; un != nil {
		if v.Until, err = d.date(un, what+" until"); err != nil {
			return nil, err
		}
		if v.Until.Before(v.From) {
			return nil, d.errorf(un, "%s: until %s is before from %s", what, v.Until.Format(dateLayout), v.From.Format(dateLayout))
		}
	}
	if v.Region, err = d.str(f["region"], what+" region"); err != nil {
		return nil, err
	}
	if !regionRE.MatchString(v.Region) {
		return nil, d.errorf(f["region"], "%s region: %q is not a region prefix; write 2 (province), 4 (city) or 6 (county) digits, e.g. \"53\"", what, v.Region)
	}
	if an := f["area"]; an != nil {
		if v.Area, err = d.oneOf(an, what+" area", "urban", "rural"); err != nil {
			return nil, err
		}
	}
	if v.Reference, err = d.str(f["reference"], what+" reference"); err != nil {
		return nil, err
	}
	return v, nil
}

var (
	identRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	ruleIDRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
)

// exprSrc is an expression as written in the file, kept for compilation and
// for error positions.
type exprSrc struct {
	text string
	doc  *doc
	node *yaml.Node
}

// ruleDef is a rule as parsed, before compilation.
type ruleDef struct {
	id         string
	version    int
	title      Title
	scope      Scope
	modes      []Mode
	assistance []string
	sources    []sources.Kind
	basis      string
	values     []namedSrc
	cases      []caseDef
	doc        *doc
	node       *yaml.Node
}

type namedSrc struct {
	name string
	key  *yaml.Node
	expr exprSrc
}

type caseDef struct {
	when    exprSrc
	outcome Outcome
	message exprSrc // not an expression: a template; kept for its position
	facts   exprSrc // text empty when absent
	node    *yaml.Node
}

var ruleKeys = []string{"id", "version", "title", "scope", "modes", "assistance", "sources",
	"values", "cases", "when", "outcome", "message", "facts", "basis"}

func parseRule(d *doc, n *yaml.Node) (*ruleDef, error) {
	f, err := d.mapping(n, "rule", ruleKeys...)
	if err != nil {
		return nil, err
	}
	r := &ruleDef{doc: d, node: n}
	if f["id"] == nil {
		return nil, d.errorf(n, "rule: missing id")
	}
	if r.id, err = d.str(f["id"], "rule id"); err != nil {
		return nil, err
	}
	if !ruleIDRE.MatchString(r.id) {
		return nil, d.errorf(f["id"], "rule id %q: use lower-case words joined by dots, e.g. vehicle.owned", r.id)
	}
	what := "rule " + r.id
	for _, req := range []string{"version", "title", "scope", "modes", "sources", "basis"} {
		if f[req] == nil {
			return nil, d.errorf(n, "%s: missing %s", what, req)
		}
	}
	if r.version, err = d.integer(f["version"], what+" version"); err != nil {
		return nil, err
	}
	if r.version < 1 {
		return nil, d.errorf(f["version"], "%s version: want 1 or more, got %d", what, r.version)
	}
	tf, err := d.mapping(f["title"], what+" title", "zh", "en")
	if err != nil {
		return nil, err
	}
	if tf["zh"] == nil || tf["en"] == nil {
		return nil, d.errorf(f["title"], "%s title: want both zh and en", what)
	}
	if r.title.Zh, err = d.str(tf["zh"], what+" title zh"); err != nil {
		return nil, err
	}
	if r.title.En, err = d.str(tf["en"], what+" title en"); err != nil {
		return nil, err
	}
	sc, err := d.oneOf(f["scope"], what+" scope", "member", "household", "candidate")
	if err != nil {
		return nil, err
	}
	r.scope = Scope(sc)
	if r.modes, err = parseWords[Mode](d, f["modes"], what+" modes", "full", "incremental"); err != nil {
		return nil, err
	}
	r.assistance = []string{"dibao", "tekun", "edge"}
	if an := f["assistance"]; an != nil {
		if r.assistance, err = parseWords[string](d, an, what+" assistance", "dibao", "tekun", "edge"); err != nil {
			return nil, err
		}
	}
	kinds := []string{string(sources.KindRoster)}
	for _, k := range sources.SourceKinds {
		kinds = append(kinds, string(k))
	}
	if r.sources, err = parseWords[sources.Kind](d, f["sources"], what+" sources", kinds...); err != nil {
		return nil, err
	}
	if r.basis, err = d.str(f["basis"], what+" basis"); err != nil {
		return nil, err
	}
	if vn := f["values"]; vn != nil {
		pairs, err := d.pairs(vn, what+" values")
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			if !identRE.MatchString(p[0].Value) {
				return nil, d.errorf(p[0], "%s values: name %q: use lower-case letters, digits and _", what, p[0].Value)
			}
			e, err := exprOf(d, p[1], what+" values."+p[0].Value)
			if err != nil {
				return nil, err
			}
			r.values = append(r.values, namedSrc{name: p[0].Value, key: p[0], expr: e})
		}
	}
	single := f["when"] != nil || f["outcome"] != nil || f["message"] != nil || f["facts"] != nil
	switch {
	case f["cases"] != nil && single:
		return nil, d.errorf(f["cases"], "%s: give either cases or when/outcome/message/facts, not both", what)
	case f["cases"] != nil:
		items, err := d.seq(f["cases"], what+" cases")
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, d.errorf(f["cases"], "%s: cases is empty", what)
		}
		for _, it := range items {
			cf, err := d.mapping(it, what+" case", "when", "outcome", "message", "facts")
			if err != nil {
				return nil, err
			}
			c, err := parseCase(d, it, cf, what)
			if err != nil {
				return nil, err
			}
			r.cases = append(r.cases, c)
		}
	default:
		c, err := parseCase(d, n, f, what)
		if err != nil {
			return nil, err
		}
		r.cases = append(r.cases, c)
	}
	return r, nil
}

func parseCase(d *doc, n *yaml.Node, f map[string]*yaml.Node, what string) (caseDef, error) {
	c := caseDef{node: n}
	for _, req := range []string{"when", "outcome", "message"} {
		if f[req] == nil {
			return c, d.errorf(n, "%s: missing %s", what, req)
		}
	}
	var err error
	if c.when, err = exprOf(d, f["when"], what+" when"); err != nil {
		return c, err
	}
	o, err := d.oneOf(f["outcome"], what+" outcome", "ineligible", "review", "adjust", "omission", "info")
	if err != nil {
		return c, err
	}
	c.outcome = Outcome(o)
	if c.message, err = exprOf(d, f["message"], what+" message"); err != nil {
		return c, err
	}
	if fn := f["facts"]; fn != nil {
		if c.facts, err = exprOf(d, fn, what+" facts"); err != nil {
			return c, err
		}
	}
	return c, nil
}

func exprOf(d *doc, n *yaml.Node, what string) (exprSrc, error) {
	s, err := d.str(n, what)
	if err != nil {
		return exprSrc{}, err
	}
	if strings.TrimSpace(s) == "" {
		return exprSrc{}, d.errorf(n, "%s is empty", what)
	}
	return exprSrc{text: s, doc: d, node: n}, nil
}

// parseWords reads a non-empty list of distinct words from allowed.
func parseWords[T ~string](d *doc, n *yaml.Node, what string, allowed ...string) ([]T, error) {
	items, err := d.seq(n, what)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.errorf(n, "%s: empty list; allowed: %s", what, strings.Join(allowed, ", "))
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		w, err := d.oneOf(it, what, allowed...)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if string(o) == w {
				return nil, d.errorf(it, "%s: %q listed twice", what, w)
			}
		}
		out = append(out, T(w))
	}
	return out, nil
}

// canonicalText renders the merged rule set as JSON with a fixed layout:
// parameters sorted by name then region, area and from; rules in order.
func (s *Set) canonicalText() []byte {
	type cParam struct {
		Value     any    `json:"value"`
		From      string `json:"from"`
		Until     string `json:"until,omitempty"`
		Region    string `json:"region"`
		Area      string `json:"area,omitempty"`
		Reference string `json:"reference"`
	}
	type cCase struct {
		When    string `json:"when"`
		Outcome string `json:"outcome"`
		Message string `json:"message"`
		Facts   string `json:"facts,omitempty"`
	}
	type cRule struct {
		ID         string         `json:"id"`
		Version    int            `json:"version"`
		Title      [2]string      `json:"title"`
		Scope      string         `json:"scope"`
		Modes      []Mode         `json:"modes"`
		Assistance []string       `json:"assistance"`
		Sources    []sources.Kind `json:"sources"`
		Values     [][2]string    `json:"values"`
		Cases      []cCase        `json:"cases"`
		Basis      string         `json:"basis"`
	}
	type cSet struct {
		Parameters [][2]any `json:"parameters"`
		Rules      []cRule  `json:"rules"`
	}
	var out cSet
	for _, name := range s.params.names() {
		vals := append([]*ParamValue(nil), s.params[name]...)
		sort.Slice(vals, func(i, j int) bool {
			a, b := vals[i], vals[j]
			if a.Region != b.Region {
				return a.Region < b.Region
			}
			if a.Area != b.Area {
				return a.Area < b.Area
			}
			return a.From.Before(b.From)
		})
		cv := make([]cParam, len(vals))
		for i, v := range vals {
			cv[i] = cParam{Value: v.Value(), From: v.From.Format(dateLayout), Region: v.Region, Area: v.Area, Reference: v.Reference}
			if !v.Until.IsZero() {
				cv[i].Until = v.Until.Format(dateLayout)
			}
		}
		out.Parameters = append(out.Parameters, [2]any{name, cv})
	}
	for _, r := range s.rules {
		cr := cRule{ID: r.ID, Version: r.Version, Title: [2]string{r.Title.Zh, r.Title.En}, Scope: string(r.Scope),
			Modes: r.Modes, Assistance: r.Assistance, Sources: r.Sources, Basis: r.Basis, Values: [][2]string{}}
		for _, v := range r.Values {
			cr.Values = append(cr.Values, [2]string{v.Name, v.Expr})
		}
		for _, c := range r.Cases {
			cr.Cases = append(cr.Cases, cCase{When: c.When, Outcome: string(c.Outcome), Message: c.Message, Facts: c.Facts})
		}
		out.Rules = append(out.Rules, cr)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		panic(err) // only strings, numbers and string lists: cannot fail
	}
	return b
}
