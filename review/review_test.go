package review

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// genRegion generates one small region per test binary: generation is the
// slow part, and every test here only reads it.
var genRegion = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hedui-review-test-")
	if err != nil {
		return "", err
	}
	_, err = synth.Generate(context.Background(), synth.Config{Out: dir, Seed: 7, Residents: 12000, Households: 900,
		AsOf: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	return dir, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := genRegion(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func runRegion(t *testing.T, workers int) (*Result, string) {
	t.Helper()
	dir, err := genRegion()
	if err != nil {
		t.Fatal(err)
	}
	m, err := sources.LoadManifest(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	res, err := Run(context.Background(), Config{Manifest: m, Rules: set, Out: out, Workers: workers, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

func readTruth(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "household_id,person_id,rule_id,outcome" {
		t.Fatalf("truth.csv header: %v", rows[:1])
	}
	out := map[string]bool{}
	for _, r := range rows[1:] {
		out[strings.Join(r, ",")] = true
	}
	return out
}

// TestFullReviewFindsExactlyThePlantedCases is the end-to-end check: every
// planted case is flagged with its rule and outcome, and nothing else is.
func TestFullReviewFindsExactlyThePlantedCases(t *testing.T) {
	res, _ := runRegion(t, 2)
	dir, _ := genRegion()
	truth := readTruth(t, filepath.Join(dir, "truth.csv"))
	got := map[string]bool{}
	for _, f := range res.Flags {
		got[strings.Join([]string{f.HouseholdID, f.PersonID, f.RuleID, string(f.Outcome)}, ",")] = true
	}
	var missing, extra []string
	for k := range truth {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !truth[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%d planted flags missed, %d flags not planted\nmissed: %s\nextra: %s",
			len(missing), len(extra), head(missing), head(extra))
	}
	rulesSeen := map[string]bool{}
	for k := range truth {
		rulesSeen[strings.Split(k, ",")[2]] = true
	}
	set, _ := rules.Default()
	for _, r := range set.Rules() {
		if !rulesSeen[r.ID] {
			t.Errorf("the generator planted no case for rule %s", r.ID)
		}
	}
}

func head(list []string) string {
	if len(list) > 20 {
		list = append(list[:20:20], "…")
	}
	return strings.Join(list, "\n  ")
}

func TestFullReviewCountsReconcile(t *testing.T) {
	res, _ := runRegion(t, 2)
	for _, q := range append([]*sources.Quality{res.Match.Roster}, res.Match.Quality...) {
		if q.Rows != q.ValidKeys+q.QuarantinedTotal {
			t.Errorf("%s %s: rows %d != valid %d + quarantined %d", q.Kind, q.Path, q.Rows, q.ValidKeys, q.QuarantinedTotal)
		}
		if q.Rows != q.MatchedID+q.Unmatched+q.QuarantinedTotal {
			t.Errorf("%s %s: rows %d != matched %d + unmatched %d + quarantined %d", q.Kind, q.Path, q.Rows, q.MatchedID, q.Unmatched, q.QuarantinedTotal)
		}
	}
	if res.Summary.Flags != len(res.Flags) || res.Summary.Households != len(res.Households) {
		t.Errorf("summary %+v disagrees with the result", res.Summary)
	}
}

func TestOutputsIdenticalWhateverTheWorkers(t *testing.T) {
	_, one := runRegion(t, 1)
	_, four := runRegion(t, 4)
	for _, name := range []string{"flags.parquet", "flags.csv", "households.parquet", "quality.json"} {
		a, err := os.ReadFile(filepath.Join(one, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(four, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between --workers 1 and --workers 4", name)
		}
	}
	files, err := filepath.Glob(filepath.Join(one, "quarantine", "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no quarantine/<kind>.parquet files (err %v)", err)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(four, "quarantine", filepath.Base(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("quarantine %s differs between --workers 1 and --workers 4 (err %v)", filepath.Base(f), err)
		}
	}
}

func TestCSVHasBOMForExcel(t *testing.T) {
	_, out := runRegion(t, 2)
	b, err := os.ReadFile(filepath.Join(out, "flags.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\ufeffhousehold_id,person_id,")) {
		t.Fatalf("flags.csv starts %q", b[:min(40, len(b))])
	}
}

func TestCancelledRunLeavesNothing(t *testing.T) {
	dir, err := genRegion()
	if err != nil {
		t.Fatal(err)
	}
	m, err := sources.LoadManifest(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, _ := rules.Default()
	parent := t.TempDir()
	out := filepath.Join(parent, "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Manifest: m, Rules: set, Out: out, Workers: 2, CacheDir: t.TempDir()}); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 0 {
		t.Fatalf("a cancelled run left %v", entries)
	}
}

func TestRefusesToOverwriteAFolderThatIsNotARun(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkOut(out, "summary.json", "run"); err == nil || !strings.Contains(err.Error(), "not a hedui run") {
		t.Fatalf("checkOut = %v", err)
	}
}
