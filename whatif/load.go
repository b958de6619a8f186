package whatif

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Run is a run folder loaded for what-if evaluation: the rule set it used,
// its environment, every household's saved figures and the flags it gave.
// Facts are decoded from their JSON only when a scenario needs them (most
// what-ifs touch a fraction of the households) and then kept. A Run is not
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

	factsBin [][]byte           // per row, until decoded
	decoded  []*facts.Household // per row, once decoded
}

// Facts returns the facts of row i, decoding them on first use.
func (r *Run) Facts(i int) (*facts.Household, error) {
	if h := r.decoded[i]; h != nil {
		return h, nil
	}
	if len(r.factsBin[i]) == 0 {
		return nil, fmt.Errorf("%s: row %d (household %q): facts_bin is empty; a run folder written before hedui stored facts in binary needs its review run again", filepath.Join(r.Dir, "households.parquet"), i+1, r.Rows[i].HouseholdID)
	}
	h, err := facts.DecodeBinary(r.factsBin[i])
	if err != nil {
		return nil, fmt.Errorf("%s: row %d (household %q): facts_bin: %w", filepath.Join(r.Dir, "households.parquet"), i+1, r.Rows[i].HouseholdID, err)
	}
	if len(h.Members) == 0 {
		return nil, fmt.Errorf("%s: row %d (household %q): facts have no members", filepath.Join(r.Dir, "households.parquet"), i+1, r.Rows[i].HouseholdID)
	}
	r.decoded[i], r.factsBin[i] = h, nil
	return h, nil
}

// DecodeAll decodes every household's facts, in parallel.
func (r *Run) DecodeAll(ctx context.Context, workers int) error {
	return blocks(ctx, len(r.Rows), workers, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if _, err := r.Facts(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// FlagKey is what a what-if compares of a flag: its rule, its target and
// its outcome.
type FlagKey struct {
	RuleID   string
	PersonID string // the member, or the candidate; empty for household flags
	Outcome  rules.Outcome
}

// flagRow is the part of flags.parquet a what-if reads.
type flagRow struct {
	HouseholdID string `parquet:"household_id"`
	PersonID    string `parquet:"person_id"`
	RuleID      string `parquet:"rule_id"`
	Outcome     string `parquet:"outcome"`
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

// ReadFacts reads households.parquet and flags.parquet (facts are decoded
// later, as scenarios need them).
func (r *Run) ReadFacts(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.readHouseholds(filepath.Join(r.Dir, "households.parquet")); err != nil {
		return err
	}
	var err error
	r.Before, err = readFlags(filepath.Join(r.Dir, "flags.parquet"), r.Rows)
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

// readHouseholds reads households.parquet, setting the encoded facts aside.
func (r *Run) readHouseholds(path string) error {
	rows, err := parquet.ReadFile[review.HouseholdRow](path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.Rows, r.factsBin, r.decoded = rows, make([][]byte, len(rows)), make([]*facts.Household, len(rows))
	for i := range rows {
		r.factsBin[i], rows[i].FactsBin = rows[i].FactsBin, nil
		if rows[i].Members <= 0 {
			return fmt.Errorf("%s: row %d (household %q): members %d; want 1 or more", path, i+1, rows[i].HouseholdID, rows[i].Members)
		}
	}
	return nil
}

// readFlags reads flags.parquet and files each flag under its household
// (by household_id) or candidate (by person_id).
func readFlags(path string, hs []review.HouseholdRow) ([][]FlagKey, error) {
	rows, err := parquet.ReadFile[flagRow](path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	households, candidates := make(map[string]int, len(hs)), map[string]int{}
	for i, h := range hs {
		if h.Candidate {
			candidates[h.PersonID] = i
		} else {
			households[h.HouseholdID] = i
		}
	}
	out := make([][]FlagKey, len(hs))
	for n, f := range rows {
		i, ok := households[f.HouseholdID]
		if f.HouseholdID == "" {
			i, ok = candidates[f.PersonID]
		}
		if !ok {
			return nil, fmt.Errorf("%s: row %d: flag %s of household %q candidate %q is not in households.parquet",
				path, n+1, f.RuleID, f.HouseholdID, personid.MaskString(f.PersonID))
		}
		person := f.PersonID
		if f.HouseholdID == "" {
			person = "" // a candidate is its own target
		}
		out[i] = append(out[i], FlagKey{RuleID: f.RuleID, PersonID: person, Outcome: rules.Outcome(f.Outcome)})
	}
	return out, nil
}

// blockSize is the number of rows a worker takes at a time.
const blockSize = 256

// blocks calls fn on [lo, hi) blocks of 0..n-1 on up to workers goroutines;
// fn writes only its own indexes, so results do not depend on scheduling.
func blocks(ctx context.Context, n, workers int, fn func(lo, hi int) error) error {
	const block = blockSize
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
