package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// hedui runs the command line in-process and returns its exit code and output.
func hedui(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// county generates one county for the whole test binary.
var county = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hedui-cli-test-")
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"gen", "--scale", "county", "--seed", "3", "--out", dir}, &out, &errOut); code != 0 {
		return "", &genError{errOut.String()}
	}
	return dir, nil
})

type genError struct{ msg string }

func (e *genError) Error() string { return "hedui gen failed: " + e.msg }

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := county(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func countyDir(t *testing.T) string {
	t.Helper()
	dir, err := county()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestValidateCountsThePlantedDirtyIDs: the quality report's quarantine
// counts equal, kind by kind and reason by reason, the invalid IDs the
// generator planted.
func TestValidateCountsThePlantedDirtyIDs(t *testing.T) {
	dir := countyDir(t)
	code, stdout, stderr := hedui(t, "validate", "--manifest", filepath.Join(dir, "sources.yaml"), "--json")
	if code != 0 {
		t.Fatalf("validate exit %d: %s", code, stderr)
	}
	var qs []sources.Quality
	if err := json.Unmarshal([]byte(stdout), &qs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "planted.json"))
	if err != nil {
		t.Fatal(err)
	}
	var planted struct {
		Rows  map[string]int64            `json:"rows"`
		Dirty map[string]map[string]int64 `json:"dirty"`
	}
	if err := json.Unmarshal(b, &planted); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	rows := map[string]int64{}
	for _, q := range qs {
		k := string(q.Kind)
		rows[k] += q.Rows
		for reason, n := range q.Quarantined {
			if got[k] == nil {
				got[k] = map[string]int64{}
			}
			got[k][reason] += n
		}
	}
	if len(planted.Dirty) == 0 {
		t.Fatal("planted.json lists no dirty IDs")
	}
	for kind, reasons := range planted.Dirty {
		for reason, n := range reasons {
			if got[kind][reason] != n {
				t.Errorf("%s %s: quarantined %d, planted %d", kind, reason, got[kind][reason], n)
			}
		}
	}
	for kind, reasons := range got {
		for reason, n := range reasons {
			if planted.Dirty[kind][reason] != n {
				t.Errorf("%s %s: quarantined %d, planted %d", kind, reason, n, planted.Dirty[kind][reason])
			}
		}
	}
	for kind, n := range planted.Rows {
		if rows[kind] != n {
			t.Errorf("%s: read %d rows, generated %d", kind, rows[kind], n)
		}
	}
	code, table, _ := hedui(t, "validate", "--manifest", filepath.Join(dir, "sources.yaml"))
	if code != 0 || !strings.Contains(table, "vehicle") || !strings.Contains(table, "checksum") {
		t.Errorf("validate table (exit %d):\n%s", code, table)
	}
}

func TestRunWritesAFinishedRunFolder(t *testing.T) {
	dir := countyDir(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := hedui(t, "run", "--manifest", filepath.Join(dir, "sources.yaml"), "--out", out, "--workers", "2")
	if code != 0 {
		t.Fatalf("run exit %d: %s", code, stderr)
	}
	for _, want := range []string{"households", "vehicle.owned", "omission.candidate", out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run summary lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"flags.parquet", "flags.csv", "households.parquet", "summary.json", "quality.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--manifest", "x.yaml"}, 2, "needs --manifest and --out"},
		{[]string{"run", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"run", "--manifest", "/nonexistent/sources.yaml", "--out", "/tmp/x"}, 1, "nonexistent"},
		{[]string{"run", "--manifest", "m.yaml", "--out", "o", "--mode", "weekly"}, 1, `unknown mode "weekly"`},
		{[]string{"gen", "--out", "/tmp/x", "--as-of", "yesterday"}, 1, `--as-of "yesterday"`},
		{[]string{"rules", "juggle"}, 2, `unknown rules command "juggle"`},
	} {
		code, stdout, stderr := hedui(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.msg) {
			t.Errorf("hedui %v: exit %d, output %q; want exit %d and %q", tc.args, code, stdout+stderr, tc.code, tc.msg)
		}
	}
}

