package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// TestMain runs the pipelines of this package on prism, in-process.
func TestMain(m *testing.M) { ptest.Main(m) }

// parityRun is one synthetic county reviewed both ways.
type parityRun struct {
	want, got       []review.FlagRow
	wantQ, gotQ     review.Quality
	beamOut, runOut string
	shards          int
}

// runBoth generates a small county, reviews it in-process with review.Run
// (what `hedui run` does) and with the Beam pipeline on prism.
func runBoth(t *testing.T) *parityRun {
	t.Helper()
	dir := t.TempDir()
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := synth.Generate(context.Background(), synth.Config{Out: dir, Seed: 11, Residents: 6000, Households: 500, AsOf: asOf}); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "sources.yaml")
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// synth writes valid roster IDs only, and one row group per small file:
	// break three roster IDs (roster.invalid_id) and cut every Parquet file
	// into small row groups, so that rows of one entry span many chunks.
	broken := 0
	bad := []string{"", "53010219900307001", "530102199003070012"}
	rewriteParquet(t, m.Roster.Files[0], 97, func(i int, row parquet.Row, col int) {
		if i%151 == 7 && broken < len(bad) {
			v := row[col]
			row[col] = parquet.ByteArrayValue([]byte(bad[broken])).Level(v.RepetitionLevel(), v.DefinitionLevel(), col)
			broken++
		}
	})
	for _, e := range m.Sources {
		for _, f := range e.Files {
			if filepath.Ext(f) == ".parquet" {
				rewriteParquet(t, f, 211, nil)
			}
		}
	}
	m, err = sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	pr := &parityRun{runOut: filepath.Join(dir, "run"), beamOut: filepath.Join(dir, "beam"), shards: 3}
	cache := filepath.Join(dir, "cache")
	start := time.Now()
	if _, err := review.Run(context.Background(), review.Config{Manifest: m, Rules: set, Out: pr.runOut, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	t.Logf("review.Run: %.1fs", time.Since(start).Seconds())
	pr.want = readParquet(t, filepath.Join(pr.runOut, "flags.parquet"))
	readJSON(t, filepath.Join(pr.runOut, "quality.json"), &pr.wantQ)

	if err := os.MkdirAll(pr.beamOut, 0o755); err != nil {
		t.Fatal(err)
	}
	job := Job{Manifest: manifest, CacheDir: cache, Out: pr.beamOut, Shards: pr.shards}
	if err := job.Check(); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	Build(s, job)
	start = time.Now()
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	t.Logf("Beam pipeline on prism: %.1fs", time.Since(start).Seconds())
	pr.got = readShards(t, pr.beamOut, pr.shards)
	readJSON(t, filepath.Join(pr.beamOut, "quality.json"), &pr.gotQ)
	return pr
}

func TestParityWithReviewRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Beam pipeline")
	}
	pr := runBoth(t)

	// The comparison must cover every path of the join, or parity means little.
	covered := map[string]int{}
	for _, r := range pr.want {
		covered[r.RuleID]++
		if r.HouseholdID == "" {
			covered["(omission candidates)"]++
		}
	}
	for _, need := range []string{"roster.invalid_id", "(omission candidates)", "relative.unfiled"} {
		if covered[need] == 0 {
			t.Errorf("the synthetic county gives no %s flag: the parity test would not cover it", need)
		}
	}
	var weak int64
	for _, q := range pr.wantQ.Sources {
		weak += q.MatchedNameDOB
	}
	if weak == 0 {
		t.Error("no source row matched by name + birth date: the parity test would not cover the weak match")
	}
	t.Logf("%d flags compared; by rule: %v; rows matched by name-DOB: %d", len(pr.want), covered, weak)

	if diff := diffFlags(pr.want, pr.got); len(diff) > 0 {
		t.Errorf("Beam flags differ from review.Run's (%d vs %d rows):\n%s", len(pr.got), len(pr.want), join(diff))
	}
	if !reflect.DeepEqual(pr.wantQ, pr.gotQ) {
		w, _ := json.MarshalIndent(pr.wantQ, "", " ")
		g, _ := json.MarshalIndent(pr.gotQ, "", " ")
		t.Errorf("quality.json differs:\nreview.Run:\n%s\nBeam:\n%s", w, g)
	}
	checkCSVShards(t, pr)

	// A deliberately broken expectation must fail the comparison, naming
	// the row: the check above cannot pass by accident.
	if len(pr.want) < 2 {
		t.Fatal("too few flags to perturb")
	}
	broken := slices.Clone(pr.want)
	k := len(broken) / 2
	broken[k].Outcome += "-perturbed"
	diff := diffFlags(broken, pr.got)
	if len(diff) != 1 || !bytes.Contains([]byte(diff[0]), []byte(fmt.Sprintf("row %d:", k))) {
		t.Errorf("a perturbed outcome at row %d: want one difference naming it, got %q", k, diff)
	}
	if diff := diffFlags(broken[1:], pr.got); len(diff) == 0 {
		t.Error("a missing first row: want a difference, got none")
	}
	swapped := slices.Clone(pr.want)
	swapped[0], swapped[len(swapped)-1] = swapped[len(swapped)-1], swapped[0]
	if diff := diffFlags(swapped, pr.got); len(diff) == 0 {
		t.Error("two rows swapped: want a difference (the order is part of parity), got none")
	}
}

