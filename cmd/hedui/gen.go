package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/synth"
)

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", stderr)
	out := fs.String("out", "", "the folder to write the region into")
	scale := fs.String("scale", "county", "county (≈50k residents), city (≈1M), province (≈47M); ignored with --residents")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same files")
	residents := fs.Int("residents", 0, "explicit number of residents (with --households)")
	households := fs.Int("households", 0, "explicit number of roster households (with --residents)")
	asOf := fs.String("as-of", "2026-11-01", "the as-of date of the generated manifest")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "hedui gen needs --out")
		return errUsage
	}
	t, err := time.Parse(time.DateOnly, *asOf)
	if err != nil {
		return fmt.Errorf("--as-of %q: want a date as YYYY-MM-DD", *asOf)
	}
	cfg := synth.Config{Out: *out, Seed: *seed, Scale: *scale, AsOf: t}
	if *residents > 0 || *households > 0 {
		cfg.Scale, cfg.Residents, cfg.Households = "", *residents, *households
	}
	return generate(ctx, cfg, stdout, stderr)
}

func generate(ctx context.Context, cfg synth.Config, stdout, stderr io.Writer) error {
	bar := newProgress(stderr)
	cfg.Progress = func(stage string, done, total int64) { bar.update("gen "+stage, done, total) }
	start := time.Now()
	sum, err := synth.Generate(ctx, cfg)
	bar.close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d residents, %d roster households (%d members) in %s in %.1fs\nmanifest: %s\n",
		sum.Residents, sum.Households, sum.RosterMembers, cfg.Out, time.Since(start).Seconds(), filepath.Join(cfg.Out, "sources.yaml"))
	return nil
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "demo", "where to put the generated county and the run")
	seed := fs.Int64("seed", 1, "random seed")
	workers := fs.Int("workers", 0, "row groups read at once (default: every core)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	data := filepath.Join(*dir, "county")
	fmt.Fprintf(stdout, "1/2 generating a county (seed %d) into %s\n", *seed, data)
	if err := generate(ctx, synth.Config{Out: data, Seed: *seed, Scale: "county", AsOf: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, stdout, stderr); err != nil {
		return err
	}
	m, err := loadManifest(filepath.Join(data, "sources.yaml"), "")
	if err != nil {
		return err
	}
	set, err := rules.Default()
	if err != nil {
		return err
	}
	out := filepath.Join(*dir, "run")
	fmt.Fprintf(stdout, "\n2/2 full-base review into %s\n", out)
	res, err := runReview(ctx, m, set, out, *workers, stderr)
	if err != nil {
		return err
	}
	printSummary(stdout, res.Summary, out, true)
	return compareTruth(stdout, filepath.Join(data, "truth.csv"), res.Flags)
}

// compareTruth tells how the run's flags compare with the cases the
// generator planted: the demo's proof that the engine finds what it should.
func compareTruth(w io.Writer, truthPath string, flags []rules.Flag) error {
	f, err := os.Open(truthPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", truthPath, err)
	}
	truth := map[string]bool{}
	for _, r := range rows[1:] {
		truth[strings.Join(r, ",")] = true
	}
	found, extra := 0, 0
	for _, fl := range flags {
		if truth[strings.Join([]string{fl.HouseholdID, fl.PersonID, fl.RuleID, string(fl.Outcome)}, ",")] {
			found++
		} else {
			extra++
		}
	}
	fmt.Fprintf(w, "\nplanted cases found: %d of %d; flags that were not planted: %d (see %s)\n", found, len(truth), extra, truthPath)
	if found != len(truth) || extra != 0 {
		return fmt.Errorf("the review disagrees with the generator's truth")
	}
	return nil
}