func TestRulesCommands(t *testing.T) {
	code, show, _ := hedui(t, "rules", "show")
	if code != 0 || !strings.Contains(show, "vehicle.owned") || !strings.Contains(show, "dibao_standard") {
		t.Errorf("rules show: exit %d", code)
	}
	cases := filepath.Join(t.TempDir(), "cases.yaml")
	if err := os.WriteFile(cases, mustDefaultCases(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := hedui(t, "rules", "test", cases); code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("rules test: exit %d\n%s%s", code, out, errOut)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("extends: default\nrules:\n  - id: x.y\n    version: 1\n    title: {zh: 坏, en: bad}\n    scope: member\n    sources: [vehicle]\n    basis: b\n    when: member.vehicles.nope > 1\n    outcome: review\n    message: m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := hedui(t, "rules", "lint", "--rules", broken); code != 1 || !strings.Contains(errOut, "x.y") {
		t.Errorf("lint of a broken rule set: exit %d, %s", code, errOut)
	}
	// A rule the closures do not cover is noted (it runs on the VM), and
	// no default rule is.
	slow := filepath.Join(t.TempDir(), "slow.yaml")
	if err := os.WriteFile(slow, []byte("extends: default\nrules:\n  - id: x.slow\n    version: 1\n    title: {zh: 慢, en: slow}\n    scope: member\n    modes: [full]\n    sources: [vehicle]\n    basis: b\n    when: member.name matches \"^王\"\n    outcome: review\n    message: m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := hedui(t, "rules", "lint", "--rules", slow); !strings.Contains(out, "note: rule x.slow runs on expr's VM") || !strings.Contains(out, "matches on string and string") {
		t.Errorf("lint does not note the rule on the VM:\n%s", out)
	}
	// The default set lints clean: its one finding, a standard no rule
	// reads, is a warning.
	if code, out, errOut := hedui(t, "rules", "lint"); code != 0 || strings.Contains(out, "note:") ||
		!strings.Contains(out, `warning: parameter "tekun_basic"`) || !strings.Contains(out, "no problems, 1 warning\n") {
		t.Errorf("lint of the default set: exit %d\n%s%s", code, out, errOut)
	}
}

func mustDefaultCases(t *testing.T) []byte {
	t.Helper()
	b := rules.DefaultCasesYAML()
	if len(b) == 0 {
		t.Fatal("no default cases embedded")
	}
	return b
}

// TestUserChangeNeedsItsAuditEntry: when the audit log named cannot take
// the entry, the users file is left as it was (no unrecorded user change).
func TestUserChangeNeedsItsAuditEntry(t *testing.T) {
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.json")
	auditLog := filepath.Join(dir, "audit.jsonl")
	if code, _, stderr := hedui(t, "user", "add", "admin1", "--role", "admin", "--users", usersFile, "--audit", auditLog); code != 0 {
		t.Fatalf("first user add: exit %d: %s", code, stderr)
	}
	before, err := os.ReadFile(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	// A folder where the log should be: the log cannot be opened.
	broken := filepath.Join(dir, "broken")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := hedui(t, "user", "add", "intake1", "--role", "intake", "--users", usersFile, "--audit", broken)
	if code == 0 || !strings.Contains(stderr, "the users file was not changed") {
		t.Fatalf("user add with an unusable audit log: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	after, err := os.ReadFile(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the users file changed although its audit entry could not be written")
	}
	code, stdout, stderr = hedui(t, "audit", "verify", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "1 entries, chain intact") {
		t.Errorf("audit verify --data: exit %d, %q %q", code, stdout, stderr)
	}
}

// TestShardedRunSkipsReportsUnlessAsked: a run that needed shards skips the
// reports (they hold every flag in memory) and says so; -reports=true
// writes them anyway; one shard writes them as always.
func TestShardedRunSkipsReportsUnlessAsked(t *testing.T) {
	manifest := filepath.Join(countyDir(t), "sources.yaml")
	for _, tc := range []struct {
		args    []string
		reports bool
		say     string
	}{
		{[]string{"--shards", "3"}, false, "reports skipped: the run took 3 shards"},
		{[]string{"--shards", "3", "-reports=true"}, true, "reports: "},
		{[]string{"--shards", "1"}, true, "reports: "},
		{[]string{"-reports=false"}, false, "reports skipped (-reports=false)"},
	} {
		out := filepath.Join(t.TempDir(), "run")
		args := append([]string{"run", "--manifest", manifest, "--out", out, "--workers", "2"}, tc.args...)
		code, stdout, stderr := hedui(t, args...)
		if code != 0 {
			t.Fatalf("hedui %v: exit %d: %s", tc.args, code, stderr)
		}
		if !strings.Contains(stdout, tc.say) {
			t.Errorf("hedui run %v: output lacks %q:\n%s", tc.args, tc.say, stdout)
		}
		_, err := os.Stat(filepath.Join(out, "report.html"))
		if got := err == nil; got != tc.reports {
			t.Errorf("hedui run %v: report.html written %v, want %v", tc.args, got, tc.reports)
		}
	}
}

// TestShardedRunRecordsTheBaseline: a full run given --index keeps its
// memory budget (here three shards) and still records every household's
// flags: the next incremental run, with nothing changed, finds every
// household unchanged and no flag new or cleared.
func TestShardedRunRecordsTheBaseline(t *testing.T) {
	dir := countyDir(t)
	manifest, ix := filepath.Join(dir, "sources.yaml"), filepath.Join(t.TempDir(), "ix")
	code, stdout, stderr := hedui(t, "run", "--manifest", manifest, "--index", ix, "--out", filepath.Join(t.TempDir(), "full"), "--workers", "2", "--shards", "3")
	if code != 0 || !strings.Contains(stdout, "flags recorded in the index") || !strings.Contains(stdout, "reports skipped: the run took 3 shards") {
		t.Fatalf("run --index --shards 3: exit %d\n%s%s", code, stdout, stderr)
	}
	var households int
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "households") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "households")), "%d", &households)
		}
	}
	code, stdout, stderr = hedui(t, "run", "--mode", "incremental", "--manifest", manifest, "--index", ix, "--out", filepath.Join(t.TempDir(), "inc"), "--workers", "2")
	want := fmt.Sprintf("evaluated 0 households and 0 candidates; %d households", households)
	if code != 0 || households == 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "0 new flags, 0 cleared") {
		t.Fatalf("incremental run after it: exit %d, want %q\n%s%s", code, want, stdout, stderr)
	}
}

