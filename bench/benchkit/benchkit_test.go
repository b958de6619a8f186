package benchkit

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/hedui/hedui/sources"
)

// writeGB18030 writes text encoded as GB18030.
func writeGB18030(t *testing.T, path, text string) {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readStrings reads a Parquet file of optional strings into header and rows
// ("" for null).
func readStrings(t *testing.T, path string) (map[string][]string, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	fields := pf.Schema().Fields()
	rows := make([]parquet.Row, pf.NumRows())
	r := parquet.NewReader(f, pf.Schema())
	n, _ := r.ReadRows(rows)
	for _, row := range rows[:n] {
		for i, fl := range fields {
			v := row[i]
			s := ""
			if !v.IsNull() {
				s = string(v.ByteArray())
			}
			cols[fl.Name()] = append(cols[fl.Name()], s)
		}
	}
	return cols, n
}

func TestPrepareConvertsGB18030(t *testing.T) {
	dir := t.TempDir()
	writeGB18030(t, filepath.Join(dir, "sources", "re.csv"),
		"\ufeff权利人证件号码, 用途 ,建筑面积\n530102198503122171,住宅,88.5\n,商业,\n")
	manifest := "as_of: 2026-11-01\nroster: roster.csv\nsources:\n" +
		"  - kind: realestate\n    path: sources/re.csv\n    snapshot: 2026-10-20\n    encoding: gb18030\n" +
		"    columns: {owner_id: 权利人证件号码, usage: 用途, area_m2: 建筑面积}\n"
	path := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	// The roster CSV is UTF-8 (the default encoding).
	if err := os.WriteFile(filepath.Join(dir, "roster.csv"), []byte("household_id,person_id\nH1,530102198503122171\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	derived, err := Prepare(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if derived != filepath.Join(dir, DerivedName) {
		t.Fatalf("derived manifest at %s", derived)
	}
	m, err := sources.LoadManifest(derived)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Sources[0].Files[0], filepath.Join(dir, ConvertedDir, "sources", "re.parquet"); got != want {
		t.Errorf("realestate reads %s, want %s", got, want)
	}
	if m.Sources[0].Encoding != sources.EncodingUTF8 {
		t.Errorf("encoding %q kept", m.Sources[0].Encoding)
	}
	if m.Sources[0].Columns["usage"] != "用途" || m.Roster.Files[0] != filepath.Join(dir, ConvertedDir, "roster.parquet") {
		t.Errorf("mappings or roster path lost: %+v, roster %v", m.Sources[0].Columns, m.Roster.Files)
	}
	cols, n := readStrings(t, m.Sources[0].Files[0])
	if n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
	want := map[string][]string{"权利人证件号码": {"530102198503122171", ""}, "用途": {"住宅", "商业"}, "建筑面积": {"88.5", ""}}
	for name, vals := range want {
		if strings.Join(cols[name], "|") != strings.Join(vals, "|") {
			t.Errorf("column %s = %q, want %q (columns %v)", name, cols[name], vals, cols)
		}
	}
	// A second Prepare reuses the conversion.
	st1, _ := os.Stat(m.Sources[0].Files[0])
	if _, err := Prepare(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(m.Sources[0].Files[0])
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the conversion was redone although the CSV did not change")
	}
}

func TestConvertCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, enc, want string
	}{
		{"fields", "a,b\n1\n", "", "line 2: 1 fields, the header has 2"},
		{"duplicate", "a,a\n1,2\n", "", `column name "a" appears twice`},
		{"encoding", "a\n1\n", "latin1", `unknown encoding "latin1"`},
		{"invalid utf-8", "a\n\xff\n", "", `line 2, column "a"`},
		{"empty", "", "", "x.csv: empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ConvertCSV(context.Background(), strings.NewReader(tc.in), "x.csv", tc.enc, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzConvertCSV checks that conversion never panics and, when it succeeds,
// keeps as many rows as the CSV has records.
func FuzzConvertCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a\n\n", "\ufeffx,y\n\"q,\"\"\",\n", "a\n张三\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		if err := ConvertCSV(context.Background(), strings.NewReader(in), "f.csv", "", &out); err != nil {
			return
		}
		recs, err := csv.NewReader(strings.NewReader(in)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("converted input that encoding/csv rejects: %v", err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if pf.NumRows() != int64(len(recs)-1) {
			t.Fatalf("%d rows, the CSV has %d records after the header", pf.NumRows(), len(recs)-1)
		}
	})
}

func TestFlagsDiff(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("\ufeffhousehold_id,person_id,region_code,rule_id,rule_version,outcome,message\n"+
		"H1,530102198503122171,530102,vehicle.owned,1,ineligible,m\n"+
		"H1,,530102,income.excess,1,adjust,m\n"+
		"H2,,530102,member.deceased,1,adjust,m\n"), 0o644)
	os.WriteFile(b, []byte("household_id,person_id,rule_id,outcome\n"+
		"H1,,income.excess,adjust\n"+
		"H1,530102198503122171,vehicle.owned,review\n"), 0o644)
	fa, err := ReadFlagsCSV(a, Rules)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := ReadFlagsCSV(b, Rules)
	if err != nil {
		t.Fatal(err)
	}
	if fa.Len() != 2 {
		t.Errorf("read %d flags of the five rules, want 2 (member.deceased is not compared)", fa.Len())
	}
	d := Diff(fa, fb, "hedui", "duckdb")
	want := []string{
		"only in duckdb: H1 530102********2171 vehicle.owned review",
		"only in hedui: H1 530102********2171 vehicle.owned ineligible",
	}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(d, "\n"), strings.Join(want, "\n"))
	}
	if len(Diff(fa, fa, "a", "b")) != 0 {
		t.Error("a set differs from itself")
	}
}
