package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/badger/v4"
)

// A delta too large for one badger transaction (1 % of a source of ten
// million rows is ≈ 135 k rows, five writes each) is applied in three steps
// rather than by rewriting the whole source:
//
//  1. stage: its writes (sets and deletes under the live key prefix) are
//     logged to tables/<src>-<gen>.stg, synced; the new generation's change
//     set is written directly, as a pending generation's keys are invisible
//     until the flip;
//  2. flip: one small transaction makes the generation live, as a delta's
//     does, and marks it Staged in the catalog;
//  3. apply: once Update is done with the other sources, the logged writes
//     are written in the background and synced, the mark cleared, then the
//     log deleted.
//
// Replaying a set or a delete twice leaves the same state, so a writer that
// dies in step 3 leaves work the next Open finishes (recoverStaged) before
// anyone reads; one that dies before the flip leaves a pending generation,
// dropped with its log by Open. Readers in the same process (an incremental
// run's evaluation, the intake service's checks) read the source through
// the delta's writes from the flip until the end of step 3 (stagedread.go).
//
// The log is a file beside the digest tables rather than badger values:
// written once, read once and deleted, it would otherwise sit in badger's
// value log (its blocks are values above the value threshold), which badger
// reclaims only by a value-log GC that follows compactions; an index grew
// by the size of every staged delta. Older versions logged under
// Q | src | gen | block; an index they left mid-apply is finished from there.

// stagedBlock is how many bytes of logged writes are buffered before they
// are written to the log file.
const stagedBlock = 1 << 20

// stagedMagic starts a staged log file; xxhash64 of all before it ends it.
const stagedMagic = "HDS1"

func (db *DB) stagedPath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.stg", src, gen))
}

// stager logs writes to a staged log file; it is a writeTarget. It keeps
// the whole log, which Views read through once the delta is live.
type stager struct {
	f       *os.File
	buf     []byte // the log so far
	written int    // bytes of buf in the file
	sum     *xxhash.Digest
	n       int64 // writes logged
}

const (
	opSet    = 'S'
	opDelete = 'D'
)

// createStager starts the log of generation gen of source src.
func (db *DB) createStager(src uint16, gen uint32) (*stager, error) {
	path := db.stagedPath(src, gen)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s := &stager{f: f, sum: xxhash.New()}
	s.buf = append(s.buf, stagedMagic...)
	return s, nil
}

func (s *stager) Set(k, v []byte) error { return s.log(opSet, k, v) }

func (s *stager) Delete(k []byte) error { return s.log(opDelete, k, nil) }

func (s *stager) log(op byte, k, v []byte) error {
	s.buf = append(s.buf, op)
	s.buf = binary.AppendUvarint(s.buf, uint64(len(k)))
	s.buf = append(s.buf, k...)
	if op == opSet {
		s.buf = binary.AppendUvarint(s.buf, uint64(len(v)))
		s.buf = append(s.buf, v...)
	}
	s.n++
	if len(s.buf)-s.written >= stagedBlock {
		return s.flush()
	}
	return nil
}

func (s *stager) flush() error {
	b := s.buf[s.written:]
	s.sum.Write(b)
	_, err := s.f.Write(b)
	s.written = len(s.buf)
	return err
}

// body is the logged writes (eachStagedWrite reads them).
func (s *stager) body() []byte { return s.buf[len(stagedMagic):] }

// commit ends the log with its checksum and syncs it with its folder: the
// flip may then name the generation.
func (s *stager) commit() error {
	if err := s.flush(); err != nil {
		return err
	}
	if _, err := s.f.Write(binary.LittleEndian.AppendUint64(nil, s.sum.Sum64())); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(s.f.Name()))
}

// close releases the log's file, committed or not.
func (s *stager) close() { s.f.Close() }

// readStaged returns the writes logged in a staged log file, checked.
func readStaged(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	body, ok := unsealed(b)
	if !ok || len(body) < len(stagedMagic) || string(body[:len(stagedMagic)]) != stagedMagic {
		return nil, fmt.Errorf("staged log %s: damaged (%d bytes)", path, len(b))
	}
	return body[len(stagedMagic):], nil
}

// eachStagedWrite calls fn with every write logged in block b, in order.
func eachStagedWrite(b []byte, fn func(op byte, k, v []byte) error) error {
	for len(b) > 0 {
		op := b[0]
		if op != opSet && op != opDelete {
			return fmt.Errorf("staged write: unknown operation %q", op)
		}
		b = b[1:]
		k, rest, err := uvarintBytes(b)
		if err != nil {
			return err
		}
		b = rest
		var v []byte
		if op == opSet {
			if v, b, err = uvarintBytes(b); err != nil {
				return err
			}
		}
		if err := fn(op, k, v); err != nil {
			return err
		}
	}
	return nil
}

