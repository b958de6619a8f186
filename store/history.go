package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
)

var runKey = []byte{kindMeta, 'r', 'u', 'n'}

// Run is the record of the last review recorded in the index: what it saw,
// so that the next incremental run knows what changed since.
type Run struct {
	Seq           uint32                     `json:"seq"`
	Mode          string                     `json:"mode"` // full or incremental
	AsOf          time.Time                  `json:"as_of"`
	RuleSetDigest string                     `json:"rule_set_digest"`
	Gens          map[string]uint32          `json:"gens"` // source ID → generation the run read
	Snapshots     map[sources.Kind]time.Time `json:"snapshots"`
	Recorded      time.Time                  `json:"recorded"`
	// Full says the run's history replaces all earlier history; otherwise
	// it replaces only the scopes it names.
	Full bool `json:"full"`
	// Applied is false between the commit of the run and the copy of its
	// history into place; Open finishes the copy.
	Applied bool `json:"applied"`
	// Scopes counts the history's scopes once the run is applied, by the
	// scope's first byte (H household, C candidate), so that an incremental
	// run need not walk the whole history to count what it left alone. Nil
	// when unknown (runs recorded before it was kept); RecordRun fills it.
	Scopes map[string]int `json:"scopes,omitempty"`
}

// GenOf returns the generation the run read of source id (0: none).
func (r *Run) GenOf(id uint16) uint32 { return r.Gens[strconv.Itoa(int(id))] }

// FlagID is what the history keeps of a flag: enough to tell a new flag from
// one already reported, and one that cleared.
type FlagID struct {
	PersonID string `json:"person_id"`
	RuleID   string `json:"rule_id"`
	Outcome  string `json:"outcome"`
}

// HouseholdScope and CandidateScope name a history entry.
func HouseholdScope(id string) string       { return "H" + id }
func CandidateScope(personID string) string { return "C" + personID }

// LastRun returns the last run recorded, or nil.
func (db *DB) LastRun() (*Run, error) {
	var r *Run
	err := db.bdb.View(func(txn *badger.Txn) (err error) {
		r, err = readRun(txn)
		return err
	})
	return r, err
}

func readRun(txn *badger.Txn) (*Run, error) {
	item, err := txn.Get(runKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := &Run{}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, r) }); err != nil {
		return nil, fmt.Errorf("index run record: %w", err)
	}
	return r, nil
}

// History returns the flags the last run recorded for scope, and whether
// the scope has an entry.
func (v *View) History(scope string) ([]FlagID, bool, error) {
	item, err := v.txn.Get(append([]byte{kindHistory}, scope...))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []FlagID
	err = item.Value(func(val []byte) (err error) {
		out, err = decodeFlags(val)
		return err
	})
	return out, true, err
}

// LastRun returns the run record as of the view.
func (v *View) LastRun() (*Run, error) { return readRun(v.txn) }

// HistoryScopes calls fn with every scope of the history.
func (v *View) HistoryScopes(fn func(scope string) error) error {
	prefix := []byte{kindHistory}
	it := v.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(string(it.Item().Key()[1:])); err != nil {
			return err
		}
	}
	return nil
}

// RecordRun stores a run's flags as the history the next incremental run
// compares with. With run.Full the history is replaced; otherwise each scope
// in flags is replaced (a nil list removes the scope). gens are the
// generations the run read (View.Catalog().Gens()).
//
// had, when not nil, tells for scopes of flags whether the history holds
// them now (as the caller's View read it: only runs write the history), so
// that counting the scopes needs no lookup of those.
//
// The history is written aside, the run record committed in one small
// transaction, then the history copied into place; a kill before the commit
// leaves the old history, after it Open finishes the copy.
func (db *DB) RecordRun(run Run, gens map[uint16]uint32, flags map[string][]FlagID, had map[string]bool) error {
	p, err := db.PrepareRun(run, gens, flags, had)
	if err != nil {
		return err
	}
	return p.Commit()
}

// PendingRun is a run whose history PrepareRun wrote aside: invisible, and
// dropped by the next PrepareRun or Open, until Commit records the run.
type PendingRun struct {
	db  *DB
	run Run
}

