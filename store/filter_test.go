package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
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
	q, err := db.readFilter(3, 9)
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
	b, _ := os.ReadFile(db.filterPath(3, 9))
	b[20] ^= 1
	os.WriteFile(db.filterPath(3, 9), b, 0o644)
	if _, err := db.readFilter(3, 9); err == nil {
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
	before := slices.Clone(db.filter(3, 9).words)
	for i := uint64(1); i <= 100; i++ {
		q.add(i)
	}
	if !q.has(7) || !slices.Equal(db.filter(3, 9).words, before) {
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
