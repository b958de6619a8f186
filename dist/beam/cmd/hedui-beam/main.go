// Command hedui-beam runs hedui's full-base review as an Apache Beam
// pipeline: the same manifest, connectors, matching and rule set as
// `hedui run`, on prism (in-process), Flink, Spark or (built with
// -tags dataflow) Google Cloud Dataflow.
//
//	hedui-beam --manifest sources.yaml --out run-beam [--rules rules.yaml] \
//	    [--as-of 2026-11-01] [--shards 16] [--cache-dir dir] \
//	    [--runner prism|flink|spark|universal|dataflow] [runner flags]
//
// Every path must be readable, and --out and --cache-dir writable, from
// every worker: on a cluster, a shared file system mounted at the same
// path. Runner flags are Beam's own (see README, "Scale-out").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"

	"github.com/hedui/hedui/dist/beam/pipeline"
)

func main() {
	manifest := flag.String("manifest", "", "the sources manifest (sources.yaml)")
	out := flag.String("out", "", "the folder to write flags-*.parquet, flags-*.csv and quality.json into")
	rulesFile := flag.String("rules", "", "a rule set YAML file (default: the embedded default rule set)")
	asOf := flag.String("as-of", "", "review as of this date (YYYY-MM-DD; default: the manifest's as_of)")
	shards := flag.Int("shards", 16, "number of flags output files")
	cacheDir := flag.String("cache-dir", "", "shared folder for CSV-to-Parquet conversions (default: .hedui-cache beside the manifest)")
	flag.Parse()
	// On a worker, Init runs the SDK harness and never returns.
	beam.Init()
	if err := run(context.Background(), *manifest, *out, *rulesFile, *asOf, *cacheDir, *shards); err != nil {
		fmt.Fprintln(os.Stderr, "hedui-beam:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manifest, out, rulesFile, asOf, cacheDir string, shards int) error {
	if manifest == "" || out == "" {
		return errors.New("--manifest and --out are required")
	}
	if shards < 1 {
		return fmt.Errorf("--shards %d: want at least 1", shards)
	}
	// Workers may start in another folder: give them absolute paths.
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	var err error
	if manifest, err = abs(manifest); err != nil {
		return err
	}
	if out, err = abs(out); err != nil {
		return err
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(filepath.Dir(manifest), ".hedui-cache")
	}
	if cacheDir, err = abs(cacheDir); err != nil {
		return err
	}
	job := pipeline.Job{Manifest: manifest, AsOf: asOf, CacheDir: cacheDir, Out: out, Shards: shards}
	if rulesFile != "" {
		if job.Rules, err = os.ReadFile(rulesFile); err != nil {
			return err
		}
		job.RulesName = rulesFile
	}
	if err := job.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	runner := *runners.Runner
	if runner == "" {
		runner = "prism"
	}
	p, s := beam.NewPipelineWithRoot()
	pipeline.Build(s, job)
	start := time.Now()
	if _, err := beam.Run(ctx, runner, p); err != nil {
		return fmt.Errorf("%s runner: %w", runner, err)
	}
	slog.Info("hedui-beam done", "runner", runner, "out", out, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	return nil
}
