package review

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/store"
)

// IncrementalConfig describes an incremental run (增量核对): the index is
// brought up to date with the manifest, and only the households and
// omission candidates whose facts may have changed since the last recorded
// run are evaluated, from the index.
type IncrementalConfig struct {
	Manifest *sources.Manifest
	Rules    *rules.Set
	Index    *store.DB
	Out      string // the run folder; written whole or not at all
	Workers  int    // 0 means every core
	CacheDir string // CSV conversions during the index update
	Progress func(e *sources.Entry, doneRows, totalRows int64)
	Logger   *slog.Logger
	// beforeOutputs, when set (tests), runs once the run is evaluated,
	// before its outputs are written.
	beforeOutputs func()
}

// Change is one row of changes.csv: a flag that appeared or cleared since
// the last recorded run.
type Change struct {
	HouseholdID string `json:"household_id"` // empty for omission candidates
	PersonID    string `json:"person_id"`
	RuleID      string `json:"rule_id"`
	Outcome     string `json:"outcome"`
	Change      string `json:"change"` // new | cleared
}

// IncrementalSummary is summary.json of an incremental run: the usual
// counts over the households evaluated, and what was left alone.
type IncrementalSummary struct {
	Summary
	BaselineRun uint32 `json:"baseline_run"` // the run compared with; 0 = none
	// EvaluatedAll gives why every household was evaluated (no baseline,
	// another as-of date or rule set, a source staleness change); empty
	// when only the changed ones were.
	EvaluatedAll        string               `json:"evaluated_all,omitempty"`
	ChangedGroups       int                  `json:"changed_groups"` // change-set entries read
	UnchangedHouseholds int                  `json:"unchanged_households"`
	UnchangedCandidates int                  `json:"unchanged_candidates"`
	RemovedHouseholds   int                  `json:"removed_households"` // in the baseline, no longer on the roster
	NewFlags            int                  `json:"new_flags"`
	ClearedFlags        int                  `json:"cleared_flags"`
	IndexUpdate         []store.SourceUpdate `json:"index_update"`
}

// IncrementalResult is what RunIncremental produced.
type IncrementalResult struct {
	*Result
	Incremental *IncrementalSummary
	Changes     []Change
	// Timings are the run's stages (index update, affected, evaluate,
	// outputs, record) with their wall seconds; summary.json's stages lack
	// the recording, which follows it.
	Timings []matcher.Stage
}

// stage appends a timing that started at t0 and returns now.
func stage(ts *[]matcher.Stage, name string, rows int64, t0 time.Time) time.Time {
	now := time.Now()
	d := now.Sub(t0)
	*ts = append(*ts, matcher.Stage{Name: name, Rows: rows, Duration: d, Seconds: d.Seconds()})
	return now
}

// modeFor is the mode a household is evaluated in by an incremental run:
// applicants get the incremental rules (ref_date = application date),
// recipients the full-base ones.
func modeFor(h *facts.Household) rules.Mode {
	if h.Status == "applicant" {
		return rules.ModeIncremental
	}
	return rules.ModeFull
}

