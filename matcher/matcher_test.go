package matcher

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// ids of the little region used by the tests.
type people struct {
	A, B, C, D, E, F, G, P, Z personid.Key
}

func mustKey(t testing.TB, region uint32, y, m, d, seq int) personid.Key {
	t.Helper()
	k, err := personid.New(region, y, m, d, seq)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newPeople(t testing.TB) people {
	return people{
		A: mustKey(t, 530102, 1970, 3, 4, 11), B: mustKey(t, 530102, 1972, 5, 6, 22),
		C: mustKey(t, 530102, 2001, 7, 8, 31), D: mustKey(t, 530102, 1950, 1, 2, 41),
		E: mustKey(t, 530103, 1960, 9, 10, 51), F: mustKey(t, 530103, 1980, 11, 12, 61),
		G: mustKey(t, 530102, 1975, 2, 3, 72), P: mustKey(t, 530111, 1990, 4, 5, 81),
		Z: mustKey(t, 530112, 1985, 6, 7, 91),
	}
}

// fullWidth renders an ID in full-width digits with a dash, as some exports do.
func fullWidth(k personid.Key) string {
	var b strings.Builder
	for i, r := range k.String() {
		if i == 6 {
			b.WriteString("－")
		}
		if r >= '0' && r <= '9' {
			b.WriteRune('０' + (r - '0'))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func writeCSV(t testing.TB, dir, name string, rows [][]string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeRegion writes a small region as CSV files with a manifest and returns
// the manifest path.
func writeRegion(t testing.TB, p people) string {
	dir := t.TempDir()
	badF := p.F.String()[:17] + "0"
	if p.F.CheckChar() == '0' {
		badF = p.F.String()[:17] + "1"
	}
	writeCSV(t, dir, "roster.csv", [][]string{
		{"household_id", "person_id", "name", "relation", "region_code", "area", "assistance", "monthly_benefit", "since", "status", "relative_filed"},
		{"H1", p.A.String(), "张三", "head", "530102", "urban", "dibao", "1280", "2020-01-01", "recipient", "false"},
		{"H1", p.B.String(), "李四", "spouse", "530102", "urban", "dibao", "1280", "2020-01-01", "recipient", "false"},
		{"H1", p.C.String(), "张小五", "child", "530102", "urban", "dibao", "1280", "2020-01-01", "recipient", "false"},
		{"H2", p.D.String(), "王六", "head", "530102", "rural", "dibao", "375", "2021-01-01", "recipient", "true"},
		{"H3", p.E.String(), "赵七", "head", "530103", "rural", "tekun", "832", "2019-01-01", "recipient", "true"},
		{"H3", p.D.String(), "王六", "other", "530103", "rural", "tekun", "832", "2019-01-01", "recipient", "true"},
		{"H4", badF, "孙八", "head", "530103", "rural", "dibao", "375", "2022-01-01", "recipient", "false"},
	})
	writeCSV(t, dir, "police.csv", [][]string{
		{"person_id", "name", "hukou_no", "relation_to_head", "status", "region_code"},
		{p.Z.String(), "路人", "HK9", "head", "normal", "530112"},
		{p.A.String(), "张三", "HK1", "head", "normal", "530102"},
		{p.B.String(), "李四", "HK1", "spouse", "normal", "530102"},
		{p.C.String(), "张小五", "HK1", "child", "normal", "530102"},
		{p.G.String(), "钱九", "HK1", "spouse", "normal", "530102"},
		{p.D.String(), "王六", "HK2", "head", "normal", "530102"},
		{p.E.String(), "赵七", "HK3", "head", "normal", "530103"},
		{p.P.String(), "周十", "HK7", "head", "normal", "530111"},
	})
	writeCSV(t, dir, "vehicle.csv", [][]string{
		{"owner_id", "plate_no", "vehicle_type", "status", "price", "name", "birth_date", "region_code"},
		{fullWidth(p.A), "云A12345", "K33", "normal", "80000", "", "", ""},
		{"5301021972050600X", "云A54321", "K33", "normal", "90000", "李 四", "1972-05-06", "530102"},
		{p.Z.String(), "云A99999", "K33", "normal", "70000", "", "", ""},
		{"", "云A00000", "K33", "normal", "70000", "", "", ""},
	})
	writeCSV(t, dir, "staff.csv", [][]string{
		{"person_id", "role"},
		{p.G.String(), "village-committee"},
	})
	writeCSV(t, dir, "poverty.csv", [][]string{
		{"person_id", "status"},
		{p.P.String(), "monitored"},
		{p.C.String(), "stable"},
	})
	writeCSV(t, dir, "disability.csv", [][]string{
		{"person_id", "category", "grade"},
		{p.P.String(), "physical", "1"},
	})
	writeCSV(t, dir, "pension.csv", [][]string{
		{"person_id", "scheme", "state", "monthly_amount"},
		{p.P.String(), "resident", "receiving", "150"},
		{p.Z.String(), "employee", "receiving", "4000"},
	})
	manifest := `as_of: 2026-11-01
roster: roster.csv
sources:
  - {kind: police, path: police.csv, snapshot: 2026-10-01}
  - {kind: vehicle, path: vehicle.csv, snapshot: 2026-10-01}
  - {kind: staff, path: staff.csv, snapshot: 2026-10-01}
  - {kind: poverty, path: poverty.csv, snapshot: 2026-10-01}
  - {kind: disability, path: disability.csv, snapshot: 2026-10-01}
  - {kind: pension, path: pension.csv, snapshot: 2026-10-01}
`
	path := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func matchRegion(t *testing.T, path string, workers int) *Result {
	t.Helper()
	m, err := sources.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Match(context.Background(), m, Options{Workers: workers, CacheDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func household(t *testing.T, res *Result, id string) *facts.Household {
	t.Helper()
	for _, h := range res.Households {
		if h.ID == id {
			return h
		}
	}
	t.Fatalf("household %s missing", id)
	return nil
}

func TestMatchSmallRegion(t *testing.T) {
	p := newPeople(t)
	res := matchRegion(t, writeRegion(t, p), 2)

	var ids []string
	for _, h := range res.Households {
		ids = append(ids, h.ID)
	}
	if got := strings.Join(ids, ","); got != "H1,H2,H3,H4" {
		t.Fatalf("households %s, want H1,H2,H3,H4", got)
	}
	h1 := household(t, res, "H1")
	a, b, c := h1.Members[0], h1.Members[1], h1.Members[2]
	if h1.Region != "530102" || h1.Area != "urban" || h1.MonthlyBenefit != 1280 || len(h1.Members) != 3 {
		t.Errorf("H1 fields: %+v", h1)
	}
	if len(a.Vehicles) != 1 || a.Vehicles[0].Match != sources.MatchID || a.Vehicles[0].PlateNo != "云A12345" {
		t.Errorf("A (full-width ID) vehicles: %+v", a.Vehicles)
	}
	if len(b.Vehicles) != 1 || b.Vehicles[0].Match != sources.MatchNameDOB {
		t.Errorf("B should match the invalid-ID vehicle by name + birth date: %+v", b.Vehicles)
	}
	if len(c.Vehicles) != 0 || len(c.Poverty) != 1 || c.Poverty[0].Status != "stable" {
		t.Errorf("C records: vehicles %d poverty %+v", len(c.Vehicles), c.Poverty)
	}
	for _, m := range []*facts.Member{a, b, c} {
		if len(m.Police) != 1 {
			t.Errorf("%s: %d police records", m.Name, len(m.Police))
		}
		if len(m.Housemates) != 1 || m.Housemates[0].Police.Key != p.G || len(m.Housemates[0].Staff) != 1 {
			t.Errorf("%s housemates: %+v", m.Name, m.Housemates)
		}
	}
	d2, d3 := household(t, res, "H2").Members[0], household(t, res, "H3").Members[1]
	if strings.Join(d2.OtherHouseholds, ",") != "H3" || strings.Join(d3.OtherHouseholds, ",") != "H2" {
		t.Errorf("duplicate person: H2 sees %v, H3 sees %v", d2.OtherHouseholds, d3.OtherHouseholds)
	}
	if len(d2.Police) != 1 || len(d3.Police) != 1 || len(d2.Housemates) != 0 {
		t.Errorf("D police %d/%d housemates %d", len(d2.Police), len(d3.Police), len(d2.Housemates))
	}
	if len(res.InvalidMembers) != 1 || res.InvalidMembers[0].HouseholdID != "H4" || res.InvalidMembers[0].Reason != personid.ReasonChecksum {
		t.Errorf("invalid members: %+v", res.InvalidMembers)
	}
	if len(res.Candidates) != 1 {
		t.Fatalf("candidates: %d, want 1", len(res.Candidates))
	}
	cand := res.Candidates[0]
	cm := cand.Members[0]
	if cm.Key != p.P || !cand.Candidate || cand.ID != "" || cand.Region != "530111" || cand.Area != "rural" || cm.Name != "周十" {
		t.Errorf("candidate: %+v member %+v", cand, cm)
	}
	if len(cm.Poverty) != 1 || len(cm.Disability) != 1 || len(cm.Pension) != 1 || len(cm.Police) != 1 {
		t.Errorf("candidate records: poverty %d disability %d pension %d police %d",
			len(cm.Poverty), len(cm.Disability), len(cm.Pension), len(cm.Police))
	}
}

func TestMatchQualityReconciles(t *testing.T) {
	res := matchRegion(t, writeRegion(t, newPeople(t)), 1)
	if q := res.Roster; q.Rows != 7 || q.ValidKeys != 6 || q.QuarantinedTotal != 1 {
		t.Errorf("roster quality: %+v", q)
	}
	want := map[sources.Kind][5]int64{ // rows, matched id, name_dob, unmatched, quarantined
		sources.KindPolice:     {8, 6, 0, 2, 0}, // G is found as a housemate, not as a person under review
		sources.KindVehicle:    {4, 1, 1, 1, 2},
		sources.KindStaff:      {1, 1, 0, 0, 0},
		sources.KindPoverty:    {2, 2, 0, 0, 0},
		sources.KindDisability: {1, 1, 0, 0, 0},
		sources.KindPension:    {2, 1, 0, 1, 0},
	}
	for _, q := range res.Quality {
		w := want[q.Kind]
		got := [5]int64{q.Rows, q.MatchedID, q.MatchedNameDOB, q.Unmatched, q.QuarantinedTotal}
		if got != w {
			t.Errorf("%s quality (rows, matched id, name_dob, unmatched, quarantined) = %v, want %v", q.Kind, got, w)
		}
		if q.Rows != q.MatchedID+q.Unmatched+q.QuarantinedTotal {
			t.Errorf("%s: rows %d != matched %d + unmatched %d + quarantined %d", q.Kind, q.Rows, q.MatchedID, q.Unmatched, q.QuarantinedTotal)
		}
	}
}

func TestMatchSameFactsWhateverTheWorkers(t *testing.T) {
	path := writeRegion(t, newPeople(t))
	encode := func(res *Result) string {
		b, err := json.Marshal(struct {
			H, C []*facts.Household
			Q    []*sources.Quality
		}{res.Households, res.Candidates, res.Quality})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	one, four := encode(matchRegion(t, path, 1)), encode(matchRegion(t, path, 4))
	if one != four {
		t.Fatal("facts differ between 1 and 4 workers")
	}
}

// matchShards matches the region at path in n shards and returns every
// shard's households and candidates, in shard order.
func matchShards(t *testing.T, path string, n, keepRoster int) *Result {
	t.Helper()
	m, err := sources.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCensus(context.Background(), m, Options{Workers: 2, CacheDir: t.TempDir(), KeepRosterRows: keepRoster,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c.Split(n)
	if c.Shards() != n {
		t.Fatalf("Split(%d) made %d shards", n, c.Shards())
	}
	all := &Result{}
	for s := range c.Shards() {
		sh, err := c.Shard(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		all.Households = append(all.Households, sh.Households...)
		all.Candidates = append(all.Candidates, sh.Candidates...)
		all.InvalidMembers = append(all.InvalidMembers, sh.InvalidMembers...)
	}
	if _, err := c.Shard(context.Background(), n); err == nil {
		t.Fatal("a shard past the last was matched")
	}
	res := c.Result()
	all.Roster, all.Quality = res.Roster, res.Quality
	return all
}

// TestMatchInShardsGivesTheSameFacts: people on two households of different
// shards (D is on H2 and H3), hukou housemates and candidates come out of
// shards exactly as from one.
func TestMatchInShardsGivesTheSameFacts(t *testing.T) {
	path := writeRegion(t, newPeople(t))
	encode := func(res *Result) string {
		b, err := json.Marshal(struct {
			H, C []*facts.Household
			I    []InvalidMember
			R    *sources.Quality
			Q    []*sources.Quality
		}{res.Households, res.Candidates, res.InvalidMembers, res.Roster, res.Quality})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := encode(matchRegion(t, path, 2))
	for _, n := range []int{1, 2, 3, 5} {
		// The roster rows kept from the census, or decoded again per shard.
		for _, keep := range []int{0, -1} {
			if got := encode(matchShards(t, path, n, keep)); got != want {
				t.Errorf("%d shards (keep roster %d):\n%s\none shard:\n%s", n, keep, got, want)
			}
		}
	}
}

// TestSplitCoversEverythingInOrder: shards are contiguous, in order, cover
// every household then every candidate, and are about the same size.
func TestSplitCoversEverythingInOrder(t *testing.T) {
	c := &Census{}
	for i := range 100 {
		c.households = append(c.households, censusHousehold{first: int32(len(c.rows)), n: int32(1 + i%4)})
		c.rows = append(c.rows, make([]rosterRef, 1+i%4)...)
	}
	c.candidates = make([]personid.Key, 130)
	for _, n := range []int{1, 2, 3, 7, 400, 10000} {
		c.Split(n)
		want := min(n, len(c.households)+len(c.candidates))
		if len(c.shards) > want || (n <= 7 && len(c.shards) != want) {
			t.Errorf("Split(%d): %d shards, want %d", n, len(c.shards), want)
		}
		h, k := 0, 0
		for i, s := range c.shards {
			if s.hLo != h || s.cLo != k || s.hHi < s.hLo || s.cHi < s.cLo || (s.hHi == s.hLo && s.cHi == s.cLo) {
				t.Fatalf("Split(%d) shard %d = %+v after %d households, %d candidates", n, i, s, h, k)
			}
			if s.cHi > s.cLo && s.hHi != len(c.households) {
				t.Fatalf("Split(%d) shard %d has candidates before the last household: %+v", n, i, s)
			}
			units := s.cHi - s.cLo
			for _, hh := range c.households[s.hLo:s.hHi] {
				units += int(hh.n)
			}
			if limit := c.Members()/want + 4; n <= 7 && units > limit {
				t.Errorf("Split(%d) shard %d holds %d members, more than %d", n, i, units, limit)
			}
			h, k = s.hHi, s.cHi
		}
		if h != len(c.households) || k != len(c.candidates) {
			t.Errorf("Split(%d) covers %d households, %d candidates", n, h, k)
		}
	}
}
