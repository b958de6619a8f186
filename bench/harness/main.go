// Command bench-harness runs hedui's full-base review and the same job in
// DuckDB SQL side by side on the same files and reports wall time, user+sys
// CPU and peak RSS of each, run as separate child processes measured with
// wait4's rusage, alternating A B A B. It fails when the two engines do not
// give the same flags for the five SQL-expressible rules.
//
//	bench-harness --scale city --pairs 5 --data bench/data --bin bin
//
// It expects bin/hedui, bin/keyscan and bin/hedui-duckdb (`make bench` builds
// them). Data is generated once per scale and seed under
// <data>/<scale>-seed<seed>/. DuckDB cannot read GB18030, so the manifest's
// CSV files are converted once to UTF-8 Parquet (bench/benchkit) and both
// engines read the derived manifest bench.yaml: the same files for both.
//
// The last line is machine-readable:
//
//	wall ratio hedui/duckdb: R (pairs N, scale S)
//
// with R the median of the per-pair ratios (", job same" is added inside the
// parentheses for --job same).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
)

// config holds the harness's flags.
type config struct {
	scale      string
	seed       int64
	pairs      int
	data       string
	bin        string
	threads    int
	cpuprofile string
	maxDiffs   int
	job        string // product or same
}

func main() {
	var cfg config
	flag.StringVar(&cfg.scale, "scale", "city", "county, city, province, or a number of residents")
	flag.Int64Var(&cfg.seed, "seed", 1, "generator seed")
	flag.IntVar(&cfg.pairs, "pairs", 5, "timed A B pairs (at least 1; 5 or more for figures)")
	flag.StringVar(&cfg.data, "data", "bench/data", "where generated data is cached")
	flag.StringVar(&cfg.bin, "bin", "bin", "folder holding hedui, keyscan and hedui-duckdb")
	flag.IntVar(&cfg.threads, "threads", 2, "DuckDB threads")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of one extra (untimed) hedui run here, if hedui run supports --cpuprofile")
	flag.IntVar(&cfg.maxDiffs, "diffs", 20, "differences printed when the engines disagree")
	flag.StringVar(&cfg.job, "job", "product", "hedui's side: product (every source, every rule, reports: what an agency runs) or same (only the five compared rules and the sources they read, no reports: DuckDB's job)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench-harness:", err)
		os.Exit(1)
	}
}

// errMismatch marks a failed comparison (already reported).
var errMismatch = errors.New("the engines flag different households")

func run(ctx context.Context, cfg config) error {
	if cfg.pairs < 1 {
		return fmt.Errorf("--pairs %d: want at least 1", cfg.pairs)
	}
	if cfg.job != "product" && cfg.job != "same" {
		return fmt.Errorf("unknown --job %q; supported jobs: product, same", cfg.job)
	}
	bins, err := findBinaries(cfg.bin)
	if err != nil {
		return err
	}
	h := &harness{cfg: cfg, bins: bins}
	h.header()
	dir, err := h.ensureData(ctx)
	if err != nil {
		return err
	}
	if err := h.prepare(ctx, dir); err != nil {
		return err
	}
	if err := h.warmUpAndCompare(ctx); err != nil {
		return err
	}
	if err := h.timedPairs(ctx); err != nil {
		return err
	}
	h.scanFloors(ctx)
	h.stages()
	h.profile(ctx)
	h.report()
	return nil
}

// binaries are the programs the harness runs.
type binaries struct{ hedui, keyscan, duckdb string }

func findBinaries(dir string) (binaries, error) {
	b := binaries{hedui: filepath.Join(dir, "hedui"), keyscan: filepath.Join(dir, "keyscan"), duckdb: filepath.Join(dir, "hedui-duckdb")}
	for _, p := range []string{b.hedui, b.keyscan, b.duckdb} {
		if _, err := os.Stat(p); err != nil {
			return b, fmt.Errorf("%s not found; build it first (make bench does): %w", p, err)
		}
	}
	return b, nil
}

// genArgs returns the hedui gen arguments of a scale: a preset name, or a
// number of residents (households at the city preset's ratio, 36 per 1,000).
func genArgs(scale string) ([]string, error) {
	switch scale {
	case "county", "city", "province":
		return []string{"--scale", scale}, nil
	}
	n, err := strconv.Atoi(scale)
	if err != nil || n < 1000 {
		return nil, fmt.Errorf("scale %q: want county, city, province or a number of residents (at least 1000)", scale)
	}
	return []string{"--residents", strconv.Itoa(n), "--households", strconv.Itoa(max(1, n*36/1000))}, nil
}
