package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hedui/hedui/bench/benchkit"
)

// harness is one benchmark run.
type harness struct {
	cfg      config
	bins     binaries
	manifest string // the derived manifest both engines read
	ruleSet  string // hedui's --rules, for --job same
	runs     string // folder for run outputs and logs

	heduiRuns, duckRuns []measure
	heduiSum, duckSum   [32]byte // flags file digests of the warm-up runs
	floors              []floor
	loadStart           string
}

// measure is one child process's cost, from wait4's rusage.
type measure struct {
	wall, cpu time.Duration
	rssKB     int64
}

// floor is one scan-floor run: the program's own table and its cost.
type floor struct {
	name   string
	output string
	m      measure
}

func (h *harness) heduiOut() string { return filepath.Join(h.runs, "hedui-run") }
func (h *harness) duckOut() string  { return filepath.Join(h.runs, "duckdb-flags.csv") }

func (h *harness) header() {
	h.loadStart = loadAvg()
	fmt.Printf("hedui end-to-end benchmark — %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("machine: %d cores, %s RAM, %s/%s, %s; commit %s\n", runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), commit())
	fmt.Printf("scale %s, seed %d, %d pairs, job %s, DuckDB threads=%d; load average at start: %s\n\n",
		h.cfg.scale, h.cfg.seed, h.cfg.pairs, h.cfg.job, h.cfg.threads, h.loadStart)
}

// ensureData generates the region once per scale and seed.
func (h *harness) ensureData(ctx context.Context) (string, error) {
	dir := filepath.Join(h.cfg.data, fmt.Sprintf("%s-seed%d", h.cfg.scale, h.cfg.seed))
	if _, err := os.Stat(filepath.Join(dir, "sources.yaml")); err == nil {
		fmt.Printf("data: %s (cached)\n", dir)
		return dir, nil
	}
	args, err := genArgs(h.cfg.scale)
	if err != nil {
		return "", err
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	args = append([]string{"gen", "--seed", fmt.Sprint(h.cfg.seed), "--out", tmp}, args...)
	fmt.Printf("data: generating %s with hedui %s\n", dir, strings.Join(args, " "))
	m, out, err := runChild(ctx, "", h.bins.hedui, args...)
	if err != nil {
		return "", fmt.Errorf("hedui gen: %w\n%s", err, out)
	}
	fmt.Printf("%s  (%.1fs wall, %.1fs CPU, %s peak RSS)\n", strings.TrimSpace(out), m.wall.Seconds(), m.cpu.Seconds(), mib(m.rssKB))
	return dir, os.Rename(tmp, dir)
}

// prepare derives the manifest both engines read (CSV → UTF-8 Parquet once).
func (h *harness) prepare(ctx context.Context, dir string) error {
	start := time.Now()
	p, err := benchkit.Prepare(ctx, filepath.Join(dir, "sources.yaml"))
	if err != nil {
		return err
	}
	h.manifest = p
	if h.cfg.job == "same" {
		if h.manifest, h.ruleSet, err = benchkit.SameJob(p); err != nil {
			return err
		}
		fmt.Printf("job same: hedui and DuckDB read %s; hedui runs only %s (%s), without reports\n",
			h.manifest, strings.Join(benchkit.Rules, ", "), h.ruleSet)
	}
	h.runs = filepath.Join(dir, "runs")
	if err := os.MkdirAll(h.runs, 0o755); err != nil {
		return err
	}
	fmt.Printf("manifest: %s (CSV sources converted to UTF-8 Parquet under %s/, %.1fs; both engines read it)\n\n",
		p, benchkit.ConvertedDir, time.Since(start).Seconds())
	return nil
}

// runHedui runs one full-base review; extra flags go to hedui run.
func (h *harness) runHedui(ctx context.Context, extra ...string) (measure, error) {
	if err := os.RemoveAll(h.heduiOut()); err != nil {
		return measure{}, err
	}
	args := []string{"run", "--manifest", h.manifest, "--out", h.heduiOut()}
	if h.ruleSet != "" {
		args = append(args, "--rules", h.ruleSet, "-reports=false")
	}
	args = append(args, extra...)
	m, out, err := runChild(ctx, filepath.Join(h.runs, "hedui.log"), h.bins.hedui, args...)
	if err != nil {
		return m, fmt.Errorf("hedui run: %w\n%s", err, tail(out, 20))
	}
	return m, nil
}

// runDuck runs the job in DuckDB.
func (h *harness) runDuck(ctx context.Context) (measure, error) {
	os.Remove(h.duckOut())
	m, out, err := runChild(ctx, filepath.Join(h.runs, "duckdb.log"), h.bins.duckdb,
		"run", "--manifest", h.manifest, "--out", h.duckOut(), "--threads", fmt.Sprint(h.cfg.threads))
	if err != nil {
		return m, fmt.Errorf("hedui-duckdb run: %w\n%s", err, tail(out, 20))
	}
	return m, nil
}

// warmUpAndCompare runs each engine once, untimed (page cache, and the
// outputs to compare), and fails when their flags differ.
func (h *harness) warmUpAndCompare(ctx context.Context) error {
	fmt.Println("warm-up (untimed): one run of each engine, then the comparison")
	hm, err := h.runHedui(ctx)
	if err != nil {
		return err
	}
	dm, err := h.runDuck(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("  hedui  %6.2fs wall %6.2fs CPU %8s RSS\n  duckdb %6.2fs wall %6.2fs CPU %8s RSS\n\n",
		hm.wall.Seconds(), hm.cpu.Seconds(), mib(hm.rssKB), dm.wall.Seconds(), dm.cpu.Seconds(), mib(dm.rssKB))
	if h.heduiSum, err = digest(filepath.Join(h.heduiOut(), "flags.csv")); err != nil {
		return err
	}
	if h.duckSum, err = digest(h.duckOut()); err != nil {
		return err
	}
	return h.compare()
}

// compare checks that both engines give the same flags for the five rules.
func (h *harness) compare() error {
	a, err := benchkit.ReadFlagsCSV(filepath.Join(h.heduiOut(), "flags.csv"), benchkit.Rules)
	if err != nil {
		return err
	}
	b, err := benchkit.ReadFlagsCSV(h.duckOut(), benchkit.Rules)
	if err != nil {
		return err
	}
	fmt.Println("comparison: every flag of rules " + strings.Join(benchkit.Rules, ", ") + " as (household_id, person_id, rule_id, outcome),")
	fmt.Println("  all outcomes (ineligible, adjust, review incl. name+birth-date downgrades, insufficient), duplicates counted")
	ca, cb := a.ByRule(), b.ByRule()
	keys := make([]string, 0, len(ca)+len(cb))
	for k := range ca {
		keys = append(keys, k)
	}
	for k := range cb {
		if _, ok := ca[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  rule outcome\thedui\tduckdb\t")
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t\n", k, ca[k], cb[k])
	}
	fmt.Fprintf(tw, "  total\t%d\t%d\t\n", a.Len(), b.Len())
	tw.Flush()
	diffs := benchkit.Diff(a, b, "hedui", "duckdb")
	if len(diffs) == 0 {
		fmt.Println("  identical")
		fmt.Println()
		return nil
	}
	fmt.Printf("  FAIL: %d differences; the first %d:\n", len(diffs), min(len(diffs), h.cfg.maxDiffs))
	for _, d := range diffs[:min(len(diffs), h.cfg.maxDiffs)] {
		fmt.Println("    " + d)
	}
	return errMismatch
}

// timedPairs runs hedui then DuckDB, pairs times; every run's flags must be
// byte-identical to its engine's warm-up run.
func (h *harness) timedPairs(ctx context.Context) error {
	fmt.Printf("timed pairs (A = hedui, B = duckdb):\n")
	for i := range h.cfg.pairs {
		hm, err := h.runHedui(ctx)
		if err != nil {
			return err
		}
		if err := h.sameAs(filepath.Join(h.heduiOut(), "flags.csv"), h.heduiSum, "hedui"); err != nil {
			return err
		}
		dm, err := h.runDuck(ctx)
		if err != nil {
			return err
		}
		if err := h.sameAs(h.duckOut(), h.duckSum, "duckdb"); err != nil {
			return err
		}
		h.heduiRuns, h.duckRuns = append(h.heduiRuns, hm), append(h.duckRuns, dm)
		fmt.Printf("  pair %d: hedui %6.2fs wall %6.2fs CPU %8s | duckdb %6.2fs wall %6.2fs CPU %8s | wall ratio %.3f\n", i+1,
			hm.wall.Seconds(), hm.cpu.Seconds(), mib(hm.rssKB), dm.wall.Seconds(), dm.cpu.Seconds(), mib(dm.rssKB),
			hm.wall.Seconds()/dm.wall.Seconds())
	}
	fmt.Println()
	return nil
}

func (h *harness) sameAs(path string, want [32]byte, engine string) error {
	got, err := digest(path)
	if err != nil {
		return err
	}
	if got != want {
		fmt.Printf("  %s's flags changed between runs; comparing again\n", engine)
		if err := h.compare(); err != nil {
			return err
		}
		return fmt.Errorf("%s gave different flags files from run to run (non-deterministic output)", engine)
	}
	return nil
}

// scanFloors runs the ID-column scans: bench/keyscan (hedui's reader) and
// DuckDB's read_parquet of the key columns alone, one child process each.
func (h *harness) scanFloors(ctx context.Context) {
	fmt.Println("scan floors (the ID column of the roster and every source, nothing else):")
	for _, f := range []struct {
		name string
		bin  string
		args []string
	}{
		{"hedui keyscan (parquet-go pages, personid.Parse)", h.bins.keyscan, []string{"--manifest", h.manifest, "--repeat", "1"}},
		{fmt.Sprintf("duckdb read_parquet(id) threads=%d", h.cfg.threads), h.bins.duckdb, []string{"scan", "--manifest", h.manifest, "--threads", fmt.Sprint(h.cfg.threads)}},
	} {
		m, out, err := runChild(ctx, "", f.bin, f.args...)
		if err != nil {
			fmt.Printf("  %s: failed: %v\n%s\n", f.name, err, tail(out, 10))
			continue
		}
		h.floors = append(h.floors, floor{name: f.name, output: out, m: m})
		fmt.Printf("  %s — process: %.2fs wall, %.2fs CPU, %s peak RSS\n", f.name, m.wall.Seconds(), m.cpu.Seconds(), mib(m.rssKB))
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			fmt.Println("    " + l)
		}
	}
	fmt.Println()
}

// stages prints the per-stage timings of the last timed hedui run, from its
// summary.json: the stages list and every *_seconds figure.
func (h *harness) stages() {
	data, err := os.ReadFile(filepath.Join(h.heduiOut(), "summary.json"))
	if err != nil {
		fmt.Printf("hedui stages: %v\n\n", err)
		return
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		fmt.Printf("hedui stages: summary.json: %v\n\n", err)
		return
	}
	fmt.Println("hedui stages (summary.json of the last timed run):")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  stage\trows\tseconds\t")
	if list, ok := s["stages"].([]any); ok {
		for _, st := range list {
			m, _ := st.(map[string]any)
			fmt.Fprintf(tw, "  %v\t%.0f\t%.3f\t\n", m["name"], num(m["rows"]), num(m["seconds"]))
		}
	}
	var keys []string
	for k := range s {
		if strings.HasSuffix(k, "_seconds") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t\t%.3f\t\n", k, num(s[k]))
	}
	if n := len(h.heduiRuns); n > 0 {
		// What summary.json does not time: output files, reports, start-up.
		rest := h.heduiRuns[n-1].wall.Seconds() - num(s["match_seconds"]) - num(s["rules_seconds"])
		fmt.Fprintf(tw, "  rest of the process wall (outputs, reports, start-up)\t\t%.3f\t\n", rest)
	}
	tw.Flush()
	fmt.Printf("  (%v households, %v members, %v flags)\n\n", s["households"], s["members"], s["flags"])
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// profile runs hedui once more with --cpuprofile when asked and supported.
func (h *harness) profile(ctx context.Context) {
	if h.cfg.cpuprofile == "" {
		return
	}
	_, help, _ := runChild(ctx, "", h.bins.hedui, "run", "-h")
	if !strings.Contains(help, "cpuprofile") {
		fmt.Printf("cpu profile: hedui run has no --cpuprofile flag; skipped\n\n")
		return
	}
	abs, _ := filepath.Abs(h.cfg.cpuprofile)
	m, err := h.runHedui(ctx, "--cpuprofile", abs)
	if err != nil {
		fmt.Printf("cpu profile: %v\n\n", err)
		return
	}
	fmt.Printf("cpu profile: %s (one extra, untimed hedui run: %.2fs wall); go tool pprof -top %s %s\n\n",
		abs, m.wall.Seconds(), h.bins.hedui, abs)
}

// report prints the per-engine figures, the per-pair ratios and the
// machine-readable last line.
func (h *harness) report() {
	fmt.Printf("results (%d pairs, scale %s; load average at start %s, at end %s):\n", len(h.heduiRuns), h.cfg.scale, h.loadStart, loadAvg())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  engine\twall median\tmin\tmax\tCPU median\tmin\tmax\tpeak RSS median\tmin\tmax\t")
	for _, e := range []struct {
		name string
		runs []measure
	}{{"hedui", h.heduiRuns}, {"duckdb", h.duckRuns}} {
		w, c, r := stats(e.runs, func(m measure) float64 { return m.wall.Seconds() }),
			stats(e.runs, func(m measure) float64 { return m.cpu.Seconds() }),
			stats(e.runs, func(m measure) float64 { return float64(m.rssKB) / 1024 })
		fmt.Fprintf(tw, "  %s\t%.2fs\t%.2fs\t%.2fs\t%.2fs\t%.2fs\t%.2fs\t%.0f MiB\t%.0f MiB\t%.0f MiB\t\n", e.name,
			w[0], w[1], w[2], c[0], c[1], c[2], r[0], r[1], r[2])
	}
	tw.Flush()
	ratio := func(f func(measure) float64) []float64 {
		out := make([]float64, len(h.heduiRuns))
		for i := range out {
			out[i] = f(h.heduiRuns[i]) / f(h.duckRuns[i])
		}
		return out
	}
	wall := ratio(func(m measure) float64 { return m.wall.Seconds() })
	cpu := ratio(func(m measure) float64 { return m.cpu.Seconds() })
	rss := ratio(func(m measure) float64 { return float64(m.rssKB) })
	fmt.Println("  per-pair ratios hedui/duckdb (median; each pair):")
	for _, r := range []struct {
		name string
		v    []float64
	}{{"wall", wall}, {"CPU", cpu}, {"peak RSS", rss}} {
		parts := make([]string, len(r.v))
		for i, x := range r.v {
			parts[i] = fmt.Sprintf("%.3f", x)
		}
		fmt.Printf("    %-8s %.3f  [%s]\n", r.name, median(r.v), strings.Join(parts, " "))
	}
	if len(h.floors) > 0 {
		fast := h.floors[0]
		for _, f := range h.floors[1:] {
			if f.m.wall < fast.m.wall {
				fast = f
			}
		}
		hw := stats(h.heduiRuns, func(m measure) float64 { return m.wall.Seconds() })[0]
		fmt.Printf("  hedui wall median / fastest ID-scan floor process (%s, %.2fs): %.2f\n", fast.name, fast.m.wall.Seconds(), hw/fast.m.wall.Seconds())
	}
	job := ""
	if h.cfg.job != "product" {
		job = ", job " + h.cfg.job
	}
	fmt.Printf("wall ratio hedui/duckdb: %.3f (pairs %d, scale %s%s)\n", median(wall), len(wall), h.cfg.scale, job)
}

// stats returns the median, min and max of f over runs.
func stats(runs []measure, f func(measure) float64) [3]float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	if len(v) == 0 {
		return [3]float64{}
	}
	return [3]float64{median(v), slices.Min(v), slices.Max(v)}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// runChild runs a program as a child process and returns its wall time and
// wait4 rusage (user+sys CPU, peak RSS) and its combined output, which is
// also written to logPath when given.
func runChild(ctx context.Context, logPath, bin string, args ...string) (measure, string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	m := measure{wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			m.rssKB = ru.Maxrss // kilobytes on Linux
		}
	}
	if logPath != "" {
		os.WriteFile(logPath, out.Bytes(), 0o644)
	}
	return m, out.String(), err
}

func digest(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	hs := sha256.New()
	if _, err := io.Copy(hs, f); err != nil {
		return [32]byte{}, err
	}
	var d [32]byte
	copy(d[:], hs.Sum(nil))
	return d, nil
}

func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	return "unknown"
}

// commit names the checked-out commit (read-only git), or "unknown".
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += " (+ uncommitted changes)"
	}
	return c
}
