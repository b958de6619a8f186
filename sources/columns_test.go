package sources

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources/personid"
)

// payrollReader writes cols as a payroll file in row groups of 64 rows and
// opens it.
func payrollReader(t *testing.T, cols []pqCol) *Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), "payroll.parquet")
	writePQ(t, path, cols, parquet.MaxRowsPerRowGroup(64))
	m, e := testEntry(KindPayroll, path)
	return mustOpen(t, m, e)
}

// TestColumnFingerprints: the same values written again give the same
// fingerprints and column hashes; a changed value changes the fingerprint of
// its column in its chunk only, and its column's hash in its row only; the
// column hashes mixed give RowDigests.
func TestColumnFingerprints(t *testing.T) {
	for _, dict := range []bool{false, true} {
		t.Run(fmt.Sprint("dict=", dict), func(t *testing.T) {
			a := payrollReader(t, payrollCols(t, dict, nil))
			b := payrollReader(t, payrollCols(t, dict, nil))
			c := payrollReader(t, payrollCols(t, dict, func(employer, salary []any) {
				employer[70] = "另一单位" // chunk 1, column 1
				salary[3] = nil       // chunk 0, column 2
			}))
			type change struct{ chunk, col int }
			var changed []change
			for i, ch := range a.Chunks() {
				fa, err := a.ColumnFingerprints(ch, nil)
				if err != nil {
					t.Fatal(err)
				}
				fb, _ := b.ColumnFingerprints(b.Chunks()[i], nil)
				fc, _ := c.ColumnFingerprints(c.Chunks()[i], nil)
				if len(fa) != a.Columns() || !slices.Equal(fa, fb) || slices.Contains(fa, 0) {
					t.Fatalf("chunk %d: fingerprints %x and %x of the same values", i, fa, fb)
				}
				for pi := range fa {
					if fa[pi] != fc[pi] {
						changed = append(changed, change{i, pi})
					}
				}
				cols := make([][]uint64, a.Columns())
				mixed, err := a.ColumnDigests(ch, nil, cols)
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := a.RowDigests(ch, nil)
				if !slices.Equal(mixed, plain) {
					t.Fatalf("chunk %d: ColumnDigests and RowDigests differ", i)
				}
				for pi := range cols {
					h, err := c.ColumnHashes(c.Chunks()[i], pi, nil)
					if err != nil {
						t.Fatal(err)
					}
					d := differing(cols[pi], h)
					want := map[change]string{{1, 1}: "[6]", {0, 2}: "[3]"}[change{i, pi}]
					if want == "" {
						want = "[]"
					}
					if fmt.Sprint(d) != want {
						t.Errorf("chunk %d column %d: rows %v changed hash, want %s", i, pi, d, want)
					}
				}
			}
			if fmt.Sprint(changed) != "[{0 2} {1 1}]" {
				t.Errorf("fingerprints changed at %v, want [{0 2} {1 1}]", changed)
			}
		})
	}
}

