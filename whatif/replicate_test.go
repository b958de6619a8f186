package whatif

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/sources/personid"
)

// replicateRun writes into dst a run folder made of copies of the run
// folder src, for benchmarks at a scale no generated region reaches here
// (e.g. a province from 22 copies of a city). src must lie in one
// prefecture (every region code, household id and person id region starts
// with the same 4 digits PPCC). Copy k moves everything to prefecture PP
// followed by the k-th city code (k = 0 keeps src's own; then the real
// prefecture codes of Yunnan when PP is 53, then the other codes 01–99): every
// string starting with PPCC (region codes, household ids, hukou numbers),
// "SQ"+PPCC (authorization references) and every person key and id (check
// character recomputed, birth date and sequence kept) are moved. So copies
// have distinct household and candidate ids, and each copy's facts give the
// same flags as src's. households.parquet holds every copy's households,
// then every copy's candidates (as a run writes households then candidates),
// in row groups of 65,536 rows, Zstd, as review writes it. flags.parquet is
// copied likewise, households' flags then candidates' (household_id,
// person_id and region_code moved; message, basis and evidence verbatim); summary.json's counts are multiplied and its
// counties moved; quality.json and rules.yaml are copied.
func replicateRun(ctx context.Context, src, dst string, copies int) error {
	return replicateRunLayout(ctx, src, dst, copies, 65536, 0)
}

