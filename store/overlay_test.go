package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hedui/hedui/synth"
)

// TestOverlayCarriesForwardAndRebases: small pension deltas write overlays
// over the first build's table (linked, never rewritten), each carrying the
// older overlay's entries; a delta over an overlay of rows/maxOverlayShare
// entries or more writes the table whole again. After every round the index
// equals a full rewrite and its tables agree with its keys.
func TestOverlayCarriesForwardAndRebases(t *testing.T) {
	dir, manifest, db, full := twinIndexes(t)
	pension := filepath.Join(dir, "sources/pension.parquet")
	first := liveTable(t, db, "sources/pension.parquet")
	rows, base := first.rows, first.fileGen
	first.close()
	amount := 0
	edit := func(n int) {
		editFile(t, pension, func(rs []synth.PensionRow) []synth.PensionRow {
			for i := 0; i < n; i++ {
				amount++
				rs[(i*7919+amount*31)%len(rs)].MonthlyAmount = fmt.Sprintf("%d.25", 1000+amount)
			}
			return rs
		})
	}
	big := int(rows/maxOverlayShare) + 10
	rounds := []struct {
		name    string
		changes int
		overlay bool // the new generation is an overlay over the first build's table
		atLeast int  // entries its overlay holds at least
	}{
		{"first delta", 5, true, 5},
		{"carried forward", 5, true, 10},
		{"over the share", big, true, big},
		{"written whole", 3, false, 0},
		{"an overlay over the new table", 4, true, 4},
	}
	for i, r := range rounds {
		edit(r.changes)
		setSnapshot(t, manifest, "sources/pension.parquet", fmt.Sprintf("2026-10-%02d", 20+i))
		got := updateWith(t, db, manifest, UpdateOptions{})
		updateWith(t, full, manifest, UpdateOptions{Rewrite: true})
		if u := got["sources/pension.parquet"]; u.Delta == 0 {
			t.Fatalf("%s: %+v; want a delta", r.name, u)
		}
		tr := liveTable(t, db, "sources/pension.parquet")
		switch {
		case r.overlay && (tr.over == nil || tr.over.len() < r.atLeast):
			t.Fatalf("%s: no overlay of %d entries or more (%v)", r.name, r.atLeast, tr.over)
		case !r.overlay && tr.over != nil:
			t.Fatalf("%s: an overlay of %d entries; want the table written whole", r.name, tr.over.len())
		case r.overlay && tr.fileGen != base:
			t.Fatalf("%s: the table file is generation %d's, want %d's", r.name, tr.fileGen, base)
		}
		if !r.overlay {
			base = sourceAt(t, db, "sources/pension.parquet").Gen // the next overlays' base
			if tr.fileGen != base {
				t.Fatalf("%s: the table written whole is generation %d's, want %d's", r.name, tr.fileGen, base)
			}
		}
		tr.close()
		sameIndex(t, r.name, dump(t, db), dump(t, full))
		checkConsistent(t, db)
	}
	// A damaged overlay is refused, as a damaged table is: the next update
	// writes the source whole.
	s := sourceAt(t, db, "sources/pension.parquet")
	b, err := os.ReadFile(db.overlayPath(s.ID, s.Gen))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(db.overlayPath(s.ID, s.Gen), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := db.openTable(s.ID, s.Gen); !errors.Is(err, errBadOverlay) {
		t.Fatalf("a damaged overlay opened: %v", err)
	}
	edit(2)
	setSnapshot(t, manifest, "sources/pension.parquet", "2026-10-30")
	if u := updateWith(t, db, manifest, UpdateOptions{})["sources/pension.parquet"]; u.Delta != 0 || u.Action != "updated" {
		t.Fatalf("update over a damaged overlay: %+v; want the source written whole", u)
	}
	updateWith(t, full, manifest, UpdateOptions{Rewrite: true})
	sameIndex(t, "after a damaged overlay", dump(t, db), dump(t, full))
	checkConsistent(t, db)
}

// sourceAt returns the catalog's source of path.
func sourceAt(t *testing.T, db *DB, path string) *Source {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for i := range cat.Sources {
		if cat.Sources[i].Path == path {
			return &cat.Sources[i]
		}
	}
	t.Fatalf("no source %s", path)
	return nil
}

// liveTable opens the digest table of the live generation of the source at path.
func liveTable(t *testing.T, db *DB, path string) *tableReader {
	t.Helper()
	s := sourceAt(t, db, path)
	tr, err := db.openTable(s.ID, s.Gen)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
