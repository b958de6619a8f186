package whatif

import (
	"context"
	"os"
	"runtime"
	"testing"
)

// The benchmarks run on the run folder HEDUI_BENCH_RUN points to (written by
// hedui run) and skip without it:
//
//	HEDUI_BENCH_RUN=/tmp/city-run go test ./whatif/ -run XXX -bench . -benchtime 3x
func benchDir(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("HEDUI_BENCH_RUN")
	if dir == "" {
		b.Skip("set HEDUI_BENCH_RUN to a run folder (written by hedui run) to benchmark what-ifs on it")
	}
	return dir
}

func mustSettings(b *testing.B, sets ...string) []Setting {
	var out []Setting
	for _, s := range sets {
		st, err := ParseSetting(s)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// BenchmarkWhatIfCold is what `hedui whatif --set dibao_standard@rural=6000`
// does before writing: load the run folder and evaluate the scenario.
func BenchmarkWhatIfCold(b *testing.B) {
	dir := benchDir(b)
	settings := mustSettings(b, "dibao_standard@rural=6000")
	var n, evaluated int
	for b.Loop() {
		r, err := Load(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		sc, err := r.Evaluate(context.Background(), settings, Options{Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			b.Fatal(err)
		}
		n, evaluated = len(r.Rows), sc.Evaluated
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "households/s")
	b.Logf("%d households and candidates, %d re-evaluated", n, evaluated)
}

// BenchmarkSweepCold is what `hedui whatif --sweep
// dibao_standard@rural=4500:9000:500` does before writing: load the run
// folder and evaluate the 10 steps.
func BenchmarkSweepCold(b *testing.B) {
	dir := benchDir(b)
	sw, err := ParseSweep("dibao_standard@rural=4500:9000:500")
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		r, err := Load(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Sweep(context.Background(), nil, sw, Options{Workers: runtime.GOMAXPROCS(0)}); err != nil {
			b.Fatal(err)
		}
		n = len(r.Rows)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "households/s")
}

// BenchmarkLoad measures reading the run folder alone (facts are decoded
// on demand, not here).
func BenchmarkLoad(b *testing.B) {
	dir := benchDir(b)
	var n int
	for b.Loop() {
		r, err := Load(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		n = len(r.Rows)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "households/s")
}

// BenchmarkSweepStep is one step of a sweep: a scenario on a run whose
// facts the first step already decoded.
func BenchmarkSweepStep(b *testing.B) {
	benchWarm(b, Options{}, "dibao_standard@rural=6000")
}

// BenchmarkFullReevaluation re-evaluates every rule on every household
// (what a what-if without --set does), facts already decoded.
func BenchmarkFullReevaluation(b *testing.B) {
	benchWarm(b, Options{Full: true})
}

func benchWarm(b *testing.B, opts Options, sets ...string) {
	r, err := Load(context.Background(), benchDir(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.Workers = runtime.GOMAXPROCS(0)
	settings := mustSettings(b, sets...)
	if _, err := r.Evaluate(context.Background(), settings, opts); err != nil { // decodes what it needs
		b.Fatal(err)
	}
	var sc *Scenario
	for b.Loop() {
		if sc, err = r.Evaluate(context.Background(), settings, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(r.Rows))*float64(b.N)/b.Elapsed().Seconds(), "households/s")
	b.Logf("%d re-evaluated, %d changes", sc.Evaluated, len(sc.Changes))
}
