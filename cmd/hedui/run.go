package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hedui/hedui/report"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	manifest := fs.String("manifest", "", "the sources manifest (sources.yaml)")
	out := fs.String("out", "", "the run folder to write")
	rulesFile := fs.String("rules", "", "a rule set YAML file (default: the embedded default rule set)")
	asOf := fs.String("as-of", "", "review as of this date (YYYY-MM-DD; default: the manifest's as_of)")
	mode := fs.String("mode", "full", "review mode: full, or incremental (needs --index)")
	index := fs.String("index", "", "an index folder: a full run records its flags there; an incremental run reads it")
	workers := fs.Int("workers", 0, "row groups read at once (default: every core)")
	shards := fs.Int("shards", 0, "match, evaluate and write the households in this many shards, one after the other: less memory, same outputs (default: from --memory-budget)")
	budget := fs.String("memory-budget", "", "memory the run may use, e.g. 6GiB or 512MiB; decides the number of shards (default: 6GiB)")
	reports := fs.Bool("reports", true, "write report.html and report.xlsx; by default they are skipped when the run needs more than one shard (they hold every flag in memory): -reports=true writes them anyway, -reports=false never")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile to this file at the end")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stop, err := startProfiles(*cpuprofile, *memprofile)
	if err != nil {
		return err
	}
	defer stop()
	if *manifest == "" || *out == "" {
		fmt.Fprintln(stderr, "hedui run needs --manifest and --out")
		return errUsage
	}
	if *mode != "full" && *mode != "incremental" {
		return fmt.Errorf("unknown mode %q; supported modes: full, incremental", *mode)
	}
	if *mode == "incremental" && *index == "" {
		return fmt.Errorf("--mode incremental needs --index DIR (build one with hedui index build)")
	}
	if *shards < 0 {
		return fmt.Errorf("--shards %d: want a positive number of shards, or 0 to choose from --memory-budget", *shards)
	}
	budgetBytes, err := parseBytes(*budget)
	if err != nil {
		return fmt.Errorf("--memory-budget %q: %w", *budget, err)
	}
	m, err := loadManifest(*manifest, *asOf)
	if err != nil {
		return err
	}
	set, err := loadRules(*rulesFile)
	if err != nil {
		return err
	}
	want := reportsAlways
	if !*reports {
		want = reportsNever
	} else if !flagGiven(fs, "reports") {
		want = reportsOneShard
	}
	shape := review.Config{Shards: *shards, MemoryBudget: budgetBytes}
	if *index != "" {
		if *mode == "full" {
			limitMemory(budgetBytes)
		} else {
			paceIncremental()
		}
		return runWithIndex(ctx, m, set, *mode, *index, *out, *workers, shape, want, stdout, stderr)
	}
	limitMemory(budgetBytes)
	res, err := runReviewSharded(ctx, m, set, *out, *workers, shape, want, stderr)
	if err != nil {
		return err
	}
	printSummary(stdout, res.Summary, *out, false)
	printReportsLine(stdout, res, *out, want)
	return nil
}

// printReportsLine says where the reports are, or why they were skipped.
func printReportsLine(stdout io.Writer, res *review.Result, out string, want reportPolicy) {
	switch {
	case want == reportsNever:
		fmt.Fprintf(stdout, "reports skipped (-reports=false); write them with: hedui report --run %s\n", out)
	case want == reportsOneShard && res.Shards > 1:
		fmt.Fprintf(stdout, "reports skipped: the run took %d shards to stay within its memory budget, and the reports hold every flag in memory; write them with -reports=true or hedui report --run %s where memory allows\n", res.Shards, out)
	default:
		printReports(stdout, out)
	}
}

// reportPolicy says when a run writes report.html and report.xlsx.
type reportPolicy int

const (
	reportsAlways   reportPolicy = iota
	reportsOneShard              // only when the run fit in one shard
	reportsNever
)

// flagGiven reports whether the command line set the named flag.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// runReview runs a full-base review in one shard, so that the result holds
// every household and flag (gen's truth check reads them).
func runReview(ctx context.Context, m *sources.Manifest, set *rules.Set, out string, workers int, stderr io.Writer) (*review.Result, error) {
	return runReviewSharded(ctx, m, set, out, workers, review.Config{Shards: 1}, reportsAlways, stderr)
}

// limitMemory makes the garbage collector keep the heap within the memory
// budget (default review.DefaultMemoryBudget) unless GOMEMLIMIT says
// otherwise: the shards are sized for the live heap, and without a limit the
// collector lets the heap grow to twice what is live.
func limitMemory(budget int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if budget <= 0 {
		budget = review.DefaultMemoryBudget
	}
	debug.SetMemoryLimit(budget)
}

// collectNearBudget makes the garbage collector run only as the heap nears
// the memory budget (default review.DefaultMemoryBudget), unless GOGC or
// GOMEMLIMIT say otherwise. For a what-if, a short job whose heap is mostly
// the run's table of households (pointers the collector rescans each cycle),
// cycles at GOGC's pace cost more than they save: the memory they hand back
// is faulted in again (province what-if: system time 4.4–5.6 s → 2.3 s).
// A full run keeps limitMemory: its shards are sized for the live heap.
func collectNearBudget(budget int64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limitMemory(budget)
	debug.SetGCPercent(-1)
}

