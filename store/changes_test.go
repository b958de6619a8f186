package store

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestChangeBlocks: a change set written in blocks reads back whole and in
// order, across block boundaries, beside groups written one key each as
// older indexes did; household IDs come without their terminator.
func TestChangeBlocks(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "index"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const src, gen = 3, 7
	var want []string
	txn := db.bdb.NewTransaction(true)
	defer txn.Discard()
	cw := &changeWriter{src: src, gen: gen, put: txn.Set}
	for i := range 10000 { // more than three blocks
		if err := cw.add(changePerson, binary.BigEndian.AppendUint64(nil, uint64(i)*7919)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("p %d", uint64(i)*7919))
	}
	for _, id := range []string{"53010200000009", "53010200000010"} {
		if err := cw.add(changeHousehold, append([]byte(id), 0)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "d "+id)
	}
	if err := cw.flush(); err != nil {
		t.Fatal(err)
	}
	if cw.block < 3 || cw.n != int64(len(want)) {
		t.Fatalf("%d blocks, %d groups; want several blocks and %d groups", cw.block, cw.n, len(want))
	}
	// A group written the old way, one key with an empty value.
	old := append(genPrefix(kindChange, src, gen), changeNameDOB)
	old = binary.BigEndian.AppendUint64(old, 42)
	if err := txn.Set(old, nil); err != nil {
		t.Fatal(err)
	}
	want = append(want, "n 42")
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var got []string
	err = v.Changes(src, gen, func(sub byte, group []byte) error {
		if sub == changeHousehold {
			got = append(got, fmt.Sprintf("%c %s", sub, group))
		} else {
			got = append(got, fmt.Sprintf("%c %d", sub, binary.BigEndian.Uint64(group)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Blocks sort before the old keys ('B' < 'n'); within blocks, as added.
	if !slices.Equal(got, want) {
		t.Fatalf("change set read back: %d entries, first %v; want %d", len(got), got[:min(3, len(got))], len(want))
	}
	if err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: genPrefix(kindChange, src, gen)})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		if n != int(cw.block)+1 {
			t.Fatalf("%d change-set keys; want %d blocks and the old key", n, cw.block)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestEachChangeRefusesDamage: a truncated block is an error, not a
// shorter change set.
func TestEachChangeRefusesDamage(t *testing.T) {
	var val []byte
	cw := &changeWriter{put: func(_, v []byte) error { val = v; return nil }}
	for i := range 3 {
		cw.add(changePerson, binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	cw.flush()
	if err := eachChange(val[:len(val)-1], func(byte, []byte) error { return nil }); err == nil {
		t.Fatal("a truncated block was read")
	}
}
