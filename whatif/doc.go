// Package whatif re-evaluates a finished run under changed parameters: how
// many households would become eligible or lose assistance, where, and at
// what cost, if a standard or threshold changed. It reads only the run
// folder (summary.json, quality.json, rules.yaml, households.parquet,
// flags.parquet), never a source.
//
// A setting (NAME=VALUE, NAME@AREA=VALUE, NAME@REGION=VALUE) becomes an
// override YAML for rules.Set.Extend (see Override); Run.Evaluate applies the
// settings and compares the run's flags with the new ones per target (a
// household-scope flag, a member's flag, a candidate's flag) and rule. To be
// fast it re-evaluates only the households for which a changed parameter
// looks up another value and, on them, only the rules that can read a changed
// parameter (directly, through monthly_standard() or counted_income(), or
// through fires() of such a rule), and from those rules takes only the
// outcomes (rules.OutcomeEvaluator: no messages or evidence, which a
// what-if does not compare); Options.Full, or a scenario without
// settings, re-evaluates everything, which checks that the saved facts
// reproduce the run.
//
// The households are selected from households.parquet's small columns
// (region, area, assistance, candidate), read by row group in parallel; the
// facts_bin column is then read only on the pages that hold a selected row,
// decoded (each member with only the record lists the re-evaluated rules
// and the benefit read, rules.Set.MemberFields), evaluated and dropped row
// group by row group, so that a
// province-sized run needs memory for its small columns and a few row
// groups of facts. A sweep selects the rows of every step first, then reads
// and decodes each selected row once and evaluates every step on it.
//
// Eligible dibao households and benefits: a dibao household (recipient or
// applicant; omission candidates are not households) is eligible when none of
// its flags has outcome ineligible (an adjust flag of the gradual exit, a
// review or an insufficient flag leaves it eligible); its monthly benefit is
// max(0, monthly_standard − per_capita_income) × members, the figures rounded
// to 0.01 元 as households.parquet holds them, i.e. standard × size − counted
// income up to that rounding (BenefitDefinition).
package whatif