// replicateRunLayout is replicateRun with households.parquet written in row
// groups of groupRows rows and, when pageBytes > 0, pages of about that
// size (tests use small ones to have many row groups and pages).
func replicateRunLayout(ctx context.Context, src, dst string, copies, groupRows, pageBytes int) error {
	rows, err := parquet.ReadFile[review.HouseholdRow](filepath.Join(src, "households.parquet"))
	if err != nil {
		return err
	}
	flags, err := parquet.ReadFile[review.FlagRow](filepath.Join(src, "flags.parquet"))
	if err != nil {
		return err
	}
	city, err := oneCity(rows)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	movers := cityMovers(city, copies)
	if movers == nil {
		return fmt.Errorf("%d copies: at most 98", copies)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var split int
	for split < len(rows) && !rows[split].Candidate {
		split++
	}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(int64(groupRows))}
	if pageBytes > 0 {
		opts = append(opts, parquet.PageBufferSize(pageBytes))
	}
	if err := writeCopies(ctx, filepath.Join(dst, "households.parquet"), rows, split, movers, opts); err != nil {
		return err
	}
	// A run writes the flags of households, then of candidates, each in
	// households.parquet's order: so do the copies.
	var out []review.FlagRow
	for _, candidates := range []bool{false, true} {
		for _, m := range movers {
			for _, f := range flags {
				if (f.HouseholdID == "") != candidates {
					continue
				}
				f.HouseholdID, f.PersonID, f.RegionCode = m.str(f.HouseholdID), m.str(f.PersonID), m.str(f.RegionCode)
				out = append(out, f)
			}
		}
	}
	if err := writeRows(filepath.Join(dst, "flags.parquet"), out); err != nil {
		return err
	}
	for _, name := range []string{"quality.json", "rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return replicateSummary(src, dst, movers)
}

// oneCity gives the 4-digit prefecture prefix of every region in rows.
func oneCity(rows []review.HouseholdRow) (string, error) {
	var city string
	for i, r := range rows {
		if len(r.RegionCode) < 4 {
			return "", fmt.Errorf("row %d: region %q: want 6 digits or more", i+1, r.RegionCode)
		}
		if city == "" {
			city = r.RegionCode[:4]
		} else if r.RegionCode[:4] != city {
			return "", fmt.Errorf("regions in prefectures %s and %s: replication needs one", city, r.RegionCode[:4])
		}
	}
	return city, nil
}

// mover moves a copy's identifiers from one prefecture to another.
type mover struct {
	from, to       string // 4 digits
	fromKey, toKey uint64 // the same as numbers
}

// yunnanCities are the prefecture codes of Yunnan (53), in code order.
var yunnanCities = []string{"01", "03", "04", "05", "06", "07", "08", "09", "23", "25", "26", "28", "29", "31", "33", "34"}

func cityMovers(city string, copies int) []*mover {
	order := []string{city[2:]}
	if city[:2] == "53" {
		order = append(order, yunnanCities...)
	}
	for c := 1; c <= 99; c++ {
		order = append(order, fmt.Sprintf("%02d", c))
	}
	seen := map[string]bool{}
	var out []*mover
	for _, c := range order {
		if seen[c] || len(out) == copies {
			continue
		}
		seen[c] = true
		to := city[:2] + c
		f, _ := strconv.ParseUint(city, 10, 64)
		t, _ := strconv.ParseUint(to, 10, 64)
		out = append(out, &mover{from: city, to: to, fromKey: f, toKey: t})
	}
	if len(out) < copies {
		return nil
	}
	return out
}

func (m *mover) key(k personid.Key) personid.Key {
	if k == 0 || uint64(k.Region())/100 != m.fromKey {
		return k
	}
	rest := uint64(k) % 1e13 // county digits, birth date and sequence
	return personid.Key(m.toKey*1e13 + rest)
}

func (m *mover) str(s string) string {
	switch {
	case strings.HasPrefix(s, m.from):
		if len(s) == 18 {
			if p := personid.Parse(s); p.Reason == personid.ReasonNone && p.Key.String() == s {
				return m.key(p.Key).String()
			}
		}
		return m.to + s[len(m.from):]
	case strings.HasPrefix(s, "SQ"+m.from):
		return "SQ" + m.to + s[2+len(m.from):]
	}
	return s
}

var (
	keyType      = reflect.TypeOf(personid.Key(0))
	timeTypeRepl = reflect.TypeOf(time.Time{})
)

// move rewrites every string and person key reachable from v.
func (m *mover) move(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			m.move(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			m.move(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == timeTypeRepl {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				m.move(v.Field(i))
			}
		}
	case reflect.String:
		if s := v.String(); s != "" {
			v.SetString(m.str(s))
		}
	case reflect.Uint64:
		if v.Type() == keyType {
			v.SetUint(uint64(m.key(personid.Key(v.Uint()))))
		}
	}
}

// moved returns row moved by m, its facts decoded, moved and encoded again.
func (m *mover) moved(row review.HouseholdRow) (review.HouseholdRow, error) {
	h, err := facts.DecodeBinary(row.FactsBin)
	if err != nil {
		return row, err
	}
	m.move(reflect.ValueOf(h).Elem())
	row.HouseholdID, row.PersonID, row.RegionCode = m.str(row.HouseholdID), m.str(row.PersonID), m.str(row.RegionCode)
	row.FactsBin = facts.AppendBinary(nil, h)
	return row, nil
}

func writeCopies(ctx context.Context, path string, rows []review.HouseholdRow, split int, movers []*mover, opts []parquet.WriterOption) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := parquet.NewGenericWriter[review.HouseholdRow](f, opts...)
	for _, part := range [][]review.HouseholdRow{rows[:split], rows[split:]} {
		for _, m := range movers {
			out := make([]review.HouseholdRow, len(part))
			g, _ := errgroup.WithContext(ctx)
			g.SetLimit(runtime.GOMAXPROCS(0))
			for lo := 0; lo < len(part); lo += 1024 {
				g.Go(func() error {
					for i := lo; i < min(lo+1024, len(part)); i++ {
						var err error
						if out[i], err = m.moved(part[i]); err != nil {
							return fmt.Errorf("row %d: %w", i+1, err)
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func writeRows[T any](path string, rows []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(65536))
	if _, err := w.Write(rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func replicateSummary(src, dst string, movers []*mover) error {
	var s review.Summary
	if err := readJSON(filepath.Join(src, "summary.json"), &s); err != nil {
		return err
	}
	n := len(movers)
	s.Households, s.Members, s.Candidates, s.Flags, s.FlaggedHouseholds = s.Households*n, s.Members*n, s.Candidates*n, s.Flags*n, s.FlaggedHouseholds*n
	s.RowsRead *= int64(n)
	for k := range s.ByOutcome {
		s.ByOutcome[k] *= n
	}
	for _, m := range s.ByRule {
		for k := range m {
			m[k] *= n
		}
	}
	counties := map[string]map[string]int{}
	for c, v := range s.ByCounty {
		for _, m := range movers {
			counties[m.str(c)] = v
		}
	}
	s.ByCounty = counties
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "summary.json"), append(b, '\n'), 0o644)
}

// TestMakeReplicatedRun writes a benchmark run folder when asked:
//
//	HEDUI_REPLICATE=SRC:DST:COPIES go test ./whatif/ -run TestMakeReplicatedRun -timeout 30m
//
// e.g. /tmp/cityrun:/tmp/provrun:22 makes a province-sized run (22 × the
// city's 79,239 households and candidates) for HEDUI_BENCH_RUN.
func TestMakeReplicatedRun(t *testing.T) {
	spec := os.Getenv("HEDUI_REPLICATE")
	if spec == "" {
		t.Skip("set HEDUI_REPLICATE=SRC:DST:COPIES to write a replicated run folder")
	}
	parts := strings.Split(spec, ":")
	n, err := strconv.Atoi(parts[len(parts)-1])
	if len(parts) != 3 || err != nil || n < 1 {
		t.Fatalf("HEDUI_REPLICATE=%q: want SRC:DST:COPIES", spec)
	}
	if err := replicateRun(context.Background(), parts[0], parts[1], n); err != nil {
		t.Fatal(err)
	}
}

// TestReplicatedRun: a run made of 3 copies of the test region gives, for
// an unchanged what-if, no change, and for a raised rural standard 3 times
// the region's changes and totals, each copy's in its own prefecture.
func TestReplicatedRun(t *testing.T) {
	src, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "run3")
	if err := replicateRun(context.Background(), src, dst, 3); err != nil {
		t.Fatal(err)
	}
	one, three := loadRun(t), mustLoad(t, dst)
	if len(three.Rows) != 3*len(one.Rows) {
		t.Fatalf("%d rows; want 3 × %d", len(three.Rows), len(one.Rows))
	}
	sc, err := three.Evaluate(context.Background(), nil, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Changes) != 0 {
		t.Fatalf("unchanged what-if on the copies: %d changes, e.g. %+v", len(sc.Changes), sc.Changes[0])
	}
	set := settings(t, "dibao_standard@rural=6000")
	a, err := one.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := three.Evaluate(context.Background(), set, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Changes) == 0 || len(b.Changes) != 3*len(a.Changes) || b.Total.EligibleAfter != 3*a.Total.EligibleAfter ||
		b.Total.benefitAfter != 3*a.Total.benefitAfter || len(b.ByCounty) != 3*len(a.ByCounty) {
		t.Errorf("3 copies: %d changes, %d counties, totals %+v; one: %d changes, %d counties, totals %+v",
			len(b.Changes), len(b.ByCounty), b.Total, len(a.Changes), len(a.ByCounty), a.Total)
	}
	ids := map[string]bool{}
	for _, r := range three.Rows {
		id := r.HouseholdID + "/" + r.PersonID
		if ids[id] {
			t.Fatalf("household %q candidate %q twice", r.HouseholdID, r.PersonID)
		}
		ids[id] = true
	}
}

func mustLoad(t *testing.T, dir string) *Run {
	t.Helper()
	r, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