// uvarintBytes reads a length-prefixed byte string.
func uvarintBytes(b []byte) (s, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, errors.New("staged write: truncated")
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// applyStaged replays the writes logged for generation gen of source src,
// clears the catalog's mark and deletes the log. It may run again after a
// crash: every step can be repeated.
func (db *DB) applyStaged(src uint16, gen uint32) error {
	path := db.stagedPath(src, gen)
	b, err := readStaged(path)
	if errors.Is(err, os.ErrNotExist) {
		return db.applyStagedKeys(src, gen)
	}
	if err != nil {
		return err
	}
	// Sorted, as a background apply writes them: one way of writing a log.
	ws, err := newStagedWrites(src, gen, b, 0)
	if err != nil {
		return fmt.Errorf("index source %d generation %d: %w", src, gen, err)
	}
	return db.finishStaged(src, gen, ws.writeTo)
}

// finishStaged adds a staged delta's writes to a write batch with write,
// then, once they are durable, clears the catalog's mark and deletes the
// log.
func (db *DB) finishStaged(src uint16, gen uint32, write func(*badger.WriteBatch) error) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	if err := write(wb); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if err := db.bdb.Sync(); err != nil {
		return err
	}
	if err := db.clearStaged(src, gen); err != nil {
		return err
	}
	if err := os.Remove(db.stagedPath(src, gen)); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.log.Warn("index: staged log not removed", "err", err)
	}
	return nil
}

// readThrough makes Views read source ws.src through ws from now on and
// queues ws for startApplies. The caller holds db.applying, with the flip
// that made the delta live in the same critical section: a View that sees
// the flip finds ws.
func (db *DB) readThrough(ws *stagedWrites) {
	m := maps.Clone(db.staged)
	if m == nil {
		m = map[uint16]*stagedWrites{}
	}
	m[ws.src] = ws
	db.staged = m
	db.queued = append(db.queued, ws)
}

// unread stops Views reading source src through the writes of generation
// gen, once they are applied and the catalog's mark is cleared (a View whose
// catalog still has the mark found them when it opened). The caller holds
// db.applying.
func (db *DB) unread(src uint16, gen uint32) {
	if ws := db.staged[src]; ws == nil || ws.gen != gen {
		return
	}
	m := maps.Clone(db.staged)
	delete(m, src)
	db.staged = m
}

// startApplies applies, one after the other in the background, the staged
// deltas queued by readThrough. A failure stops it there: Views go on
// reading through the writes left, which the next Update (or Open) applies
// from their logs; waitApplies and Close report it.
func (db *DB) startApplies() {
	db.applying.Lock()
	queued := db.queued
	db.queued = nil
	db.applying.Unlock()
	if len(queued) == 0 {
		return
	}
	db.applies.Add(1)
	go func() {
		defer db.applies.Done()
		for _, ws := range queued {
			if ws.gate != nil {
				ws.gate()
			}
			if err := db.finishStaged(ws.src, ws.gen, ws.writeTo); err != nil {
				err = fmt.Errorf("index source %d generation %d: apply a staged delta: %w", ws.src, ws.gen, err)
				db.log.Error("index: background apply failed; the next update finishes it", "err", err)
				db.applyMu.Lock()
				db.applyErr = errors.Join(db.applyErr, err)
				db.applyMu.Unlock()
				return
			}
			db.applying.Lock()
			db.unread(ws.src, ws.gen)
			db.applying.Unlock()
		}
	}()
}

// waitApplies waits for the background applies and returns their failures
// since the last recoverStaged.
func (db *DB) waitApplies() error {
	db.applies.Wait()
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	return db.applyErr
}

// clearStaged clears the catalog's mark of a staged generation.
func (db *DB) clearStaged(src uint16, gen uint32) error {
	return db.editCatalog(func(c *Catalog) error {
		if s := c.byID(src); s != nil && s.Staged == gen {
			s.Staged = 0
		}
		return nil
	})
}

// applyStagedKeys is applyStaged for a log an older version kept under
// Q | src | gen | block.
func (db *DB) applyStagedKeys(src uint16, gen uint32) error {
	prefix := genPrefix(kindStaged, src, gen)
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	var logged [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			logged = append(logged, it.Item().KeyCopy(nil))
			err := it.Item().Value(func(b []byte) error {
				return eachStagedWrite(b, func(op byte, k, v []byte) error {
					// The WriteBatch keeps the slices until it commits, and
					// b is only valid inside Value: copy.
					k = append([]byte(nil), k...)
					if op == opDelete {
						return wb.Delete(k)
					}
					return wb.Set(k, append([]byte(nil), v...))
				})
			})
			if err != nil {
				return fmt.Errorf("index source %d generation %d: %w", src, gen, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(logged) == 0 {
		return fmt.Errorf("index source %d generation %d is staged but its log is gone", src, gen)
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	del := db.bdb.NewWriteBatch()
	defer del.Cancel()
	for _, k := range logged {
		if err := del.Delete(k); err != nil {
			return err
		}
	}
	if err := del.Flush(); err != nil {
		return err
	}
	return db.clearStaged(src, gen)
}

// recoverStaged finishes the staged deltas made live but not applied: by a
// writer that died (Open), or by an update of this process whose apply
// failed (the next Update, once waitApplies returned).
func (db *DB) recoverStaged(cat *Catalog) error {
	db.applying.Lock()
	defer db.applying.Unlock()
	for _, s := range cat.Sources {
		if s.Staged == 0 {
			continue
		}
		if s.Staged != s.Gen {
			return fmt.Errorf("source %d: staged generation %d is not the live one (%d)", s.ID, s.Staged, s.Gen)
		}
		db.log.Info("index: finishing a delta a dead writer left", "source", s.Path, "generation", s.Gen)
		if err := db.applyStaged(s.ID, s.Gen); err != nil {
			return err
		}
		db.unread(s.ID, s.Gen)
	}
	db.applyMu.Lock()
	db.applyErr = nil
	db.applyMu.Unlock()
	return nil
}
