package whatif

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hedui/hedui/internal/testregion"
	"github.com/hedui/hedui/review"
)

// genRun generates one small region and reviews it, once per test binary:
// every test here only reads the run folder.
var genRun = sync.OnceValues(func() (string, error) {
	root, err := os.MkdirTemp("", "hedui-whatif-test-")
	if err != nil {
		return "", err
	}
	genRoot = root
	return testregion.Run(context.Background(), root)
})

// genRoot is the folder genRun made, removed after the tests (none when no
// test needed the region).
var genRoot string

func TestMain(m *testing.M) {
	code := m.Run()
	if genRoot != "" {
		os.RemoveAll(genRoot)
	}
	os.Exit(code)
}

func loadRun(t *testing.T) *Run {
	t.Helper()
	dir, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func settings(t *testing.T, sets ...string) []Setting {
	t.Helper()
	var out []Setting
	for _, s := range sets {
		st, err := ParseSetting(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		t.Fatalf("%s has no byte-order mark", path)
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestUnchangedReproducesTheRun: the saved facts carry everything the rules
// read, so evaluating the run's own rule set on them gives the run's flags
// exactly (every household and candidate, rule, target and outcome, in
// order) and its per-capita income and standard.
func TestUnchangedReproducesTheRun(t *testing.T) {
	r := loadRun(t)
	sc, err := r.Evaluate(context.Background(), nil, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Evaluated != len(r.Rows) {
		t.Errorf("an unchanged what-if re-evaluated %d of %d rows; want all", sc.Evaluated, len(r.Rows))
	}
	if len(sc.Changes) != 0 {
		t.Errorf("an unchanged what-if gives %d changes, e.g. %+v", len(sc.Changes), sc.Changes[0])
	}
	if sc.Total.EligibleBefore != sc.Total.EligibleAfter || sc.Total.BenefitBefore != sc.Total.BenefitAfter {
		t.Errorf("totals moved without a change: %+v", sc.Total)
	}
	// Independently of Evaluate's bookkeeping: flag by flag.
	if err := r.DecodeAll(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	flagged := 0
	for i, row := range r.Rows {
		h, err := r.Facts(i)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := r.Set.Evaluate(h, r.Env)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []FlagKey
		for _, f := range fs {
			k := FlagKey{RuleID: f.RuleID, PersonID: f.PersonID, Outcome: f.Outcome}
			if h.Candidate {
				k.PersonID = ""
			}
			got = append(got, k)
		}
		for _, f := range r.Before[i] {
			if _, ok := r.Set.Rule(f.RuleID); ok { // roster.invalid_id comes from the matcher
				want = append(want, f)
			}
		}
		flagged += len(want)
		if !slices.Equal(got, want) {
			t.Errorf("row %d (household %q): flags %v; the run gave %v", i+1, row.HouseholdID, got, want)
		}
		m, err := r.Set.Measure(h, r.Env)
		if err != nil {
			t.Fatal(err)
		}
		if m.PerCapita != row.PerCapitaIncome || m.MonthlyStandard != row.MonthlyStandard {
			t.Errorf("row %d: measures %+v; households.parquet has %v, %v", i+1, m, row.PerCapitaIncome, row.MonthlyStandard)
		}
	}
	if flagged < 100 {
		t.Fatalf("only %d flags in the run: the test data should have hundreds", flagged)
	}
	out := filepath.Join(t.TempDir(), "wi")
	if err := Write(out, &Report{Run: r, Scenario: sc}); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, filepath.Join(out, "whatif.csv")); len(rows) != 1 {
		t.Errorf("whatif.csv has %d rows; want the header alone", len(rows))
	}
}

// TestRuralStandard raises the rural standard: only rural households
// change; income.excess changes on exactly the households predicted from
// households.parquet's per-capita income against the new thresholds; any
// other rule that changes reads the standard.
func TestRuralStandard(t *testing.T) {
	r := loadRun(t)
	sc, err := r.Evaluate(context.Background(), settings(t, "dibao_standard@rural=6000"), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "wi")
	if err := Write(out, &Report{Run: r, Scenario: sc}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(out, "whatif.csv"))
	if strings.Join(rows[0], ",") != "household_id,region_code,rule_id,before,after,person_id" {
		t.Fatalf("whatif.csv header %v", rows[0])
	}
	byID := map[string]*review.HouseholdRow{}
	for i := range r.Rows {
		if !r.Rows[i].Candidate {
			byID[r.Rows[i].HouseholdID] = &r.Rows[i]
		}
	}
	// The rules whose expressions read the standard, found from their text.
	readsStandard := map[string]bool{}
	for _, rl := range r.Set.Rules() {
		for _, v := range rl.Values {
			if strings.Contains(v.Expr, "monthly_standard()") || strings.Contains(v.Expr, `param("dibao_standard")`) {
				readsStandard[rl.ID] = true
			}
		}
	}
	got := map[string][2]string{} // income.excess: household → before, after
	for _, row := range rows[1:] {
		hid, rule, before, after := row[0], row[2], row[3], row[4]
		h := byID[hid]
		if h == nil || h.Area != "rural" {
			t.Errorf("whatif.csv row %v: not a rural household", row)
			continue
		}
		if !readsStandard[rule] {
			t.Errorf("whatif.csv row %v: rule %s does not read the standard (those that do: %v)", row, rule, readsStandard)
		}
		if rule == "income.excess" {
			got[hid] = [2]string{before, after}
		}
	}
	if !readsStandard["assets.excess"] || !readsStandard["single.eligible"] || !readsStandard["income.excess"] {
		t.Fatalf("rules reading the standard: %v", readsStandard)
	}
	// Predict income.excess from the saved per-capita income.
	std := math.Round(6000.0/12*100) / 100
	exit := math.Round(std*1.5*100) / 100
	want := map[string][2]string{}
	for i := range r.Rows {
		h := &r.Rows[i]
		if h.Candidate || h.Assistance != "dibao" || h.Area != "rural" {
			continue
		}
		before := ""
		for _, f := range r.Before[i] {
			if f.RuleID == "income.excess" {
				before = string(f.Outcome)
			}
		}
		after := ""
		switch pc := h.PerCapitaIncome; {
		case pc > std && h.Status == "recipient" && pc <= exit:
			after = "adjust"
		case pc > std:
			after = "ineligible"
		}
		if before != after {
			want[h.HouseholdID] = [2]string{before, after}
		}
	}
	t.Logf("%d income.excess changes predicted; %d rows in whatif.csv; %d of %d rows re-evaluated", len(want), len(rows)-1, sc.Evaluated, len(r.Rows))
	if len(want) == 0 {
		t.Fatal("the prediction finds no income.excess change: the test data should have some")
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("household %s income.excess: whatif.csv has %q; predicted %q", id, got[id], w)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("household %s income.excess %q in whatif.csv was not predicted", id, g)
		}
	}
	// The narrowed evaluation agrees with a full one.
	full, err := r.Evaluate(context.Background(), settings(t, "dibao_standard@rural=6000"), Options{Workers: 2, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(full.Changes, sc.Changes) || full.Total != sc.Total {
		t.Errorf("narrowed and full evaluations differ: %d vs %d changes, totals %+v vs %+v", len(sc.Changes), len(full.Changes), sc.Total, full.Total)
	}
	if sc.Evaluated >= full.Evaluated {
		t.Errorf("the narrowed evaluation re-evaluated %d rows, the full one %d", sc.Evaluated, full.Evaluated)
	}
	// Raising the standard pays more and clears more than it flags.
	if sc.Total.BenefitAfter <= sc.Total.BenefitBefore || sc.Total.EligibleAfter < sc.Total.EligibleBefore {
		t.Errorf("raising the rural standard: totals %+v", sc.Total)
	}
}

func TestOutputsIdenticalWhateverTheWorkers(t *testing.T) {
	dir, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, w := range []int{1, 3} {
		r, err := Load(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Workers: w}
		sc, err := r.Evaluate(context.Background(), settings(t, "dibao_standard@rural=6000", "vehicle_exempt_price=20000"), opts)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := ParseSweep("dibao_standard=4000:8000:2000")
		if err != nil {
			t.Fatal(err)
		}
		steps, err := r.Sweep(context.Background(), nil, sw, opts)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "wi")
		if err := Write(out, &Report{Run: r, Scenario: sc, Sweep: &sw, Steps: steps}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	for _, name := range []string{"whatif.csv", "whatif.json", "whatif.html", "sweep.csv"} {
		a, err := os.ReadFile(filepath.Join(outs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(outs[1], name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between 1 and 3 workers", name)
		}
	}
}

func TestSweepHasOneRowPerStep(t *testing.T) {
	r := loadRun(t)
	sw, err := ParseSweep("dibao_standard@rural=4500:6000:500")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := r.Sweep(context.Background(), nil, sw, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "wi")
	if err := Write(out, &Report{Run: r, Sweep: &sw, Steps: steps}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(out, "sweep.csv"))
	var values []string
	for _, row := range rows[1:] {
		values = append(values, row[0])
	}
	if strings.Join(values, " ") != "4500 5000 5500 6000" {
		t.Fatalf("sweep.csv values %v; want 4500 5000 5500 6000", values)
	}
	// 4500 is the rural standard in force: nothing changes at that step.
	if t0 := steps[0].Totals; t0.NewlyFlagged+t0.Cleared+t0.Changed != 0 || t0.EligibleAfter != t0.EligibleBefore {
		t.Errorf("the step at the standard in force changed something: %+v", t0)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].Totals.BenefitAfter < steps[i-1].Totals.BenefitAfter {
			t.Errorf("benefit total falls from %g to %g as the standard rises", steps[i-1].Totals.BenefitAfter, steps[i].Totals.BenefitAfter)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, "whatif.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-chart="sweep-eligible"`, `data-chart="sweep-benefit"`, `data-category="5500"`} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("whatif.html lacks %s", want)
		}
	}
	if bytes.Contains(html, []byte("<script")) || bytes.Contains(html, []byte("http://")) && !bytes.Contains(html, []byte("http://www.w3.org/2000/svg")) {
		t.Error("whatif.html is not self-contained")
	}
	var js map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "whatif.json"))
	if err := json.Unmarshal(b, &js); err != nil || js["sweep"] == nil {
		t.Errorf("whatif.json sweep missing (err %v)", err)
	}
}

func TestLoadRefusesAnotherRuleSet(t *testing.T) {
	dir, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	for _, name := range []string{"summary.json", "quality.json", "households.parquet", "flags.parquet", "rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "rules.yaml" {
			b = bytes.Replace(b, []byte("value: 7680"), []byte("value: 7681"), 1)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Load(context.Background(), copyDir)
	if err == nil || !strings.Contains(err.Error(), "rule_set_digest") {
		t.Fatalf("Load with an edited rules.yaml: %v; want a digest mismatch", err)
	}
}

func TestWriteRefusesAFolderThatIsNotAWhatIf(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, &Report{Run: &Run{}}); err == nil || !strings.Contains(err.Error(), "not a hedui what-if") {
		t.Fatalf("Write = %v", err)
	}
}

// TestNarrowedEqualsFull: re-evaluating only what a changed parameter
// reaches gives the same changes and totals as re-evaluating everything,
// for parameters read directly, through helpers, through fires() and by the
// engine.
func TestNarrowedEqualsFull(t *testing.T) {
	r := loadRun(t)
	for _, set := range [][]string{
		{"vehicle_exempt_price=10000"},
		{"business_capital_limit=50000", "vehicle_exempt_type_prefixes=M2"},
		{"fund_rate=0.3"},
		{"max_age_days=3"},
		{"dibao_standard@5301=9000", "assets_months@urban=6"},
	} {
		narrow, err := r.Evaluate(context.Background(), settings(t, set...), Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		full, err := r.Evaluate(context.Background(), settings(t, set...), Options{Workers: 2, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(full.Changes) == 0 {
			t.Errorf("%v changes nothing: choose a setting that does", set)
		}
		if !slices.Equal(full.Changes, narrow.Changes) || full.Total != narrow.Total {
			t.Errorf("%v: narrowed %d changes %+v; full %d changes %+v", set, len(narrow.Changes), narrow.Total, len(full.Changes), full.Total)
		}
	}
}