// RunIncremental performs an incremental run and writes cfg.Out: flags,
// households and quality of the evaluated households, summary.json with the
// unchanged counts, and changes.csv. The run's flags then become the
// history the next incremental run compares with.
func RunIncremental(ctx context.Context, cfg IncrementalConfig) (*IncrementalResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if err := checkOut(cfg.Out, "summary.json", "run"); err != nil {
		return nil, err
	}
	start := time.Now()
	updates, err := cfg.Index.Update(ctx, cfg.Manifest, store.UpdateOptions{Workers: cfg.Workers, CacheDir: cfg.CacheDir, Progress: cfg.Progress})
	if err != nil {
		return nil, err
	}
	var timings []matcher.Stage
	var reread int64
	for _, u := range updates {
		reread += u.Rows
	}
	updated := stage(&timings, "index update", reread, start)
	v, err := cfg.Index.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	inc := &incremental{cfg: cfg, v: v, sum: &IncrementalSummary{IndexUpdate: updates}, timings: &timings}
	res, err := inc.evaluate(ctx)
	if err != nil {
		return nil, err
	}
	res.Timings = timings
	res.Summary = summarize(Config{Manifest: cfg.Manifest, Rules: cfg.Rules, Mode: "incremental"}, res.Result, updated.Sub(start), time.Since(updated))
	// An incremental run reads only the sources the index update re-read, not
	// the manifest's whole row count that the catalog's quality records hold.
	res.Summary.RowsRead = 0
	for _, u := range updates {
		res.Summary.RowsRead += u.Rows
	}
	inc.sum.Summary = *res.Summary
	// The history moves only once the outputs are in place: a kill between
	// the two reports the same changes again rather than losing them. It is
	// written aside while the outputs are.
	run := store.Run{Mode: "incremental", AsOf: cfg.Manifest.AsOf, RuleSetDigest: cfg.Rules.Digest(),
		Snapshots: v.Catalog().Snapshots(), Recorded: time.Now().UTC(), Full: inc.all != ""}
	if cfg.beforeOutputs != nil {
		cfg.beforeOutputs()
	}
	var pending *store.PendingRun
	var g errgroup.Group
	g.Go(func() (err error) {
		pending, err = cfg.Index.PrepareRun(run, v.Catalog().Gens(), inc.record, inc.hadScope)
		return err
	})
	werr := WriteFolder(cfg.Out, "summary.json", "run", func(dir string) error { return inc.write(dir, res) })
	if err := g.Wait(); werr == nil && err != nil {
		werr = fmt.Errorf("record the run in the index: %w", err)
	}
	if werr != nil {
		return nil, werr
	}
	recording := time.Now()
	if err := pending.Commit(); err != nil {
		return nil, fmt.Errorf("record the run in the index: %w", err)
	}
	stage(&res.Timings, "record", int64(len(inc.record)), recording)
	return res, nil
}

// incremental holds the state of one incremental run.
type incremental struct {
	cfg     IncrementalConfig
	v       *store.View
	sum     *IncrementalSummary
	all     string // why every household is evaluated; "" when not
	history map[string][]store.FlagID
	// record is the part of history the index must be told: the scopes
	// whose flags differ from its history's (all of them when the history
	// is replaced). Most evaluated scopes keep their flags, and rewriting
	// their history would cost writes, compaction and deletes for nothing.
	record map[string][]store.FlagID
	// had counts, by the scope's first byte, the evaluated scopes that the
	// history holds: with the history's size they give the unchanged counts.
	had map[string]int
	// hadScope tells, for the scopes of history, whether the index's
	// history held them (read once, then handed to RecordRun).
	hadScope map[string]bool
	timings  *[]matcher.Stage
	// candidateChanged holds the persons whose poverty or disability
	// records by ID changed since the last run (see skipHistory).
	candidateChanged map[personid.Key]bool
}

// skipHistory reports whether an evaluated scope certainly has no history,
// so that its lookup can be spared: a candidate scope whose person has no
// poverty or disability record by ID now and had the same (none) at the
// last run, as those sources' change sets since then do not name them, was
// no candidate then. Most of an incremental run's candidate scopes are such
// persons (everyone whose records of another source changed), each a
// history lookup that finds nothing.
func (inc *incremental) skipHistory(sc scopeResult) bool {
	return inc.all == "" && sc.noRecords && inc.candidateChanged != nil && !inc.candidateChanged[sc.key]
}

