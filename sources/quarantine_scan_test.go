package sources

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources/personid"
)

// scanFixture writes two files of a kind with valid, 15-digit, empty and
// invalid keys in several row groups and returns the manifest and entry.
func scanFixture(t *testing.T) (*Manifest, *Entry, map[string]int64) {
	dir := t.TempDir()
	reasons := map[string]int64{}
	var files []string
	for f := range 2 {
		var rows [][]string
		for i := range 95 {
			id := testID(t, i+100*f)
			switch i % 9 {
			case 1:
				k := personid.Parse(id).Key
				id, _ = k.Old15()
			case 2:
				id = ""
			case 3:
				id = id[:10]
			case 4:
				id = id[:5] + "A" + id[6:]
			case 5:
				c := id[17]
				id = id[:17] + map[bool]string{true: "1", false: "2"}[c != '1']
			}
			if p := personid.Parse(id); p.Reason != personid.ReasonNone {
				reasons[p.Reason.String()]++
			}
			rows = append(rows, []string{id, "civil-affairs"})
		}
		path := filepath.Join(dir, "staff"+strconv.Itoa(f)+".csv")
		if f == 1 {
			path = filepath.Join(dir, "staff1.parquet")
			writePQ(t, path, strCols([]string{"证件号码", "岗位"}, rows, true), parquet.MaxRowsPerRowGroup(20))
		} else {
			writeCSV(t, path, []string{"证件号码", "岗位"}, rows, false)
		}
		files = append(files, path)
	}
	m, e := testEntry(KindStaff, files...)
	e.Columns = map[string]string{"person_id": "证件号码", "role": "岗位"}
	return m, e, reasons
}

