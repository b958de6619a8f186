package sources

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const manifestDir = "testdata/manifest"

func TestLoadManifestGood(t *testing.T) {
	m, err := LoadManifest(filepath.Join(manifestDir, "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data := func(p string) string { return filepath.Join(manifestDir, "data", p) }
	if m.Path != filepath.Join(manifestDir, "good.yaml") || m.Dir != manifestDir {
		t.Errorf("Path %q Dir %q", m.Path, m.Dir)
	}
	if !m.AsOf.Equal(date(2026, 11, 1)) {
		t.Errorf("AsOf %v", m.AsOf)
	}
	wantRoster := &Entry{Kind: KindRoster, Path: "data/roster.parquet", Files: []string{data("roster.parquet")},
		Snapshot: date(2026, 11, 1), Encoding: EncodingUTF8, Line: 3}
	if !reflect.DeepEqual(m.Roster, wantRoster) {
		t.Errorf("roster\n got %+v\nwant %+v", m.Roster, wantRoster)
	}
	want := []*Entry{{
		Kind: KindVehicle, Path: "data/vehicles/*.parquet",
		Files:    []string{data("vehicles/5301.parquet"), data("vehicles/5302.parquet")},
		Snapshot: date(2026, 10, 28),
		Columns:  map[string]string{"owner_id": "身份证号码", "plate_no": "号牌号码"},
		Formats:  map[string]string{"register_date": "%Y%m%d"},
		Units:    map[string]string{"price": "fen"},
		Values:   map[string]map[string]string{"status": {"A": "normal", "E": "scrapped", "": "normal"}},
		Encoding: EncodingUTF8, Line: 5,
	}, {
		Kind: KindPolice, Path: "data/police.csv", Files: []string{data("police.csv")},
		Snapshot: date(2026, 11, 1),
		Columns:  map[string]string{"person_id": "公民身份号码", "name": "姓名"},
		Formats:  map[string]string{"status_date": "%Y%m%d"},
		Values: map[string]map[string]string{
			"status":      {"0": "normal", "1": "deceased"},
			"gender":      {"男": "male", "女": "female"},
			"status_date": {"00000000": ""},
		},
		Encoding: EncodingGB18030, Line: 12,
	}, {
		Kind: KindCourt, Path: "data/court/*", Files: []string{data("court/2026.CSV")},
		Snapshot: date(2026, 10, 1), Encoding: EncodingUTF8, Line: 27,
	}, {
		Kind: KindPension, Path: "data/pension.parquet", Files: []string{data("pension.parquet")},
		Snapshot: date(2026, 9, 30),
		Units:    map[string]string{"monthly_amount": "yuan", "contribution_base": "wan"},
		Values:   map[string]map[string]string{"period": {"000000": ""}},
		Encoding: EncodingUTF8, Line: 31,
	}}
	if len(m.Sources) != len(want) {
		t.Fatalf("%d sources, want %d", len(m.Sources), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(m.Sources[i], want[i]) {
			t.Errorf("source %d\n got %+v\nwant %+v", i, m.Sources[i], want[i])
		}
	}
}

func TestLoadManifestRosterMapping(t *testing.T) {
	m, err := LoadManifest(filepath.Join(manifestDir, "good_roster_mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := m.Roster
	if r.Kind != KindRoster || r.Encoding != EncodingGB18030 || r.Line != 3 || !r.Snapshot.Equal(m.AsOf) {
		t.Errorf("roster %+v", r)
	}
	if r.Columns["household_id"] != "户编号" || r.Formats["since"] != "%Y/%-m/%-d" || r.Units["monthly_benefit"] != "fen" {
		t.Errorf("roster mappings %+v", r)
	}
	if r.Values["relation"]["配偶"] != "spouse" || r.Values["relative_filed"]["无"] != "false" {
		t.Errorf("roster values %v", r.Values)
	}
	if len(m.Sources) != 1 || m.Sources[0].Kind != KindDeposit || m.Sources[0].Line != 12 {
		t.Errorf("sources %+v", m.Sources)
	}
}

// wantMarker is an expected error written in a bad manifest as a comment on
// the offending line: want:COLUMN `text the message contains`.
var wantMarker = regexp.MustCompile("want:(\\d+) `([^`]*)`")

type wantedError struct {
	line, col int
	text      string
}

func wantedErrors(t *testing.T, path string) []wantedError {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []wantedError
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range wantMarker.FindAllStringSubmatch(line, -1) {
			col, _ := strconv.Atoi(m[1])
			out = append(out, wantedError{line: i + 1, col: col, text: m[2]})
		}
	}
	return out
}

func manifestErrors(t *testing.T, err error) []*ManifestError {
	t.Helper()
	var out []*ManifestError
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined error: %v", err, err)
	}
	for _, e := range joined.Unwrap() {
		var me *ManifestError
		if !errors.As(e, &me) {
			t.Fatalf("error %T is not a *ManifestError: %v", e, e)
		}
		out = append(out, me)
	}
	return out
}

// TestLoadManifestBad checks every bad manifest against the errors its
// comments announce: each announced error is reported at its line and
// column, and nothing else is reported.
func TestLoadManifestBad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(manifestDir, "bad_*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bad manifests: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			wants := wantedErrors(t, path)
			if len(wants) == 0 {
				t.Fatal("no want markers")
			}
			m, err := LoadManifest(path)
			if err == nil {
				t.Fatalf("no error; manifest %+v", m)
			}
			if m != nil {
				t.Errorf("a manifest returned with the error")
			}
			got := manifestErrors(t, err)
			used := make([]bool, len(got))
			for _, w := range wants {
				found := false
				for i, g := range got {
					if !used[i] && g.Line == w.line && g.Column == w.col && strings.Contains(g.Msg, w.text) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("missing error at %d:%d containing %q", w.line, w.col, w.text)
				}
			}
			for i, g := range got {
				if !used[i] {
					t.Errorf("unexpected error: %v", g)
				}
				if prefix := fmt.Sprintf("%s:%d:%d: ", path, g.Line, g.Column); !strings.HasPrefix(g.Error(), prefix) {
					t.Errorf("error %q does not start with %q", g.Error(), prefix)
				}
			}
		})
	}
}