// incrementalGCPercent is an incremental run's GOGC. Its live heap is small
// (a delta's rows and the households it touches: 100-250 MB at 2 M x 30 M)
// while it allocates several times that, so at GOGC=100 it collected 16
// times in a 3 s round; at 400, rounds took 5 % less wall and CPU time
// (bench/RESULTS.md, session 12), with about 250 MB more resident.
const incrementalGCPercent = 400

// paceIncremental sets an incremental run's GC percent unless GOGC or
// GOMEMLIMIT already tune the collector.
func paceIncremental() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(incrementalGCPercent)
}

// parseBytes reads a size such as 6GiB, 6G, 512MiB or 1048576 (bytes); ""
// is 0 (the default).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	mult := int64(1)
	units := []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}
	t = strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(t), "B"), "I")
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			mult, t = u.mult, strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a size such as 6GiB, 512MiB or a number of bytes")
	}
	return int64(n * float64(mult)), nil
}

// runReviewSharded runs a full-base review with a progress bar on a
// terminal; shape gives its shards or memory budget; reports says when the
// reports are written.
func runReviewSharded(ctx context.Context, m *sources.Manifest, set *rules.Set, out string, workers int, shape review.Config, reports reportPolicy, stderr io.Writer) (*review.Result, error) {
	bar := newProgress(stderr)
	defer bar.close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if bar.on {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return review.Run(ctx, review.Config{
		Manifest: m, Rules: set, Out: out, Mode: "full", Workers: workers, Logger: logger,
		Shards: shape.Shards, MemoryBudget: shape.MemoryBudget, EachShard: shape.EachShard,
		CacheDir: filepath.Join(filepath.Dir(m.Path), ".hedui-cache"),
		Progress: func(e *sources.Entry, pass string, done, total int64) {
			bar.update(fmt.Sprintf("%s %s (%s)", pass, e.Kind, e.Path), done, total)
		},
		// The reports are part of the run: written inside the same
		// all-or-nothing step as the outputs they summarize. A run of one
		// shard holds them all in memory: its reports are built from it
		// while the output files are written; a sharded run's are read back
		// from its files.
		Alongside: func(ctx context.Context, dir string, res *review.Result) error {
			if reports == reportsNever {
				return nil
			}
			return report.WriteRun(ctx, dir, res, report.Options{Rules: set})
		},
		Finish: func(ctx context.Context, dir string, res *review.Result) error {
			if res.Shards <= 1 || reports != reportsAlways {
				return nil
			}
			return report.Write(ctx, dir, report.Options{Rules: set})
		},
	})
}

func loadManifest(path, asOf string) (*sources.Manifest, error) {
	m, err := sources.LoadManifest(path)
	if err != nil {
		return nil, err
	}
	if asOf != "" {
		t, err := time.Parse(time.DateOnly, asOf)
		if err != nil {
			return nil, fmt.Errorf("--as-of %q: want a date as YYYY-MM-DD", asOf)
		}
		m.AsOf = t
	}
	return m, nil
}

func loadRules(path string) (*rules.Set, error) {
	if path == "" {
		return rules.Default()
	}
	return rules.Load(path)
}

// printSummary prints the headline counts of a run and where its outputs
// are, with the reports when withReports.
func printSummary(w io.Writer, s *review.Summary, out string, withReports bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "as of\t%s\nrule set\t%.12s\nhouseholds\t%d (%d members)\nomission candidates\t%d\nflags\t%d on %d households\nrows read\t%d in %.1fs (match) + %.1fs (rules)\n",
		s.AsOf, s.RuleSetDigest, s.Households, s.Members, s.Candidates, s.Flags, s.FlaggedHouseholds, s.RowsRead, s.MatchSeconds, s.RulesSeconds)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tineligible\treview\tadjust\tomission\tinfo\tinsufficient")
	ids := make([]string, 0, len(s.ByRule))
	for id := range s.ByRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := s.ByRule[id]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", id, c["ineligible"], c["review"], c["adjust"], c["omission"], c["info"], c["insufficient"])
	}
	tw.Flush()
	fmt.Fprintf(w, "\noutputs in %s: flags.parquet, flags.csv, households.parquet, summary.json, quality.json, quarantine/\n", out)
	if withReports {
		printReports(w, out)
	}
}

func printReports(w io.Writer, out string) {
	fmt.Fprintf(w, "reports: %s (open in a browser), %s (Excel)\n", filepath.Join(out, "report.html"), filepath.Join(out, "report.xlsx"))
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	manifest := fs.String("manifest", "", "the sources manifest (sources.yaml)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	workers := fs.Int("workers", 0, "row groups read at once (default: every core)")
	quarantine := fs.String("quarantine", "", "write rejected rows under this folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *manifest == "" {
		fmt.Fprintln(stderr, "hedui validate needs --manifest")
		return errUsage
	}
	m, err := loadManifest(*manifest, "")
	if err != nil {
		return err
	}
	bar := newProgress(stderr)
	qs, err := sources.Validate(ctx, m, sources.ValidateOptions{Workers: *workers, QuarantineDir: *quarantine,
		Progress: func(k sources.Kind, path string, done, total int64) {
			bar.update(fmt.Sprintf("%s (%s)", k, path), done, total)
		}})
	bar.close()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(qs)
	}
	return sources.FormatQualityTable(stdout, qs)
}
