package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/synth"
)

// TestEdit: every 100th row's amount rises by the round, the other rows and
// columns stay, and the row groups keep their size.
func TestEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pension.parquet")
	var rows []synth.PensionRow
	for i := range 1000 {
		rows = append(rows, synth.PensionRow{PersonID: fmt.Sprintf("p%04d", i), Scheme: "s", State: "paying",
			MonthlyAmount: fmt.Sprintf("%d.50", 1000+i), ContributionBase: "3000", Period: "202610"})
	}
	if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(300)); err != nil {
		t.Fatal(err)
	}
	changed, total, err := edit(path, 7)
	if err != nil || changed != 10 || total != 1000 {
		t.Fatalf("edit: %d of %d changed, %v", changed, total, err)
	}
	got, err := parquet.ReadFile[synth.PensionRow](path)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		want := rows[i]
		if i%100 == 0 {
			want.MonthlyAmount = fmt.Sprintf("%d.50", 1007+i)
		}
		if r != want {
			t.Fatalf("row %d: %+v, want %+v", i, r, want)
		}
	}
	pf, err := parquet.OpenFile(mustOpen(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if n := pf.RowGroups()[0].NumRows(); n != 300 {
		t.Fatalf("first row group %d rows, want 300", n)
	}
	if _, _, err := edit(filepath.Join(t.TempDir(), "missing.parquet"), 1); err == nil {
		t.Fatal("a missing file edited")
	}
}

// mustOpen opens path for parquet.OpenFile; the file closes with the test.
func mustOpen(t *testing.T, path string) (io.ReaderAt, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}
