package store

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/hedui/hedui/synth"
)

// regionCopy copies the test region and rewrites its pension and police
// files once with the layouts the tests edit them with, so that an edit
// changes values and not the files' column types.
func regionCopy(t *testing.T) (dir, manifest, police string) {
	t.Helper()
	man, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "region")
	if err := os.CopyFS(dir, os.DirFS(filepath.Dir(man[0]))); err != nil {
		t.Fatal(err)
	}
	polices, err := filepath.Glob(filepath.Join(dir, "sources/police-*.parquet"))
	if err != nil || len(polices) == 0 {
		t.Fatalf("no police file: %v", err)
	}
	editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow { return rows })
	editFile(t, polices[0], func(rows []synth.PoliceRow) []synth.PoliceRow { return rows })
	return dir, filepath.Join(dir, "sources.yaml"), polices[0]
}

// twinIndexes copies the test region and builds two indexes of it: db, for
// the updates under test, and full, to be rewritten whole as their
// reference. Both close with the test.
func twinIndexes(t *testing.T) (dir, manifest string, db, full *DB) {
	t.Helper()
	dir, manifest, _ = regionCopy(t)
	db = openQuiet(t, filepath.Join(t.TempDir(), "db"))
	full = openQuiet(t, filepath.Join(t.TempDir(), "full"))
	t.Cleanup(func() { db.Close(); full.Close() })
	updateWith(t, db, manifest, UpdateOptions{})
	updateWith(t, full, manifest, UpdateOptions{})
	return dir, manifest, db, full
}

// TestDeltaDecodesOnlyChangedRows: a change of one value in one row, of a
// column that only some rows fill (null to a date, a date to another, a date
// to null), and a value that no longer converts are found by the rows' raw
// digests: only those rows are decoded, and the index equals a full rewrite
// (quarantine counts included).
func TestDeltaDecodesOnlyChangedRows(t *testing.T) {
	dir, manifest, police := regionCopy(t)
	deltaDB := openQuiet(t, filepath.Join(t.TempDir(), "delta"))
	fullDB := openQuiet(t, filepath.Join(t.TempDir(), "full"))
	defer func() { deltaDB.Close(); fullDB.Close() }()
	for _, db := range []*DB{deltaDB, fullDB} {
		updateWith(t, db, manifest, UpdateOptions{})
	}
	var filled, emptied, redated int
	// changedCols is how many of pension's column digest files a round
	// writes anew (the others are the live ones, linked); -1: not checked.
	rounds := []struct {
		name        string
		edit        func()
		decoded     int64
		changedCols int
	}{
		{"one value, a sparse column, a bad value", func() {
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				rows[10].MonthlyAmount = "4321.50"
				rows[12].MonthlyAmount = "not an amount"
				return rows
			})
			editFile(t, police, func(rows []synth.PoliceRow) []synth.PoliceRow {
				filled, emptied, redated = -1, -1, -1
				for i := range rows {
					switch {
					case rows[i].StatusDate == nil && filled < 0:
						filled = i
					case rows[i].StatusDate != nil && emptied < 0:
						emptied = i
					case rows[i].StatusDate != nil && redated < 0:
						redated = i
					}
				}
				if filled < 0 || emptied < 0 || redated < 0 {
					t.Fatal("the police file lacks rows with and without a status date")
				}
				day := int32(20000)
				rows[filled].StatusDate = &day
				rows[emptied].StatusDate = nil
				*rows[redated].StatusDate++
				return rows
			})
		}, 5, -1},
		{"nothing changed but the snapshot", func() {}, 0, 0},
		{"the bad value mended", func() {
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				rows[12].MonthlyAmount = "12.00"
				return rows
			})
		}, 1, 1},
		{"a unit setting changed: every pension row converts anew", func() {
			b, err := os.ReadFile(manifest)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte("monthly_amount: yuan")) {
				t.Fatal("the manifest gives pension's monthly_amount no unit")
			}
			if err := os.WriteFile(manifest, bytes.Replace(b, []byte("monthly_amount: yuan"), []byte("monthly_amount: fen"), 1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, -1, -1},
		{"an ID no longer valid, another mended, a hukou moved", func() {
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				rows[3].PersonID = rows[3].PersonID[:17] + "?"
				rows[12].MonthlyAmount = "13.00"
				return rows
			})
			editFile(t, police, func(rows []synth.PoliceRow) []synth.PoliceRow {
				rows[9].PersonID = "not-an-id"
				rows[5].HukouNo = rows[40].HukouNo
				return rows
			})
		}, 4, 2},
		{"a CSV source: a blank cell filled, a number changed", func() {
			editCSV(t, filepath.Join(dir, "sources/realestate.csv"), func(rows [][]string) {
				col := map[string]int{}
				for i, h := range rows[0] {
					col[h] = i
				}
				share, area := col["权利份额"], col["建筑面积"]
				if rows[2][share] != "" {
					t.Fatalf("row 2 has a share %q; the test wants a blank one", rows[2][share])
				}
				rows[2][share] = "0.5"
				rows[3][area] = "1234.50"
			})
		}, 2, 0},
	}
	for i, r := range rounds {
		r.edit()
		day := time.Date(2026, 10, 26+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly) // up to as_of
		setSnapshot(t, manifest, "sources/pension.parquet", day)
		setSnapshot(t, manifest, "sources/police-*.parquet", day)
		setSnapshot(t, manifest, "sources/realestate.csv", day)
		var decoded atomic.Int64
		before := columnFiles(t, deltaDB, "sources/pension.parquet")
		got := updateWith(t, deltaDB, manifest, UpdateOptions{decoded: &decoded})
		want := updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		if n := decoded.Load(); n != r.decoded && r.decoded >= 0 {
			t.Errorf("%s: %d rows decoded, want %d", r.name, n, r.decoded)
		}
		if pension := want["sources/pension.parquet"].Rows; r.decoded < 0 && decoded.Load() < pension {
			t.Errorf("%s: %d rows decoded, want every pension row (%d) at least", r.name, decoded.Load(), pension)
		}
		after := columnFiles(t, deltaDB, "sources/pension.parquet")
		if len(after) < 6 || i > 0 && len(before) != len(after) {
			t.Fatalf("%s: %d pension column digest files, %d before", r.name, len(after), len(before))
		}
		if r.changedCols >= 0 {
			changed := 0
			for pi := range after {
				if !os.SameFile(before[pi], after[pi]) {
					changed++
				}
			}
			if changed != r.changedCols {
				t.Errorf("%s: %d pension column digest files written anew, want %d (the others linked)", r.name, changed, r.changedCols)
			}
		}
		for _, p := range []string{"sources/pension.parquet", "sources/police-*.parquet", "sources/realestate.csv"} {
			if got[p].Action != "updated" || got[p].Rows != want[p].Rows {
				t.Fatalf("%s: %s: %+v, a full rewrite %+v", r.name, p, got[p], want[p])
			}
		}
		sameIndex(t, r.name, dump(t, deltaDB), dump(t, fullDB))
		checkConsistent(t, deltaDB)
	}
}

