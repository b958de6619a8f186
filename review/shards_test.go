package review

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// runInShards reviews the test region in the given number of shards.
func runInShards(t *testing.T, workers, shards int) (*Result, string) {
	t.Helper()
	return runInShardsEach(t, workers, shards, nil)
}

// runInShardsEach is runInShards with a Config.EachShard.
func runInShardsEach(t *testing.T, workers, shards int, each func(*Result) error) (*Result, string) {
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
	res, err := Run(context.Background(), Config{Manifest: m, Rules: set, Out: out, Workers: workers, Shards: shards,
		CacheDir: t.TempDir(), Logger: quiet(), EachShard: each})
	if err != nil {
		t.Fatal(err)
	}
	if res.Shards != shards {
		t.Fatalf("asked for %d shards, the run had %d", shards, res.Shards)
	}
	return res, out
}

// withoutTimings is summary.json without the stage timings, which differ
// from run to run (and whose rows count the re-reads of a sharded run).
func withoutTimings(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stages", "match_seconds", "rules_seconds"} {
		if _, ok := s[k]; !ok {
			t.Fatalf("summary.json has no %s", k)
		}
		delete(s, k)
	}
	out, _ := json.Marshal(s)
	return string(out)
}

// sameRunFiles fails unless two run folders hold the same outputs.
func sameRunFiles(t *testing.T, a, b, what string) {
	t.Helper()
	names := []string{"flags.parquet", "flags.csv", "households.parquet", "quality.json", "rules.yaml"}
	qa, _ := filepath.Glob(filepath.Join(a, "quarantine", "*.parquet"))
	qb, _ := filepath.Glob(filepath.Join(b, "quarantine", "*.parquet"))
	if len(qa) == 0 || len(qa) != len(qb) {
		t.Fatalf("%s: quarantine files %d vs %d", what, len(qa), len(qb))
	}
	for _, f := range qa {
		names = append(names, filepath.Join("quarantine", filepath.Base(f)))
	}
	for _, name := range names {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s: %s differs", what, name)
		}
	}
	if x, y := withoutTimings(t, filepath.Join(a, "summary.json")), withoutTimings(t, filepath.Join(b, "summary.json")); x != y {
		t.Errorf("%s: summary.json differs apart from timings:\n%s\n%s", what, x, y)
	}
}

// TestShardedRunWritesTheSameFiles: a run cut into shards (households and
// candidates matched, evaluated and written a part at a time) writes the
// same bytes as a run in one shard, whatever the number of workers.
func TestShardedRunWritesTheSameFiles(t *testing.T) {
	one, oneDir := runInShards(t, 2, 1)
	if one.Flags == nil || len(one.Households) == 0 {
		t.Fatal("a one-shard run keeps its flags and households in the result")
	}
	for _, c := range []struct{ workers, shards int }{{1, 3}, {4, 3}, {2, 7}} {
		res, dir := runInShards(t, c.workers, c.shards)
		sameRunFiles(t, oneDir, dir, fmt.Sprintf("1 shard vs %d shards at %d workers", c.shards, c.workers))
		if res.Flags != nil || res.Households != nil {
			t.Errorf("a sharded run keeps %d flags, %d households in memory", len(res.Flags), len(res.Households))
		}
		if res.Summary.Flags != one.Summary.Flags || res.Summary.RowsRead != one.Summary.RowsRead {
			t.Errorf("%d shards: %d flags, %d rows read; one shard: %d, %d", c.shards, res.Summary.Flags, res.Summary.RowsRead,
				one.Summary.Flags, one.Summary.RowsRead)
		}
	}
}

// TestShardedRunCountsReconcile: each source is read by every shard, but
// its rows, matches and quarantined keys are counted once.
func TestShardedRunCountsReconcile(t *testing.T) {
	one, _ := runInShards(t, 2, 1)
	res, _ := runInShards(t, 2, 4)
	for i, q := range append([]*sources.Quality{res.Match.Roster}, res.Match.Quality...) {
		if q.Rows != q.MatchedID+q.Unmatched+q.QuarantinedTotal {
			t.Errorf("%s %s: rows %d != matched %d + unmatched %d + quarantined %d", q.Kind, q.Path, q.Rows, q.MatchedID, q.Unmatched, q.QuarantinedTotal)
		}
		w := one.Match.Roster
		if i > 0 {
			w = one.Match.Quality[i-1]
		}
		if q.Rows != w.Rows || q.MatchedID != w.MatchedID || q.MatchedNameDOB != w.MatchedNameDOB || q.QuarantinedTotal != w.QuarantinedTotal {
			t.Errorf("%s %s: 4 shards %+v, 1 shard %+v", q.Kind, q.Path, q, w)
		}
	}
	var read int64
	for _, st := range res.Summary.Stages {
		read += st.Rows
	}
	if read <= res.Summary.RowsRead {
		t.Errorf("the stages of 4 shards read %d rows, no more than the %d counted once", read, res.Summary.RowsRead)
	}
}

func TestShardsFor(t *testing.T) {
	if n := ShardsFor(150_000, 0); n != 1 {
		t.Errorf("a city (150k members and candidates) in %d shards, want 1", n)
	}
	if n := ShardsFor(6_300_000, 0); n < 4 || n > 16 {
		t.Errorf("a province (6.3M) in %d shards", n)
	}
	if a, b := ShardsFor(6_300_000, 4<<30), ShardsFor(6_300_000, 8<<30); a <= b {
		t.Errorf("a smaller budget should need more shards: 4 GiB %d, 8 GiB %d", a, b)
	}
	if n := ShardsFor(0, 1); n != 1 {
		t.Errorf("nothing to do in %d shards", n)
	}
}

// TestShardedBaselineEqualsOneShard: the index baseline a sharded run feeds
// shard by shard (Config.EachShard) is the one a run in one shard gives,
// every household and candidate with its flags.
func TestShardedBaselineEqualsOneShard(t *testing.T) {
	one, _ := runInShards(t, 2, 1)
	want := NewBaseline()
	if err := want.Add(one); err != nil {
		t.Fatal(err)
	}
	got, shards := NewBaseline(), 0
	res, _ := runInShardsEach(t, 2, 3, func(part *Result) error { shards++; return got.Add(part) })
	if shards != 3 || res.Households != nil {
		t.Fatalf("EachShard called %d times for 3 shards; %d households kept in memory", shards, len(res.Households))
	}
	flagged := 0
	for _, fs := range want.hist {
		if len(fs) > 0 {
			flagged++
		}
	}
	if len(want.hist) != len(one.Households)+len(one.Candidates) || flagged == 0 {
		t.Fatalf("one-shard baseline: %d scopes for %d households and %d candidates, %d flagged", len(want.hist), len(one.Households), len(one.Candidates), flagged)
	}
	if fmt.Sprint(got.hist) != fmt.Sprint(want.hist) {
		t.Fatalf("the sharded baseline differs: %d scopes, want %d", len(got.hist), len(want.hist))
	}
}
