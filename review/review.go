// Package review runs a full-base review (全库比对): it matches every source
// of a manifest to the roster, evaluates the rule set on every household and
// omission candidate, and writes the outputs of a run folder.
package review

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// Config describes one run.
type Config struct {
	Manifest *sources.Manifest
	Rules    *rules.Set
	Out      string     // the run folder; written whole or not at all
	Mode     rules.Mode // "full" (default)
	Workers  int        // 0 means every core
	CacheDir string     // CSV conversions; empty means a temporary folder
	Progress func(e *sources.Entry, pass string, doneRows, totalRows int64)
	Logger   *slog.Logger
	// Finish, if set, runs after the outputs are written and before the run
	// folder is moved into place, with the folder being written: reports
	// that read the outputs go there, inside the same all-or-nothing step.
	Finish func(ctx context.Context, dir string, res *Result) error
}

// Result is what a run produced, as written to summary.json.
type Result struct {
	Summary    *Summary
	Flags      []rules.Flag
	Households []*facts.Household
	Candidates []*facts.Household
	// Measures holds the money figures of Households then Candidates, in order.
	Measures []rules.Measures
	Match    *matcher.Result
}

// Run performs the review and writes the run folder cfg.Out. Outputs are
// written to a temporary sibling folder that is renamed into place only when
// every file is complete, so an interrupted run leaves nothing that looks whole.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Mode == "" {
		cfg.Mode = "full"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkOut(cfg.Out); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(cfg.Out)), "."+filepath.Base(cfg.Out)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("create the run folder: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	res, err := evaluate(ctx, cfg, tmp)
	if err != nil {
		return nil, err
	}
	if err := writeOutputs(tmp, cfg, res); err != nil {
		return nil, err
	}
	if cfg.Finish != nil {
		if err := cfg.Finish(ctx, tmp, res); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// MkdirTemp makes the folder private; a finished run is as readable as any output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := replaceDir(tmp, cfg.Out); err != nil {
		return nil, err
	}
	done = true
	return res, nil
}

// evaluate matches and applies the rules; the quarantine goes under dir.
func evaluate(ctx context.Context, cfg Config, dir string) (*Result, error) {
	start := time.Now()
	quarantine := sources.NewQuarantine(dir) // writes dir/quarantine/<kind>.parquet
	mres, err := matcher.Match(ctx, cfg.Manifest, matcher.Options{Workers: cfg.Workers, Quarantine: quarantine,
		CacheDir: cfg.CacheDir, Progress: cfg.Progress, Logger: cfg.Logger})
	if err != nil {
		quarantine.Close()
		return nil, err
	}
	if err := quarantine.Close(); err != nil {
		return nil, fmt.Errorf("write the quarantine: %w", err)
	}
	matched := time.Now()
	env := rules.Env{AsOf: cfg.Manifest.AsOf, Mode: cfg.Mode, Sources: mres.Snapshots}
	all := append(append([]*facts.Household(nil), mres.Households...), mres.Candidates...)
	flags, measures, err := evaluateAll(ctx, cfg.Rules, env, all, cfg.Workers)
	if err != nil {
		return nil, err
	}
	flags = append(invalidMemberFlags(mres.InvalidMembers), flags...)
	sortFlags(flags)
	res := &Result{Flags: flags, Households: mres.Households, Candidates: mres.Candidates, Measures: measures, Match: mres}
	res.Summary = summarize(cfg, res, matched.Sub(start), time.Since(matched))
	return res, nil
}

// evaluateAll runs the rule set over every household in parallel; each
// household's flags and measures land in its own slot, so the order is fixed.
func evaluateAll(ctx context.Context, set *rules.Set, env rules.Env, hs []*facts.Household, workers int) ([]rules.Flag, []rules.Measures, error) {
	per := make([][]rules.Flag, len(hs))
	measures := make([]rules.Measures, len(hs))
	g, ctx := errgroup.WithContext(ctx)
	const block = 1024
	next := make(chan int)
	g.Go(func() error {
		defer close(next)
		for i := 0; i < len(hs); i += block {
			select {
			case next <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for lo := range next {
				for i := lo; i < min(lo+block, len(hs)); i++ {
					f, err := set.Evaluate(hs[i], env)
					if err != nil {
						return fmt.Errorf("household %q: %w", hs[i].ID, err)
					}
					per[i] = f
					if measures[i], err = set.Measure(hs[i], env); err != nil {
						return fmt.Errorf("household %q: %w", hs[i].ID, err)
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []rules.Flag
	for _, f := range per {
		out = append(out, f...)
	}
	return out, measures, nil
}

// checkOut refuses to overwrite a folder that is not an earlier run.
func checkOut(out string) error {
	if out == "" {
		return fmt.Errorf("no output folder given (--out)")
	}
	entries, err := os.ReadDir(out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder %s: %w", out, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		return fmt.Errorf("output folder %s exists and is not a hedui run (no summary.json); choose another --out", out)
	}
	return nil
}

// replaceDir moves tmp to out, replacing an earlier run.
func replaceDir(tmp, out string) error {
	if _, err := os.Stat(out); err == nil {
		old := tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("replace %s: %w", out, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("move the run into %s: %w", out, err)
	}
	return nil
}