// columnFiles stats the column digest files (.c0, .c1, …) of the live
// generation of the source at path.
func columnFiles(t *testing.T, db *DB, path string) []os.FileInfo {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	var out []os.FileInfo
	for _, s := range cat.Sources {
		if s.Path != path {
			continue
		}
		for pi := 0; ; pi++ {
			fi, err := os.Stat(db.colPath(s.ID, s.Gen, pi))
			if err != nil {
				return out
			}
			out = append(out, fi)
		}
	}
	return out
}

// editCSV rewrites a GB 18030 CSV file with change applied to its records
// (the header first).
func editCSV(t *testing.T, path string, change func(rows [][]string)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	utf, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(utf)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	change(rows)
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, gb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDeltaFromOldTableDecodesAll: a live generation whose digest table is
// of format 1 (no raw digests) is updated by decoding every row, and the
// result equals a full rewrite; its new table has raw digests again.
func TestDeltaFromOldTableDecodesAll(t *testing.T) {
	dir, manifest, _ := regionCopy(t)
	deltaDB := openQuiet(t, filepath.Join(t.TempDir(), "delta"))
	fullDB := openQuiet(t, filepath.Join(t.TempDir(), "full"))
	defer func() { deltaDB.Close(); fullDB.Close() }()
	for _, db := range []*DB{deltaDB, fullDB} {
		updateWith(t, db, manifest, UpdateOptions{})
	}
	pension := filepath.Join(dir, "sources/pension.parquet")
	downgradeTables(t, deltaDB)
	for i, value := range []string{"4321.50", "4321.75"} {
		editFile(t, pension, func(rows []synth.PensionRow) []synth.PensionRow {
			rows[10].MonthlyAmount = value
			return rows
		})
		setSnapshot(t, manifest, "sources/pension.parquet", fmt.Sprintf("2026-10-%02d", 29+i))
		var decoded atomic.Int64
		got := updateWith(t, deltaDB, manifest, UpdateOptions{decoded: &decoded})
		updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		rows := got["sources/pension.parquet"].Rows
		if want := map[int]int64{0: rows, 1: 1}[i]; decoded.Load() != want || got["sources/pension.parquet"].Delta != 1 {
			t.Fatalf("update %d: %d rows decoded, want %d; %+v", i, decoded.Load(), want, got["sources/pension.parquet"])
		}
		sameIndex(t, fmt.Sprintf("update %d", i), dump(t, deltaDB), dump(t, fullDB))
		checkConsistent(t, deltaDB)
	}
}

// downgradeTables rewrites every live digest table of db in format 1.
func downgradeTables(t *testing.T, db *DB) {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range cat.Sources {
		path := db.tablePath(s.ID, s.Gen)
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out := append([]byte(tableMagicV1), b[4:tableHeader]...)
		for i := tableHeader; i+entryLen <= len(b); i += entryLen {
			out = append(out, b[i:i+entryLenV1]...)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no digest table to downgrade")
	}
}