func (inc *incremental) evaluate(ctx context.Context) (*IncrementalResult, error) {
	began := time.Now()
	last, err := inc.v.LastRun()
	if err != nil {
		return nil, err
	}
	cat := inc.v.Catalog()
	env := rules.Env{AsOf: inc.cfg.Manifest.AsOf, Sources: cat.Snapshots()}
	inc.all = inc.fullReason(last, env)
	if last != nil {
		inc.sum.BaselineRun = last.Seq
	}
	var households []string
	var candidates []personid.Key
	if inc.all == "" {
		households, candidates, err = inc.affected(ctx, last)
		if err != nil {
			return nil, err
		}
	}
	if inc.all != "" {
		inc.cfg.Logger.Info("incremental run evaluates every household", "reason", inc.all)
		households, candidates = nil, nil
		err := inc.v.Households(func(rows []*sources.RosterMember) error {
			households = append(households, rows[0].HouseholdID)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if candidates, err = inc.v.CandidateKeys(); err != nil {
			return nil, err
		}
	}
	inc.sum.EvaluatedAll = inc.all
	t0 := stage(inc.timings, "affected", int64(len(households)+len(candidates)), began)
	read := func(sc scopeResult) bool { return !inc.skipHistory(sc) }
	ev, err := evaluateFromIndex(ctx, inc.v, inc.cfg.Rules, env, households, candidates, modeFor, inc.cfg.Workers, evalOptions{history: read})
	if err != nil {
		return nil, err
	}
	stage(inc.timings, "evaluate", int64(len(households)+len(candidates)), t0)
	res := &IncrementalResult{Result: ev.result(cat), Incremental: inc.sum}
	inc.history = map[string][]store.FlagID{}
	inc.record = map[string][]store.FlagID{}
	inc.had = map[string]int{}
	inc.hadScope = map[string]bool{}
	for _, scope := range ev.scopes {
		if inc.skipHistory(scope) {
			continue
		}
		old, had := scope.old, scope.had
		inc.hadScope[scope.name] = had
		if scope.absent && !had {
			continue
		}
		if _, dup := inc.history[scope.name]; had && !dup {
			inc.had[scope.name[:1]]++
		}
		now := flagIDs(scope.flags)
		res.Changes = append(res.Changes, diffFlags(scope.householdID, old, now)...)
		inc.history[scope.name] = now
		if scope.absent {
			inc.history[scope.name] = nil
			if scope.householdID != "" {
				inc.sum.RemovedHouseholds++
			}
		}
		if !had || scope.absent || !slices.Equal(old, now) {
			inc.record[scope.name] = inc.history[scope.name]
		} else {
			delete(inc.record, scope.name)
		}
	}
	if inc.all != "" {
		inc.record = inc.history // the history is replaced whole
	}
	if inc.all != "" {
		// Scopes of the baseline that no longer exist clear their flags.
		err := inc.v.HistoryScopes(func(scope string) error {
			if _, ok := inc.history[scope]; ok {
				return nil
			}
			old, _, err := inc.v.History(scope)
			if err != nil {
				return err
			}
			hid := ""
			if scope[0] == 'H' {
				hid = scope[1:]
				inc.sum.RemovedHouseholds++
			}
			res.Changes = append(res.Changes, diffFlags(hid, old, nil)...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sortChanges(res.Changes)
	for _, c := range res.Changes {
		if c.Change == "new" {
			inc.sum.NewFlags++
		} else {
			inc.sum.ClearedFlags++
		}
	}
	if err := inc.countUnchanged(last, ev); err != nil {
		return nil, err
	}
	return res, nil
}

// fullReason says why every household must be evaluated, or "".
func (inc *incremental) fullReason(last *store.Run, env rules.Env) string {
	switch {
	case last == nil:
		return "no run recorded in the index yet"
	case !last.AsOf.Equal(env.AsOf):
		return fmt.Sprintf("as_of %s differs from the last run's %s", env.AsOf.Format(time.DateOnly), last.AsOf.Format(time.DateOnly))
	case last.RuleSetDigest != inc.cfg.Rules.Digest():
		return "the rule set differs from the last run's"
	}
	for _, s := range inc.v.Catalog().Sources {
		seen := last.GenOf(s.ID)
		if s.Gen == seen {
			continue
		}
		if seen == 0 && s.Live() {
			return fmt.Sprintf("source %s %s is new since the last run", s.Kind, s.Path)
		}
		if !chainCovers(s, seen) {
			return fmt.Sprintf("the change sets of source %s %s since the last run are gone", s.Kind, s.Path)
		}
	}
	if !maps_equal(last.Snapshots, env.Sources) {
		if k := staleFlip(inc.cfg.Rules, inc.v.Catalog(), last, env); k != "" {
			return k
		}
	}
	return ""
}

func maps_equal(a, b map[sources.Kind]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, t := range a {
		if u, ok := b[k]; !ok || !u.Equal(t) {
			return false
		}
	}
	return true
}

// chainCovers reports whether s keeps the change set of every generation
// after seen.
func chainCovers(s store.Source, seen uint32) bool {
	found := false
	for _, g := range s.Chain {
		if g.Gen == seen {
			found = true
		}
	}
	if found {
		return true
	}
	// The baseline generation's entry may have been pruned; then the chain
	// must start right after it with change sets, not a first build.
	return len(s.Chain) > 0 && s.Chain[0].Gen > seen && !s.Chain[0].Full
}

// staleFlip evaluates an empty probe household per roster (region, area,
// assistance) and candidates per region under the last run's snapshots and
// today's, and names the first whose missing-or-stale flags differ: then
// every household must be evaluated, as the snapshots decide them.
func staleFlip(set *rules.Set, cat *store.Catalog, last *store.Run, env rules.Env) string {
	var combos [][3]string
	if r := cat.Roster(); r != nil {
		combos = r.Combos
	}
	regions := map[string]bool{}
	for _, c := range combos {
		regions[c[0]] = true
	}
	probes := []*facts.Household{}
	for _, c := range combos {
		probes = append(probes, &facts.Household{ID: "probe", Region: c[0], Area: c[1], Assistance: c[2], Status: "recipient",
			Members: []*facts.Member{{PersonID: "probe", Relation: "head"}}})
	}
	for r := range regions {
		probes = append(probes, &facts.Household{Candidate: true, Region: r, Area: "rural", Members: []*facts.Member{{PersonID: r + "000000000000"}}})
	}
	before := rules.Env{AsOf: env.AsOf, Mode: rules.ModeFull, Sources: last.Snapshots}
	now := rules.Env{AsOf: env.AsOf, Mode: rules.ModeFull, Sources: env.Sources}
	for _, h := range probes {
		if insufficientRules(set, h, before) != insufficientRules(set, h, now) {
			return fmt.Sprintf("a source snapshot changed whether rules are insufficient (region %s, area %s)", h.Region, h.Area)
		}
	}
	return ""
}

func insufficientRules(set *rules.Set, h *facts.Household, env rules.Env) string {
	fs, err := set.Evaluate(h, env)
	if err != nil {
		return "error: " + err.Error()
	}
	s := ""
	for _, f := range fs {
		if f.Outcome == rules.OutcomeInsufficient {
			s += f.RuleID + "\x00" + f.Message + "\x00"
		}
	}
	return s
}

// affected lists the roster households to evaluate again and the persons
// to evaluate again as omission candidates: every person of a change-set
// group since the last run, with the households they are on. The change
// sets are read in one pass; the persons they name are then looked up
// (roster rows, hukou and name + birth date groups) by workers, each on its
// own fork of the view.
func (inc *incremental) affected(ctx context.Context, last *store.Run) ([]string, []personid.Key, error) {
	var todo []changedGroup
	hs := map[string]bool{}
	inc.candidateChanged = map[personid.Key]bool{}
	for _, s := range inc.v.Catalog().Sources {
		seen := last.GenOf(s.ID)
		for _, g := range s.Chain {
			if g.Gen <= seen {
				continue
			}
			err := inc.v.Changes(s.ID, g.Gen, func(sub byte, group []byte) error {
				inc.sum.ChangedGroups++
				switch sub {
				case 'p':
					k := binary.BigEndian.Uint64(group)
					todo = append(todo, changedGroup{'p', k, s.Kind == sources.KindStaff})
					if s.Kind == sources.KindPoverty || s.Kind == sources.KindDisability {
						inc.candidateChanged[personid.Key(k)] = true
					}
				case 'n', 'a':
					if s.Kind != sources.KindRoster || sub == 'a' {
						todo = append(todo, changedGroup{'a', binary.BigEndian.Uint64(group), false})
					}
				case 'h':
					todo = append(todo, changedGroup{'h', binary.BigEndian.Uint64(group), false})
				case 'd':
					hs[string(group)] = true
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	// Shares of at least 8 groups: a fork costs an iterator per source.
	workers := max(1, min(inc.cfg.Workers, (len(todo)+7)/8)) // RunIncremental sets Workers
	parts := make([]reach, workers)
	g, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		v := inc.v
		if w > 0 {
			v = v.Fork()
		}
		part := todo[len(todo)*w/workers : len(todo)*(w+1)/workers]
		g.Go(func() error {
			if w > 0 {
				defer v.Close()
			}
			parts[w] = reach{v: v, hs: map[string]bool{}, cands: map[personid.Key]bool{}}
			return parts[w].groups(ctx, part)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	cands := map[personid.Key]bool{}
	for _, p := range parts {
		maps.Copy(hs, p.hs)
		maps.Copy(cands, p.cands)
	}
	keys := slices.Sorted(maps.Keys(cands))
	ids := slices.Sorted(maps.Keys(hs))
	return ids, keys, nil
}

// changedGroup is one change-set group that names persons: a person key
// ('p'; staff tells a staff member's, whose hukous reach further), a
// hukou hash ('h') or a roster name + birth date hash ('a').
type changedGroup struct {
	sub   byte
	group uint64
	staff bool
}

// reach collects, on one view, the households and candidates that changed
// groups reach.
type reach struct {
	v     *store.View
	hs    map[string]bool
	cands map[personid.Key]bool
}

func (r *reach) groups(ctx context.Context, gs []changedGroup) error {
	for i, g := range gs {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		switch g.sub {
		case 'p':
			err = r.person(personid.Key(g.group), g.staff)
		case 'h':
			err = r.hukou(g.group)
		case 'a':
			err = r.nameDOB(g.group)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// person adds the households key is on, and key as a candidate: one whose
// records changed, or one who joined the roster and whose candidate flags
// clear. A staff change also reaches the roster members on the staff
// member's hukous.
func (r *reach) person(key personid.Key, staff bool) error {
	rows, err := r.v.RosterRows(key)
	if err != nil {
		return err
	}
	for _, row := range rows {
		r.hs[row.HouseholdID] = true
	}
	r.cands[key] = true
	if !staff {
		return nil
	}
	pol, err := r.v.Records(key, sources.KindPolice)
	if err != nil {
		return err
	}
	for _, p := range pol {
		if no := p.Rec.(*sources.Police).HukouNo; no != "" {
			if err := r.hukou(matcher.HukouHash(no)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reach) hukou(h uint64) error {
	rows, err := r.v.HukouRows(h)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if k := row.Rec.Base().Key; k != 0 {
			if err := r.person(k, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reach) nameDOB(h uint64) error {
	keys, err := r.v.RosterNameDOB(h)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := r.person(k, false); err != nil {
			return err
		}
	}
	return nil
}

// countUnchanged fills the unchanged counts: households and candidates of
// the last run that this run did not evaluate. The last run's scope counts,
// when recorded, spare the walk of the whole history (≈ 80,000 scopes on the
// city data).
func (inc *incremental) countUnchanged(last *store.Run, ev *indexEval) error {
	if inc.all != "" || last == nil {
		return nil
	}
	if last.Scopes != nil && last.Applied {
		for k, n := range last.Scopes {
			if k == "H" {
				inc.sum.UnchangedHouseholds += n - inc.had[k]
			} else {
				inc.sum.UnchangedCandidates += n - inc.had[k]
			}
		}
		return nil
	}
	return inc.v.HistoryScopes(func(scope string) error {
		if _, ok := inc.history[scope]; ok {
			return nil
		}
		if scope[0] == 'H' {
			inc.sum.UnchangedHouseholds++
		} else {
			inc.sum.UnchangedCandidates++
		}
		return nil
	})
}

// write writes the run folder's files.
func (inc *incremental) write(dir string, res *IncrementalResult) error {
	t0 := time.Now()
	if err := writeOutputs(dir, Config{Manifest: inc.cfg.Manifest, Rules: inc.cfg.Rules, Workers: inc.cfg.Workers}, res.Result); err != nil {
		return err
	}
	stage(&res.Timings, "outputs", int64(len(res.Households)+len(res.Candidates)), t0)
	inc.sum.Stages = res.Timings
	if err := writeJSON(filepath.Join(dir, "summary.json"), inc.sum); err != nil {
		return err
	}
	return writeChangesCSV(filepath.Join(dir, "changes.csv"), res.Changes)
}
