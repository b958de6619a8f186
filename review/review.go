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
	// Shards splits the households into this many shards, matched and
	// written one after the other (each source read once per shard); 0
	// chooses from MemoryBudget. The outputs are the same whatever the number.
	Shards int
	// MemoryBudget is the memory a run may use, in bytes; 0 means
	// DefaultMemoryBudget. It decides the number of shards when Shards is 0.
	MemoryBudget int64
	// Finish, if set, runs after the outputs are written and before the run
	// folder is moved into place, with the folder being written: reports
	// that read the outputs go there, inside the same all-or-nothing step.
	Finish func(ctx context.Context, dir string, res *Result) error
	// EachShard, if set, is called with each shard's households,
	// candidates and flags once they are evaluated, in shard order: for
	// what must see every household without the run holding them all
	// (the index baseline, Baseline.Add). It must only read part.
	EachShard func(part *Result) error
	// Alongside, if set, runs for a run of one shard while its output
	// files are written, with the whole run in res (its Summary complete):
	// reports built from the run's memory go there, in the folder being
	// written and inside the same all-or-nothing step, and take no wall
	// time of their own. It must only read res. A run of several shards
	// does not call it.
	Alongside func(ctx context.Context, dir string, res *Result) error
}

// Result is what a run produced, as written to summary.json. Flags,
// Households, Candidates and Measures are kept only when the run had one
// shard; a sharded run's are in the output files.
type Result struct {
	Summary    *Summary
	Shards     int
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
		if res, err = run(ctx, cfg, dir); err != nil {
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

// run matches, evaluates and writes the outputs under dir (the quarantine
// goes there too), shard by shard.
func run(ctx context.Context, cfg Config, dir string) (*Result, error) {
	start := time.Now()
	quarantine := sources.NewQuarantine(dir) // writes dir/quarantine/<kind>.parquet
	defer quarantine.Close()
	shardsFor := func(members int) int {
		if cfg.Shards > 0 {
			return cfg.Shards
		}
		return ShardsFor(members, cfg.MemoryBudget)
	}
	census, err := matcher.NewCensus(ctx, cfg.Manifest, matcher.Options{Workers: cfg.Workers, Quarantine: quarantine,
		CacheDir: cfg.CacheDir, Progress: cfg.Progress, Logger: cfg.Logger, Shards: shardsFor})
	if err != nil {
		return nil, err
	}
	census.Split(shardsFor(census.Members()))
	cfg.Logger.Info("run shards", "shards", census.Shards(), "households", census.Households(),
		"members_and_candidates", census.Members())
	out, err := openOutputs(dir, cfg)
	if err != nil {
		return nil, err
	}
	res, last, err := runShards(ctx, cfg, census, out, time.Since(start))
	if err != nil {
		out.abort()
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := out.add(last); err != nil {
			out.abort()
			return err
		}
		if err := quarantine.Close(); err != nil {
			out.abort()
			return fmt.Errorf("write the quarantine: %w", err)
		}
		return out.close(Quality{Roster: res.Match.Roster, Sources: res.Match.Quality}, res.Summary)
	})
	if cfg.Alongside != nil && res.Shards == 1 {
		g.Go(func() error { return cfg.Alongside(gctx, dir, res) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

// runShards matches, evaluates and writes each shard in turn, but for the
// last one's rows: it returns them (last) for run to write.
func runShards(ctx context.Context, cfg Config, census *matcher.Census, out *outputs, matchTime time.Duration) (res, last *Result, err error) {
	summary := newSummary(cfg)
	env := rules.Env{AsOf: cfg.Manifest.AsOf, Mode: cfg.Mode, Sources: census.Result().Snapshots}
	var rulesTime time.Duration
	for s := range census.Shards() {
		if last != nil {
			if err := out.add(last); err != nil {
				return nil, nil, err
			}
		}
		start := time.Now()
		part, err := census.Shard(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		matched := time.Now()
		matchTime += matched.Sub(start)
		all := append(append([]*facts.Household(nil), part.Households...), part.Candidates...)
		flags, measures, err := evaluateAll(ctx, cfg.Rules, env, all, cfg.Workers)
		if err != nil {
			return nil, nil, err
		}
		flags = append(invalidMemberFlags(part.InvalidMembers), flags...)
		sortFlags(flags)
		last = &Result{Flags: flags, Households: part.Households, Candidates: part.Candidates, Measures: measures, Match: part}
		if cfg.EachShard != nil {
			if err := cfg.EachShard(last); err != nil {
				return nil, nil, err
			}
		}
		summary.add(last)
		rulesTime += time.Since(matched)
	}
	mres := census.Result()
	summary.finish(mres, matchTime, rulesTime)
	res = &Result{Summary: summary, Shards: census.Shards(), Match: mres}
	if census.Shards() == 1 {
		res.Flags, res.Households, res.Candidates, res.Measures = last.Flags, last.Households, last.Candidates, last.Measures
		mres.Households, mres.Candidates, mres.InvalidMembers = last.Households, last.Candidates, last.Match.InvalidMembers
	}
	return res, last, nil
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

// DefaultMemoryBudget is the memory a run plans for when none is given: a
// province (≈ 6 M members and candidates) in about eight shards, peak RSS
// within 8 GiB; a city or county in one shard.
const DefaultMemoryBudget = 6 << 30

// Measured at city scale (bench/RESULTS.md): a shard's facts, records,
// flags and output rows take about this much peak memory per member or
// candidate (the Go heap doubled by the garbage collector included), and the
// census about censusBytesPerMember for the whole run.
const (
	shardBytesPerMember  = 8 << 10
	censusBytesPerMember = 256
)

// ShardsFor is the number of shards that keeps a run of members roster
// members and candidates within budget bytes (0: DefaultMemoryBudget).
func ShardsFor(members int, budget int64) int {
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	perShard := budget - int64(members)*censusBytesPerMember
	// However small the budget, a shard holds some households: the census
	// alone must fit.
	perShard = max(perShard, budget/4)
	need := int64(members) * shardBytesPerMember
	return int(max(1, (need+perShard-1)/perShard))
}
