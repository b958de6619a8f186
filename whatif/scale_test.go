package whatif

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/review"
)

// genCopies writes 3 copies of the test region, once per test binary, in
// row groups of 700 rows and pages of about 8 KiB, so that reading by row
// group and skipping facts_bin pages are exercised.
var genCopies = sync.OnceValues(func() (string, error) {
	src, err := genRun()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(filepath.Dir(src), "run3")
	return dst, replicateRunLayout(context.Background(), src, dst, 3, 700, 8<<10)
})

func copiesRun(t *testing.T, workers int) *Run {
	t.Helper()
	dir, err := genCopies()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ReadFactsWorkers(context.Background(), workers); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCopiesLayout: the file the tests below read has several row groups
// and several facts_bin pages per row group.
func TestCopiesLayout(t *testing.T) {
	dir, err := genCopies()
	if err != nil {
		t.Fatal(err)
	}
	f, err := openPQ(filepath.Join(dir, "households.parquet"), "facts_bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if n := len(f.groups) - 1; n < 4 {
		t.Fatalf("%d row groups; want several", n)
	}
	cc := f.pf.RowGroups()[0].ColumnChunks()[f.leaf["facts_bin"]]
	if starts := pageStarts(cc, f.groups[1]); len(starts) < 4 {
		t.Fatalf("facts_bin pages of row group 1 start at %v; want several pages", starts)
	}
}

// TestWorkersGiveIdenticalBytes: reading by row group and evaluating on 1
// or 2 workers gives the same rows, flags and output files, byte for byte.
func TestWorkersGiveIdenticalBytes(t *testing.T) {
	var outs []string
	var runs []*Run
	for _, w := range []int{1, 2} {
		r := copiesRun(t, w)
		runs = append(runs, r)
		opts := Options{Workers: w}
		sc, err := r.Evaluate(context.Background(), settings(t, "dibao_standard@rural=6000", "vehicle_exempt_price=20000"), opts)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := ParseSweep("dibao_standard@rural=4500:7500:1000")
		if err != nil {
			t.Fatal(err)
		}
		steps, err := r.Sweep(context.Background(), nil, sw, opts)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "wi")
		if err := Write(out, &Report{Run: r, Scenario: sc, Sweep: &sw, Steps: steps}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	if !slices.EqualFunc(runs[0].Rows, runs[1].Rows, func(a, b review.HouseholdRow) bool { return reflect.DeepEqual(a, b) }) {
		t.Error("households.parquet rows differ between 1 and 2 workers")
	}
	if !slices.EqualFunc(runs[0].Before, runs[1].Before, slices.Equal) {
		t.Error("flags differ between 1 and 2 workers")
	}
	for _, name := range []string{"whatif.csv", "whatif.json", "whatif.html", "sweep.csv"} {
		a, err := os.ReadFile(filepath.Join(outs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(outs[1], name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between 1 and 2 workers", name)
		}
	}
}

// TestCopiesNarrowedEqualsFull: on many row groups and pages, an unchanged
// what-if changes nothing, and narrowed and full evaluations agree.
func TestCopiesNarrowedEqualsFull(t *testing.T) {
	r := copiesRun(t, 2)
	sc, err := r.Evaluate(context.Background(), nil, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Evaluated != len(r.Rows) || len(sc.Changes) != 0 {
		t.Fatalf("unchanged what-if: %d of %d rows evaluated, %d changes", sc.Evaluated, len(r.Rows), len(sc.Changes))
	}
	set := settings(t, "dibao_standard@rural=6000", "assets_months@urban=6")
	narrow, err := r.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	full, err := r.Evaluate(context.Background(), set, Options{Workers: 2, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(narrow.Changes) == 0 || !slices.Equal(narrow.Changes, full.Changes) || narrow.Total != full.Total {
		t.Errorf("narrowed %d changes %+v; full %d changes %+v", len(narrow.Changes), narrow.Total, len(full.Changes), full.Total)
	}
	if narrow.Evaluated >= full.Evaluated {
		t.Errorf("narrowed evaluation re-evaluated %d rows, full %d", narrow.Evaluated, full.Evaluated)
	}
}

// TestRegionSettingOnlyThatRegion: a value for one prefecture (the first
// copy's, 5301) re-evaluates and changes only that prefecture's households:
// exactly what the same setting does on the region alone, whose ids the
// first copy keeps.
func TestRegionSettingOnlyThatRegion(t *testing.T) {
	one, three := loadRun(t), copiesRun(t, 2)
	set := settings(t, "dibao_standard@5301=9000")
	a, err := one.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := three.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Changes) == 0 {
		t.Fatal("dibao_standard@5301=9000 changes nothing on the region: choose a setting that does")
	}
	if b.Evaluated != a.Evaluated {
		t.Errorf("3 copies: %d rows re-evaluated; the region alone (the only one in 5301): %d", b.Evaluated, a.Evaluated)
	}
	strip := func(cs []Change) []Change {
		out := slices.Clone(cs)
		for i := range out {
			if !strings.HasPrefix(out[i].Region, "5301") {
				t.Errorf("change outside 5301: %+v", out[i])
			}
			out[i].Household = 0 // candidates lie at other row numbers in the copies
		}
		return out
	}
	if !slices.Equal(strip(a.Changes), strip(b.Changes)) {
		t.Errorf("3 copies: %d changes; the region alone: %d", len(b.Changes), len(a.Changes))
	}
	for c := range b.ByCounty {
		if !strings.HasPrefix(c, "5301") && (b.ByCounty[c].Changes != Changes{} || b.ByCounty[c].EligibleAfter != b.ByCounty[c].EligibleBefore) {
			t.Errorf("county %s outside 5301 changed: %+v", c, b.ByCounty[c])
		}
	}
}

// TestFlagsInAnotherOrder: flags.parquet in another order than the
// households (matched through a map) gives the same flags per row.
func TestFlagsInAnotherOrder(t *testing.T) {
	src, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"summary.json", "quality.json", "households.parquet", "rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flags, err := parquet.ReadFile[review.FlagRow](filepath.Join(src, "flags.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(flags)
	if err := writeRows(filepath.Join(dir, "flags.parquet"), flags); err != nil {
		t.Fatal(err)
	}
	want, got := loadRun(t), mustLoad(t, dir)
	n := 0
	for i := range want.Before {
		w, g := slices.Clone(want.Before[i]), slices.Clone(got.Before[i])
		slices.Reverse(g)
		n += len(w)
		if !slices.Equal(w, g) {
			t.Fatalf("row %d: flags %v; in order %v", i+1, g, w)
		}
	}
	if n != len(flags) || n == 0 {
		t.Fatalf("%d flags filed; flags.parquet has %d", n, len(flags))
	}
}

// TestFactsOneRow: Facts reads one row's page alone and gives what reading
// every row gives, in any row group.
func TestFactsOneRow(t *testing.T) {
	one, all := copiesRun(t, 1), copiesRun(t, 2)
	if err := all.DecodeAll(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 699, 700, 1403, len(one.Rows) / 2, len(one.Rows) - 1} {
		h, err := one.Facts(i)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := all.Facts(i)
		if !reflect.DeepEqual(h, want) || h.ID != one.Rows[i].HouseholdID {
			t.Errorf("row %d: Facts gives household %q; reading all gives %q", i+1, h.ID, want.ID)
		}
	}
}

// dictRow is review.HouseholdRow with every text column dictionary-encoded,
// as another writer might store it.
type dictRow struct {
	HouseholdID     string  `parquet:"household_id,dict"`
	PersonID        string  `parquet:"person_id,dict"`
	RegionCode      string  `parquet:"region_code,dict"`
	Area            string  `parquet:"area,dict"`
	Assistance      string  `parquet:"assistance,dict"`
	Status          string  `parquet:"status,dict"`
	Members         int32   `parquet:"members"`
	MonthlyBenefit  float64 `parquet:"monthly_benefit"`
	Candidate       bool    `parquet:"candidate"`
	Flags           int32   `parquet:"flags"`
	PerCapitaIncome float64 `parquet:"per_capita_income"`
	MonthlyStandard float64 `parquet:"monthly_standard"`
	FactsBin        []byte  `parquet:"facts_bin,dict"`
}

// TestDictionaryEncodedRun: a households.parquet whose text columns are
// dictionary-encoded (read value by value, not from plain page data) gives
// the same rows and the same what-if.
func TestDictionaryEncodedRun(t *testing.T) {
	src, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"summary.json", "quality.json", "flags.parquet", "rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := parquet.ReadFile[review.HouseholdRow](filepath.Join(src, "households.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]dictRow, len(rows))
	for i, h := range rows {
		out[i] = dictRow(h)
	}
	path := filepath.Join(dir, "households.parquet")
	if err := writeRows(path, out); err != nil {
		t.Fatal(err)
	}
	f, err := openPQ(path, "region_code")
	if err != nil {
		t.Fatal(err)
	}
	dictPages := 0
	f.pages(0, "region_code", func(p parquet.Page, row int) (int, error) {
		if p.Dictionary() != nil {
			dictPages++
		}
		return row + int(p.NumRows()), nil
	})
	f.close()
	if dictPages == 0 {
		t.Fatal("region_code has no dictionary-encoded page: the test does not cover them")
	}
	want, got := loadRun(t), mustLoad(t, dir)
	if !reflect.DeepEqual(want.Rows, got.Rows) || !reflect.DeepEqual(want.Before, got.Before) {
		t.Fatal("rows or flags differ when text columns are dictionary-encoded")
	}
	set := settings(t, "dibao_standard@rural=6000")
	a, err := want.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := got.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Changes) == 0 || !slices.Equal(a.Changes, b.Changes) || a.Total != b.Total {
		t.Errorf("dictionary-encoded: %d changes %+v; plain: %d changes %+v", len(b.Changes), b.Total, len(a.Changes), a.Total)
	}
}
