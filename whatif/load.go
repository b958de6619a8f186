package whatif

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// Run is a run folder loaded for what-if evaluation: the rule set it used,
// its environment, every household's saved figures and the flags it gave.
// Facts are read from households.parquet only when a scenario needs them
// (most what-ifs touch a fraction of the households: only the pages of the
// facts_bin column that hold such rows are read) and then kept. A Run is not
// safe for concurrent use: evaluate one scenario at a time.
type Run struct {
	Dir     string
	Summary review.Summary
	Set     *rules.Set // parsed from rules.yaml; its digest is the summary's
	Env     rules.Env
	// Rows holds households then omission candidates, in the order of
	// households.parquet, without their encoded facts.
	Rows []review.HouseholdRow
	// Before holds, per row, the run's flags (from flags.parquet) in file order.
	Before [][]FlagKey

	decoded []*facts.Household // per row, once read and decoded
	groups  []int              // first row of each row group of households.parquet, then len(Rows)
}

// Facts returns the facts of row i, reading and decoding them on first use.
func (r *Run) Facts(i int) (*facts.Household, error) {
	if h := r.decoded[i]; h != nil {
		return h, nil
	}
	if err := r.fetch(context.Background(), []int{i}, 1); err != nil {
		return nil, err
	}
	return r.decoded[i], nil
}

// DecodeAll reads and decodes every household's facts, in parallel.
func (r *Run) DecodeAll(ctx context.Context, workers int) error {
	all := make([]int, 0, len(r.Rows))
	for i := range r.Rows {
		if r.decoded[i] == nil {
			all = append(all, i)
		}
	}
	return r.fetch(ctx, all, workers)
}

// FlagKey is what a what-if compares of a flag: its rule, its target and
// its outcome.
type FlagKey struct {
	RuleID   string
	PersonID string // the member, or the candidate; empty for household flags
	Outcome  rules.Outcome
}

// Load reads a run folder: Open, then ReadFacts. It reads no source.
func Load(ctx context.Context, dir string) (*Run, error) {
	r, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if err := r.ReadFacts(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Open reads the small files of a run folder: summary.json, quality.json
// (the snapshot dates) and rules.yaml (its digest must equal summary.json's),
// so that settings can be checked before the facts are read.
func Open(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, "summary.json"), &r.Summary); err != nil {
		return nil, err
	}
	asOf, err := time.Parse(time.DateOnly, r.Summary.AsOf)
	if err != nil {
		return nil, fmt.Errorf("%s: as_of %q: want a date as YYYY-MM-DD", filepath.Join(dir, "summary.json"), r.Summary.AsOf)
	}
	mode := rules.Mode(r.Summary.Mode)
	if mode != rules.ModeFull && mode != rules.ModeIncremental {
		return nil, fmt.Errorf("%s: mode %q; supported modes: full, incremental", filepath.Join(dir, "summary.json"), r.Summary.Mode)
	}
	snaps, err := snapshots(filepath.Join(dir, "quality.json"))
	if err != nil {
		return nil, err
	}
	r.Env = rules.Env{AsOf: asOf, Mode: mode, Sources: snaps}
	if r.Set, err = loadRules(dir, r.Summary.RuleSetDigest); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadFacts reads households.parquet but its facts_bin column, and
// flags.parquet's household_id, person_id, rule_id and outcome, both by row
// group on every core (facts are read later, as scenarios need them).
func (r *Run) ReadFacts(ctx context.Context) error {
	return r.ReadFactsWorkers(ctx, runtime.GOMAXPROCS(0))
}

// ReadFactsWorkers is ReadFacts with row groups read on up to workers
// goroutines; the result does not depend on their number.
func (r *Run) ReadFactsWorkers(ctx context.Context, workers int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.readHouseholds(ctx, filepath.Join(r.Dir, "households.parquet"), workers); err != nil {
		return err
	}
	var err error
	r.Before, err = readFlags(ctx, filepath.Join(r.Dir, "flags.parquet"), r.Rows, workers)
	return err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("not a hedui run folder: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// snapshots gives, per source kind, the oldest snapshot among its entries,
// as the matcher gave the run's rules.
func snapshots(path string) (map[sources.Kind]time.Time, error) {
	var q review.Quality
	if err := readJSON(path, &q); err != nil {
		return nil, err
	}
	out := map[sources.Kind]time.Time{}
	for i, s := range q.Sources {
		if s == nil {
			continue
		}
		t, err := time.Parse(time.DateOnly, s.Snapshot)
		if err != nil {
			return nil, fmt.Errorf("%s: sources[%d] (%s) snapshot %q: want a date as YYYY-MM-DD", path, i, s.Kind, s.Snapshot)
		}
		if old, ok := out[s.Kind]; !ok || t.Before(old) {
			out[s.Kind] = t
		}
	}
	return out, nil
}

func loadRules(dir, digest string) (*rules.Set, error) {
	path := filepath.Join(dir, "rules.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the run's rule set: %w (a run written before runs kept rules.yaml cannot be re-evaluated)", err)
	}
	set, err := rules.Parse(src, path)
	if err != nil {
		return nil, err
	}
	if set.Digest() != digest {
		return nil, fmt.Errorf("%s: digest %s differs from summary.json's rule_set_digest %q: the file is not the rule set this run used", path, set.Digest(), digest)
	}
	return set, nil
}

// blockSize is the number of rows a worker takes at a time.
const blockSize = 256

// blocks calls fn on [lo, hi) blocks of 0..n-1 on up to workers goroutines;
// fn writes only its own indexes, so results do not depend on scheduling.
func blocks(ctx context.Context, n, workers int, fn func(lo, hi int) error) error {
	return blocksOf(ctx, n, blockSize, workers, fn)
}

// blocksOf is blocks with blocks of the given size.
func blocksOf(ctx context.Context, n, block, workers int, fn func(lo, hi int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for lo := 0; lo < n; lo += block {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(lo, min(lo+block, n))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err() // the group's context ends with Wait; the caller's tells of a cancel
}
