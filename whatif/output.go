package whatif

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/hedui/hedui/review"
)

// Report is what a what-if writes: a scenario, a sweep, or both (the sweep
// then varies its parameter on top of the scenario's settings).
type Report struct {
	Run      *Run
	Scenario *Scenario // nil for a sweep alone
	Sweep    *Sweep
	Steps    []Step
}

// BenefitDefinition says how benefit totals are computed; whatif.json and
// whatif.html repeat it.
const BenefitDefinition = "monthly benefit = max(0, monthly_standard − per_capita_income) × members (元/month), " +
	"summed over dibao households (recipients and applicants, not omission candidates) with no ineligible flag; " +
	"monthly_standard = dibao_standard ÷ 12 and per_capita_income = counted income ÷ members, both rounded to 0.01 元 " +
	"as households.parquet holds them (i.e. standard × size − counted income, up to that rounding)"

// summaryJSON is whatif.json.
type summaryJSON struct {
	Run              string              `json:"run"`
	AsOf             string              `json:"as_of"`
	Mode             string              `json:"mode"`
	RuleSetDigest    string              `json:"rule_set_digest"`
	Settings         []string            `json:"settings"`
	Overrides        []string            `json:"overrides"`
	RuleSetDigestNew string              `json:"rule_set_digest_after,omitempty"`
	Households       int                 `json:"households"` // rows of households.parquet
	Evaluated        int                 `json:"evaluated"`  // households and candidates re-evaluated
	Benefit          string              `json:"benefit_definition"`
	Total            *Totals             `json:"total,omitempty"`
	ByCounty         map[string]*Totals  `json:"by_county,omitempty"`
	ByRule           map[string]*Changes `json:"by_rule,omitempty"`
	Sweep            *sweepJSON          `json:"sweep,omitempty"`
}

type sweepJSON struct {
	Parameter string   `json:"parameter"`
	From      float64  `json:"from"`
	To        float64  `json:"to"`
	Step      float64  `json:"step"`
	Base      []string `json:"base_settings"`
	Steps     []Step   `json:"steps"`
}

// Write writes the report into the folder out: whatif.json, whatif.html,
// whatif.csv (with a scenario) and sweep.csv (with a sweep). Like a run, the
// folder is written whole or not at all: into a temporary sibling renamed
// into place, replacing an earlier what-if folder but nothing else.
func Write(out string, rep *Report) error {
	return review.WriteFolder(out, "whatif.json", "what-if", func(tmp string) error {
		if rep.Scenario != nil {
			if err := writeChangesCSV(filepath.Join(tmp, "whatif.csv"), rep.Scenario.Changes); err != nil {
				return fmt.Errorf("write whatif.csv: %w", err)
			}
		}
		if rep.Sweep != nil {
			if err := writeSweepCSV(filepath.Join(tmp, "sweep.csv"), rep.Steps); err != nil {
				return fmt.Errorf("write sweep.csv: %w", err)
			}
		}
		b, err := json.MarshalIndent(rep.summary(), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "whatif.json"), append(b, '\n'), 0o644); err != nil {
			return err
		}
		if err := writeHTML(filepath.Join(tmp, "whatif.html"), rep); err != nil {
			return fmt.Errorf("write whatif.html: %w", err)
		}
		return nil
	})
}

func (rep *Report) summary() summaryJSON {
	r := rep.Run
	s := summaryJSON{Run: r.Dir, AsOf: r.Summary.AsOf, Mode: r.Summary.Mode, RuleSetDigest: r.Summary.RuleSetDigest,
		Settings: []string{}, Overrides: []string{}, Households: len(r.Rows), Benefit: BenefitDefinition}
	if sc := rep.Scenario; sc != nil {
		for _, st := range sc.Settings {
			s.Settings = append(s.Settings, st.String())
		}
		s.Overrides = append(s.Overrides, sc.Overrides...)
		s.RuleSetDigestNew, s.Evaluated = sc.Set.Digest(), sc.Evaluated
		s.Total, s.ByCounty, s.ByRule = &sc.Total, sc.ByCounty, sc.ByRule
	}
	if sw := rep.Sweep; sw != nil {
		s.Sweep = &sweepJSON{Parameter: sw.target(), From: sw.From, To: sw.To, Step: sw.Step, Base: s.Settings, Steps: rep.Steps}
	}
	return s
}

// writeChangesCSV writes UTF-8 with a byte-order mark, as flags.csv, so that
// Excel shows it as it is.
func writeChangesCSV(path string, changes []Change) error {
	rows := make([][]string, 0, len(changes)+1)
	rows = append(rows, []string{"household_id", "region_code", "rule_id", "before", "after", "person_id"})
	for _, c := range changes {
		rows = append(rows, []string{c.HouseholdID, c.Region, c.RuleID, string(c.Before), string(c.After), c.PersonID})
	}
	return writeCSV(path, rows)
}

func writeSweepCSV(path string, steps []Step) error {
	rows := [][]string{{"value", "eligible_households", "benefit_total", "newly_flagged", "cleared", "changed", "households_changed"}}
	for _, st := range steps {
		t := st.Totals
		rows = append(rows, []string{strconv.FormatFloat(st.Value, 'f', -1, 64), strconv.Itoa(t.EligibleAfter),
			strconv.FormatFloat(t.BenefitAfter, 'f', 2, 64), strconv.Itoa(t.NewlyFlagged), strconv.Itoa(t.Cleared),
			strconv.Itoa(t.Changed), strconv.Itoa(t.HouseholdsChanged)})
	}
	return writeCSV(path, rows)
}

func writeCSV(path string, rows [][]string) error {
	return review.WriteCSV(path, rows[0], len(rows)-1, func(i int) []string { return rows[i+1] })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
