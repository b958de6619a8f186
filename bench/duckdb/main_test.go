package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hedui/hedui/bench/benchkit"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// TestSameFlagsAsHedui generates a county (planted cases, traps, dirty IDs,
// a GB18030 CSV source), derives the Parquet manifest, runs hedui's review
// and the SQL job on it, and requires the same flags of the five rules —
// every outcome, name+birth-date downgrades included.
func TestSameFlagsAsHedui(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a county and runs both engines")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := synth.Generate(ctx, synth.Config{Out: dir, Seed: 7, Scale: "county"}); err != nil {
		t.Fatal(err)
	}
	path, err := benchkit.Prepare(ctx, filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := compareEngines(t, path, filepath.Join(dir, "run"))

	// The comparison must have something to compare: every rule flags, and
	// some flags rest on name + birth-date matches only.
	counts := want.ByRule()
	for _, id := range benchkit.Rules {
		if counts[id+" ineligible"] == 0 {
			t.Errorf("hedui gives no ineligible %s flag: the county does not exercise the rule", id)
		}
	}
	if counts["vehicle.owned review"] == 0 || counts["income.excess adjust"] == 0 {
		t.Errorf("no vehicle.owned review or income.excess adjust flags: %v", counts)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "run", "flags.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("downgraded")) {
		t.Error("no hedui flag was downgraded to review (name + birth-date match): the fallback is not exercised")
	}
	t.Logf("%d flags compared: %v", want.Len(), counts)

	// insufficient: a stale vehicle snapshot and no business source.
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	skip := false
	for _, line := range strings.Split(string(text), "\n") {
		if strings.Contains(line, "- kind:") {
			skip = strings.Contains(line, "kind: business")
		}
		if !skip {
			kept = append(kept, line)
		}
	}
	stale := strings.Replace(strings.Join(kept, "\n"), "snapshot: 2026-10-28", "snapshot: 2025-01-01", 1)
	if stale == strings.Join(kept, "\n") || len(kept) == len(strings.Split(string(text), "\n")) {
		t.Fatal("could not make the vehicle source stale and drop the business source")
	}
	stalePath := filepath.Join(dir, "stale.yaml")
	if err := os.WriteFile(stalePath, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	counts = compareEngines(t, stalePath, filepath.Join(dir, "stale-run")).ByRule()
	if counts["vehicle.owned insufficient"] == 0 || counts["business.owner insufficient"] == 0 {
		t.Errorf("no insufficient flags for a stale vehicle and a missing business source: %v", counts)
	}
}

// compareEngines runs hedui's review (into out) and the SQL job on the
// manifest at path, fails the test on any difference in the five rules'
// flags and returns hedui's.
func compareEngines(t *testing.T, path, out string) benchkit.FlagSet {
	t.Helper()
	ctx := context.Background()
	m, err := sources.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := review.Run(ctx, review.Config{Manifest: m, Rules: set, Out: out, Mode: rules.ModeFull,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	want, err := benchkit.ReadFlagsCSV(filepath.Join(out, "flags.csv"), benchkit.Rules)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	q, err := buildQuery(ctx, db, m, set)
	if err != nil {
		t.Fatal(err)
	}
	csvPath := out + "-duckdb.csv"
	if _, err := runQuery(ctx, db, q, csvPath); err != nil {
		t.Fatal(err)
	}
	got, err := benchkit.ReadFlagsCSV(csvPath, benchkit.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range benchkit.Diff(want, got, "hedui", "duckdb") {
		t.Error(d)
	}
	return want
}

// TestDerivedManifestRefusesCSV checks that the SQL side never reads a CSV
// file (it would need GB18030 decoding DuckDB does not have).
func TestDerivedManifestRefusesCSV(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"roster.csv":  "household_id,person_id\n",
		"vehicle.csv": "owner_id\n",
		"sources.yaml": "as_of: 2026-11-01\nroster: roster.csv\nsources:\n" +
			"  - kind: vehicle\n    path: vehicle.csv\n    snapshot: 2026-10-01\n    encoding: gb18030\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := sources.LoadManifest(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	_, err = buildQuery(context.Background(), openDB(t), m, set)
	if err == nil || !strings.Contains(err.Error(), "CSV") {
		t.Fatalf("buildQuery on a manifest with CSV files: got %v, want an error naming the CSV file", err)
	}
}
