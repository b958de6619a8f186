package sources

import (
	"context"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// TestExternalWriters reads files written by Impala, parquet-mr and HVR
// (testdata/external) and checks every scalar column against parquet-go's
// own row reader, and known values.
func TestExternalWriters(t *testing.T) {
	files, _ := filepath.Glob("testdata/external/*.parquet")
	if len(files) < 8 {
		t.Fatalf("testdata/external holds %d files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			osf, pf, err := openParquet(path)
			if err != nil {
				t.Fatal(err)
			}
			defer osf.Close()
			f := &pqFile{path: path, osf: osf, pf: pf}
			want := referenceColumns(t, pf)
			for _, col := range pf.Root().Columns() {
				if !col.Leaf() {
					continue
				}
				rc, err := classify(col)
				if err != nil {
					t.Fatal(err)
				}
				for rg, group := range pf.RowGroups() {
					d, err := f.loadColumn(rg, &rc, int(group.NumRows()), nil)
					if err != nil {
						t.Fatalf("%s: %v", col.Name(), err)
					}
					for i, v := range want[rg][col.Index()] {
						if got := d.rawText(i, &rc); d.null[i] != v.IsNull() || !v.IsNull() && !sameValue(d, i, &rc, v) {
							t.Errorf("%s row %d: got %q (null %v), want %v", col.Name(), i, got, d.null[i], v)
						}
					}
				}
			}
		})
	}
}

// referenceColumns reads every value through parquet-go's row reader:
// [row group][leaf column][row].
func referenceColumns(t *testing.T, pf *parquet.File) [][][]parquet.Value {
	var out [][][]parquet.Value
	for _, rg := range pf.RowGroups() {
		cols := make([][]parquet.Value, len(pf.Schema().Columns()))
		rows := rg.Rows()
		buf := make([]parquet.Row, 16)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				seen := map[int]bool{}
				for _, v := range row {
					if c := v.Column(); !seen[c] { // first value of repeated columns
						seen[c] = true
						cols[c] = append(cols[c], v.Clone())
					}
				}
			}
			if err != nil {
				break
			}
		}
		rows.Close()
		out = append(out, cols)
	}
	return out
}

func sameValue(d *colData, i int, rc *rawCol, v parquet.Value) bool {
	switch {
	case d.spans != nil:
		return string(d.text(i)) == string(v.ByteArray())
	case d.flt != nil:
		if rc.phys == parquet.Float {
			return d.flt[i] == float64(v.Float())
		}
		return d.flt[i] == v.Double()
	}
	return d.num[i] == numOf(v, rc.phys)
}

// TestExternalValues checks converted values of the external files.
func TestExternalValues(t *testing.T) {
	amount := &colPlan{col: Column{Name: "balance", Type: TypeFloat, Amount: true}}
	for _, name := range []string{"int32_decimal", "int64_decimal", "fixed_length_decimal", "byte_array_decimal"} {
		t.Run(name, func(t *testing.T) {
			osf, pf, err := openParquet("testdata/external/" + name + ".parquet")
			if err != nil {
				t.Fatal(err)
			}
			defer osf.Close()
			f := &pqFile{osf: osf, pf: pf}
			rc, err := classify(pf.Root().Column("value"))
			if err != nil || rc.kind != rawDecimal || rc.scale != 2 {
				t.Fatalf("classify: %+v %v", rc, err)
			}
			d, err := f.loadColumn(0, &rc, 24, nil)
			if err != nil {
				t.Fatal(err)
			}
			cv := newConverter(amount, &rc, d)
			for i := range 24 {
				c, err := cv.cell(i)
				if err != nil || c.f != float64(i+1) {
					t.Errorf("row %d: %v %v, want %d", i, c.f, err, i+1)
				}
			}
		})
	}

	// Impala's alltypes as a medical source: string IDs (all invalid), a
	// text date with a two-digit year, INT64 fen, FLOAT yuan, INT96.
	for _, name := range []string{"alltypes_plain", "alltypes_dictionary"} {
		t.Run(name, func(t *testing.T) {
			path := "testdata/external/" + name + ".parquet"
			m, e := testEntry(KindMedical, path)
			e.Columns = map[string]string{"person_id": "string_col", "settle_date": "date_string_col",
				"total_cost": "bigint_col", "self_paid": "float_col", "name": "id", "birth_date": "timestamp_col"}
			e.Formats = map[string]string{"settle_date": "%m/%d/%y"}
			e.Units = map[string]string{"total_cost": "fen"}
			r, err := Open(context.Background(), m, e, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			recs := decodeAll(t, r)
			ids := []string{"4", "5", "6", "7", "2", "3", "0", "1"}
			dates := []string{"2009-03-01", "2009-03-01", "2009-04-01", "2009-04-01", "2009-02-01", "2009-02-01", "2009-01-01", "2009-01-01"}
			for i, rec := range recs {
				got := rec.(*Medical)
				odd := i%2 == 1
				if name == "alltypes_dictionary" {
					ids, dates = []string{"0", "1"}, []string{"2009-01-01", "2009-01-01"}
				}
				want := Medical{Origin: Origin{PersonID: map[bool]string{false: "0", true: "1"}[odd], Name: ids[i],
					BirthDate: day(dates[i]), Kind: KindMedical, File: filepath.Base(path), Row: int64(i + 1), Snapshot: testSnapshot},
					SettleDate: day(dates[i])}
				if odd {
					want.TotalCost, want.SelfPaid = 0.1, 1.1
				}
				if !reflect.DeepEqual(*got, want) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i+1, *got, want)
				}
			}
			if len(recs) == 0 {
				t.Fatal("no rows")
			}
		})
	}
}

func TestDecimalText(t *testing.T) {
	for _, tc := range []struct {
		v     int64
		scale int
		want  string
	}{{12345, 2, "123.45"}, {-5, 2, "-0.05"}, {7, 0, "7"}, {100, 3, "0.100"}, {-123, 1, "-12.3"}} {
		if got := decimalText(big.NewInt(tc.v), tc.scale); got != tc.want {
			t.Errorf("decimalText(%d, %d) = %q, want %q", tc.v, tc.scale, got, tc.want)
		}
	}
}

func TestTimestampDate(t *testing.T) {
	kunmingMidnight := time.Date(2025, 6, 1, 0, 0, 0, 0, chinaTime)
	if got := timestampDate(kunmingMidnight.UnixMilli(), unitMillis, true); !got.Equal(day("2025-06-01")) {
		t.Errorf("UTC instant: %v", got)
	}
	wall := time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC)
	if got := timestampDate(wall.UnixMicro(), unitMicros, false); !got.Equal(day("2025-06-01")) {
		t.Errorf("wall clock: %v", got)
	}
}