func TestParseManifestExactMessage(t *testing.T) {
	src := `as_of: 2026-11-01
roster: data/roster.parquet
sources:
  - kind: vehicle
    path: data/vehicles/*.parquet
    snapshot: 2026-10-28
    colums: {owner_id: 身份证号码}
`
	_, err := ParseManifest([]byte(src), "sources.yaml", manifestDir)
	want := `sources.yaml:7:5: unknown key "colums" in source entry; allowed keys: kind, path, snapshot, columns, formats, units, values, encoding`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestParseManifestStructure(t *testing.T) {
	const tail = "roster: data/roster.parquet\nsources:\n  - {kind: police, path: data/police.csv, snapshot: 2026-10-01}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{"m.yaml:1: empty manifest; want keys as_of, roster and sources"}},
		{"comment only", "# nothing\n", []string{"m.yaml:1: empty manifest"}},
		{"list", "- a\n- b\n", []string{"m.yaml:1:1: the manifest must be a mapping with keys as_of, roster, sources; got a list"}},
		{"scalar", "hello\n", []string{`m.yaml:1:1: the manifest must be a mapping with keys as_of, roster, sources; got "hello"`}},
		{"syntax", "as_of: 2026-11-01\nroster: a\nsources: b: c\n", []string{"m.yaml:3: invalid YAML: mapping values are not allowed in this context"}},
		{"tab", "as_of: 2026-11-01\n\troster: a\n", []string{"m.yaml:2: invalid YAML: found a tab character"}},
		{"unknown anchor", "as_of: *x\n", []string{"m.yaml: invalid YAML: unknown anchor 'x' referenced"}},
		{"two documents", "as_of: 2026-11-01\n" + tail + "---\nas_of: 2026-11-02\n", []string{"m.yaml:5:1: a manifest is one YAML document; found a second one"}},
		{"sources empty", "as_of: 2026-11-01\nroster: data/roster.parquet\nsources: []\n", []string{"m.yaml:3:10: sources: the list is empty; want at least one entry"}},
		{"sources mapping", "as_of: 2026-11-01\nroster: data/roster.parquet\nsources: {kind: police}\n", []string{"m.yaml:3:10: sources: want a list of entries with kind, path and snapshot; got a mapping"}},
		{"sources null", "as_of: 2026-11-01\nroster: data/roster.parquet\nsources:\n", []string{"m.yaml:3:9: sources: want a list of entries with kind, path and snapshot; got nothing"}},
		{"roster null", "as_of: 2026-11-01\nroster: ~\nsources:\n  - {kind: police, path: data/police.csv, snapshot: 2026-10-01}\n",
			[]string{"m.yaml:2:9: roster: want a path or a mapping with keys path, columns, formats, units, values, encoding; got nothing"}},
		{"as_of timestamp", "as_of: 2026-11-01T00:00:00Z\n" + tail, []string{`m.yaml:1:8: as_of: date "2026-11-01T00:00:00Z" does not match layout "%Y-%m-%d": unexpected "T00:00:00Z"`}},
		{"as_of number", "as_of: 20261101\n" + tail, []string{`m.yaml:1:8: as_of: date "20261101" does not match layout "%Y-%m-%d"`}},
		{"as_of empty", "as_of: ''\n" + tail, []string{`m.yaml:1:8: as_of: want a non-empty string`}},
		{"bad as_of skips the snapshot check", "as_of: x\nroster: data/roster.parquet\nsources:\n  - {kind: police, path: data/police.csv, snapshot: 2099-10-01}\n",
			[]string{`m.yaml:1:8: as_of: date "x"`}},
		{"alias", "as_of: &d 2026-11-01\nroster: data/roster.parquet\nsources:\n  - {kind: police, path: data/police.csv, snapshot: *d}\n", nil},
		{"merge key", "as_of: 2026-11-01\nroster: data/roster.parquet\nsources:\n  - {<<: {kind: police}, path: data/police.csv, snapshot: 2026-10-01}\n",
			[]string{`m.yaml:4:6: unknown key "<<" in source entry`, `m.yaml:4:5: source entry: missing kind`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.src), "m.yaml", manifestDir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if m == nil || len(m.Sources) != 1 || !m.Sources[0].Snapshot.Equal(m.AsOf) {
					t.Fatalf("manifest %+v", m)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("errors:\n%v\nwant %d", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d\n got %s\nwant prefix %s", i, lines[i], w)
				}
			}
		})
	}
}

