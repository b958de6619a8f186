// Package review runs a full-base review (全库比对): it matches every source
// of a manifest to the roster, evaluates the rule set on every household and
// omission candidate, and writes the outputs of a run folder.
package review

import (
	"context"
	"fmt"
	"log/slog"
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
	var res *Result
	err := WriteFolder(cfg.Out, "summary.json", "run", func(dir string) error {
		var err error
		if res, err = evaluate(ctx, cfg, dir); err != nil {
			return err
		}
		if err := writeOutputs(dir, cfg, res); err != nil {
			return err
		}
		if cfg.Finish != nil {
			if err := cfg.Finish(ctx, dir, res); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
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
