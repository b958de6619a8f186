package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/synth"
)

func editFile[T any](t *testing.T, path string, change func([]T) []T) {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, change(rows)); err != nil {
		t.Fatal(err)
	}
}

func setSnapshot(t *testing.T, manifest, path, day string) {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)(path: ` + regexp.QuoteMeta(path) + `\n\s+snapshot: )\S+`)
	if !re.Match(b) {
		t.Fatalf("no entry %s in %s", path, manifest)
	}
	if err := os.WriteFile(manifest, re.ReplaceAll(b, []byte("${1}"+day)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dump renders an index's live state without generation numbers: every
// data key (kind, source path, the key after its generation prefix) with
// its value, the catalog's per-source facts, and the last change set of
// each source.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, s := range cat.Sources {
			q, _ := json.Marshal(s.Quality)
			out["catalog "+s.Path] = fmt.Sprint(s.Snapshot, s.Files, s.Fingerprint, string(q), len(s.Chain), s.Combos, s.ComboRows)
			prefixes := map[byte]uint32{kindChange: s.Gen}
			for _, k := range dataKinds {
				prefixes[k] = s.dataGen()
			}
			for k, g := range prefixes {
				p := genPrefix(k, s.ID, g)
				it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
				for it.Seek(p); it.ValidForPrefix(p); it.Next() {
					v, err := it.Item().ValueCopy(nil)
					if err != nil {
						it.Close()
						return err
					}
					suffix := it.Item().Key()[len(p):]
					if k == kindRecord && len(suffix) == 8 {
						// A shortKey: dumped as the row's key under the
						// other form, so that indexes compare by content.
						seq, val, err := splitRecord(nil, v)
						if err != nil {
							it.Close()
							return err
						}
						suffix, v = binary.BigEndian.AppendUint32(slices.Clone(suffix), seq), val
					}
					out[fmt.Sprintf("%c %s %x", k, s.Path, suffix)] = fmt.Sprintf("%x", v)
				}
				it.Close()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameIndex(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %.80s, want %.80s", k, got[k], v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: extra", k))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%s: %d differences from a full rewrite, e.g.\n%s", what, len(diffs), strings.Join(diffs[:min(10, len(diffs))], "\n"))
	}
}

func openQuiet(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func updateWith(t *testing.T, db *DB, manifest string, opts UpdateOptions) map[string]SourceUpdate {
	t.Helper()
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	opts.Workers = 2
	ups, err := db.Update(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]SourceUpdate{}
	for _, u := range ups {
		out[u.Path] = u
	}
	return out
}

// changeSet lists the live generation's change set of the source at path.
func changeSet(t *testing.T, db *DB, path string) []string {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var out []string
	for _, s := range v.Catalog().Sources {
		if s.Path != path {
			continue
		}
		err := v.Changes(s.ID, s.Gen, func(sub byte, group []byte) error {
			if sub == changeHousehold {
				out = append(out, fmt.Sprintf("%c %s", sub, group))
			} else {
				out = append(out, fmt.Sprintf("%c %016x", sub, binary.BigEndian.Uint64(group)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// TestDeltaEqualsFullRewrite applies snapshots that add, change, remove and
// move rows (between persons and between hukous) as deltas, twice in a row
// and across a reopen, and compares the index, change sets included, with
// one that wrote every changed source whole.
func TestDeltaEqualsFullRewrite(t *testing.T) {
	man, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "region")
	if err := os.CopyFS(dir, os.DirFS(filepath.Dir(man[0]))); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "sources.yaml")
	deltaDB := openQuiet(t, filepath.Join(t.TempDir(), "delta"))
	fullDB := openQuiet(t, filepath.Join(t.TempDir(), "full"))
	small := openQuiet(t, filepath.Join(t.TempDir(), "small")) // a transaction budget of 1 row: staged
	whole := openQuiet(t, filepath.Join(t.TempDir(), "whole")) // and a staged budget of 1 byte: rewritten
	defer func() { deltaDB.Close(); fullDB.Close(); small.Close(); whole.Close() }()
	for _, db := range []*DB{deltaDB, fullDB, small, whole} {
		updateWith(t, db, manifest, UpdateOptions{})
	}
	sameIndex(t, "first build", dump(t, deltaDB), dump(t, fullDB))
	polices, err := filepath.Glob(filepath.Join(dir, "sources/police-*.parquet"))
	if err != nil || len(polices) == 0 {
		t.Fatalf("no police file: %v", err)
	}
	police := polices[0]
	roster := filepath.Join(dir, "roster.parquet")
	var moved, other string
	var twice, renamed, newcomer, movedHH synth.RosterRow // roster persons the rounds edit
	rounds := []struct {
		name string
		edit func()
		// shifts lists the files where rows removed mid-file move every
		// later row's ordinal: a large delta.
		shifts []string
	}{
		{"add, change, remove, move", func() {
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				moved, other = rows[30].PersonID, rows[31].PersonID
				rows[10].MonthlyAmount = "4321.50"
				rows[30].PersonID = rows[31].PersonID // moved to another person
				rows = rows[:len(rows)-1]             // the last row removed
				add := rows[0]
				add.PersonID, add.State = rows[100].PersonID, "暂停" // added
				return append(rows, add)
			})
			editFile(t, police, func(rows []synth.PoliceRow) []synth.PoliceRow {
				rows[5].HukouNo = rows[40].HukouNo // moved to another hukou
				rows[7].Status = "deceased"
				rows[9].PersonID = "not-an-id" // now filed by name and birth date
				newcomer = synth.RosterRow{HouseholdID: "NEW-0001", PersonID: rows[len(rows)-1].PersonID, Name: rows[len(rows)-1].Name,
					Relation: "head", RegionCode: "530199", Area: "urban", Assistance: "dibao", Status: "applicant"}
				dup := rows[60] // a second police row of a person, on another hukou
				dup.HukouNo = rows[70].HukouNo
				return append(rows, dup)
			})
			editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow {
				twice, renamed = rows[0], rows[5]
				rows[3].HouseholdID = rows[20].HouseholdID // moved to another household
				rows[5].Name = "改名"                        // the person's first row: found by another name
				rows[9].PersonID = "not-an-id"             // now filed by name and birth date
				again := twice                             // a second row of rows[0]'s person, in another household
				again.HouseholdID, again.Relation = rows[40].HouseholdID, "other"
				// A new applicant household whose (region, area, assistance) is new.
				return append(rows, again, newcomer)
			})
		}, nil},
		{"removed mid-file", func() {
			// Every later row moves up: their keys (row ordinals) and values
			// (row numbers) change, but not their content or change-set groups.
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				return append(rows[:20:20], rows[21:]...)
			})
			editFile(t, police, func(rows []synth.PoliceRow) []synth.PoliceRow {
				return append(rows[:20:20], rows[21:]...)
			})
			editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow {
				movedHH = rows[30]
				return append(rows[:20:20], rows[21:]...)
			})
		}, []string{"sources/pension.parquet", "sources/police-*.parquet", "roster.parquet"}},
		{"a delta after a delta", func() {
			editFile(t, filepath.Join(dir, "sources/pension.parquet"), func(rows []synth.PensionRow) []synth.PensionRow {
				rows[10].MonthlyAmount = "100.00"
				return rows[:len(rows)-3] // the added row and two more removed at the end
			})
			editFile(t, police, func(rows []synth.PoliceRow) []synth.PoliceRow {
				rows[5].HukouNo = rows[6].HukouNo
				rows[9].Name = "改名"
				return rows
			})
			editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow {
				// The first row of a person with two goes: the second is
				// first now. The new household leaves, and its triple with
				// it; so does a whole household of the first build.
				rows = slices.DeleteFunc(rows, func(r synth.RosterRow) bool {
					return r == twice || r.HouseholdID == newcomer.HouseholdID || r.HouseholdID == movedHH.HouseholdID
				})
				for i := range rows {
					if rows[i].PersonID == renamed.PersonID {
						rows[i].Name = renamed.Name // back to the name of the first build
					}
				}
				return rows
			})
		}, []string{"roster.parquet"}},
	}
	nStaged := 0
	for i, r := range rounds {
		r.edit()
		day := fmt.Sprintf("2026-10-%02d", 29+i)
		setSnapshot(t, manifest, "sources/pension.parquet", day)
		setSnapshot(t, manifest, "sources/police-*.parquet", day)
		got := updateWith(t, deltaDB, manifest, UpdateOptions{})
		want := updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		staged := updateWith(t, small, manifest, UpdateOptions{maxDeltaRows: 1})
		fell := updateWith(t, whole, manifest, UpdateOptions{maxDeltaRows: 1, maxStagedBytes: 1})
		for _, p := range []string{"sources/pension.parquet", "sources/police-*.parquet", "roster.parquet"} {
			if got[p].Action != "updated" || got[p].Delta == 0 || got[p].Delta > 200 && !slices.Contains(r.shifts, p) {
				t.Fatalf("%s: %s %s: %+v; want a small delta", r.name, p, got[p].Action, got[p])
			}
			if want[p].Delta != 0 || fell[p].Delta != 0 {
				t.Fatalf("%s: %s written in place despite Rewrite or the staged budget", r.name, p)
			}
			// Staged unless more than a fifth of the rows changed (then
			// written whole).
			s := staged[p]
			if got[p].Staged || s.Staged != (s.Delta > 0) || s.Staged && (s.Delta != got[p].Delta || s.Changed != got[p].Changed) ||
				!s.Staged && got[p].Delta <= got[p].Rows/5 {
				t.Fatalf("%s: %s: one transaction %+v, staged %+v", r.name, p, got[p], s)
			}
			if s.Staged {
				nStaged++
			}
			if got[p].Changed != want[p].Changed {
				t.Errorf("%s: %s: %d groups changed, a full rewrite says %d", r.name, p, got[p].Changed, want[p].Changed)
			}
			if cg, cw := changeSet(t, deltaDB, p), changeSet(t, fullDB, p); !slices.Equal(cg, cw) || len(cg) == 0 {
				t.Fatalf("%s: %s change set %v, a full rewrite gives %v", r.name, p, cg, cw)
			}
		}
		if i == 0 {
			cs := changeSet(t, deltaDB, "sources/pension.parquet")
			for _, id := range []string{moved, other} {
				if k := personid.Parse(id).Key; !slices.Contains(cs, fmt.Sprintf("p %016x", uint64(k))) {
					t.Fatalf("the person moved from and the one moved to (%s) are not both in the change set %v", id, cs)
				}
			}
		}
		sameIndex(t, r.name, dump(t, deltaDB), dump(t, fullDB))
		sameViews(t, r.name, deltaDB, fullDB)
		sameIndex(t, r.name+" (staged)", dump(t, small), dump(t, fullDB))
		sameIndex(t, r.name+" (over the staged budget)", dump(t, whole), dump(t, fullDB))
		checkConsistent(t, deltaDB)
		checkConsistent(t, small)
		checkConsistent(t, whole)
		for _, db := range []*DB{deltaDB, fullDB, small, whole} {
			checkRepeats(t, r.name, db)
		}
	}
	if nStaged < 3 {
		t.Fatalf("only %d staged deltas", nStaged)
	}
	// Reopen: the deltas are on disk and the next update is a delta again.
	dirDelta := deltaDB.Dir()
	deltaDB.Close()
	deltaDB = openQuiet(t, dirDelta)
	checkConsistent(t, deltaDB)
	sameIndex(t, "after a reopen", dump(t, deltaDB), dump(t, fullDB))
}

// checkRepeats checks the repeat filters of db's roster and police against
// their rows: every person with two rows or more by ID may repeat (a false
// "no" would lose a row), and most persons with one row certainly do not
// (else the filter saves nothing).
func checkRepeats(t *testing.T, what string, db *DB) {
	t.Helper()
	kinds := map[string]sources.Kind{"roster.parquet": sources.KindRoster, "sources/police-*.parquet": sources.KindPolice}
	rows := map[sources.Kind]map[personid.Key]int{}
	for k := range dump(t, db) {
		var path string
		var suffix []byte
		if _, err := fmt.Sscanf(k, "R %s %x", &path, &suffix); err != nil || kinds[path] == "" || len(suffix) != 12 {
			continue
		}
		if rows[kinds[path]] == nil {
			rows[kinds[path]] = map[personid.Key]int{}
		}
		rows[kinds[path]][personid.Key(binary.BigEndian.Uint64(suffix))]++
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, kind := range kinds {
		repeated, singles, told := 0, 0, 0
		for key, n := range rows[kind] {
			switch {
			case n > 1:
				repeated++
				if !v.MayRepeat(key, kind) {
					t.Fatalf("%s: %s person %s has %d rows, but the repeat filter says at most one", what, kind, key.Mask(), n)
				}
			case !v.MayRepeat(key, kind):
				told++
				fallthrough
			default:
				singles++
			}
		}
		if repeated == 0 || singles < 100 || told < singles*9/10 {
			t.Fatalf("%s: %s: %d persons repeat; the filter tells %d of %d others apart", what, kind, repeated, told, singles)
		}
	}
}

// sameViews compares what a View returns for every person key of the full
// index's sources: the records as the matcher reads them.
func sameViews(t *testing.T, what string, got, want *DB) {
	t.Helper()
	keys := map[uint64]bool{}
	for k := range dump(t, want) {
		var path string
		var suffix []byte
		if strings.HasPrefix(k, "R ") {
			if _, err := fmt.Sscanf(k, "R %s %x", &path, &suffix); err == nil && len(suffix) >= 8 {
				keys[binary.BigEndian.Uint64(suffix)] = true
			}
		}
	}
	render := func(db *DB) []string {
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		var out []string
		for k := range keys {
			recs, err := v.Records(personid.Key(k), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				out = append(out, fmt.Sprintf("%d %d %d %+v", k, r.Source, r.Seq, r.Rec))
			}
		}
		slices.Sort(out)
		return out
	}
	g, w := render(got), render(want)
	if len(w) < 1000 || !slices.Equal(g, w) {
		t.Fatalf("%s: views differ (%d records, %d from a full rewrite)", what, len(g), len(w))
	}
}

// TestSameManifestByAnotherPath: the manifest opened through another path
// (here a link to its folder) is the same set of entries, and so is a
// catalog holding the fingerprints older indexes wrote (files named as the
// manifest was opened): nothing is updated. A real change still is.
func TestSameManifestByAnotherPath(t *testing.T) {
	dir, manifest, _ := regionCopy(t)
	db := openQuiet(t, filepath.Join(t.TempDir(), "ix"))
	defer db.Close()
	updateWith(t, db, manifest, UpdateOptions{})
	link := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	unchanged := func(what, manifest string) {
		t.Helper()
		for p, u := range updateWith(t, db, manifest, UpdateOptions{}) {
			if u.Action != "unchanged" {
				t.Fatalf("%s: %s %s", what, p, u.Action)
			}
		}
	}
	unchanged("through a link", filepath.Join(link, "sources.yaml"))

	// A catalog as an older index wrote it: legacy fingerprints, of the
	// manifest opened by its own path.
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	err = db.editCatalog(func(c *Catalog) error {
		for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
			s := c.source(e.Kind, e.Path)
			if s.Fingerprint, err = legacyFingerprint(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	unchanged("legacy fingerprints", manifest)

	setSnapshot(t, manifest, "sources/pension.parquet", "2026-10-31")
	if u := updateWith(t, db, filepath.Join(link, "sources.yaml"), UpdateOptions{})["sources/pension.parquet"]; u.Action != "updated" {
		t.Fatalf("a new snapshot through the link: %s", u.Action)
	}
}

// TestRosterOfAnOlderIndex: an index written before roster deltas has no
// roster digest table or triple counts; its first roster update writes the
// roster whole (and equals a full rewrite), the next one is a delta.
func TestRosterOfAnOlderIndex(t *testing.T) {
	dir, manifest, db, fullDB := twinIndexes(t)
	roster := filepath.Join(dir, "roster.parquet")
	// What an older version left: no counts; (a missing table is the
	// errNoTable path every source shares.)
	err := db.editCatalog(func(c *Catalog) error {
		for i := range c.Sources {
			c.Sources[i].ComboRows = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for round, want := range []bool{false, true} {
		editFile(t, roster, func(rows []synth.RosterRow) []synth.RosterRow {
			rows[round].MonthlyBenefit += 100
			return rows
		})
		got := updateWith(t, db, manifest, UpdateOptions{})["roster.parquet"]
		updateWith(t, fullDB, manifest, UpdateOptions{Rewrite: true})
		if got.Action != "updated" || got.InPlace != want || want && got.Delta != 1 {
			t.Fatalf("round %d: roster %+v; want in place %v", round, got, want)
		}
		sameIndex(t, fmt.Sprintf("round %d", round), dump(t, db), dump(t, fullDB))
	}
}
