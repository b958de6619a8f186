package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// A delta too large for one badger transaction (1 % of a source of ten
// million rows is ≈ 135 k rows, five writes each) is applied in three steps
// rather than by rewriting the whole source:
//
//  1. stage: its writes (sets and deletes under the live key prefix) are
//     logged under Q | src | gen | block, in as many transactions as they
//     take; the new generation's change set is written directly, as a
//     pending generation's keys are invisible until the flip;
//  2. flip: one small transaction makes the generation live, as a delta's
//     does, and marks it Staged in the catalog;
//  3. apply: the logged writes are replayed in order, then the log is
//     deleted and the mark cleared.
//
// Replaying a set or a delete twice leaves the same state, so a writer that
// dies in step 3 leaves work the next Open finishes (recoverStaged) before
// anyone reads; one that dies before the flip leaves a pending generation,
// dropped with its log by Open. Readers in the same process (the intake
// service updates while it answers) do not open a View between the flip and
// the end of step 3: DB.applying holds them off.

// stagedBlock is the size at which a block of logged writes is cut.
const stagedBlock = 1 << 20

// stagedKey is Q | src | gen | block.
func stagedKey(src uint16, gen uint32, block uint32) []byte {
	return binary.BigEndian.AppendUint32(genPrefix(kindStaged, src, gen), block)
}

// stager logs writes into blocks of a WriteBatch; it is a writeTarget.
type stager struct {
	wb    *badger.WriteBatch
	src   uint16
	gen   uint32
	buf   []byte
	block uint32
	n     int64 // writes logged
}

const (
	opSet    = 'S'
	opDelete = 'D'
)

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
	if len(s.buf) >= stagedBlock {
		return s.flush()
	}
	return nil
}

func (s *stager) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	// The WriteBatch keeps the slices until it commits: hand it a copy.
	err := s.wb.Set(stagedKey(s.src, s.gen, s.block), append([]byte(nil), s.buf...))
	s.block++
	s.buf = s.buf[:0]
	return err
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
// deletes the log and clears the catalog's mark. It may run again after a
// crash: every step can be repeated.
func (db *DB) applyStaged(src uint16, gen uint32) error {
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
	// The log goes only once its writes are durable in badger's log.
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
	return db.editCatalog(func(c *Catalog) error {
		if s := c.byID(src); s != nil && s.Staged == gen {
			s.Staged = 0
		}
		return nil
	})
}

// recoverStaged finishes the staged deltas made live but not applied: by a
// writer that died (Open), or by an update of this process that failed
// midway (the next Update).
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
	}
	return nil
}