// PrepareRun is RecordRun's first half: it writes the run's history aside
// and syncs it, so that a caller whose outputs must be in place before the
// history moves can write both at once, then Commit. Nothing else may
// record a run in between.
func (db *DB) PrepareRun(run Run, gens map[uint16]uint32, flags map[string][]FlagID, had map[string]bool) (*PendingRun, error) {
	last, err := db.LastRun()
	if err != nil {
		return nil, err
	}
	run.Seq = 1
	if last != nil {
		run.Seq = last.Seq + 1
	}
	run.Gens = map[string]uint32{}
	for id, g := range gens {
		run.Gens[strconv.Itoa(int(id))] = g
	}
	run.Applied = false
	if run.Scopes, err = db.scopeCounts(last, run.Full, flags, had); err != nil {
		return nil, err
	}
	from := uint32(0)
	if last != nil {
		from = last.Seq
	}
	if err := db.dropPendingFrom(from); err != nil {
		return nil, err
	}
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for scope, fs := range flags {
		k := binary.BigEndian.AppendUint32([]byte{kindPending}, run.Seq)
		k = append(k, scope...)
		val := []byte{0xff}
		if fs != nil {
			val = encodeFlags(fs)
		}
		if err := wb.Set(k, val); err != nil {
			return nil, err
		}
	}
	if err := wb.Flush(); err != nil {
		return nil, err
	}
	if err := db.bdb.Sync(); err != nil {
		return nil, err
	}
	return &PendingRun{db: db, run: run}, nil
}

// Commit records the run in one small transaction and copies its history
// into place.
func (p *PendingRun) Commit() error {
	b, err := json.Marshal(p.run)
	if err != nil {
		return err
	}
	if err := p.db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(runKey, b) }); err != nil {
		return err
	}
	return p.db.applyRun(&p.run)
}

