package benchkit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

func TestSameJob(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"roster.parquet", "sources/police-1.parquet", "sources/vehicle.parquet", "sources/pension.parquet", "sources/poverty.parquet"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `as_of: 2026-11-01
roster: roster.parquet
sources:
  - {kind: police, path: "sources/police-*.parquet", snapshot: 2026-10-25}
  - kind: vehicle
    path: sources/vehicle.parquet
    snapshot: 2026-10-28
    units: {price: fen}
  - {kind: pension, path: sources/pension.parquet, snapshot: 2026-10-15}
  - {kind: poverty, path: sources/poverty.parquet, snapshot: 2026-10-10}
`
	path := filepath.Join(dir, DerivedName)
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	mp, rp, err := SameJob(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sources.LoadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []sources.Kind
	for _, e := range m.Sources {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []sources.Kind{sources.KindVehicle, sources.KindPension}) {
		t.Errorf("same-job manifest kinds %v, want [vehicle pension]", kinds)
	}
	if v := m.Sources[0]; v.Units["price"] != "fen" {
		t.Errorf("vehicle entry lost its settings: %+v", v)
	}
	set, err := rules.Load(rp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range set.Rules() {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	want := slices.Sorted(slices.Values(Rules))
	if !slices.Equal(ids, want) {
		t.Errorf("same-job rules %v, want %v", ids, want)
	}
}
