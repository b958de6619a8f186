package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
)

// catalogVersion is the version this hedui writes. Version 2 added short
// keys (Source.ShortKeys), which an older hedui would misread: it refuses
// the catalog instead. Version 1 catalogs are read (their sources have no
// short keys) and written back as version 2.
const catalogVersion = 2

var catalogKey = []byte{kindMeta, 'c', 'a', 't'}

// Catalog is the index's table of contents, one small JSON value. Flipping
// a source's generation is one transaction that rewrites it.
type Catalog struct {
	Version int      `json:"version"`
	NextGen uint32   `json:"next_gen"`
	NextSrc uint16   `json:"next_src"`
	Sources []Source `json:"sources"` // in manifest order (the roster first)
}

// Source is one manifest entry as indexed.
type Source struct {
	ID       uint16       `json:"id"`
	Kind     sources.Kind `json:"kind"`
	Path     string       `json:"path"`     // as written in the manifest
	Snapshot time.Time    `json:"snapshot"` // of the live generation
	// Fingerprint digests the entry's settings and its files' names, sizes
	// and modification times: a changed fingerprint means a rebuild.
	Fingerprint string   `json:"fingerprint"`
	Files       []string `json:"files"` // of the live generation, relative to the manifest folder
	// Entry is the manifest entry of the live generation.
	Entry   EntryInfo        `json:"entry"`
	Quality *sources.Quality `json:"quality"` // rows, valid keys, quarantined by reason
	Gen     uint32           `json:"gen"`     // live generation; 0 = none yet
	// Data is the generation whose key prefix holds the live rows: Gen
	// after a full write, an older one when later generations were applied
	// to it in place as deltas (0 in catalogs written before deltas: Gen).
	Data    uint32 `json:"data,omitempty"`
	Pending uint32 `json:"pending"` // generation being written; left over if a writer died
	// Staged is the live generation when it was made live as a staged
	// delta whose logged writes are still to apply (staged.go); 0 when none.
	Staged  uint32   `json:"staged,omitempty"`
	Garbage []uint32 `json:"garbage"` // replaced generations still to delete
	// Chain lists the committed generations, oldest first; each has a change
	// set against the one before, kept until no run needs it.
	Chain []GenInfo `json:"chain"`
	// Combos lists the (region, area, assistance) triples of roster
	// households (roster only), for the staleness probe of incremental runs.
	Combos [][3]string `json:"combos,omitempty"`
	// ComboRows counts the roster rows of each of Combos, so that a delta
	// knows when a triple leaves (absent in catalogs of older versions:
	// the next roster update then writes it whole).
	ComboRows []int64 `json:"combo_rows,omitempty"`
	// ShortKeys says that the live rows may include persons' only rows
	// stored under shortKey (kindShort entries), and that each generation's
	// repeat filter names every person key that may have a row under
	// another key. A full write sets it for the kinds shortKeyed tells;
	// deltas keep it. Indexes of older versions lack it: their rows are
	// read by seeks.
	ShortKeys bool `json:"short_keys,omitempty"`
}

// EntryInfo is the part of a manifest entry that says how files are read.
type EntryInfo struct {
	Columns  map[string]string            `json:"columns,omitempty"`
	Formats  map[string]string            `json:"formats,omitempty"`
	Units    map[string]string            `json:"units,omitempty"`
	Values   map[string]map[string]string `json:"values,omitempty"`
	Encoding string                       `json:"encoding,omitempty"`
}

// GenInfo is one committed generation of a source.
type GenInfo struct {
	Gen      uint32    `json:"gen"`
	Snapshot time.Time `json:"snapshot"`
	// Full marks the first generation of a source: everything is new and
	// no change set is written.
	Full bool `json:"full,omitempty"`
	// Changed counts the groups of the change set (persons, hashes, households).
	Changed int64     `json:"changed"`
	Built   time.Time `json:"built"`
}

func readCatalog(txn *badger.Txn) (*Catalog, error) {
	item, err := txn.Get(catalogKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return &Catalog{Version: catalogVersion, NextGen: 1, NextSrc: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	c := &Catalog{}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, c) }); err != nil {
		return nil, fmt.Errorf("index catalog: %w", err)
	}
	if c.Version != catalogVersion && c.Version != 1 {
		return nil, fmt.Errorf("index catalog version %d; this hedui reads versions 1 and %d: rebuild the index", c.Version, catalogVersion)
	}
	return c, nil
}

func writeCatalog(txn *badger.Txn, c *Catalog) error {
	c.Version = catalogVersion
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return txn.Set(catalogKey, b)
}

// source returns the catalog's source of kind and path, or nil.
func (c *Catalog) source(kind sources.Kind, path string) *Source {
	for i := range c.Sources {
		if c.Sources[i].Kind == kind && c.Sources[i].Path == path {
			return &c.Sources[i]
		}
	}
	return nil
}

func (c *Catalog) byID(id uint16) *Source {
	for i := range c.Sources {
		if c.Sources[i].ID == id {
			return &c.Sources[i]
		}
	}
	return nil
}

// Roster returns the live roster source, or nil.
func (c *Catalog) Roster() *Source {
	for i := range c.Sources {
		if c.Sources[i].Kind == sources.KindRoster && c.Sources[i].Live() {
			return &c.Sources[i]
		}
	}
	return nil
}

// Snapshots gives per source kind present the oldest snapshot among its
// live sources, as matcher.Result.Snapshots does (the roster excluded).
func (c *Catalog) Snapshots() map[sources.Kind]time.Time {
	out := map[sources.Kind]time.Time{}
	for _, s := range c.Sources {
		if !s.Live() || s.Kind == sources.KindRoster {
			continue
		}
		if old, ok := out[s.Kind]; !ok || s.Snapshot.Before(old) {
			out[s.Kind] = s.Snapshot
		}
	}
	return out
}

// dataGen is the generation whose key prefix holds the live rows.
func (s *Source) dataGen() uint32 {
	if s.Data != 0 {
		return s.Data
	}
	return s.Gen
}

// Gens maps each live source to its generation.
func (c *Catalog) Gens() map[uint16]uint32 {
	out := map[uint16]uint32{}
	for _, s := range c.Sources {
		if s.Gen != 0 {
			out[s.ID] = s.Gen
		}
	}
	return out
}
