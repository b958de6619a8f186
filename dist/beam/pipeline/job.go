package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// Job is what every worker needs to know. It travels inside the DoFns,
// which Beam serializes as JSON, so it holds paths and bytes, not objects.
// Paths must be readable (Out and CacheDir writable) from every worker: a
// shared file system on a cluster.
type Job struct {
	Manifest  string // sources.yaml
	AsOf      string // YYYY-MM-DD overriding the manifest's as_of; empty keeps it
	Rules     []byte // rule-set YAML; empty means the embedded default set
	RulesName string // for error messages
	CacheDir  string // where CSV sources are converted to Parquet, shared by workers
	Out       string // folder that receives flags-*.parquet, flags-*.csv and quality.json
	Shards    int    // flags output files; 0 means 1
}

// worker is a Job loaded on one worker: the manifest, the compiled rules,
// the rule environment and the open readers. Each DoFn instance owns one.
type worker struct {
	job     Job
	m       *sources.Manifest
	set     *rules.Set
	env     rules.Env
	readers map[int]*sources.Reader
}

// Check loads the manifest and the rule set as a worker would, so that a
// launcher fails before submitting a job that cannot run.
func (j Job) Check() error {
	if j.Manifest == "" || j.Out == "" {
		return errors.New("a job needs a manifest and an output folder")
	}
	_, err := j.load()
	return err
}

func (j Job) shards() int { return max(j.Shards, 1) }

// load reads the manifest and compiles the rules.
func (j Job) load() (*worker, error) {
	m, err := sources.LoadManifest(j.Manifest)
	if err != nil {
		return nil, err
	}
	if j.AsOf != "" {
		t, err := time.Parse(time.DateOnly, j.AsOf)
		if err != nil {
			return nil, fmt.Errorf("as-of %q: want a date as YYYY-MM-DD", j.AsOf)
		}
		m.AsOf = t
	}
	var set *rules.Set
	if len(j.Rules) == 0 {
		set, err = rules.Default()
	} else {
		set, err = rules.Parse(j.Rules, j.RulesName)
	}
	if err != nil {
		return nil, err
	}
	return &worker{job: j, m: m, set: set, env: envOf(m), readers: map[int]*sources.Reader{}}, nil
}

// envOf is the rule environment Match and review.Run give: the as-of date,
// full mode, and per kind the oldest snapshot among its entries.
func envOf(m *sources.Manifest) rules.Env {
	snaps := map[sources.Kind]time.Time{}
	for _, e := range m.Sources {
		if old, ok := snaps[e.Kind]; !ok || e.Snapshot.Before(old) {
			snaps[e.Kind] = e.Snapshot
		}
	}
	return rules.Env{AsOf: m.AsOf, Mode: rules.ModeFull, Sources: snaps}
}

// entry returns the manifest entry with index i (-1: the roster).
func (w *worker) entry(i int) (*sources.Entry, error) {
	if i == -1 {
		return w.m.Roster, nil
	}
	if i < 0 || i >= len(w.m.Sources) {
		return nil, fmt.Errorf("entry %d is not in manifest %s (%d sources)", i, w.job.Manifest, len(w.m.Sources))
	}
	return w.m.Sources[i], nil
}

// reader opens entry i once per worker.
func (w *worker) reader(ctx context.Context, i int) (*sources.Reader, error) {
	if rd := w.readers[i]; rd != nil {
		return rd, nil
	}
	e, err := w.entry(i)
	if err != nil {
		return nil, err
	}
	rd, err := sources.Open(ctx, w.m, e, sources.ReadOptions{CacheDir: w.job.CacheDir})
	if err != nil {
		return nil, err
	}
	w.readers[i] = rd
	return rd, nil
}

// close releases the readers.
func (w *worker) close() error {
	if w == nil {
		return nil
	}
	var errs []error
	for _, rd := range w.readers {
		errs = append(errs, rd.Close())
	}
	w.readers = nil
	return errors.Join(errs...)
}