// scopeCounts returns Run.Scopes for a run after last that records flags:
// last's counts, or a count of the history when last has none, moved by the
// scopes flags adds and removes. A full run's history is flags alone.
func (db *DB) scopeCounts(last *Run, full bool, flags map[string][]FlagID, known map[string]bool) (map[string]int, error) {
	counts := map[string]int{}
	if last != nil && !last.Applied && !full {
		return nil, nil // its history is not in place; leave the count unknown
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		if !full {
			if last != nil && last.Scopes != nil {
				maps.Copy(counts, last.Scopes)
			} else if err := countScopes(txn, counts); err != nil {
				return err
			}
		}
		for scope, fs := range flags {
			if scope == "" {
				return fmt.Errorf("record run: empty history scope")
			}
			had, ok := known[scope]
			if full {
				had = false // the history is replaced: every scope of flags is new
			} else if !ok {
				_, err := txn.Get(append([]byte{kindHistory}, scope...))
				if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
					return err
				}
				had = err == nil
			}
			switch {
			case fs != nil && !had:
				counts[scope[:1]]++
			case fs == nil && had:
				counts[scope[:1]]--
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// countScopes adds every history scope to counts by its first byte.
func countScopes(txn *badger.Txn, counts map[string]int) error {
	prefix := []byte{kindHistory}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()
		if len(k) < 2 {
			return errCorrupt
		}
		counts[string(k[1:2])]++
	}
	return nil
}

// applyRun copies a committed run's pending history into place, drops the
// change sets no later run needs, and marks the run applied.
func (db *DB) applyRun(run *Run) error {
	if run.Full {
		if err := db.dropPrefixIfAny([]byte{kindHistory}); err != nil {
			return err
		}
	}
	prefix := binary.BigEndian.AppendUint32([]byte{kindPending}, run.Seq)
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			k := append([]byte{kindHistory}, item.Key()[len(prefix):]...)
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(val) == 1 && val[0] == 0xff {
				err = wb.Delete(k)
			} else {
				err = wb.Set(k, val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if err := db.pruneChanges(run); err != nil {
		return err
	}
	run.Applied = true
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(runKey, b) }); err != nil {
		return err
	}
	return db.dropPendingFrom(run.Seq)
}

// pruneChanges drops the change sets of generations the run already read.
func (db *DB) pruneChanges(run *Run) error {
	var prefixes [][]byte
	drop := map[uint16][]uint32{}
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	for _, s := range cat.Sources {
		seen := run.GenOf(s.ID)
		for _, g := range s.Chain {
			if seen != 0 && g.Gen <= seen {
				prefixes = append(prefixes, genPrefix(kindChange, s.ID, g.Gen))
				drop[s.ID] = append(drop[s.ID], g.Gen)
			}
		}
	}
	if len(prefixes) == 0 {
		return nil
	}
	if err := db.dropPrefixIfAny(prefixes...); err != nil {
		return err
	}
	return db.editCatalog(func(c *Catalog) error {
		for i := range c.Sources {
			s := &c.Sources[i]
			var keep []GenInfo
			for _, g := range s.Chain {
				if d := drop[s.ID]; len(d) > 0 && g.Gen <= d[len(d)-1] && g.Gen != s.Gen {
					continue
				}
				keep = append(keep, g)
			}
			s.Chain = keep
		}
		return nil
	})
}

// recoverHistory finishes a run whose history copy a kill interrupted and
// drops history written for a run that never committed.
func (db *DB) recoverHistory() error {
	run, err := db.LastRun()
	if err != nil {
		return err
	}
	if run != nil && !run.Applied {
		return db.applyRun(run)
	}
	from := uint32(0)
	if run != nil {
		from = run.Seq
	}
	return db.dropPendingFrom(from)
}

// dropPendingFrom deletes the pending history of run seq and later runs.
// Earlier runs' pending keys are gone already (each run's are dropped once it
// is applied, and a run is recorded only after the last one was), but their
// tombstones stay in the LSM until compaction: starting the walk at seq skips
// them, where a walk of the whole prefix steps over every key a full run
// wrote (≈ 0.1 CPU-s per incremental run on the city data).
func (db *DB) dropPendingFrom(seq uint32) error {
	return db.dropRangeIfAny([]byte{kindPending}, binary.BigEndian.AppendUint32([]byte{kindPending}, seq))
}

// dropPrefixIfAny deletes every key under the prefixes. Up to
// deleteByKeyLimit keys it deletes them one by one in a write batch: badger's
// DropPrefix stalls writes, flushes the memtables and rewrites every table
// holding the prefix, which costs an incremental run more than its own work
// when a run's history or a change set of a few thousand keys goes. Beyond
// the limit (a full run's history at province scale) DropPrefix is cheaper.
func (db *DB) dropPrefixIfAny(prefixes ...[]byte) error {
	var keys [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, prefix := range prefixes {
			keys = collectKeys(txn, prefix, prefix, keys)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	if len(keys) > deleteByKeyLimit {
		return db.dropPrefix(prefixes...)
	}
	return db.deleteKeys(keys)
}

// dropRangeIfAny deletes every key under prefix from start on (start begins
// with prefix); like dropPrefixIfAny, by key up to deleteByKeyLimit keys,
// else by dropping the whole prefix.
func (db *DB) dropRangeIfAny(prefix, start []byte) error {
	var keys [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		keys = collectKeys(txn, prefix, start, keys)
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	if len(keys) > deleteByKeyLimit {
		return db.dropPrefix(prefix)
	}
	return db.deleteKeys(keys)
}

// collectKeys appends the keys under prefix from start on, stopping once
// there are more than deleteByKeyLimit.
func collectKeys(txn *badger.Txn, prefix, start []byte, keys [][]byte) [][]byte {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(start); it.ValidForPrefix(prefix) && len(keys) <= deleteByKeyLimit; it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

// deleteKeys deletes keys in one write batch.
func (db *DB) deleteKeys(keys [][]byte) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

const deleteByKeyLimit = 200_000

func encodeFlags(fs []FlagID) []byte {
	b := binary.AppendUvarint(nil, uint64(len(fs)))
	for _, f := range fs {
		b = appendString(b, f.PersonID)
		b = appendString(b, f.RuleID)
		b = appendString(b, f.Outcome)
	}
	return b
}

func decodeFlags(b []byte) ([]FlagID, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if n > uint64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]FlagID, 0, n)
	for i := uint64(0); i < n; i++ {
		out = append(out, FlagID{PersonID: d.string(), RuleID: d.string(), Outcome: d.string()})
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errCorrupt
	}
	return out, d.err
}
