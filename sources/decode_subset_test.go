package sources

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestDecodeSubsetEqualsFullDecode: decoding only some rows (the probe's
// matches) gives exactly those rows of a full decode, for plain and
// dictionary-encoded text with nulls.
func TestDecodeSubsetEqualsFullDecode(t *testing.T) {
	header := []string{"person_id", "employer", "monthly_salary", "status"}
	var rows [][]string
	for i := 0; i < 300; i++ {
		employer := fmt.Sprintf("单位%03d", i)
		if i%7 == 0 {
			employer = ""
		}
		rows = append(rows, []string{testID(t, i), employer, fmt.Sprint(1000 + i), []string{"active", "left", "retired"}[i%3]})
	}
	for _, dict := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("payroll-%v.parquet", dict))
		writePQ(t, path, strCols(header, rows, dict))
		m, e := testEntry(KindPayroll, path)
		r := mustOpen(t, m, e)
		all := decodeAll(t, r)
		c := r.Chunks()[0]
		for _, want := range [][]int{{0}, {5, 6, 7, 8}, {1, 99, 100, 298, 299}, {299}} {
			got, err := r.Decode(c, want)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range want {
				if !reflect.DeepEqual(got[i], all[row]) {
					t.Errorf("dict=%v row %d: subset decode %+v, full decode %+v", dict, row, got[i], all[row])
				}
			}
		}
	}
}

// TestDecodeSubsetNamesTheBadRow: a bad value found while decoding a subset
// is reported with its own row number and raw value.
func TestDecodeSubsetNamesTheBadRow(t *testing.T) {
	header := []string{"person_id", "monthly_salary", "status"}
	var rows [][]string
	for i := 0; i < 200; i++ {
		status := "active"
		if i == 150 {
			status = "on-leave"
		}
		rows = append(rows, []string{testID(t, i), "1000", status})
	}
	path := filepath.Join(t.TempDir(), "payroll.parquet")
	writePQ(t, path, strCols(header, rows, false))
	m, e := testEntry(KindPayroll, path)
	r := mustOpen(t, m, e)
	c := r.Chunks()[0]
	if _, err := r.Decode(c, []int{3, 149}); err != nil {
		t.Fatalf("rows without the bad value: %v", err)
	}
	_, err := r.Decode(c, []int{3, 150, 160})
	wantErr(t, err, "payroll.parquet row 151", "status", `"on-leave"`)
}

// TestHashesOfFreeTextFromPages: the in-place hashing of a free-text column
// trims like the canonical conversion, for plain and dictionary pages.
func TestHashesOfFreeTextFromPages(t *testing.T) {
	header := []string{"person_id", "hukou_no", "relation_to_head", "status"}
	hukous := []string{"HK1", " HK1 ", "", "HK2\u3000", "HK2", "  "}
	var rows [][]string
	for i, h := range hukous {
		rows = append(rows, []string{testID(t, i), h, "head", "normal"})
	}
	want := []uint64{xxhash.Sum64String("HK1"), xxhash.Sum64String("HK1"), 0, xxhash.Sum64String("HK2"), xxhash.Sum64String("HK2"), 0}
	for _, dict := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("police-%v.parquet", dict))
		writePQ(t, path, strCols(header, rows, dict))
		m, e := testEntry(KindPolice, path)
		r := mustOpen(t, m, e)
		got, err := r.Hashes(r.Chunks()[0], "hukou_no", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("dict=%v: hashes %x, want %x", dict, got, want)
		}
	}
}

// TestDecodeOriginsReadsOnlyWhatWeakMatchingNeeds: the key, name, birth date
// and region come back; the kind's own columns are not read (a bad value
// there does not fail), and rows are those asked for.
func TestDecodeOriginsReadsOnlyWhatWeakMatchingNeeds(t *testing.T) {
	header := []string{"owner_id", "name", "birth_date", "region_code", "plate_no", "vehicle_type", "status", "price"}
	rows := [][]string{
		{testID(t, 1), "张三", "1980-02-02", "530102", "云A1", "K33", "normal", "90000"},
		{"bad-id", "李 四", "1972-05-06", "530103", "云A2", "K33", "not-a-status", "oops"},
		{testID(t, 3), "王五", "1990-04-04", "530111", "云A3", "K33", "normal", "1"},
	}
	path := filepath.Join(t.TempDir(), "vehicle.parquet")
	writePQ(t, path, strCols(header, rows, false))
	m, e := testEntry(KindVehicle, path)
	r := mustOpen(t, m, e)
	recs, err := r.DecodeOrigins(r.Chunks()[0], []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	v := recs[0].(*Vehicle)
	if v.PersonID != "bad-id" || v.Name != "李 四" || v.BirthDate != day("1972-05-06") || v.Region != "530103" || v.Row != 2 {
		t.Errorf("origin of row 2: %+v", v.Origin)
	}
	if v.PlateNo != "" || v.Status != "" || v.Price != 0 {
		t.Errorf("DecodeOrigins read the kind's own columns: %+v", v)
	}
	if w := recs[1].(*Vehicle); w.Key == 0 || w.Name != "王五" || w.Row != 3 {
		t.Errorf("origin of row 3: %+v", w.Origin)
	}
}
