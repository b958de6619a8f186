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
	// KeepRosterRows is the largest roster (rows) whose decoded rows the
	// census keeps for the shards, which otherwise decode their rows again;
	// 0 means 1 Mi rows (≈ 250 MB), a negative value never.
	KeepRosterRows int
	// Shards, if set, tells how many shards a run of this many members
	// (roster rows plus omission candidates) will be split into. When it
	// says one, the census decodes the source rows it keeps as it reads
	// their keys, from the same decompressed pages, and the shard attaches
	// them without reading the files again. Match sets it to one.
	Shards func(members int) int
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

// person is one entry of a shard's probe table: somebody whose records we gather.
type person struct {
	key       personid.Key
	members   []*facts.Member // roster memberships in this shard, or the candidate's one member
	candidate bool            // the member's ID and name come from its first record
}

// Match reads the manifest's roster and every source and returns the facts of
// every household under review and of every omission candidate: a census
// and one shard.
func Match(ctx context.Context, m *sources.Manifest, opts Options) (*Result, error) {
	opts.Shards = func(int) int { return 1 }
	c, err := NewCensus(ctx, m, opts)
	if err != nil {
		return nil, err
	}
	sh, err := c.Shard(ctx, 0)
	if err != nil {
		return nil, err
	}
	res := c.Result()
	res.Households, res.Candidates, res.InvalidMembers = sh.Households, sh.Candidates, sh.InvalidMembers
	return res, nil
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