// TestKeysAtAndPin: KeysAt gives Keys' answers at the rows asked, and a
// pinned chunk reads the same keys, hashes and records as an unpinned one,
// before and after it is released.
func TestKeysAtAndPin(t *testing.T) {
	for _, dict := range []bool{false, true} {
		r := payrollReader(t, payrollCols(t, dict, func(employer, _ []any) { employer[1] = nil }))
		for _, c := range r.Chunks() {
			keys, err := r.Keys(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows := []int{0, 3, c.Rows - 1}
			at, err := r.KeysAt(c, rows, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := []any{keys[0], keys[3], keys[c.Rows-1]}; fmt.Sprint(at) != fmt.Sprint(want) {
				t.Fatalf("KeysAt %v = %v, want %v", rows, at, want)
			}
			if none, err := r.KeysAt(c, nil, nil); err != nil || len(none) != 0 {
				t.Fatalf("KeysAt of no rows: %v, %v", none, err)
			}
			if _, err := r.KeysAt(c, []int{3, 2}, nil); err == nil {
				t.Fatal("KeysAt took rows out of order")
			}
			plainRecs, _ := r.Decode(c, rows)
			plainHash, _ := r.RowDigests(c, nil)
			release, err := r.Pin(c)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second time from the kept pages
				pk, err1 := r.Keys(c, nil)
				ph, err2 := r.RowDigests(c, nil)
				pr, err3 := r.Decode(c, rows)
				if err1 != nil || err2 != nil || err3 != nil {
					t.Fatal(err1, err2, err3)
				}
				if !slices.Equal(pk, keys) || !slices.Equal(ph, plainHash) || render(pr) != render(plainRecs) {
					t.Fatalf("dict=%v chunk %d: a pinned chunk reads otherwise: keys %v hashes %v records %v", dict, c.Index, slices.Equal(pk, keys), slices.Equal(ph, plainHash), render(pr) == render(plainRecs))
				}
			}
			release()
			if again, _ := r.RowDigests(c, nil); !slices.Equal(again, plainHash) {
				t.Fatalf("dict=%v chunk %d: digests changed after release", dict, c.Index)
			}
		}
	}
}

// render prints records by value.
func render(recs []Record) string {
	var s string
	for _, r := range recs {
		s += fmt.Sprintf("%+v\n", r)
	}
	return s
}

// TestPinShared: a chunk pinned twice (two scans of one reader) and read
// from several goroutines keeps its pages until the last holder is done;
// every read matches an unpinned one.
func TestPinShared(t *testing.T) {
	r := payrollReader(t, payrollCols(t, true, nil))
	c := r.Chunks()[1]
	want, err := r.RowDigests(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for range 30 {
				release, err := r.Pin(c)
				if err != nil {
					errs <- err
					return
				}
				got, err := r.RowDigests(c, nil)
				if g%2 == 0 {
					release() // the other holders keep reading
				}
				if err == nil && !slices.Equal(got, want) {
					err = fmt.Errorf("goroutine %d read other digests", g)
				}
				if g%2 == 1 {
					release()
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeSomeRows: decoding a few rows of a chunk, or parsing their keys
// (a page visited at those rows only), or many of them (a full pass over the
// page) gives the rows a decode of the whole chunk gives, nulls, plain and
// dictionary pages alike.
func TestDecodeSomeRows(t *testing.T) {
	for _, dict := range []bool{false, true} {
		r := payrollReader(t, payrollCols(t, dict, nil))
		for _, c := range r.Chunks() {
			all, err := r.Decode(c, nil)
			if err != nil || len(all) != c.Rows {
				t.Fatalf("dict=%v chunk %d: %d records, %v", dict, c.Index, len(all), err)
			}
			keys, err := r.Keys(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			subsets := [][]int{{0}, {c.Rows - 1}}
			for i := range c.Rows {
				subsets = append(subsets, []int{i})
			}
			var every11, odd []int
			for i := 0; i < c.Rows; i++ {
				if i%11 == 3 {
					every11 = append(every11, i)
				}
				if i%2 == 1 {
					odd = append(odd, i)
				}
			}
			subsets = append(subsets, every11, odd)
			for _, rows := range subsets {
				got, err := r.Decode(c, rows)
				if err != nil {
					t.Fatalf("dict=%v chunk %d rows %v: %v", dict, c.Index, rows, err)
				}
				want := make([]Record, len(rows))
				var wantKeys []personid.Parsed
				for j, i := range rows {
					want[j] = all[i]
					wantKeys = append(wantKeys, keys[i])
				}
				if render(got) != render(want) {
					t.Fatalf("dict=%v chunk %d rows %v:\n%s\nwant\n%s", dict, c.Index, rows, render(got), render(want))
				}
				if at, err := r.KeysAt(c, rows, nil); err != nil || !slices.Equal(at, wantKeys) {
					t.Fatalf("dict=%v chunk %d: KeysAt %v = %v, %v; want %v", dict, c.Index, rows, at, err, wantKeys)
				}
			}
		}
	}
}

// TestDecodeKnown: told the keys Keys parses, and for some invalid IDs the
// PersonID Decode gives, DecodeKnown gives Decode's records for any rows,
// whether IDs are canonical, written otherwise (lower-case x, spaces),
// invalid or missing, and whether the key column is read for some rows or
// none.
func TestDecodeKnown(t *testing.T) {
	for _, dict := range []bool{false, true} {
		cols := payrollCols(t, dict, nil)
		ids := cols[0].vals
		ids[1] = "  " + ids[1].(string) + " "
		for i := 0; i < len(ids); i++ {
			if s := ids[i].(string); strings.HasSuffix(s, "X") && i > 1 {
				ids[i] = strings.ToLower(s)
				break
			}
		}
		ids[2] = "53010219900101123" // 17 digits: invalid
		ids[4] = nil
		ids[70] = "not an id"
		r := payrollReader(t, cols)
		for _, c := range r.Chunks() {
			parsed, err := r.Keys(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, rows := range [][]int{allRows(c.Rows), {0, 1, 3}, {2, 4, 5}, {2, 5}, {c.Rows - 1}, {}} {
				want, err := r.Decode(c, rows)
				if err != nil {
					t.Fatal(err)
				}
				ids := make([]KnownID, len(rows))
				for j, i := range rows {
					switch {
					case parsed[i].Reason == personid.ReasonNone:
						ids[j] = KnownID{Known: true, Key: parsed[i].Key}
					case i == 2: // told the invalid ID; the others are read
						ids[j] = KnownID{Known: true, PersonID: want[j].Base().PersonID}
					}
				}
				got, err := r.DecodeKnown(c, rows, ids)
				if err != nil {
					t.Fatal(err)
				}
				if render(got) != render(want) {
					t.Fatalf("dict=%v chunk %d rows %v: DecodeKnown gives\n%s\nDecode gives\n%s", dict, c.Index, rows, render(got), render(want))
				}
			}
			if _, err := r.DecodeKnown(c, []int{0, 1}, make([]KnownID, 1)); err == nil {
				t.Fatal("DecodeKnown took fewer IDs than rows")
			}
		}
	}
}

func allRows(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}