// TestScanQuarantine checks that counts reconcile (rows = valid +
// quarantined), match the reasons, and that quarantine files are
// byte-identical whatever the number of workers.
func TestScanQuarantine(t *testing.T) {
	m, e, reasons := scanFixture(t)
	var outputs [][]byte
	for _, workers := range []int{1, 4} {
		r := mustOpen(t, m, e)
		qdir := t.TempDir()
		q := NewQuarantine(qdir)
		var qual Quality
		var seen atomic.Int64
		err := r.Scan(context.Background(), workers, q, &qual, func(c Chunk, keys []personid.Parsed) error {
			if len(keys) != c.Rows {
				t.Errorf("chunk %d: %d keys for %d rows", c.Index, len(keys), c.Rows)
			}
			seen.Add(int64(len(keys)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if qual.Rows != 190 || seen.Load() != 190 {
			t.Errorf("workers %d: rows %d, seen %d, want 190", workers, qual.Rows, seen.Load())
		}
		if qual.Rows != qual.ValidKeys+qual.QuarantinedTotal {
			t.Errorf("workers %d: rows %d != valid %d + quarantined %d", workers, qual.Rows, qual.ValidKeys, qual.QuarantinedTotal)
		}
		if !reflect.DeepEqual(qual.Quarantined, reasons) {
			t.Errorf("workers %d: quarantined %v, want %v", workers, qual.Quarantined, reasons)
		}
		if qual.From15 != 22 {
			t.Errorf("workers %d: from15 %d, want 22", workers, qual.From15)
		}
		if qual.Kind != KindStaff || qual.Files != 2 || qual.Snapshot != "2026-10-01" || qual.AgeDays != 31 {
			t.Errorf("descriptive fields %+v", qual)
		}
		if got := q.Counts()[KindStaff]; !reflect.DeepEqual(got, reasons) {
			t.Errorf("quarantine counts %v, want %v", got, reasons)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(qdir, "quarantine", "staff.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, data)
		rows, err := parquet.Read[quarantineRow](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)) != qual.QuarantinedTotal {
			t.Errorf("%d quarantine rows, want %d", len(rows), qual.QuarantinedTotal)
		}
		for i, row := range rows {
			if i > 0 && (row.File < rows[i-1].File || row.File == rows[i-1].File && row.Row <= rows[i-1].Row) {
				t.Errorf("quarantine not sorted at %d: %+v after %+v", i, row, rows[i-1])
			}
			if row.Column != "证件号码" || personid.Parse(row.Value).Reason.String() != row.Reason {
				t.Errorf("quarantine row %+v", row)
			}
		}
	}
	if !bytes.Equal(outputs[0], outputs[1]) {
		t.Error("quarantine files differ between 1 and 4 workers")
	}
}

// TestQuarantineOrder adds the same rows in two orders: same bytes.
func TestQuarantineOrder(t *testing.T) {
	rows := []quarantineRow{{"b.csv", 2, "id", "x", "length"}, {"a.csv", 10, "id", "", "empty"}, {"a.csv", 9, "id", "1", "length"}}
	var out [][]byte
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}} {
		dir := t.TempDir()
		q := NewQuarantine(dir)
		for _, i := range order {
			r := rows[i]
			q.Add(KindPolice, r.File, r.Row, r.Column, r.Value, r.Reason)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "quarantine", "police.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("arrival order changes the quarantine file")
	}
}

// TestScanErrors checks that fn's error and cancellation stop Scan.
func TestScanErrors(t *testing.T) {
	m, e, _ := scanFixture(t)
	r := mustOpen(t, m, e)
	boom := errors.New("boom")
	err := r.Scan(context.Background(), 2, nil, nil, func(Chunk, []personid.Parsed) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("fn error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Scan(ctx, 2, nil, &Quality{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestValidate checks counts, duplicates, quarantine and the table.
func TestValidate(t *testing.T) {
	m, e, reasons := scanFixture(t)
	dir := filepath.Dir(e.Files[0])
	id := testID(t, 5)
	roster := filepath.Join(dir, "roster.csv")
	writeCSV(t, roster, []string{"person_id", "household_id", "relation", "area", "assistance", "status", "monthly_benefit"}, [][]string{
		{id, "H1", "head", "urban", "dibao", "recipient", "650"},
		{id, "H1", "head", "urban", "dibao", "recipient", "650.00"}, // same canonical values
		{id, "H1", "head", "urban", "dibao", "recipient", "651"},
		{id, "H1", "head", "urban", "dibao", "recipient", ""},
	}, false)
	m.Roster = &Entry{Kind: KindRoster, Path: "roster.csv", Files: []string{roster}, Snapshot: testSnapshot, Line: 2}
	var total1, total4 []*Quality
	var tables []string
	for _, workers := range []int{1, 4} {
		var progress atomic.Int64
		qdir := t.TempDir()
		qs, err := Validate(context.Background(), m, ValidateOptions{Workers: workers, QuarantineDir: qdir,
			Progress: func(k Kind, path string, done, total int64) {
				if done > total {
					t.Errorf("progress %d > %d", done, total)
				}
				progress.Store(done)
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 2 || qs[0].Kind != KindRoster || qs[1].Kind != KindStaff {
			t.Fatalf("qualities %+v", qs)
		}
		if qs[0].Rows != 4 || qs[0].DuplicateRows != 1 {
			t.Errorf("roster rows %d duplicates %d, want 4 and 1", qs[0].Rows, qs[0].DuplicateRows)
		}
		st := qs[1]
		if st.Rows != 190 || st.Rows != st.ValidKeys+st.QuarantinedTotal || !reflect.DeepEqual(st.Quarantined, reasons) {
			t.Errorf("staff quality %+v", st)
		}
		// Empty IDs repeat with the same role: duplicates among them.
		if st.DuplicateRows == 0 {
			t.Errorf("no duplicates found among %d empty-ID rows", reasons["empty"])
		}
		if _, err := os.Stat(filepath.Join(qdir, "quarantine", "staff.parquet")); err != nil {
			t.Error(err)
		}
		var b strings.Builder
		if err := FormatQualityTable(&b, qs); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, b.String())
		if workers == 1 {
			total1 = qs
		} else {
			total4 = qs
		}
	}
	if !reflect.DeepEqual(total1, total4) || tables[0] != tables[1] {
		t.Error("results differ between 1 and 4 workers")
	}
	lines := strings.Split(strings.TrimSpace(tables[0]), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KIND") || !strings.Contains(lines[2], "staff") ||
		!strings.Contains(lines[2], "31d") || !strings.Contains(lines[2], "checksum") {
		t.Errorf("table:\n%s", tables[0])
	}
	t.Logf("\n%s", tables[0])

	// A bad value makes Validate fail naming the entry's file, without a
	// partial count for that entry.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("person_id,role\n"+id+",mayor\n"), 0o644)
	m.Sources = append(m.Sources, &Entry{Kind: KindStaff, Path: "bad.csv", Files: []string{bad}, Line: 9})
	qs, err := Validate(context.Background(), m, ValidateOptions{Workers: 2})
	wantErr(t, err, bad, "row 1", `"mayor"`)
	if len(qs) != 3 || qs[2].Rows != 0 {
		t.Errorf("failed entry quality %+v", qs[len(qs)-1])
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "公安": 4, "a公b": 4, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
