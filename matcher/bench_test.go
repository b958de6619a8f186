package matcher_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/hedui/hedui/internal/testregion"
	"github.com/hedui/hedui/matcher"
)

// BenchmarkMatch matches a generated region. HEDUI_BENCH_SCALE picks the
// scale (county by default; city for the figures in bench/RESULTS.md), and
// HEDUI_BENCH_DIR keeps the generated data between runs.
func BenchmarkMatch(b *testing.B) {
	m := testregion.BenchManifest(b)
	cache := b.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	workers, _ := strconv.Atoi(os.Getenv("HEDUI_BENCH_WORKERS"))
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		res, err := matcher.Match(context.Background(), m, matcher.Options{Workers: workers, CacheDir: cache, Logger: logger})
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
