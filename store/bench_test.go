package store_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
	"github.com/hedui/hedui/synth"
)

// benchManifest generates (or reuses, with HEDUI_BENCH_DIR) a region of
// scale HEDUI_BENCH_SCALE (county by default; city for published figures).
func benchManifest(b *testing.B) *sources.Manifest {
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

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkIndexBuild builds the index of a whole region: rows/s counts
// every row of the roster and of every source.
func BenchmarkIndexBuild(b *testing.B) {
	m := benchManifest(b)
	cache := b.TempDir()
	var rows int64
	for i := 0; i < b.N; i++ {
		db, err := store.Open(filepath.Join(b.TempDir(), "index"), store.Options{Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		ups, err := db.Update(context.Background(), m, store.UpdateOptions{CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		for _, u := range ups {
			rows += u.Rows
		}
		db.Close()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCheckHousehold checks roster households one at a time from a
// warm index, as intake does: assemble the facts from the index and apply
// the incremental rules. It reports the p50 and p99 latency.
func BenchmarkCheckHousehold(b *testing.B) {
	m := benchManifest(b)
	db, err := store.Open(filepath.Join(b.TempDir(), "index"), store.Options{Logger: quiet(), CacheMB: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Update(context.Background(), m, store.UpdateOptions{CacheDir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	var ids []string
	if err := v.Households(func(rows []*sources.RosterMember) error {
		ids = append(ids, rows[0].HouseholdID)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	check := func(id string) {
		rows, err := v.Household(id)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			r.Status, r.ApplicationDate = "applicant", m.AsOf
		}
		if _, _, err := review.CheckHousehold(v, set, m.AsOf, rows); err != nil {
			b.Fatal(err)
		}
	}
	for _, id := range ids { // warm the block cache
		check(id)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		check(ids[i%len(ids)])
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(ids)), "households")
}
