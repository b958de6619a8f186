package sources

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/hedui/hedui/sources/personid"
)

// pqCol is one column of a test Parquet file: values are nil (null) or a Go
// value parquet.ValueOf understands for the node's physical type.
type pqCol struct {
	name string
	node parquet.Node
	vals []any
}

// writePQ writes a Parquet file with the given columns.
func writePQ(t testing.TB, path string, cols []pqCol, opts ...parquet.WriterOption) {
	t.Helper()
	group := parquet.Group{}
	for _, c := range cols {
		group[c.name] = c.node
	}
	schema := parquet.NewSchema("test", group)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, append([]parquet.WriterOption{schema}, opts...)...)
	n := 0
	if len(cols) > 0 {
		n = len(cols[0].vals)
	}
	rows := make([]parquet.Row, n)
	for r := range rows {
		rows[r] = make(parquet.Row, len(cols))
	}
	for _, c := range cols {
		lc, ok := schema.Lookup(c.name)
		if !ok {
			t.Fatalf("column %s not in schema", c.name)
		}
		for r := 0; r < n; r++ {
			v := c.vals[r]
			switch {
			case v == nil:
				rows[r][lc.ColumnIndex] = parquet.NullValue().Level(0, 0, lc.ColumnIndex)
			default:
				def := 0
				if c.node.Optional() {
					def = 1
				}
				var pv parquet.Value
				if b, ok := v.([]byte); ok && c.node.Type().Kind() == parquet.FixedLenByteArray {
					pv = parquet.FixedLenByteArrayValue(b)
				} else {
					pv = parquet.ValueOf(v)
				}
				rows[r][lc.ColumnIndex] = pv.Level(0, def, lc.ColumnIndex)
			}
		}
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// strCols makes all-string optional columns from a header and rows of text
// ("" is null).
func strCols(header []string, rows [][]string, dict bool) []pqCol {
	cols := make([]pqCol, len(header))
	for i, h := range header {
		node := parquet.Node(parquet.String())
		if dict {
			node = parquet.Encoded(node, &parquet.RLEDictionary)
		}
		cols[i] = pqCol{name: h, node: parquet.Optional(node)}
		for _, r := range rows {
			if r[i] == "" {
				cols[i].vals = append(cols[i].vals, nil)
			} else {
				cols[i].vals = append(cols[i].vals, r[i])
			}
		}
	}
	return cols
}

// writeCSV writes header and rows as CSV, in gb18030 when asked, with a
// UTF-8 byte-order mark otherwise (as Excel writes).
func writeCSV(t testing.TB, path string, header []string, rows [][]string, gb bool) {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows)
	data := []byte("\ufeff" + b.String())
	if gb {
		var err error
		data, err = simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testID returns the canonical ID of test person i (valid, born 1980s).
func testID(t testing.TB, i int) string {
	t.Helper()
	k, err := personid.New(530102, 1980+i%20, 1+i%12, 1+i%28, 1+i%999)
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

var testSnapshot = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// testEntry builds a manifest and entry over files.
func testEntry(kind Kind, files ...string) (*Manifest, *Entry) {
	e := &Entry{Kind: kind, Path: filepath.Base(files[0]), Files: files, Snapshot: testSnapshot, Line: 7}
	m := &Manifest{Path: "sources.yaml", Dir: filepath.Dir(files[0]), AsOf: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if kind == KindRoster {
		m.Roster = e
	} else {
		m.Sources = []*Entry{e}
	}
	return m, e
}

func mustOpen(t testing.TB, m *Manifest, e *Entry) *Reader {
	t.Helper()
	r, err := Open(context.Background(), m, e, ReadOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// decodeAll decodes every row of every chunk.
func decodeAll(t testing.TB, r *Reader) []Record {
	t.Helper()
	var out []Record
	for _, c := range r.Chunks() {
		recs, err := r.Decode(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantErr fails unless err is non-nil and contains every part.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}
