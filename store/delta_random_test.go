package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/synth"
)

// TestDeltaEqualsFullRewriteOnRandomEdits is a differential test of the
// delta update: in rounds, random edits (values changed, rows moved to
// another person or hukou, IDs made invalid, values that no longer
// convert, exact duplicates, rows inserted, deleted and swapped mid-file)
// land on pension and police, each file written with a random row-group
// size so that chunk layouts move too; after each round the index updated
// by deltas, and one whose deltas are staged (applied over several
// transactions), must equal one that wrote both sources whole, keys,
// values, change sets and quarantine counts included.
//
// HEDUI_RANDOM_SEED and HEDUI_RANDOM_ROUNDS run other or longer sequences.
func TestDeltaEqualsFullRewriteOnRandomEdits(t *testing.T) {
	seed, rounds := uint64(1), 4
	if s, err := strconv.ParseUint(os.Getenv("HEDUI_RANDOM_SEED"), 10, 64); err == nil {
		seed = s
	}
	if n, err := strconv.Atoi(os.Getenv("HEDUI_RANDOM_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	t.Logf("seed %d, %d rounds (HEDUI_RANDOM_SEED, HEDUI_RANDOM_ROUNDS)", seed, rounds)
	dir, manifest, police := regionCopy(t)
	pension := filepath.Join(dir, "sources/pension.parquet")
	deltaDB := openQuiet(t, filepath.Join(t.TempDir(), "delta"))
	fullDB := openQuiet(t, filepath.Join(t.TempDir(), "full"))
	stagedDB := openQuiet(t, filepath.Join(t.TempDir(), "staged")) // deltas of more than 3 rows staged
	defer func() { deltaDB.Close(); fullDB.Close(); stagedDB.Close() }()
	for _, db := range []*DB{deltaDB, fullDB, stagedDB} {
		updateWith(t, db, manifest, UpdateOptions{})
	}
	rng := rand.New(rand.NewPCG(seed, 0x64656c7461))
	deltas, stagedN := 0, 0
	for r := range rounds {
		what := fmt.Sprintf("round %d (seed %d)", r, seed)
		group := []int64{0, 97, 500}[rng.IntN(3)] // 0: parquet-go's default
		rewriteRandom(t, rng, pension, group, editPension)
		rewriteRandom(t, rng, police, group, editPolice)
		rewriteRandom(t, rng, filepath.Join(dir, "roster.parquet"), group, editRoster)
		// Later snapshots up to the region's as-of date; after it the same
		// date with changed files, which an update takes too.
		day := fmt.Sprintf("2026-10-%02d", 29+min(r, 2))
		setSnapshot(t, manifest, "sources/pension.parquet", day)
		setSnapshot(t, manifest, "sources/police-*.parquet", day)
		got := updateWith(t, deltaDB, manifest, UpdateOptions{})
		want := updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		staged := updateWith(t, stagedDB, manifest, UpdateOptions{maxDeltaRows: 3})
		for _, p := range []string{"sources/pension.parquet", "sources/police-*.parquet", "roster.parquet"} {
			if got[p].Delta > 0 {
				deltas++
			}
			if staged[p].Staged {
				stagedN++
			}
			if got[p].Changed != want[p].Changed {
				t.Errorf("%s: %s: %d groups changed, a full rewrite says %d", what, p, got[p].Changed, want[p].Changed)
			}
			if cg, cw := changeSet(t, deltaDB, p), changeSet(t, fullDB, p); fmt.Sprint(cg) != fmt.Sprint(cw) {
				t.Fatalf("%s: %s change set %v, a full rewrite gives %v", what, p, cg, cw)
			}
		}
		t.Logf("%s: row groups of %d; pension %+v; police %+v; roster %+v", what, group,
			got["sources/pension.parquet"], got["sources/police-*.parquet"], got["roster.parquet"])
		sameIndex(t, what, dump(t, deltaDB), dump(t, fullDB))
		sameIndex(t, what+" (staged)", dump(t, stagedDB), dump(t, fullDB))
		sameViews(t, what, deltaDB, fullDB)
		checkConsistent(t, deltaDB)
		checkConsistent(t, stagedDB)
	}
	if deltas == 0 || stagedN == 0 {
		t.Fatalf("%d updates applied as deltas, %d staged: the comparison proved nothing about them", deltas, stagedN)
	}
}

// rewriteRandom rewrites a Parquet file with edit's random changes, in row
// groups of at most group rows (0: the writer's default).
func rewriteRandom[T any](t *testing.T, rng *rand.Rand, path string, group int64, edit func(*rand.Rand, []T) []T) {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatal(err)
	}
	var opts []parquet.WriterOption
	if group > 0 {
		opts = append(opts, parquet.MaxRowsPerRowGroup(group))
	}
	if err := parquet.WriteFile(path, edit(rng, rows), opts...); err != nil {
		t.Fatal(err)
	}
}

// editRows applies n random structural edits common to every file: a row
// moved to another row's person, an invalid ID, an exact duplicate, a row
// inserted, deleted or swapped mid-file. id reaches a row's ID column.
func editRows[T any](rng *rand.Rand, rows []T, n int, id func(*T) *string) []T {
	for range n {
		i, j := rng.IntN(len(rows)), rng.IntN(len(rows))
		switch rng.IntN(6) {
		case 0:
			*id(&rows[i]) = *id(&rows[j])
		case 1:
			s := *id(&rows[i])
			*id(&rows[i]) = s[:len(s)-1] // 17 characters: no valid ID
		case 2:
			rows = append(rows[:i+1:i+1], append([]T{rows[i]}, rows[i+1:]...)...)
		case 3:
			r := rows[j]
			rows = append(rows[:i:i], append([]T{r}, rows[i:]...)...)
		case 4:
			if len(rows) > 2 {
				rows = append(rows[:i:i], rows[i+1:]...)
			}
		default:
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	return rows
}

func editPension(rng *rand.Rand, rows []synth.PensionRow) []synth.PensionRow {
	for range 1 + rng.IntN(8) {
		p := &rows[rng.IntN(len(rows))]
		switch rng.IntN(4) {
		case 0:
			p.MonthlyAmount = fmt.Sprintf("%d.%02d", rng.IntN(9000), rng.IntN(100))
		case 1:
			p.State = []string{"receiving", "suspended", "暂停"}[rng.IntN(3)]
		case 2:
			p.MonthlyAmount = "n/a" // no longer converts: quarantined
		default:
			p.ContributionBase = strconv.Itoa(rng.IntN(10000))
		}
	}
	return editRows(rng, rows, rng.IntN(5), func(p *synth.PensionRow) *string { return &p.PersonID })
}

func editPolice(rng *rand.Rand, rows []synth.PoliceRow) []synth.PoliceRow {
	for range 1 + rng.IntN(6) {
		p := &rows[rng.IntN(len(rows))]
		switch rng.IntN(4) {
		case 0:
			d := int32(20400 + rng.IntN(300))
			p.Status, p.StatusDate = "deceased", &d
		case 1:
			p.HukouNo = rows[rng.IntN(len(rows))].HukouNo
		case 2:
			p.Name += "改"
		default:
			p.StatusDate = nil
		}
	}
	return editRows(rng, rows, rng.IntN(5), func(p *synth.PoliceRow) *string { return &p.PersonID })
}

// editRoster moves members between households, renames them (a person's
// first row decides the name they are found under), changes their region,
// area or assistance (a triple may appear or leave), and makes applicants.
func editRoster(rng *rand.Rand, rows []synth.RosterRow) []synth.RosterRow {
	for range 1 + rng.IntN(8) {
		p := &rows[rng.IntN(len(rows))]
		switch rng.IntN(6) {
		case 0:
			p.HouseholdID = rows[rng.IntN(len(rows))].HouseholdID
		case 1:
			p.Name += "改"
		case 2:
			p.RegionCode = []string{"530199", rows[rng.IntN(len(rows))].RegionCode}[rng.IntN(2)]
		case 3:
			p.Area, p.Assistance = []string{"urban", "rural"}[rng.IntN(2)], []string{"dibao", "tekun", "edge"}[rng.IntN(3)]
		case 4:
			p.HouseholdID = fmt.Sprintf("NEW-%04d", rng.IntN(20)) // a household of its own, or joining another new one
			p.Status = "applicant"
		default:
			p.MonthlyBenefit = float64(rng.IntN(2000))
		}
	}
	return editRows(rng, rows, rng.IntN(4), func(p *synth.RosterRow) *string { return &p.PersonID })
}