// TestIndexUpdateSaysHowEachSourceWasApplied: the update table tells a
// source written whole from one updated in place.
func TestIndexUpdateSaysHowEachSourceWasApplied(t *testing.T) {
	src := countyDir(t)
	dir := filepath.Join(t.TempDir(), "county")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	manifest, ix := filepath.Join(dir, "sources.yaml"), filepath.Join(t.TempDir(), "ix")
	code, stdout, stderr := hedui(t, "index", "build", "--manifest", manifest, "--index", ix)
	if code != 0 || !strings.Contains(stdout, "applied") || !regexp.MustCompile(`(?m)^pension .* built +whole `).MatchString(stdout) {
		t.Fatalf("index build: exit %d\n%s%s", code, stdout, stderr)
	}
	// The index warms: every LSM table and digest table read, counted.
	ssts, _ := filepath.Glob(filepath.Join(ix, "*.sst"))
	tables, _ := filepath.Glob(filepath.Join(ix, "tables", "*"))
	code, stdout, stderr = hedui(t, "index", "warm", "--index", ix)
	if want := fmt.Sprintf("warmed %s: %d files, ", ix, len(ssts)+len(tables)); code != 0 || len(ssts) == 0 || !strings.HasPrefix(stdout, want) {
		t.Fatalf("index warm: exit %d, want %q\n%s%s", code, want, stdout, stderr)
	}
	if code, _, stderr = hedui(t, "index", "warm", "--index", dir); code == 0 || !strings.Contains(stderr, "not an index folder") {
		t.Fatalf("index warm of the county folder: exit %d\n%s", code, stderr)
	}
	// A new modification time: read again, compared row by row, nothing
	// rewritten.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "sources/pension.parquet"), later, later); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = hedui(t, "index", "update", "--manifest", manifest, "--index", ix)
	if code != 0 || !regexp.MustCompile(`(?m)^pension .* updated +delta, 0 rows `).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^police .* unchanged +- `).MatchString(stdout) {
		t.Fatalf("index update: exit %d\n%s%s", code, stdout, stderr)
	}
}
