package synth

// Test-side reader and ID validator, written independently of the
// generator: they read the files as an engine would (manifest mappings,
// units, formats, codes, GB18030) and never look at in-memory state.

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/parquet-go/parquet-go"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

type testManifest struct {
	AsOf    string       `yaml:"as_of"`
	Roster  string       `yaml:"roster"`
	Sources []testSource `yaml:"sources"`
}

type testSource struct {
	Kind     string                       `yaml:"kind"`
	Path     string                       `yaml:"path"`
	Snapshot string                       `yaml:"snapshot"`
	Columns  map[string]string            `yaml:"columns"`
	Formats  map[string]string            `yaml:"formats"`
	Units    map[string]string            `yaml:"units"`
	Values   map[string]map[string]string `yaml:"values"`
	Encoding string                       `yaml:"encoding"`
}

func readManifest(t *testing.T, dir string) testManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m testManifest
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("sources.yaml: %v", err)
	}
	return m
}

// rawRow is one file row: raw column name → value as text (DATE columns
// as ISO dates, null as "").
type rawRow map[string]string

func readParquet(t *testing.T, path string) []rawRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	fields := pf.Schema().Fields()
	var out []rawRow
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 512)
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				row := rawRow{}
				for _, v := range r {
					fd := fields[v.Column()]
					row[fd.Name()] = valueText(fd, v)
				}
				out = append(out, row)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		rows.Close()
	}
	return out
}

func valueText(fd parquet.Field, v parquet.Value) string {
	if v.IsNull() {
		return ""
	}
	if lt := fd.Type().LogicalType(); lt != nil && lt.String() == "DATE" {
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02")
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		return strconv.Itoa(int(v.Int32()))
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'f', -1, 64)
	}
	return string(v.ByteArray())
}

func readGBCSV(t *testing.T, path string) []rawRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(transform.NewReader(f, simplifiedchinese.GB18030.NewDecoder()))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []rawRow
	for _, rec := range recs[1:] {
		row := rawRow{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// canon is one row in canonical names and values.
type canon map[string]string

// readSource reads every file of a manifest entry into canonical rows.
func readSource(t *testing.T, dir string, s testSource) []canon {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, s.Path))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no files for %s (%v)", s.Kind, s.Path, err)
	}
	slices.Sort(files)
	rawName := map[string]string{} // raw → canonical
	for c, r := range s.Columns {
		rawName[r] = c
	}
	var out []canon
	for _, f := range files {
		var rows []rawRow
		if strings.HasSuffix(f, ".csv") {
			if s.Encoding != "gb18030" {
				t.Fatalf("%s: csv without gb18030 encoding", f)
			}
			rows = readGBCSV(t, f)
		} else {
			rows = readParquet(t, f)
		}
		for _, r := range rows {
			c := canon{}
			for k, v := range r {
				name := k
				if cn, ok := rawName[k]; ok {
					name = cn
				}
				if m, ok := s.Values[name]; ok && v != "" {
					cv, ok := m[v]
					if !ok {
						t.Fatalf("%s: value %q of %s not in the manifest's values", f, v, name)
					}
					v = cv
				}
				if layout, ok := s.Formats[name]; ok && v != "" {
					d, err := time.Parse(strftimeToGo(layout), v)
					if err != nil {
						t.Fatalf("%s: %s %q: %v", f, name, v, err)
					}
					v = d.Format("2006-01-02")
				}
				if unit, ok := s.Units[name]; ok && v != "" {
					x, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("%s: %s %q: %v", f, name, v, err)
					}
					switch unit {
					case "fen":
						x /= 100
					case "wan":
						x *= 10000
					}
					v = strconv.FormatFloat(x, 'f', -1, 64)
				}
				c[name] = v
			}
			out = append(out, c)
		}
	}
	return out
}

func strftimeToGo(s string) string {
	return strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02").Replace(s)
}

func (c canon) f(name string) float64 {
	if c[name] == "" {
		return 0
	}
	x, err := strconv.ParseFloat(c[name], 64)
	if err != nil {
		panic(fmt.Sprintf("%s %q: %v", name, c[name], err))
	}
	return x
}

func (c canon) d(name string) time.Time {
	if c[name] == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", c[name])
	if err != nil {
		panic(err)
	}
	return t
}

var testProvinces = map[string]bool{}

func init() {
	for _, p := range strings.Fields("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82") {
		testProvinces[p] = true
	}
}

// testParseID validates a raw value per GB 11643 with the reason order
// empty → characters/length → address → birth_date → checksum, and returns
// the canonical 18-character number.
func testParseID(raw string) (string, string) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '０' && r <= '９':
			b.WriteRune(r - '０' + '0')
		case r == 'x' || r == 'ｘ' || r == 'Ｘ':
			b.WriteByte('X')
		case r == ' ' || r == '-' || r == '\u3000' || unicode.IsSpace(r):
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" {
		return "", "empty"
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9') && !(r == 'X' && i == len(s)-1 && len(s) == 18) {
			return "", "characters"
		}
	}
	if len(s) != 15 && len(s) != 18 {
		return "", "length"
	}
	if !testProvinces[s[:2]] {
		return "", "address"
	}
	var date string
	if len(s) == 15 {
		date = "19" + s[6:12]
	} else {
		date = s[6:14]
	}
	d, err := time.Parse("20060102", date)
	if err != nil || d.Year() < 1890 || d.Year() > 2099 {
		return "", "birth_date"
	}
	if len(s) == 15 {
		d17 := s[:6] + "19" + s[6:]
		sum := 0
		for i := 0; i < 17; i++ {
			sum += int(d17[i]-'0') * []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}[i]
		}
		return d17 + string("10X98765432"[sum%11]), ""
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}[i]
	}
	if "10X98765432"[sum%11] != s[17] {
		return "", "checksum"
	}
	return s, ""
}

func TestParseIDSelf(t *testing.T) {
	for _, tc := range []struct{ raw, id, reason string }{
		{"11010519491231002X", "11010519491231002X", ""},
		{"11010519491231002x", "11010519491231002X", ""},
		{"110105491231002", "11010519491231002X", ""},
		{"１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", ""},
		{" 110105-19491231-002X ", "11010519491231002X", ""},
		{"110105194912310021", "", "checksum"},
		{"", "", "empty"},
		{"1101051949123100", "", "length"},
		{"1101051949A231002X", "", "characters"},
		{"990105194912310025", "", "address"},
		{"110105194913310023", "", "birth_date"},
	} {
		id, reason := testParseID(tc.raw)
		if id != tc.id || reason != tc.reason {
			t.Errorf("testParseID(%q) = %q, %q; want %q, %q", tc.raw, id, reason, tc.id, tc.reason)
		}
	}
}
