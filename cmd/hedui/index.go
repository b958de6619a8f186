package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
)

func cmdIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "warm" {
		return cmdIndexWarm(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "build" && args[0] != "update") {
		fmt.Fprintln(stderr, "usage: hedui index build|update --manifest FILE --index DIR [--workers N]\n       hedui index warm --index DIR")
		return errUsage
	}
	sub := args[0]
	fs := newFlags("index "+sub, stderr)
	manifest := fs.String("manifest", "", "the sources manifest (sources.yaml)")
	dir := fs.String("index", "", "the index folder")
	workers := fs.Int("workers", 0, "row groups decoded at once (default: every core)")
	server := fs.String("server", "", "update: have the running hedui serve at this URL apply the update (admin token in $HEDUI_TOKEN)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *server != "" && sub == "update" && *manifest != "" {
		return updateViaServer(ctx, *server, *manifest, stdout)
	}
	if *manifest == "" || *dir == "" {
		fmt.Fprintf(stderr, "hedui index %s needs --manifest and --index\n", sub)
		return errUsage
	}
	m, err := loadManifest(*manifest, "")
	if err != nil {
		return err
	}
	db, err := store.Open(*dir, store.Options{Logger: indexLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	if sub == "build" && len(cat.Sources) > 0 {
		return fmt.Errorf("index %s already holds %d sources; use hedui index update", *dir, len(cat.Sources))
	}
	if sub == "update" && len(cat.Sources) == 0 {
		return fmt.Errorf("index %s is empty; use hedui index build", *dir)
	}
	ups, err := updateIndex(ctx, db, m, *workers, stderr)
	if err != nil {
		return err
	}
	printUpdates(stdout, ups)
	return nil
}

// cmdIndexWarm is `hedui index warm`: the index read into the page cache
// (store.Warm), so that checks after a reboot do not wait on the disk.
func cmdIndexWarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index warm", stderr)
	dir := fs.String("index", "", "the index folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "hedui index warm needs --index")
		return errUsage
	}
	bar := newProgress(stderr)
	st, err := store.Warm(ctx, *dir, func(done, total int64) { bar.update("warm index "+*dir, done, total) })
	bar.close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "warmed %s: %d files, %.1f MB in %.1f s\n", *dir, st.Files, float64(st.Bytes)/1e6, st.Seconds)
	return nil
}

// updateIndex brings the index in line with the manifest, with a progress bar.
func updateIndex(ctx context.Context, db *store.DB, m *sources.Manifest, workers int, stderr io.Writer) ([]store.SourceUpdate, error) {
	bar := newProgress(stderr)
	defer bar.close()
	return db.Update(ctx, m, store.UpdateOptions{Workers: workers, CacheDir: filepath.Join(filepath.Dir(m.Path), ".hedui-cache"),
		Progress: func(e *sources.Entry, done, total int64) {
			bar.update(fmt.Sprintf("index %s (%s)", e.Kind, e.Path), done, total)
		}})
}

func indexLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func printUpdates(w io.Writer, ups []store.SourceUpdate) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tpath\tsnapshot\taction\tapplied\tgeneration\trows\tchanged\tseconds")
	for _, u := range ups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.2f\n", u.Kind, u.Path, u.Snapshot, u.Action, applied(u), u.Gen, u.Rows, u.Changed, u.Seconds)
	}
	tw.Flush()
}

// applied says how an update reached the index: rows rewritten in place
// (in one transaction, or staged over several), or the source written whole.
func applied(u store.SourceUpdate) string {
	switch {
	case u.Action != "updated" && u.Action != "built":
		return "-"
	case u.Staged:
		return fmt.Sprintf("staged delta, %d rows", u.Delta)
	case u.InPlace:
		return fmt.Sprintf("delta, %d rows", u.Delta)
	default:
		return "whole"
	}
}

