package review

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/store"
)

// scopeResult is the evaluation of one history scope: a roster household or
// an omission candidate.
type scopeResult struct {
	name        string // store.HouseholdScope or store.CandidateScope
	householdID string
	flags       []rules.Flag
	absent      bool // no longer on the roster, or no longer a candidate
	// noRecords marks a candidate scope absent because its person has no
	// poverty or disability record by ID at all (the presence filters say
	// so): such a person was a candidate at the last run only if those
	// records changed since (see incremental.skipHistory).
	noRecords bool
	key       personid.Key // the candidate's
	// old and had are the scope's flags in the index's history, read on the
	// worker that evaluated it when the caller asked (evalOptions.history).
	old []store.FlagID
	had bool
}

// evalOptions are evaluateFromIndex's optional steps.
type evalOptions struct {
	// history, when not nil, tells which evaluated scopes to look up in the
	// index's history: the lookups then run on the workers, not one by one
	// after them.
	history func(scopeResult) bool
}

// indexEval is the evaluation of some households and candidates from the index.
type indexEval struct {
	households []*facts.Household
	candidates []*facts.Household
	measures   []rules.Measures // households then candidates
	flags      []rules.Flag
	invalid    []matcher.InvalidMember
	scopes     []scopeResult
}

// evalBlock is how many households or candidates a worker takes at a time.
const evalBlock = 64

// evalPart is the evaluation of one block of households or candidates.
type evalPart struct {
	households, candidates []*facts.Household
	hMeasures, cMeasures   []rules.Measures
	hFlags, cFlags         []rules.Flag
	invalid                []matcher.InvalidMember
	hScopes, cScopes       []scopeResult
}

