package benchkit

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Rules are the rule ids both engines evaluate: the ones the DuckDB side can
// express in SQL.
var Rules = []string{"vehicle.owned", "realestate.excess", "income.excess", "payroll.member", "business.owner"}

// Flag is what the comparison looks at of one flag. PersonID is empty for
// household-scope rules.
type Flag struct {
	HouseholdID string
	PersonID    string
	RuleID      string
	Outcome     string
}

func (f Flag) String() string {
	return fmt.Sprintf("%s %s %s %s", f.HouseholdID, maskID(f.PersonID), f.RuleID, f.Outcome)
}

// maskID hides the birth date and part of the sequence (privacy: never print
// a full ID number).
func maskID(s string) string {
	if s == "" {
		return "-"
	}
	if len(s) != 18 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + "********" + s[14:]
}

// FlagSet counts flags; a person on a household twice gives the same flag twice.
type FlagSet map[Flag]int

// Len returns the number of flags, duplicates counted.
func (s FlagSet) Len() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// ReadFlagsCSV reads a flags CSV with a header naming at least household_id,
// person_id, rule_id and outcome (hedui's flags.csv, or the DuckDB side's
// output), keeping the rows whose rule is in rules.
func ReadFlagsCSV(path string, rules []string) (FlagSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	idx := make([]int, 4)
	for i, name := range []string{"household_id", "person_id", "rule_id", "outcome"} {
		j, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("%s: no column %q; columns: %s", path, name, strings.Join(header, ", "))
		}
		idx[i] = j
	}
	out := FlagSet{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		fl := Flag{HouseholdID: rec[idx[0]], PersonID: rec[idx[1]], RuleID: rec[idx[2]], Outcome: rec[idx[3]]}
		if slices.Contains(rules, fl.RuleID) {
			out[fl]++
		}
	}
}

// Restrict returns the flags of s whose outcome is one of outcomes.
func (s FlagSet) Restrict(outcomes ...string) FlagSet {
	out := FlagSet{}
	for f, n := range s {
		if slices.Contains(outcomes, f.Outcome) {
			out[f] = n
		}
	}
	return out
}

// Diff lists, sorted, the flags whose counts differ between a and b, as
// "only in A: ..." / "only in B: ..." lines (with the counts when both have
// the flag). It is empty when the sets are equal.
func Diff(a, b FlagSet, nameA, nameB string) []string {
	var out []string
	for f, n := range a {
		if m := b[f]; m != n {
			if m == 0 {
				out = append(out, fmt.Sprintf("only in %s: %s", nameA, f))
			} else {
				out = append(out, fmt.Sprintf("count differs (%s %d, %s %d): %s", nameA, n, nameB, m, f))
			}
		}
	}
	for f := range b {
		if _, ok := a[f]; !ok {
			out = append(out, fmt.Sprintf("only in %s: %s", nameB, f))
		}
	}
	slices.Sort(out)
	return out
}

// ByRule counts flags per rule and outcome, e.g. "vehicle.owned ineligible".
func (s FlagSet) ByRule() map[string]int {
	out := map[string]int{}
	for f, n := range s {
		out[f.RuleID+" "+f.Outcome] += n
	}
	return out
}