// runWithIndex is `hedui run --index DIR`: a full run records its flags in
// the index as the baseline; an incremental run evaluates only what changed.
func runWithIndex(ctx context.Context, m *sources.Manifest, set *rules.Set, mode, dir, out string, workers int,
	shape review.Config, reports reportPolicy, stdout, stderr io.Writer) (err error) {
	opening := time.Now()
	db, err := store.Open(dir, store.Options{Logger: indexLogger(stderr)})
	if err != nil {
		return err
	}
	opened := time.Since(opening)
	defer func() {
		closing := time.Now()
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if mode == "incremental" && err == nil {
			fmt.Fprintf(stdout, "index opened in %.2f s, closed in %.2f s\n", opened.Seconds(), time.Since(closing).Seconds())
		}
	}()
	if mode == "incremental" {
		bar := newProgress(stderr)
		res, err := review.RunIncremental(ctx, review.IncrementalConfig{Manifest: m, Rules: set, Index: db, Out: out, Workers: workers,
			CacheDir: filepath.Join(filepath.Dir(m.Path), ".hedui-cache"), Logger: indexLogger(stderr),
			Progress: func(e *sources.Entry, done, total int64) {
				bar.update(fmt.Sprintf("index %s (%s)", e.Kind, e.Path), done, total)
			}})
		bar.close()
		if err != nil {
			return err
		}
		s := res.Incremental
		fmt.Fprintf(stdout, "incremental run against run %d: evaluated %d households and %d candidates; %d households and %d candidates unchanged\n",
			s.BaselineRun, len(res.Households), len(res.Candidates), s.UnchangedHouseholds, s.UnchangedCandidates)
		if s.EvaluatedAll != "" {
			fmt.Fprintf(stdout, "every household was evaluated: %s\n", s.EvaluatedAll)
		}
		fmt.Fprintf(stdout, "%d new flags, %d cleared, %d households left the roster\noutputs in %s: changes.csv, flags.parquet, flags.csv, households.parquet, summary.json, quality.json\n",
			s.NewFlags, s.ClearedFlags, s.RemovedHouseholds, out)
		fmt.Fprint(stdout, "stages:")
		for _, st := range res.Timings {
			fmt.Fprintf(stdout, " %s %.2f s;", st.Name, st.Seconds)
		}
		fmt.Fprintln(stdout)
		return nil
	}
	if _, err := updateIndex(ctx, db, m, workers, stderr); err != nil {
		return err
	}
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	// The baseline takes each shard's identifiers and flags as the run goes,
	// so that the run keeps its memory budget.
	base := review.NewBaseline()
	shape.EachShard = base.Add
	res, err := runReviewSharded(ctx, m, set, out, workers, shape, reports, stderr)
	if err != nil {
		return err
	}
	if err := base.Record(db, cat.Gens(), cat, set, m.AsOf); err != nil {
		return fmt.Errorf("record the run in the index: %w", err)
	}
	printSummary(stdout, res.Summary, out, false)
	printReportsLine(stdout, res, out, reports)
	fmt.Fprintf(stdout, "flags recorded in the index %s as the baseline of incremental runs\n", dir)
	return nil
}

// updateViaServer asks a running `hedui serve` (which holds the index
// folder) to apply the manifest: POST /api/v1/index/update with the admin
// token of $HEDUI_TOKEN. The manifest path is sent absolute: the server
// reads the files itself.
func updateViaServer(ctx context.Context, server, manifest string, stdout io.Writer) error {
	tok := os.Getenv("HEDUI_TOKEN")
	if tok == "" {
		return fmt.Errorf("--server needs an admin API token in $HEDUI_TOKEN")
	}
	abs, err := filepath.Abs(manifest)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"manifest": abs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(server, "/")+"/api/v1/index/update", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct {
		Sources []store.SourceUpdate `json:"sources"`
		Error   string               `json:"error"`
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &res); err != nil || (resp.StatusCode != http.StatusOK && res.Error == "") {
		return fmt.Errorf("%s answered %s: %s", server, resp.Status, strings.TrimSpace(string(b)))
	}
	printUpdates(stdout, res.Sources)
	if res.Error != "" {
		return fmt.Errorf("%s: update failed: %s", server, res.Error)
	}
	return nil
}
