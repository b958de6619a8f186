package sources

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// payrollCols is a payroll file with text (optionally dictionary-encoded),
// a nullable integer amount and a text status; edit changes the rows first.
func payrollCols(t *testing.T, dict bool, edit func(employer []any, salary []any)) []pqCol {
	t.Helper()
	text := parquet.Node(parquet.String())
	if dict {
		text = parquet.Encoded(text, &parquet.RLEDictionary)
	}
	cols := []pqCol{
		{name: "person_id", node: parquet.Optional(text)},
		{name: "employer", node: parquet.Optional(text)},
		{name: "monthly_salary", node: parquet.Optional(parquet.Int(64))},
		{name: "status", node: parquet.Optional(text)},
	}
	for i := 0; i < 200; i++ {
		var employer, salary any = fmt.Sprintf("单位%02d", i%30), int64(1000 + i)
		if i%7 == 0 {
			employer = nil
		}
		if i%5 == 0 {
			salary = nil
		}
		cols[0].vals = append(cols[0].vals, testID(t, i))
		cols[1].vals = append(cols[1].vals, employer)
		cols[2].vals = append(cols[2].vals, salary)
		cols[3].vals = append(cols[3].vals, []string{"active", "left", "retired"}[i%3])
	}
	if edit != nil {
		edit(cols[1].vals, cols[2].vals)
	}
	return cols
}

func rowDigestsOf(t *testing.T, cols []pqCol, setup func(e *Entry)) []uint64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "payroll.parquet")
	writePQ(t, path, cols, parquet.MaxRowsPerRowGroup(64))
	m, e := testEntry(KindPayroll, path)
	if setup != nil {
		setup(e)
	}
	r := mustOpen(t, m, e)
	var out []uint64
	for _, c := range r.Chunks() {
		d, err := r.RowDigests(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d...)
	}
	return out
}

func differing(a, b []uint64) []int {
	var out []int
	for i := range a {
		if a[i] != b[i] || a[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

// TestRowDigests: a row's digest changes with any of its values (null and
// empty text apart, a nullable number filled or emptied) and with the
// entry's settings, and not with how the file encodes its values.
func TestRowDigests(t *testing.T) {
	base := rowDigestsOf(t, payrollCols(t, false, nil), nil)
	if len(base) != 200 {
		t.Fatalf("%d digests for 200 rows", len(base))
	}
	if d := differing(base, rowDigestsOf(t, payrollCols(t, true, nil), nil)); len(d) != 0 {
		t.Errorf("dictionary encoding changed the digests of rows %v", d)
	}
	edited := payrollCols(t, true, func(employer, salary []any) {
		employer[5] = "另一单位"
		employer[7] = "" // null before: now an empty text
		salary[10] = int64(1)
		salary[11] = nil
		salary[20] = int64(20) // null before
	})
	if d := differing(base, rowDigestsOf(t, edited, nil)); fmt.Sprint(d) != "[5 7 10 11 20]" {
		t.Errorf("rows %v changed digest, want [5 7 10 11 20]", d)
	}
	// A row group whose employer is null throughout: its pages hold no value.
	blank := func(employer, _ []any) {
		for i := 64; i < 128; i++ {
			employer[i] = nil
		}
	}
	plainBlank := rowDigestsOf(t, payrollCols(t, false, blank), nil)
	if d := differing(plainBlank, rowDigestsOf(t, payrollCols(t, true, blank), nil)); len(d) != 0 {
		t.Errorf("dictionary encoding changed the digests of rows %v (a row group of nulls)", d)
	}
	units := rowDigestsOf(t, payrollCols(t, false, nil), func(e *Entry) {
		e.Units = map[string]string{"monthly_salary": "yuan"}
	})
	if d := differing(base, units); len(d) != 200 {
		t.Errorf("a unit setting changed the digests of %d rows, want all 200", len(d))
	}
}

// TestRowDigestsCSV: a CSV file's rows get digests through its Parquet
// conversion; editing one row changes that row's digest only.
func TestRowDigestsCSV(t *testing.T) {
	digests := func(rows [][]string) []uint64 {
		path := filepath.Join(t.TempDir(), "payroll.csv")
		writeCSV(t, path, []string{"person_id", "employer", "monthly_salary", "status"}, rows, false)
		m, e := testEntry(KindPayroll, path)
		r := mustOpen(t, m, e)
		var out []uint64
		for _, c := range r.Chunks() {
			d, err := r.RowDigests(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d...)
		}
		return out
	}
	var rows [][]string
	for i := 0; i < 50; i++ {
		rows = append(rows, []string{testID(t, i), fmt.Sprintf("单位%d", i%4), fmt.Sprint(1000 + i), "active"})
	}
	a := digests(rows)
	rows[17][2] = "1234.5"
	b := digests(rows)
	if d := differing(a, b); fmt.Sprint(d) != "[17]" || len(a) != 50 {
		t.Errorf("rows %v of %d changed digest, want [17]", d, len(a))
	}
}

// benchPensionRow is a pension export's layout (as synth writes it).
type benchPensionRow struct {
	PersonID         string `parquet:"person_id"`
	Scheme           string `parquet:"scheme,dict"`
	State            string `parquet:"state,dict"`
	MonthlyAmount    string `parquet:"monthly_amount"`
	ContributionBase string `parquet:"contribution_base"`
	Period           string `parquet:"period,dict"`
}

// BenchmarkRowDigests compares, per row of a 1M-row pension file, what an
// update pays to find the changed rows (RowDigests) with what decoding every
// row costs (Decode). rows/s counts rows of the file.
func BenchmarkRowDigests(b *testing.B) {
	path := filepath.Join(b.TempDir(), "pension.parquet")
	ids := benchIDs(b, benchRows, false)
	rows := make([]benchPensionRow, benchRows)
	for i := range rows {
		rows[i] = benchPensionRow{ids[i], "employee", "receiving", fmt.Sprintf("%d.%02d", 1000+i%3000, i%100),
			fmt.Sprintf("%d.00", 3000+i%5000), "202610"}
	}
	writeBenchFile(b, path, rows)
	m, e := testEntry(KindPension, path)
	r, err := Open(context.Background(), m, e, ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	chunks := r.Chunks()
	b.Run("digests", func(b *testing.B) {
		var d []uint64
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range chunks {
				if d, err = r.RowDigests(c, d); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range chunks {
				if _, err := r.Decode(c, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
