package review

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/store"
	"github.com/hedui/hedui/synth"
)

// TestIncrementalMatchesFullRunsOnRandomEdits is a differential test: in
// rounds, random edits land on several sources at once (cars bought and
// sold, deaths, hukou moves, enterprises opened and closed, pensions
// changed, moved and stopped, households leaving the roster, members moving
// between households, new applicant households), and each
// incremental run's changes.csv must be exactly the full run after − the
// full run before, its evaluated households' flags the full run's. Edits
// fall mostly on roster members, so that rules fire and clear, and many
// are near misses (a cheap car, a small pension change).
//
// HEDUI_RANDOM_SEED and HEDUI_RANDOM_ROUNDS run other or longer sequences.
func TestIncrementalMatchesFullRunsOnRandomEdits(t *testing.T) {
	seed, rounds := uint64(1), 3
	if s, err := strconv.ParseUint(os.Getenv("HEDUI_RANDOM_SEED"), 10, 64); err == nil {
		seed = s
	}
	if n, err := strconv.Atoi(os.Getenv("HEDUI_RANDOM_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	t.Logf("seed %d, %d rounds (HEDUI_RANDOM_SEED, HEDUI_RANDOM_ROUNDS)", seed, rounds)
	ctx := context.Background()
	dir, set, db, before := baselined(t)
	rng := rand.New(rand.NewPCG(seed, 0x6865647569))
	manifest := filepath.Join(dir, "sources.yaml")
	total := 0
	for r := range rounds {
		touched := randomEdits(t, rng, dir, before)
		// Later snapshots up to the region's as-of date; after it the same
		// date with changed files, which an update takes too.
		day := time.Date(2026, 10, 29+min(r, 3), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		for _, p := range touched {
			bumpSnapshot(t, manifest, p, day)
		}
		m := mustManifest(t, dir)
		after := fullRun(t, m, set)
		want := expectedChanges(before, after)
		out := filepath.Join(t.TempDir(), fmt.Sprintf("inc%d", r))
		res, err := RunIncremental(ctx, IncrementalConfig{Manifest: m, Rules: set, Index: db, Out: out, Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		// Applicants are evaluated by an incremental run with the
		// incremental rules (ref_date = the application date), which a full
		// run does not; their lines are checked against that evaluation.
		applicants := applicantsOf(before, after)
		got := readChanges(t, filepath.Join(out, "changes.csv"))
		if g, w := withoutHouseholds(got, applicants), withoutHouseholds(want, applicants); !slices.Equal(g, w) {
			t.Fatalf("round %d (seed %d): changes.csv, applicants left out:\n%s\nwant (full run after − full run before):\n%s",
				r, seed, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		sameEvaluatedFlags(t, r, res, after, applicants, false)
		sameEvaluatedFlags(t, r, res, indexEvaluation(t, db, set, m.AsOf), applicants, true)
		nApp := 0
		for _, h := range res.Households {
			if applicants[h.ID] {
				nApp++
			}
		}
		t.Logf("round %d: %v touched; %d changes; evaluated %d households (%d applicants), %d candidates",
			r, touched, len(want), len(res.Households), nApp, len(res.Candidates))
		total += len(want)
		before = after
	}
	if total == 0 {
		t.Fatal("no round changed any flag: the comparison proved nothing")
	}
}

// sameEvaluatedFlags requires the flags of the households an incremental
// run evaluated, applicants or the others, to be those of the same
// households in ref.
func sameEvaluatedFlags(t *testing.T, round int, res *IncrementalResult, ref *Result, applicants map[string]bool, applicant bool) {
	t.Helper()
	evaluated := map[string]bool{}
	for _, h := range res.Households {
		evaluated[h.ID] = applicants[h.ID] == applicant
	}
	line := func(hh, person, rule, outcome, msg string) string {
		return strings.Join([]string{hh, person, rule, outcome, msg}, "|")
	}
	var want, got []string
	for _, f := range ref.Flags {
		if evaluated[f.HouseholdID] {
			want = append(want, line(f.HouseholdID, f.PersonID, f.RuleID, string(f.Outcome), f.Message))
		}
	}
	for _, f := range res.Flags {
		if evaluated[f.HouseholdID] {
			got = append(got, line(f.HouseholdID, f.PersonID, f.RuleID, string(f.Outcome), f.Message))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("round %d: flags of the evaluated households (applicants: %v):\n%s\nwant:\n%s", round, applicant, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// applicantsOf lists the applicant households of either run.
func applicantsOf(runs ...*Result) map[string]bool {
	out := map[string]bool{}
	for _, res := range runs {
		for _, h := range res.Households {
			if h.Status == "applicant" {
				out[h.ID] = true
			}
		}
	}
	return out
}

// withoutHouseholds drops the changes.csv lines of the given households.
func withoutHouseholds(lines []string, ids map[string]bool) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		id, _, _ := strings.Cut(l, ",")
		return ids[id]
	})
}

// indexEvaluation evaluates every household from the index in incremental
// mode: applicants with their application date as ref_date.
func indexEvaluation(t *testing.T, db *store.DB, set *rules.Set, asOf time.Time) *Result {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	res, err := EvaluateIndex(context.Background(), v, set, rules.Env{AsOf: asOf}, rules.ModeIncremental)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// person is a roster member the edits may land on.
type person struct{ id, name string }

// randomEdits edits a few rows of several sources and returns the manifest
// paths of the entries it changed (the roster is no entry).
func randomEdits(t *testing.T, rng *rand.Rand, dir string, res *Result) []string {
	t.Helper()
	var people []person
	for _, h := range res.Households {
		for _, m := range h.Members {
			if m.PersonID != "" {
				people = append(people, person{m.PersonID, m.Name})
			}
		}
	}
	pick := func() person { return people[rng.IntN(len(people))] }
	var touched []string
	edit := func(path string, f func()) {
		if rng.IntN(4) > 0 { // each source in three rounds of four
			f()
			touched = append(touched, path)
		}
	}
	src := func(name string) string { return filepath.Join(dir, "sources", name) }
	edit("sources/vehicle.parquet", func() {
		rewrite(t, src("vehicle.parquet"), func(rows []synth.VehicleRow) []synth.VehicleRow {
			rows = dropRandom(rng, rows, 1+rng.IntN(3))
			for range 1 + rng.IntN(3) {
				p, v := pick(), rows[rng.IntN(len(rows))]
				v.OwnerID, v.Name, v.BirthDate = p.id, p.name, p.id[6:14]
				v.PlateNo = fmt.Sprintf("云A·R%05d", rng.IntN(100000))
				// Cheap, near the line, and dear (分).
				v.Price = []int64{1_500_000, 4_900_000, 5_100_000, 30_000_000}[rng.IntN(4)]
				rows = append(rows, v)
			}
			return rows
		})
	})
	edit("sources/police-*.parquet", func() {
		files, err := filepath.Glob(src("police-*.parquet"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no police file: %v", err)
		}
		ids := map[string]bool{}
		for range 2 {
			ids[pick().id] = true
		}
		for _, f := range files {
			rewrite(t, f, func(rows []synth.PoliceRow) []synth.PoliceRow {
				for i := range rows {
					if !ids[rows[i].PersonID] {
						continue
					}
					switch rng.IntN(3) {
					case 0: // died, some of them after the as-of date
						d := int32(time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Unix() / 86400)
						rows[i].Status, rows[i].StatusDate = "deceased", &d
					case 1: // moved onto another hukou
						rows[i].HukouNo = rows[rng.IntN(len(rows))].HukouNo
					default: // renamed
						rows[i].Name += "改"
					}
				}
				return rows
			})
		}
	})
	edit("sources/business.parquet", func() {
		rewrite(t, src("business.parquet"), func(rows []synth.BusinessRow) []synth.BusinessRow {
			rows = dropRandom(rng, rows, 1+rng.IntN(2))
			b, p := rows[rng.IntN(len(rows))], pick()
			b.PersonID = p.id
			b.USCC = fmt.Sprintf("91530102MA%08d", rng.IntN(100000000))
			b.SubscribedCapital = []float64{0, 1, 50_000, 2_000_000}[rng.IntN(4)]
			return append(rows, b)
		})
	})
	edit("sources/pension.parquet", func() {
		rewrite(t, src("pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
			for range 3 + rng.IntN(5) {
				i := rng.IntN(len(rows))
				rows[i].MonthlyAmount = fmt.Sprintf("%d.%02d", rng.IntN(6000), rng.IntN(100))
			}
			p := rows[rng.IntN(len(rows))]
			p.PersonID = pick().id // a pension onto a roster member
			rows = append(rows, p)
			return dropRandom(rng, rows, 1+rng.IntN(2))
		})
	})
	if rng.IntN(3) > 0 {
		editRoster(t, rng, dir, res, people)
	}
	return touched
}

// editRoster removes a household, moves a member to another one, or adds
// an applicant household of somebody the police know and the roster does
// not.
func editRoster(t *testing.T, rng *rand.Rand, dir string, res *Result, people []person) {
	t.Helper()
	m := mustManifest(t, dir)
	var newcomer synth.PoliceRow
	if rng.IntN(3) == 2 {
		files, err := filepath.Glob(filepath.Join(dir, "sources", "police-*.parquet"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no police file: %v", err)
		}
		police, err := parquet.ReadFile[synth.PoliceRow](files[0])
		if err != nil {
			t.Fatal(err)
		}
		for newcomer.PersonID == "" || slices.Contains(people, person{newcomer.PersonID, newcomer.Name}) {
			newcomer = police[rng.IntN(len(police))]
		}
	}
	rewrite(t, m.Roster.Files[0], func(rows []synth.RosterRow) []synth.RosterRow {
		switch {
		case newcomer.PersonID != "":
			app := int32(time.Date(2026, 10, 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Unix() / 86400)
			return append(rows, synth.RosterRow{HouseholdID: fmt.Sprintf("NEW-%06d", rng.IntN(1000000)), PersonID: newcomer.PersonID,
				Name: newcomer.Name, Relation: "head", RegionCode: rows[0].RegionCode, Area: rows[0].Area, Assistance: "dibao",
				Status: "applicant", ApplicationDate: &app, AuthorizationRef: "SQ-RANDOM"})
		case rng.IntN(2) == 0:
			i, j := rng.IntN(len(rows)), rng.IntN(len(rows))
			rows[i].HouseholdID, rows[i].Relation = rows[j].HouseholdID, "other"
			return rows
		default:
			gone := res.Households[rng.IntN(len(res.Households))].ID
			return slices.DeleteFunc(rows, func(r synth.RosterRow) bool { return r.HouseholdID == gone })
		}
	})
}

// dropRandom removes n random rows, keeping the order of the rest.
func dropRandom[T any](rng *rand.Rand, rows []T, n int) []T {
	for range min(n, len(rows)-1) {
		i := rng.IntN(len(rows))
		rows = append(rows[:i:i], rows[i+1:]...)
	}
	return rows
}
