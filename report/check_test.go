package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// A check's evidence comes straight from the rules, not read back from
// JSON: a list of names or IDs held as []string must be masked on the page
// as a run's report masks it.
func TestCheckMasksEvidenceLists(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	const id, other = "11010519491231002X", "李大伟"
	h := &facts.Household{ID: "H1", Region: "530102", Area: "urban", Assistance: "dibao", Status: "applicant",
		Members: []*facts.Member{{PersonID: id, Name: "王小明", Relation: "head"}}}
	fl := rules.Flag{RuleID: "member.hidden", RuleVersion: 1, Outcome: rules.OutcomeReview,
		Message: "户籍同户人 " + other + " 未列入申请家庭",
		Evidence: rules.Evidence{RuleID: "member.hidden", Values: map[string]any{
			"names": []string{other}, "person_ids": []string{id}}}}
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, unmasked := range []bool{false, true} {
		var buf bytes.Buffer
		err := Check(&buf, CheckData{Household: h, Flags: []rules.Flag{fl}, AsOf: asOf,
			Snapshots: map[sources.Kind]time.Time{sources.KindPolice: asOf}}, Options{Rules: set, Unmasked: unmasked})
		if err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		for _, s := range []string{id, other} {
			if got := strings.Contains(page, s); got != unmasked {
				t.Errorf("unmasked=%v: page shows %q: %v, want %v", unmasked, s, got, unmasked)
			}
		}
	}
}