// EvaluateIndex evaluates every roster household and omission candidate of
// the index in mode, as a full run over the same manifest would, without
// reading any source file.
func EvaluateIndex(ctx context.Context, v *store.View, set *rules.Set, asOf rules.Env, mode rules.Mode) (*Result, error) {
	var ids []string
	err := v.Households(func(rows []*sources.RosterMember) error {
		ids = append(ids, rows[0].HouseholdID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys, err := v.CandidateKeys()
	if err != nil {
		return nil, err
	}
	env := rules.Env{AsOf: asOf.AsOf, Sources: v.Catalog().Snapshots()}
	ev, err := evaluateFromIndex(ctx, v, set, env, ids, keys, func(*facts.Household) rules.Mode { return mode }, runtime.GOMAXPROCS(0), evalOptions{})
	if err != nil {
		return nil, err
	}
	return ev.result(v.Catalog()), nil
}

// evaluateFromIndex assembles and evaluates the named households (sorted)
// and candidate keys (sorted), with up to workers goroutines, each on its
// own fork of v; the result is the same whatever the number of workers.
func evaluateFromIndex(ctx context.Context, v *store.View, set *rules.Set, env rules.Env, ids []string, keys []personid.Key, modeOf func(*facts.Household) rules.Mode, workers int, opts evalOptions) (*indexEval, error) {
	// The workers take blocks of evalBlock households or candidates in turn,
	// not a fixed share each: a household's cost varies with its members
	// and with what else runs (an index update's background apply, GC), and
	// a worker left alone with the end of its share idled the other core.
	// Blocks are merged in order.
	hBlocks := (len(ids) + evalBlock - 1) / evalBlock
	blocks := hBlocks + (len(keys)+evalBlock-1)/evalBlock
	block := func(b int) ([]string, []personid.Key) {
		if b < hBlocks {
			return ids[b*evalBlock : min(len(ids), (b+1)*evalBlock)], nil
		}
		b -= hBlocks
		return nil, keys[b*evalBlock : min(len(keys), (b+1)*evalBlock)]
	}
	workers = max(1, min(workers, blocks))
	parts := make([]*evalPart, blocks)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		pv := v
		if w > 0 {
			pv = v.Fork()
		}
		g.Go(func() error {
			if w > 0 {
				defer pv.Close()
			}
			for b := int(next.Add(1) - 1); b < blocks; b = int(next.Add(1) - 1) {
				bids, bkeys := block(b)
				var err error
				if parts[b], err = evaluatePart(ctx, pv, set, env, bids, bkeys, modeOf, opts); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Sized once: the scopes of 100,000 changed persons, grown by append
	// block after block, were copied and faulted in anew at each doubling.
	var nh, nc, nf, ni int
	for _, p := range parts {
		nh, nc = nh+len(p.households), nc+len(p.candidates)
		nf, ni = nf+len(p.hFlags)+len(p.cFlags), ni+len(p.invalid)
	}
	out := &indexEval{
		households: make([]*facts.Household, 0, nh),
		candidates: make([]*facts.Household, 0, nc),
		measures:   make([]rules.Measures, 0, nh+nc),
		flags:      make([]rules.Flag, 0, nf),
		invalid:    make([]matcher.InvalidMember, 0, ni),
		scopes:     make([]scopeResult, 0, len(ids)+len(keys)),
	}
	for _, p := range parts {
		out.households = append(out.households, p.households...)
		out.measures = append(out.measures, p.hMeasures...)
		out.flags = append(out.flags, p.hFlags...)
		out.invalid = append(out.invalid, p.invalid...)
		out.scopes = append(out.scopes, p.hScopes...)
	}
	for _, p := range parts {
		out.candidates = append(out.candidates, p.candidates...)
		out.measures = append(out.measures, p.cMeasures...)
		out.flags = append(out.flags, p.cFlags...)
		out.scopes = append(out.scopes, p.cScopes...)
	}
	sortFlags(out.flags)
	return out, nil
}

// evaluatePart evaluates households ids and candidates keys on view v.
func evaluatePart(ctx context.Context, v *store.View, set *rules.Set, env rules.Env, ids []string, keys []personid.Key, modeOf func(*facts.Household) rules.Mode, opts evalOptions) (*evalPart, error) {
	out := &evalPart{}
	// scoped appends sc to scopes, with its history when asked.
	scoped := func(scopes *[]scopeResult, sc scopeResult) error {
		if opts.history != nil && opts.history(sc) {
			var err error
			if sc.old, sc.had, err = v.History(sc.name); err != nil {
				return err
			}
		}
		*scopes = append(*scopes, sc)
		return nil
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows, err := v.Household(id)
		if err != nil {
			return nil, err
		}
		sc := scopeResult{name: store.HouseholdScope(id), householdID: id}
		if len(rows) == 0 {
			sc.absent = true
			if err := scoped(&out.hScopes, sc); err != nil {
				return nil, err
			}
			continue
		}
		h, invalid, err := matcher.AssembleRosterHousehold(v, rows)
		if err != nil {
			return nil, fmt.Errorf("household %q: %w", id, err)
		}
		e := env
		e.Mode = modeOf(h)
		fs, ms, err := evaluateOne(set, h, e)
		if err != nil {
			return nil, err
		}
		sc.flags = append(invalidMemberFlags(invalid), fs...)
		out.households = append(out.households, h)
		out.hMeasures = append(out.hMeasures, ms)
		out.invalid = append(out.invalid, invalid...)
		out.hFlags = append(out.hFlags, sc.flags...)
		if err := scoped(&out.hScopes, sc); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sc := scopeResult{name: store.CandidateScope(k.String()), key: k}
		if !v.MayHave(k, sources.KindPoverty, sources.KindDisability) {
			// Not a candidate (matcher.AssembleCandidate would say so after
			// a seek per source): most changed persons of other sources.
			sc.absent, sc.noRecords = true, true
			if err := scoped(&out.cScopes, sc); err != nil {
				return nil, err
			}
			continue
		}
		h, err := matcher.AssembleCandidate(v, k)
		if err != nil {
			return nil, fmt.Errorf("candidate %s: %w", k.Mask(), err)
		}
		if h == nil {
			sc.absent = true
			if err := scoped(&out.cScopes, sc); err != nil {
				return nil, err
			}
			continue
		}
		e := env
		e.Mode = modeOf(h)
		fs, ms, err := evaluateOne(set, h, e)
		if err != nil {
			return nil, err
		}
		sc.flags = fs
		out.candidates = append(out.candidates, h)
		out.cMeasures = append(out.cMeasures, ms)
		out.cFlags = append(out.cFlags, fs...)
		if err := scoped(&out.cScopes, sc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func evaluateOne(set *rules.Set, h *facts.Household, env rules.Env) ([]rules.Flag, rules.Measures, error) {
	fs, err := set.Evaluate(h, env)
	if err != nil {
		return nil, rules.Measures{}, fmt.Errorf("%s: %w", scopeName(h), err)
	}
	ms, err := set.Measure(h, env)
	if err != nil {
		return nil, rules.Measures{}, fmt.Errorf("%s: %w", scopeName(h), err)
	}
	return fs, ms, nil
}

func scopeName(h *facts.Household) string {
	if h.Candidate {
		return "candidate " + personid.MaskString(h.Members[0].PersonID)
	}
	return fmt.Sprintf("household %q", h.ID)
}

// result wraps the evaluation as a review Result, with the data-quality
// records the index keeps per source.
func (ev *indexEval) result(cat *store.Catalog) *Result {
	mr := &matcher.Result{Households: ev.households, Candidates: ev.candidates, InvalidMembers: ev.invalid,
		Snapshots: cat.Snapshots()}
	for _, s := range cat.Sources {
		if !s.Live() || s.Quality == nil {
			continue
		}
		q := *s.Quality
		q.Kind, q.Path = s.Kind, s.Path
		if s.Kind == sources.KindRoster {
			mr.Roster = &q
		} else {
			mr.Quality = append(mr.Quality, &q)
		}
	}
	return &Result{Flags: ev.flags, Households: ev.households, Candidates: ev.candidates, Measures: ev.measures, Match: mr}
}

// flagIDs keeps what the history needs of flags.
func flagIDs(fs []rules.Flag) []store.FlagID {
	out := make([]store.FlagID, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.FlagID{PersonID: f.PersonID, RuleID: f.RuleID, Outcome: string(f.Outcome)})
	}
	return out
}

// diffFlags returns the flags of now not in old (new) and of old not in now
// (cleared), as multisets.
func diffFlags(householdID string, old, now []store.FlagID) []Change {
	left := map[store.FlagID]int{}
	for _, f := range old {
		left[f]++
	}
	var out []Change
	for _, f := range now {
		if left[f] > 0 {
			left[f]--
			continue
		}
		out = append(out, Change{HouseholdID: householdID, PersonID: f.PersonID, RuleID: f.RuleID, Outcome: f.Outcome, Change: "new"})
	}
	for _, f := range old {
		if left[f] > 0 {
			left[f]--
			out = append(out, Change{HouseholdID: householdID, PersonID: f.PersonID, RuleID: f.RuleID, Outcome: f.Outcome, Change: "cleared"})
		}
	}
	return out
}

// sortChanges orders changes by household (candidates last), person, rule,
// outcome and change.
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if (a.HouseholdID == "") != (b.HouseholdID == "") {
			if a.HouseholdID == "" {
				return 1
			}
			return -1
		}
		for _, p := range [][2]string{{a.HouseholdID, b.HouseholdID}, {a.PersonID, b.PersonID}, {a.RuleID, b.RuleID}, {a.Outcome, b.Outcome}, {a.Change, b.Change}} {
			if c := strings.Compare(p[0], p[1]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// writeChangesCSV writes changes.csv (UTF-8 with a byte-order mark, as flags.csv).
func writeChangesCSV(path string, cs []Change) error {
	return WriteCSV(path, []string{"household_id", "person_id", "rule_id", "outcome", "change"}, len(cs), func(i int) []string {
		c := &cs[i]
		return []string{c.HouseholdID, c.PersonID, c.RuleID, c.Outcome, c.Change}
	})
}

// RecordBaseline records a full run's flags in the index as the history the
// next incremental run compares with. The index must have been updated
// with the run's manifest before the run (gens are the generations it read).
// res must hold every household (a run of one shard); a sharded run feeds a
// Baseline shard by shard instead.
func RecordBaseline(db *store.DB, gens map[uint16]uint32, cat *store.Catalog, set *rules.Set, asOf time.Time, res *Result) error {
	b := NewBaseline()
	if err := b.Add(res); err != nil {
		return err
	}
	return b.Record(db, gens, cat, set, asOf)
}

// Baseline collects a full run's flags by scope, shard by shard
// (Config.EachShard), for the index history: only identifiers, so that a run
// of many shards keeps its memory budget.
type Baseline struct {
	hist map[string][]store.FlagID
}

// NewBaseline returns an empty baseline.
func NewBaseline() *Baseline { return &Baseline{hist: map[string][]store.FlagID{}} }

// Add takes the households, candidates and flags of one shard (or of a
// whole run); a unit without flags gets an empty history.
func (b *Baseline) Add(part *Result) error {
	for _, h := range part.Households {
		b.hist[store.HouseholdScope(h.ID)] = []store.FlagID{}
	}
	for _, h := range part.Candidates {
		b.hist[store.CandidateScope(h.Members[0].PersonID)] = []store.FlagID{}
	}
	for _, f := range part.Flags {
		scope := store.HouseholdScope(f.HouseholdID)
		if f.HouseholdID == "" {
			scope = store.CandidateScope(f.PersonID)
		}
		b.hist[scope] = append(b.hist[scope], store.FlagID{PersonID: f.PersonID, RuleID: f.RuleID, Outcome: string(f.Outcome)})
	}
	return nil
}

// Record writes the baseline into the index (see RecordBaseline).
func (b *Baseline) Record(db *store.DB, gens map[uint16]uint32, cat *store.Catalog, set *rules.Set, asOf time.Time) error {
	run := store.Run{Mode: "full", AsOf: asOf, RuleSetDigest: set.Digest(), Snapshots: cat.Snapshots(),
		Recorded: time.Now().UTC(), Full: true}
	return db.RecordRun(run, gens, b.hist, nil)
}

// CheckHousehold checks one household from the index alone (intake, 逢进必核):
// rows are its roster rows as the applicant gives them; it is evaluated in
// incremental mode (ref_date = the application date) against the live
// generations of the view, with invalid IDs flagged as in a run.
func CheckHousehold(v *store.View, set *rules.Set, asOf time.Time, rows []*sources.RosterMember) (*facts.Household, []rules.Flag, error) {
	h, invalid, err := matcher.AssembleHousehold(v, rows)
	if err != nil {
		return nil, nil, err
	}
	env := rules.Env{AsOf: asOf, Mode: rules.ModeIncremental, Sources: v.Catalog().Snapshots()}
	fs, err := set.Evaluate(h, env)
	if err != nil {
		return nil, nil, err
	}
	return h, append(invalidMemberFlags(invalid), fs...), nil
}
