// Package testregion makes the small reviewed region that the tests of
// packages reading a run folder (reports, what-if) share.
package testregion

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// AsOf is the as-of date of the region.
var AsOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Run generates a region under root/region (seed 7, 12,000 residents, 900
// households: every rule has planted cases at that size), reviews it with the
// default rule set and returns the run folder root/run.
func Run(ctx context.Context, root string) (string, error) {
	region := filepath.Join(root, "region")
	if _, err := synth.Generate(ctx, synth.Config{Out: region, Seed: 7, Residents: 12000, Households: 900, AsOf: AsOf}); err != nil {
		return "", err
	}
	m, err := sources.LoadManifest(filepath.Join(region, "sources.yaml"))
	if err != nil {
		return "", err
	}
	set, err := rules.Default()
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "run")
	_, err = review.Run(ctx, review.Config{Manifest: m, Rules: set, Out: out, Workers: 2, CacheDir: filepath.Join(root, "cache")})
	return out, err
}

// BenchManifest generates (or reuses, under $HEDUI_BENCH_DIR) a region of
// scale $HEDUI_BENCH_SCALE (county by default; city for the figures in
// bench/RESULTS.md) and loads its manifest, for benchmarks.
func BenchManifest(b *testing.B) *sources.Manifest {
	b.Helper()
	scale := os.Getenv("HEDUI_BENCH_SCALE")
	if scale == "" {
		scale = "county"
	}
	dir := os.Getenv("HEDUI_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, scale)
	path := filepath.Join(dir, "sources.yaml")
	if _, err := os.Stat(path); err != nil {
		if _, err := synth.Generate(context.Background(), synth.Config{Out: dir, Seed: 1, Scale: scale}); err != nil {
			b.Fatal(err)
		}
	}
	m, err := sources.LoadManifest(path)
	if err != nil {
		b.Fatal(err)
	}
	return m
}
