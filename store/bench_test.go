package store_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hedui/hedui/internal/testregion"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkIndexBuild builds the index of a whole region: rows/s counts
// every row of the roster and of every source.
func BenchmarkIndexBuild(b *testing.B) {
	m := testregion.BenchManifest(b)
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
//
// HEDUI_BENCH_INDEX and HEDUI_BENCH_MANIFEST name an index already built
// from that manifest (a large one), checked in place; at most b.N of its
// households, spread over the roster, are checked.
func BenchmarkCheckHousehold(b *testing.B) {
	dir, m := benchIndex(b)
	db, err := store.Open(dir, store.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
	if step := len(ids) / b.N; step > 1 {
		var spread []string
		for i := 0; i < len(ids) && len(spread) < b.N; i += step {
			spread = append(spread, ids[i])
		}
		ids = spread
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
	// Wall latency, and the CPU time of the checking thread: on a shared
	// machine the wall p99 mostly measures waiting for a core.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, c := time.Now(), threadCPU()
		check(ids[i%len(ids)])
		lat = append(lat, time.Since(t))
		cpu = append(cpu, threadCPU()-c)
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(cpu)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds()), "cpu-p50-µs")
	b.ReportMetric(float64(cpu[len(cpu)*99/100].Microseconds()), "cpu-p99-µs")
	b.ReportMetric(float64(len(ids)), "households")
}

// benchIndex returns the index folder and manifest of BenchmarkCheckHousehold:
// HEDUI_BENCH_INDEX's, or one built from testregion.BenchManifest and closed,
// as the intake service serves an index another process built (the build's
// writes are in tables, not in the memtables).
func benchIndex(b *testing.B) (string, *sources.Manifest) {
	if dir := os.Getenv("HEDUI_BENCH_INDEX"); dir != "" {
		m, err := sources.LoadManifest(os.Getenv("HEDUI_BENCH_MANIFEST"))
		if err != nil {
			b.Fatalf("HEDUI_BENCH_INDEX needs the manifest it was built from in HEDUI_BENCH_MANIFEST: %v", err)
		}
		return dir, m
	}
	m := testregion.BenchManifest(b)
	dir := filepath.Join(b.TempDir(), "index")
	db, err := store.Open(dir, store.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Update(context.Background(), m, store.UpdateOptions{CacheDir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, m
}

// threadCPU is the CPU time of the calling OS thread (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
