package matcher

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// BenchmarkMatch matches a generated region. HEDUI_BENCH_SCALE picks the
// scale (county by default; city for the figures in bench/RESULTS.md), and
// HEDUI_BENCH_DIR keeps the generated data between runs.
func BenchmarkMatch(b *testing.B) {
	scale := os.Getenv("HEDUI_BENCH_SCALE")
	if scale == "" {
		scale = "county"
	}
	dir := os.Getenv("HEDUI_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, scale)
	manifest := filepath.Join(dir, "sources.yaml")
	if _, err := os.Stat(manifest); err != nil {
		if _, err := synth.Generate(context.Background(), synth.Config{Out: dir, Seed: 1, Scale: scale}); err != nil {
			b.Fatal(err)
		}
	}
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	workers, _ := strconv.Atoi(os.Getenv("HEDUI_BENCH_WORKERS"))
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		res, err := Match(context.Background(), m, Options{Workers: workers, CacheDir: cache, Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		rows = res.Roster.Rows
		for _, q := range res.Quality {
			rows += q.Rows
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
