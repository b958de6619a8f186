package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestReadThroughStagedWrites: reading badger through a staged delta's
// writes, sorted, gives what badger holds once they are applied, for every
// prefix: sets of new and existing keys, deletes of existing and missing
// ones, keys written more than once (the last write counts), and keys next
// to a prefix's ends.
func TestReadThroughStagedWrites(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			key := func() []byte {
				// Few distinct keys of two to four bytes: prefixes share
				// them, and writes often hit existing keys.
				k := []byte{byte(r.IntN(3)), byte(r.IntN(4))}
				for range r.IntN(3) {
					k = append(k, byte(r.IntN(3)))
				}
				return k
			}
			bdb, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			defer bdb.Close()
			model := map[string]string{}
			wb := bdb.NewWriteBatch()
			for range r.IntN(60) {
				k, v := key(), fmt.Sprint("old", r.IntN(100))
				model[string(k)] = v
				if err := wb.Set(k, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				t.Fatal(err)
			}
			st := &stager{}
			for range r.IntN(60) {
				k := key()
				if r.IntN(3) == 0 {
					st.Delete(k)
					delete(model, string(k))
					continue
				}
				v := fmt.Sprint("new", r.IntN(100))
				if r.IntN(10) == 0 {
					v = "" // an empty value is a set, not a delete
				}
				st.Set(k, []byte(v))
				model[string(k)] = v
			}
			ws, err := newStagedWrites(1, 2, st.buf, st.n)
			if err != nil {
				t.Fatal(err)
			}
			txn := bdb.NewTransaction(false)
			defer txn.Discard()
			prefixes := [][]byte{{}, {0}, {1}, {2}, {0, 0}, {1, 3}, {2, 1, 2}, {0, 3, 0, 1}}
			for _, p := range prefixes {
				for _, values := range []bool{true, false} {
					var keys, want, got []string
					for k := range model {
						if len(k) >= len(p) && k[:len(p)] == string(p) {
							keys = append(keys, k)
						}
					}
					slices.Sort(keys) // badger's order
					for _, k := range keys {
						v := model[k]
						if !values && !ws.writes(k) {
							v = ""
						}
						want = append(want, fmt.Sprintf("%x=%s", k[len(p):], v))
					}
					it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
					err := eachMerged(it, p, ws.under(p), len(p), values, func(k, val []byte) error {
						got = append(got, fmt.Sprintf("%x=%s", k, val))
						return nil
					})
					it.Close()
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("prefix %v (values %v): read through %v, want %v", p, values, got, want)
					}
					it = txn.NewIterator(badger.IteratorOptions{Prefix: p})
					if found := anyMerged(it, p, ws.under(p)); found != (len(want) > 0) {
						t.Fatalf("prefix %v: anyMerged %v with %d keys", p, found, len(want))
					}
					it.Close()
				}
			}
			for range 50 {
				k := key()
				w, ok := ws.find(k)
				v, live := model[string(k)]
				switch {
				case ok && w.del && live, ok && !w.del && (!live || string(w.v) != v):
					t.Fatalf("find %v: %+v, model %q (%v)", k, w, v, live)
				case !ok && ws.writes(string(k)):
					t.Fatalf("find %v: not found", k)
				}
			}
		})
	}
}

// writes reports whether the delta writes key k (a linear walk: tests).
func (s *stagedWrites) writes(k string) bool {
	for _, w := range s.w {
		if string(w.k) == k {
			return true
		}
	}
	return false
}

// TestStagedWritesKeepTheLastWrite: a key set, deleted and set again within
// one delta is read as its last set, and one set then deleted as gone.
func TestStagedWritesKeepTheLastWrite(t *testing.T) {
	st := &stager{}
	k := func(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }
	st.Set(k(1), []byte("a"))
	st.Delete(k(1))
	st.Set(k(1), []byte("b"))
	st.Set(k(2), []byte("c"))
	st.Delete(k(2))
	ws, err := newStagedWrites(1, 2, st.buf, st.n)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := ws.find(k(1)); !ok || w.del || string(w.v) != "b" {
		t.Fatalf("key 1: %+v %v, want the set of b", w, ok)
	}
	if w, ok := ws.find(k(2)); !ok || !w.del {
		t.Fatalf("key 2: %+v %v, want a delete", w, ok)
	}
	if len(ws.w) != 2 {
		t.Fatalf("%d writes kept, want 2", len(ws.w))
	}
}
