package store

import (
	"os"
	"path/filepath"
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
