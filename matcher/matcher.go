// Package matcher joins every source of a manifest to the households under
// review by person key and builds each household's facts.
//
// The roster is the build side: a flat open-addressing table from person key
// to person. Each source streams through a probe, row group by row group in
// parallel: only the key column is decoded for every row, the other columns
// only for rows that matched (late materialization). Results are merged in
// chunk order, so facts are identical whatever the number of workers.
package matcher

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Options tune Match.
type Options struct {
	// Workers bounds the row groups read at once; 0 means every core.
	Workers int
	// Quarantine receives rows whose key is invalid; nil discards them (they
	// are still counted).
	Quarantine *sources.Quarantine
	// CacheDir is where CSV sources are converted to Parquet.
	CacheDir string
	// Progress, if set, is called as rows of an entry are read; pass names the
	// stage ("roster", "match", "hukou").
	Progress func(e *sources.Entry, pass string, doneRows, totalRows int64)
	// Logger receives one line per stage; nil means slog.Default().
	Logger *slog.Logger
}

// Result is the outcome of Match.
type Result struct {
	// Households are the roster households, sorted by household ID.
	Households []*facts.Household
	// Candidates are omission candidates: people in the poverty or disability
	// sources on no roster household, sorted by person key.
	Candidates []*facts.Household
	// InvalidMembers are roster rows whose ID is invalid; their members are in
	// Households with a zero Key and no records.
	InvalidMembers []InvalidMember
	// Roster is the roster's quality record; Quality has one per source entry,
	// in manifest order.
	Roster  *sources.Quality
	Quality []*sources.Quality
	// Snapshots gives, per source kind present, the oldest snapshot date among
	// its entries (the conservative one for staleness checks).
	Snapshots map[sources.Kind]time.Time
	// Stages records the rows and wall time of each stage.
	Stages []Stage
}

// InvalidMember is a roster row whose citizen ID was rejected.
type InvalidMember struct {
	HouseholdID string
	Raw         string
	Reason      personid.Reason
	File        string
	Row         int64
}

// Stage is one timed step of a match.
type Stage struct {
	Name     string        `json:"name"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// person is one entry of the probe table: somebody whose records we gather.
type person struct {
	key     personid.Key
	members []*facts.Member // roster memberships, or the candidate's one member
}

// run holds the state of one Match call.
type run struct {
	m       *sources.Manifest
	opts    Options
	log     *slog.Logger
	persons []*person
	table   *keyTable
	nameDOB map[uint64]int32 // name+birth date+region → person index; -1 if ambiguous
	res     *Result
}

// Match reads the manifest's roster and every source and returns the facts of
// every household under review and of every omission candidate.
func Match(ctx context.Context, m *sources.Manifest, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	r := &run{m: m, opts: opts, log: opts.Logger, res: &Result{Snapshots: map[sources.Kind]time.Time{}}}
	if r.log == nil {
		r.log = slog.Default()
	}
	if err := r.timed("roster", func() error { return r.loadRoster(ctx) }); err != nil {
		return nil, err
	}
	for _, e := range m.Sources {
		q := &sources.Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files), Snapshot: e.Snapshot.Format(time.DateOnly),
			AgeDays: int(m.AsOf.Sub(e.Snapshot).Hours() / 24), Quarantined: map[string]int64{}}
		r.res.Quality = append(r.res.Quality, q)
		if old, ok := r.res.Snapshots[e.Kind]; !ok || e.Snapshot.Before(old) {
			r.res.Snapshots[e.Kind] = e.Snapshot
		}
	}
	// Poverty and disability come first: their people who are on no roster
	// household become candidates, whose records every later source gathers.
	phases := []struct {
		name  string
		kinds map[sources.Kind]bool
	}{
		{"candidates", map[sources.Kind]bool{sources.KindPoverty: true, sources.KindDisability: true}},
		{"police", map[sources.Kind]bool{sources.KindPolice: true}},
	}
	for _, ph := range phases {
		only := func(k sources.Kind) bool { return ph.kinds[k] }
		if err := r.timed(ph.name, func() error { return r.matchEntries(ctx, only, ph.name == "candidates", nil) }); err != nil {
			return nil, err
		}
	}
	var hm *housemates
	if err := r.timed("hukou", func() (err error) { hm, err = r.findHousemates(ctx); return err }); err != nil {
		return nil, err
	}
	rest := func(k sources.Kind) bool {
		return k != sources.KindPoverty && k != sources.KindDisability && k != sources.KindPolice
	}
	if err := r.timed("sources", func() error { return r.matchEntries(ctx, rest, false, hm) }); err != nil {
		return nil, err
	}
	r.finish()
	return r.res, nil
}

// timed runs one stage, records its wall time and the rows it read, and logs it.
func (r *run) timed(name string, fn func() error) error {
	before := r.rowsRead()
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	d := time.Since(start)
	st := Stage{Name: name, Rows: r.rowsRead() - before, Duration: d, Seconds: d.Seconds()}
	r.res.Stages = append(r.res.Stages, st)
	r.log.Info("match stage done", "stage", name, "rows", st.Rows, "seconds", fmt.Sprintf("%.3f", st.Seconds))
	return nil
}

func (r *run) rowsRead() int64 {
	var n int64
	if r.res.Roster != nil {
		n += r.res.Roster.Rows
	}
	for _, q := range r.res.Quality {
		n += q.Rows
	}
	return n
}

// finish counts unmatched rows and orders the output.
func (r *run) finish() {
	for _, q := range r.res.Quality {
		q.Unmatched = q.ValidKeys - q.MatchedID
	}
	sort.Slice(r.res.Households, func(i, j int) bool { return r.res.Households[i].ID < r.res.Households[j].ID })
	sort.Slice(r.res.Candidates, func(i, j int) bool {
		return r.res.Candidates[i].Members[0].Key < r.res.Candidates[j].Members[0].Key
	})
	for _, h := range r.res.Candidates {
		fillCandidate(h)
	}
}

// fillCandidate sets a candidate's region and area from its police record,
// else from its ID's address code; an unknown area is read as rural.
func fillCandidate(h *facts.Household) {
	m := h.Members[0]
	h.Area = "rural"
	h.Region = fmt.Sprintf("%06d", m.Key.Region())
	for _, p := range m.Police {
		if p.Region != "" {
			h.Region = p.Region
		}
		if m.Name == "" {
			m.Name = p.Name
		}
	}
}

// progress returns a per-chunk callback that reports rows done for e.
func (r *run) progress(e *sources.Entry, pass string, total int64) func(rows int) {
	if r.opts.Progress == nil {
		return func(int) {}
	}
	var done atomic.Int64
	return func(rows int) { r.opts.Progress(e, pass, done.Add(int64(rows)), total) }
}
