package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"
)

// A staged delta is made live by its flip and applied after it. The apply is
// badger's single writer at work for as long as the rest of an incremental
// round takes to evaluate, so it runs in the background once Update returns
// (startApplies), and Views read the source through the delta's writes,
// sorted, until it is done: for a key the delta wrote, its last write; for
// any other, badger's value, which the apply does not touch. That holds
// whatever part of the apply a View's transaction sees.

// stagedWrites are the writes of one staged delta, sorted by key, each key's
// last write kept.
type stagedWrites struct {
	src uint16
	gen uint32
	w   []stagedWrite
	// gate, if set, is called before the background apply starts (tests).
	gate func()
}

// stagedWrite is one key's write: a set of v, or a delete.
type stagedWrite struct {
	k, v []byte
	del  bool
}

// newStagedWrites sorts the n writes logged in b (a staged log's body,
// which they point into).
func newStagedWrites(src uint16, gen uint32, b []byte, n int64) (*stagedWrites, error) {
	// A key's first 16 bytes, as two numbers, order most pairs without a
	// byte comparison: the keys share their first 7 (kind, source,
	// generation), and bytes.Compare of the rest was most of the sort.
	type logged struct {
		hi, lo uint64
		pos    int
		stagedWrite
	}
	all := make([]logged, 0, n)
	err := eachStagedWrite(b, func(op byte, k, v []byte) error {
		var pad [16]byte
		copy(pad[:], k)
		all = append(all, logged{binary.BigEndian.Uint64(pad[:8]), binary.BigEndian.Uint64(pad[8:]), len(all),
			stagedWrite{k: k, v: v, del: op == opDelete}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Zero padding orders two keys as their bytes do wherever it tells them
	// apart; where it does not, the bytes decide.
	slices.SortFunc(all, func(a, b logged) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		if c := bytes.Compare(a.k, b.k); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	s := &stagedWrites{src: src, gen: gen, w: make([]stagedWrite, 0, len(all))}
	for i := range all {
		if i+1 < len(all) && bytes.Equal(all[i].k, all[i+1].k) {
			continue // a later write of the key replaces it
		}
		s.w = append(s.w, all[i].stagedWrite)
	}
	return s, nil
}

// under returns the writes of keys that start with prefix; nil s has none.
func (s *stagedWrites) under(prefix []byte) []stagedWrite {
	if s == nil {
		return nil
	}
	lo, _ := slices.BinarySearchFunc(s.w, prefix, func(w stagedWrite, p []byte) int { return bytes.Compare(w.k, p) })
	rest := s.w[lo:]
	n := sort.Search(len(rest), func(i int) bool { return !bytes.HasPrefix(rest[i].k, prefix) })
	return rest[:n]
}

// find returns the write of key, if the delta wrote it.
func (s *stagedWrites) find(key []byte) (stagedWrite, bool) {
	if s == nil {
		return stagedWrite{}, false
	}
	i, ok := slices.BinarySearchFunc(s.w, key, func(w stagedWrite, k []byte) int { return bytes.Compare(w.k, k) })
	if !ok {
		return stagedWrite{}, false
	}
	return s.w[i], true
}

// writeTo adds the writes to wb. They point into the log, which outlives wb.
func (s *stagedWrites) writeTo(wb *badger.WriteBatch) error {
	for _, w := range s.w {
		var err error
		if w.del {
			err = wb.Delete(w.k)
		} else {
			err = wb.Set(w.k, w.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// eachMerged calls fn, in key order, with every key under prefix (less its
// first trim bytes) and its value as read through ws (the writes under prefix, sorted): the
// iterator's keys that ws does not write, and ws's sets. With values false,
// the iterator's values are not read (fn gets nil for them). An empty ws
// costs a length test per key.
func eachMerged(it *badger.Iterator, prefix []byte, ws []stagedWrite, trim int, values bool, fn func(k, val []byte) error) error {
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		k := item.Key()
		written := false
		for len(ws) > 0 && !written {
			c := bytes.Compare(ws[0].k, k)
			if c > 0 {
				break
			}
			written = c == 0
			if w := ws[0]; !w.del {
				if err := fn(w.k[trim:], w.v); err != nil {
					return err
				}
			}
			ws = ws[1:]
		}
		if written {
			continue
		}
		var err error
		if values {
			err = item.Value(func(val []byte) error { return fn(k[trim:], val) })
		} else {
			err = fn(k[trim:], nil)
		}
		if err != nil {
			return err
		}
	}
	for _, w := range ws {
		if !w.del {
			if err := fn(w.k[trim:], w.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// errFound stops eachMerged once a key is found (anyMerged).
var errFound = errors.New("found")

// anyMerged reports whether eachMerged would call fn at all.
func anyMerged(it *badger.Iterator, prefix []byte, ws []stagedWrite) bool {
	err := eachMerged(it, prefix, ws, 0, false, func(_, _ []byte) error { return errFound })
	return errors.Is(err, errFound)
}
