package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

// TestFailedUpdateCanBeRetried: an update that fails on bad input (a file
// that is no Parquet, a household ID with a NUL byte, in a delta and in a
// whole rewrite) says where, leaves the index as it was, and the next update
// in the same process, once the input is mended, succeeds and equals a full
// rewrite: the service applies updates without restarting.
func TestFailedUpdateCanBeRetried(t *testing.T) {
	dir, manifest, db, fullDB := twinIndexes(t)
	roster := filepath.Join(dir, "roster.parquet")
	pension := filepath.Join(dir, "sources/pension.parquet")
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(pension)
	if err != nil {
		t.Fatal(err)
	}
	nul := func(rows []synth.RosterRow) []synth.RosterRow {
		rows[7].HouseholdID = "HH\x00X"
		return rows
	}
	cases := []struct {
		name   string
		break_ func()
		mend   func()
		opts   UpdateOptions
		want   string
	}{
		{"not Parquet", func() { os.WriteFile(pension, []byte("not parquet"), 0o644) },
			func() { os.WriteFile(pension, good, 0o644) }, UpdateOptions{}, "pension.parquet"},
		{"NUL in a delta", func() { editFile(t, roster, nul) },
			func() {
				editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow { rows[7].HouseholdID = "HH-7"; return rows })
			},
			UpdateOptions{}, "household_id"},
		{"NUL in a rewrite", func() { editFile(t, roster, nul) },
			func() {
				editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow { rows[7].HouseholdID = "HH-8"; return rows })
			},
			UpdateOptions{Rewrite: true}, "household_id"},
	}
	for _, c := range cases {
		before := dump(t, db)
		c.break_()
		c.opts.Workers = 2
		_, err := db.Update(context.Background(), m, c.opts)
		t.Logf("%s: %v", c.name, err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: update error %v; want one naming %s", c.name, err, c.want)
		}
		sameIndex(t, c.name+": after the failed update", dump(t, db), before)
		checkConsistent(t, db)
		c.mend()
		updateWith(t, db, manifest, c.opts)
		updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		sameIndex(t, c.name+": the retried update", dump(t, db), dump(t, fullDB))
		checkConsistent(t, db)
	}
}
