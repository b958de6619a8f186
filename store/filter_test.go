package store

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// TestPresence: every key added is present, after a round trip through
// its file too; about 1 % of absent keys are not told apart; a damaged
// file is refused.
func TestPresence(t *testing.T) {
	const n = 50000
	p := newPresence(n)
	base := uint64(530102199001010000)
	for i := uint64(0); i < n; i++ {
		p.add(base + 7*i)
	}
	db := &DB{dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(db.dir, tablesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := db.writeFilter(3, 9, p); err != nil {
		t.Fatal(err)
	}
	q, unmap, err := db.readFilter(3, 9)
	if err != nil {
		t.Fatal(err)
	}
	false1 := 0
	for i := uint64(0); i < n; i++ {
		if !q.has(base + 7*i) {
			t.Fatalf("key %d added but reported absent", base+7*i)
		}
		if q.has(base + 7*i + 3) {
			false1++
		}
	}
	if rate := float64(false1) / n; rate > 0.03 {
		t.Fatalf("%.1f %% of absent keys reported present", 100*rate)
	}
	unmap()
	b, _ := os.ReadFile(db.filterPath(3, 9))
	b[20] ^= 1
	os.WriteFile(db.filterPath(3, 9), b, 0o644)
	if _, _, err := db.readFilter(3, 9); err == nil {
		t.Fatal("a damaged filter was read")
	}
}

// TestReusableFilter: a delta extends a copy of the live filter when it is
// sized for the new row count and not too full; otherwise (none on disk,
// another size, over maxReusedFill) the filter is built again.
func TestReusableFilter(t *testing.T) {
	const n = 20000
	db := &DB{dir: t.TempDir(), log: quietLogger()}
	if err := os.MkdirAll(filepath.Join(db.dir, tablesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if p := db.reusableFilter(3, 8, n); p != nil {
		t.Fatal("a filter reused where none is on disk")
	}
	p := newPresence(n)
	base := uint64(530102199001010000)
	for i := uint64(0); i < n; i++ {
		p.add(base + 7*i)
	}
	if err := db.writeFilter(3, 9, p); err != nil {
		t.Fatal(err)
	}
	q := db.reusableFilter(3, 9, n+10) // same number of blocks
	if q == nil {
		t.Fatalf("a filter %.0f %% full, of the right size, was not reused", 100*p.fill())
	}
	cached, release := db.filter(3, 9)
	defer release()
	before := slices.Clone(cached.words)
	for i := uint64(1); i <= 100; i++ {
		q.add(i)
	}
	if !q.has(7) || !slices.Equal(cached.words, before) {
		t.Fatal("the reused filter is not a copy: extending it changed the cached one")
	}
	if db.reusableFilter(3, 9, 4*n) != nil {
		t.Fatal("a filter sized for a quarter of the rows was reused")
	}
	for i := uint64(0); i < n; i++ {
		p.add(base + 7*i + 3)
	}
	if err := db.writeFilter(3, 10, p); err != nil {
		t.Fatal(err)
	}
	if db.reusableFilter(3, 10, n) != nil {
		t.Fatalf("a filter %.0f %% full was reused", 100*p.fill())
	}
}

// TestFilterMappingsReleased: a filter file stays mapped while a holder
// uses it, after the cache has moved to a newer generation, and is unmapped
// when the last holder releases it (else a long-running service would keep
// every replaced filter, and its deleted file's space, until it stops).
func TestFilterMappingsReleased(t *testing.T) {
	maps := func(name string) bool {
		b, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip("no /proc/self/maps")
		}
		return strings.Contains(string(b), name)
	}
	db := &DB{dir: t.TempDir(), log: quietLogger()}
	if err := os.MkdirAll(filepath.Join(db.dir, tablesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, gen := range []uint32{9, 10} {
		p := newPresence(1000)
		p.add(uint64(gen))
		if err := db.writeFilter(3, gen, p); err != nil {
			t.Fatal(err)
		}
	}
	old := db.filterPath(3, 9)
	p1, r1 := db.filter(3, 9)
	_, r1b := db.filter(3, 9)
	p2, r2 := db.filter(3, 10) // the cache moves on
	if !maps(old) || !p1.has(9) || !p2.has(10) {
		t.Fatal("a held filter is not readable")
	}
	r1()
	r1() // twice is once
	if !maps(old) || !p1.has(9) {
		t.Fatal("a filter was unmapped while still held")
	}
	r1b()
	if maps(old) {
		t.Fatal("a replaced filter stayed mapped after its last holder released it")
	}
	r2()
	db.filters.release()
	if maps(db.filterPath(3, 10)) {
		t.Fatal("the live filter stayed mapped after the index released its filters")
	}
}

// TestRepeatFilterMissing: Open gives a roster or police generation
// without a repeat filter (an index written before them, or a file lost)
// one made from its digest table, the same as an update writes; without a
// table either, the generation answers "may repeat" for everyone, so that
// the assembly reads every row as before.
func TestRepeatFilterMissing(t *testing.T) {
	_, manifest, _ := regionCopy(t)
	dir := filepath.Join(t.TempDir(), "db")
	db := openQuiet(t, dir)
	updateWith(t, db, manifest, UpdateOptions{})
	var keys []personid.Key
	err := db.bdb.View(func(txn *badger.Txn) error {
		cat, err := readCatalog(txn)
		if err != nil {
			return err
		}
		for _, s := range cat.Sources {
			if s.Kind == sources.KindRoster {
				keys = collectGroups(txn, genPrefix(kindRecord, s.ID, s.dataGen()), 200)
			}
		}
		return nil
	})
	if err != nil || len(keys) < 100 {
		t.Fatalf("%d roster persons read: %v", len(keys), err)
	}
	told := func(db *DB) (n int) {
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		for _, k := range keys {
			for _, kind := range []sources.Kind{sources.KindRoster, sources.KindPolice} {
				if !v.MayRepeat(k, kind) {
					n++
				}
			}
		}
		return n
	}
	written := told(db)
	if written < len(keys) {
		t.Fatalf("with the filters, only %d of %d answers tell a person apart", written, 2*len(keys))
	}
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, s := range cat.Sources {
		if keepsRepeats(s.Kind) {
			files[db.repeatPath(s.ID, s.Gen)] = true
		}
	}
	remove := func(paths ...string) {
		for _, p := range paths {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, lose := range []struct {
		name  string
		table bool // the digest table goes too
	}{{"repeat filters lost", false}, {"repeat filters and digest tables lost", true}} {
		db.Close()
		for _, s := range cat.Sources {
			if keepsRepeats(s.Kind) {
				remove(db.repeatPath(s.ID, s.Gen))
				if lose.table {
					remove(db.tablePath(s.ID, s.Gen))
				}
			}
		}
		db = openQuiet(t, dir)
		got := told(db)
		for p := range files {
			if _, err := os.Stat(p); (err == nil) == lose.table {
				t.Fatalf("%s: after Open, %s exists: %v", lose.name, p, err == nil)
			}
		}
		if !lose.table && got != written || lose.table && got != 0 {
			t.Fatalf("%s: %d answers tell a person apart, %d with the filters an update wrote", lose.name, got, written)
		}
	}
	db.Close()
}

// collectGroups returns the distinct person keys of the first n keys under
// prefix (kind, src, gen | person key | seq).
func collectGroups(txn *badger.Txn, prefix []byte, n int) []personid.Key {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var out []personid.Key
	for it.Seek(prefix); it.ValidForPrefix(prefix) && len(out) < n; it.Next() {
		k := personid.Key(binary.BigEndian.Uint64(it.Item().Key()[len(prefix):]))
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}