// TestParseManifestPaths checks absolute paths, paths leaving the
// manifest's folder and that Files are sorted whatever the glob order.
func TestParseManifestPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b/z.parquet", "a/y.csv", "a/x.parquet", "roster.parquet", "c/v.parquet"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := fmt.Sprintf(`as_of: 2026-11-01
roster: %s
sources:
  - {kind: police, path: "[ab]/*", snapshot: 2026-10-01}
  - {kind: vehicle, path: c/v.parquet, snapshot: 2026-10-01}
`, filepath.Join(dir, "roster.parquet"))
	m, err := ParseManifest([]byte(src), "m.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Roster.Files; !slices.Equal(got, []string{filepath.Join(dir, "roster.parquet")}) {
		t.Errorf("absolute roster: %v", got)
	}
	wantPolice := []string{filepath.Join(dir, "a/x.parquet"), filepath.Join(dir, "a/y.csv"), filepath.Join(dir, "b/z.parquet")}
	if got := m.Sources[0].Files; !slices.Equal(got, wantPolice) {
		t.Errorf("glob files %v, want %v", got, wantPolice)
	}
	// A relative path may leave the manifest's folder.
	m, err = ParseManifest([]byte(strings.Replace(src, "c/v.parquet", "a/*", 1)), "m.yaml", filepath.Join(manifestDir, "sub"))
	if err == nil {
		t.Fatalf("relative paths resolved against another folder than dir: %+v", m.Sources)
	}
	src2 := "as_of: 2026-11-01\nroster: ../data/roster.parquet\nsources:\n  - {kind: vehicle, path: ../data/vehicles/5301.parquet, snapshot: 2026-10-01}\n"
	m, err = ParseManifest([]byte(src2), "m.yaml", filepath.Join(manifestDir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Sources[0].Files, []string{filepath.Join(manifestDir, "data/vehicles/5301.parquet")}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if _, err := LoadManifest(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing manifest: %v", err)
	}
}

// TestParseManifestNoFileMessage checks the full no-match message, which
// names the folder the path is relative to.
func TestParseManifestNoFileMessage(t *testing.T) {
	dir := t.TempDir()
	src := "as_of: 2026-11-01\nroster: roster.parquet\nsources:\n  - {kind: police, path: p.csv, snapshot: 2026-10-01}\n"
	_, err := ParseManifest([]byte(src), "m.yaml", dir)
	want := fmt.Sprintf("m.yaml:2:9: no file matches %q (relative to %s)\nm.yaml:4:26: no file matches %q (relative to %s)", "roster.parquet", dir, "p.csv", dir)
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func FuzzParseManifest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("as_of: &a [*a]\n"))
	f.Add([]byte("a: &a {b: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data, "m.yaml", manifestDir)
		if err != nil {
			if m != nil {
				t.Fatal("manifest and error both returned")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "m.yaml") {
					t.Fatalf("error line without the file name: %q", line)
				}
			}
			return
		}
		if m.Roster == nil || m.Roster.Kind != KindRoster || len(m.Roster.Files) == 0 || m.AsOf.IsZero() || len(m.Sources) == 0 {
			t.Fatalf("incomplete manifest accepted: %+v", m)
		}
		for _, e := range m.Sources {
			if _, err := SchemaOf(e.Kind); err != nil || e.Kind == KindRoster {
				t.Fatalf("bad kind accepted: %q", e.Kind)
			}
			if len(e.Files) == 0 || e.Snapshot.After(m.AsOf) || e.Snapshot.IsZero() {
				t.Fatalf("bad entry accepted: %+v", e)
			}
			if e.Encoding != EncodingUTF8 && e.Encoding != EncodingGB18030 {
				t.Fatalf("bad encoding accepted: %q", e.Encoding)
			}
			if e.Snapshot.Location() != time.UTC {
				t.Fatalf("snapshot not UTC: %v", e.Snapshot)
			}
		}
	})
}