// rewriteParquet rewrites a Parquet file in row groups of rowsPerGroup,
// calling change (if not nil) with each row and the person_id column.
func rewriteParquet(t *testing.T, path string, rowsPerGroup int64, change func(i int, row parquet.Row, col int)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	if leaf, ok := pf.Schema().Lookup("person_id"); ok {
		col = leaf.ColumnIndex
	}
	var rows []parquet.Row
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 256)
		for {
			n, err := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				rows = append(rows, r.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rr.Close()
	}
	if change != nil {
		if col < 0 {
			t.Fatalf("%s: no person_id column", path)
		}
		for i, r := range rows {
			change(i, r, col)
		}
	}
	var out bytes.Buffer
	w := parquet.NewWriter(&out, pf.Schema(), parquet.MaxRowsPerRowGroup(rowsPerGroup))
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diffFlags lists the rows where got differs from want, in order.
func diffFlags(want, got []review.FlagRow) []string {
	var out []string
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(want):
			out = append(out, fmt.Sprintf("row %d: extra %s", i, brief(got[i])))
		case i >= len(got):
			out = append(out, fmt.Sprintf("row %d: missing %s", i, brief(want[i])))
		case want[i] != got[i]:
			out = append(out, fmt.Sprintf("row %d:\n  want %s\n  got  %s", i, brief(want[i]), brief(got[i])))
		}
	}
	return out
}

// brief shows a flags row without the bulk of its evidence.
func brief(r review.FlagRow) string {
	s := fmt.Sprintf("%+v", r)
	if rs := []rune(s); len(rs) > 400 {
		s = string(rs[:400]) + "…"
	}
	return s
}

func join(lines []string) string {
	const most = 5 // after a missing row every later row differs: the first few say it
	if len(lines) > most {
		lines = append(lines[:most:most], fmt.Sprintf("… and %d more", len(lines)-most))
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func readParquet(t *testing.T, path string) []review.FlagRow {
	t.Helper()
	rows, err := parquet.ReadFile[review.FlagRow](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readShards merges the flags shards as `hedui run` orders its flags: a
// household lives in one shard, in order; shards are merged by household,
// candidates last by person.
func readShards(t *testing.T, dir string, n int) []review.FlagRow {
	t.Helper()
	var all []review.FlagRow
	for i := range n {
		path := filepath.Join(dir, ShardName(i, n)+".parquet")
		if _, err := os.Stat(path); os.IsNotExist(err) {
			continue // a shard no household hashed to
		}
		all = append(all, readParquet(t, path)...)
	}
	slices.SortStableFunc(all, func(a, b review.FlagRow) int {
		return compareFlags(FlagOut{Row: a}, FlagOut{Row: b})
	})
	return all
}

// checkCSVShards checks that each CSV shard holds exactly its Parquet
// shard's rows under `hedui run`'s header and byte-order mark.
func checkCSVShards(t *testing.T, pr *parityRun) {
	t.Helper()
	wantHead := readCSV(t, filepath.Join(pr.runOut, "flags.csv"))[0]
	for i := range pr.shards {
		base := filepath.Join(pr.beamOut, ShardName(i, pr.shards))
		if _, err := os.Stat(base + ".parquet"); os.IsNotExist(err) {
			continue
		}
		recs := readCSV(t, base+".csv")
		if !slices.Equal(recs[0], wantHead) {
			t.Errorf("%s.csv header %q, want %q", base, recs[0], wantHead)
		}
		var rows []review.FlagRow
		for _, r := range recs[1:] {
			v, err := strconv.Atoi(r[4])
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, review.FlagRow{HouseholdID: r[0], PersonID: r[1], RegionCode: r[2], RuleID: r[3],
				RuleVersion: int32(v), Outcome: r[5], Message: r[6], Basis: r[7], Evidence: r[8]})
		}
		if diff := diffFlags(readParquet(t, base+".parquet"), rows); len(diff) > 0 {
			t.Errorf("%s.csv differs from its Parquet shard:\n%s", base, join(diff))
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		t.Errorf("%s: no UTF-8 byte-order mark", path)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v (%d records)", path, err, len(recs))
	}
	return recs
}
