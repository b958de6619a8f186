// Package rules loads, compiles and evaluates rule sets: dated, regional
// parameters and rules written as expressions over a household's facts
// (docs/default-rules.md gives the default set's exact semantics).
//
// # Rule-set file (YAML)
//
//	name: 云南省默认核对规则          # optional
//	extends: default                # optional: this file only overrides the embedded default set
//	disable: [single.eligible]      # with extends only: rules to drop
//	parameters:
//	  dibao_standard:               # name → list of values
//	    - value: 7680               # a number, or a list of codes: [M2, N, T]
//	      from: 2020-06-01
//	      until: 2025-12-31         # optional, inclusive
//	      region: "53"              # region prefix: 53 province, 5301 city, 530102 county
//	      area: urban               # optional: urban | rural
//	      reference: 民发〔2021〕57号 …
//	rules:
//	  - id: vehicle.owned
//	    version: 1
//	    title: {zh: 名下有非豁免机动车, en: Member owns a non-exempt vehicle}
//	    scope: member               # member | household | candidate
//	    modes: [full, incremental]
//	    assistance: [dibao, tekun, edge]   # optional, default all three
//	    sources: [vehicle]          # kinds the rule needs (roster: no snapshot check)
//	    basis: 民发〔2021〕57号 …
//	    values:                     # optional, in order; each may use the ones above
//	      limit: param("vehicle_exempt_price")
//	      over: filter(member.vehicles, .status == "normal" && .price > limit)
//	    cases:                      # the first case whose `when` holds gives the flag
//	      - when: len(over) > 0
//	        outcome: ineligible     # ineligible | review | adjust | omission | info
//	        message: 车辆 {over_plates} 价格超过 {limit} 元   # {value} or {value:%.0f}
//	        facts: over             # optional: the records that made the case fire
//
// A rule with a single case may write when/outcome/message/facts directly
// instead of `cases`. Unknown keys are errors; every error names file:line:col.
//
// # Parameters
//
// Lookup(name, date, region, area) takes, among the values in force on date
// (from ≤ date ≤ until) whose region is a prefix of the household's region
// and whose area is the household's or none: the longest region prefix,
// then an area-specific value, then the latest `from`. No value is an error.
// Expressions read parameters at ref_date for the household's region and area.
//
// # Overrides
//
// A file with `extends: default` is merged over the default set: a parameter
// value with the same region, area and from replaces the default one, others
// are added (so a county adds values with its 6-digit region); a rule with an
// existing id replaces that rule in place (the whole rule), a new id is
// appended; `disable` removes rules. Set.Extend does the same for what-if runs.
//
// # Expressions
//
// Expressions are github.com/expr-lang/expr, compiled once at load and
// type-checked. Variables: household (*facts.Household), member
// (*facts.Member, member and candidate rules only), size (members on the
// roster household, deceased included), as_of, ref_date (as_of; the
// application date for applicants in incremental mode), mode, and the
// rule's values. Record fields use their `expr` names (member.vehicles,
// .plate_no, .match). Functions besides expr's builtins (now() is disabled):
//
//	param("name") float64           number parameter at ref_date (recorded as evidence)
//	codes("name") []string          code-list parameter
//	monthly_standard() float64      dibao_standard ÷ 12
//	counted_income() float64        household counted monthly income (income.excess)
//	fires("rule.id") bool           whether another rule's cases hold for this member/household
//	months_between(a, b) int        (b.year×12+b.month) − (a.year×12+a.month)
//	within_months(d, ref, n) bool   d in (ref − n months, ref]
//	has_prefix_any(s, list) bool
//	strip_spaces(s) string          removes half- and full-width spaces
//	cents(x) float64                rounds to 0.01
//
// # Evaluation
//
// Evaluate gives flags in rule order then member order. A rule whose
// sources are missing from Env.Sources or older than max_age_days gives one
// insufficient flag per household (or candidate) instead. Each rule runs
// first on the records matched by ID; only when that gives no flag does it
// run on every record, and a flag it then gives becomes review.
package rules
