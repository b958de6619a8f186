package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/synth"
)

const crashEnv = "HEDUI_STORE_CRASH_CHILD" // index folder and manifest, tab-separated

func TestMain(m *testing.M) {
	if arg := os.Getenv(crashEnv); arg != "" {
		os.Exit(crashChild(arg))
	}
	code := m.Run()
	for _, d := range tempRegions {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// crashChild runs one index update and exits; the parent kills it midway.
func crashChild(arg string) int {
	var dir, manifest string
	var budget int64
	var killAfterFlip, legacy bool
	fmt.Sscanf(arg, "%s\t%s\t%d\t%t\t%t", &dir, &manifest, &budget, &killAfterFlip, &legacy)
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	db, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	opts := stagedOptions(budget)
	if killAfterFlip {
		// Die where a random kill seldom lands: after a staged delta's
		// flip, before its writes are applied.
		opts.afterFlip = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	}
	if legacy {
		// Die there having logged as older versions did, under Q keys.
		opts.afterFlip = func() {
			if err := db.stagedToKeys(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(7)
			}
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, err := db.Update(context.Background(), m, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	if err := db.Close(); err != nil {
		return 6
	}
	return 0
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var tempRegions []string

// regions generates two small regions with the same layout and different
// content (seeds 1 and 2), once per test binary.
var regions = sync.OnceValues(func() ([2]string, error) {
	var out [2]string
	for i := range out {
		dir, err := os.MkdirTemp("", "hedui-store-test-")
		if err != nil {
			return out, err
		}
		tempRegions = append(tempRegions, dir)
		if _, err := synth.Generate(context.Background(), synth.Config{Out: dir, Seed: int64(i + 1), Residents: 6000, Households: 500,
			AsOf: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			return out, err
		}
		out[i] = filepath.Join(dir, "sources.yaml")
	}
	return out, nil
})

// contents digests, per source, the live generation's records: the sum of
// the record digests and their count.
func contents(t *testing.T, db *DB) map[string][2]uint64 {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]uint64{}
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, s := range cat.Sources {
			var sum, n uint64
			for _, k := range []byte{kindRecord, kindNameDOB} {
				p := genPrefix(k, s.ID, s.dataGen())
				it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
				for it.Seek(p); it.ValidForPrefix(p); it.Next() {
					it.Item().Value(func(v []byte) error {
						if k == kindRecord {
							if _, val, err := splitRecord(it.Item().Key()[len(p)+8:], v); err == nil {
								v = val
							}
						}
						sum += valueDigest(v)
						return nil
					})
					n++
				}
				it.Close()
			}
			out[string(s.Kind)+" "+s.Path] = [2]uint64{sum, n}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkConsistent asserts that nothing of a dead writer is left: no pending
// or garbage generation, no key of a generation that is not live (or, for
// change sets, not in the chain), and row counts that match the catalog.
func checkConsistent(t *testing.T, db *DB) {
	t.Helper()
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	live := map[uint16]uint32{}
	chain := map[[2]uint64]bool{}
	for _, s := range cat.Sources {
		if s.Pending != 0 || len(s.Garbage) > 0 {
			t.Fatalf("source %s %s: pending %d, garbage %v after reopen", s.Kind, s.Path, s.Pending, s.Garbage)
		}
		live[s.ID] = s.dataGen()
		for _, g := range s.Chain {
			chain[[2]uint64{uint64(s.ID), uint64(g.Gen)}] = true
		}
	}
	rows := map[uint16]int64{}
	err = db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			switch k[0] {
			case kindRecord, kindNameDOB, kindHukou, kindHouse, kindRosterN, kindChange:
			default:
				continue
			}
			src, gen := binary.BigEndian.Uint16(k[1:]), binary.BigEndian.Uint32(k[3:])
			if k[0] == kindChange {
				if !chain[[2]uint64{uint64(src), uint64(gen)}] {
					t.Fatalf("change set of source %d generation %d, which is not in the chain", src, gen)
				}
				continue
			}
			if live[src] != gen {
				t.Fatalf("key kind %c of source %d generation %d; the live generation is %d", k[0], src, gen, live[src])
			}
			if k[0] == kindRecord || k[0] == kindNameDOB {
				rows[src]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTables(t, db, cat)
	for _, s := range cat.Sources {
		want := s.Quality.Rows - s.Quality.Quarantined["value"]
		if rows[s.ID] != want {
			t.Fatalf("source %s %s: %d records indexed, catalog says %d rows", s.Kind, s.Path, rows[s.ID], want)
		}
	}
}

func update(t *testing.T, dir, manifest string) []SourceUpdate {
	t.Helper()
	return updateBudget(t, dir, manifest, 0)
}

// updateBudget updates with a delta budget of budget rows per transaction
// (0: badger's): a larger delta is staged.
func updateBudget(t *testing.T, dir, manifest string, budget int64) []SourceUpdate {
	t.Helper()
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ups, err := db.Update(context.Background(), m, stagedOptions(budget))
	if err != nil {
		t.Fatal(err)
	}
	return ups
}

func snapshotOf(t *testing.T, dir string) map[string][2]uint64 {
	t.Helper()
	return snapshotLogged(t, dir, quietLogger())
}

// snapshotLogged is snapshotOf with the index's log lines going to log.
func snapshotLogged(t *testing.T, dir string, log *slog.Logger) map[string][2]uint64 {
	t.Helper()
	db, err := Open(dir, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkConsistent(t, db)
	return contents(t, db)
}

// stagedBudget is a transaction budget small enough to stage the deltas.
const stagedBudget = 2

// stagedOptions are an update's options with a transaction budget of
// budget rows (0: badger's); with a budget, every delta beyond it is
// staged, however large (the test regions differ in most rows).
func stagedOptions(budget int64) UpdateOptions {
	o := UpdateOptions{Workers: 2, maxDeltaRows: budget}
	if budget > 0 {
		o.maxStagedRows = 1 << 40
	}
	return o
}

// TestUpdateSurvivesKills kills `index update` in a child process at random
// moments; every reopen must show each source whole at its old or its new
// generation, and the next update must complete.
func TestUpdateSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	man, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "index")
	start := time.Now()
	update(t, dir, man[0])
	a := snapshotOf(t, dir)
	deltas, staged := 0, 0
	for _, u := range updateBudget(t, dir, man[1], stagedBudget) {
		t.Logf("%s %s: %s, %d rows, %d rewritten in place (staged %v), %d groups changed", u.Kind, u.Path, u.Action, u.Rows, u.Delta, u.Staged, u.Changed)
		if u.Delta > 0 {
			deltas++
		}
		if u.Staged {
			staged++
		}
	}
	// The kills must land in deltas (applied in place, in one transaction
	// or staged over several) as well as in full rewrites (the children
	// without a staged budget: most rows differ between the two regions).
	if deltas < 5 || staged < 3 {
		t.Fatalf("only %d sources were updated as deltas, %d of them staged", deltas, staged)
	}
	b := snapshotOf(t, dir)
	full := time.Since(start) / 2
	differ := 0
	for k := range a {
		if a[k] != b[k] {
			differ++
		}
	}
	if differ < 3 {
		t.Fatalf("only %d sources differ between the two regions", differ)
	}
	r := rand.New(rand.NewPCG(1, 2))
	kills, mixed, finished, selfKilled := 0, 0, 0, 0
	// Kill until 20 updates died midway: under load an update can finish
	// before its kill, and such a try does not count.
	for i := 0; kills < 20 && i < 80; i++ {
		target := man[i%2] // the index is at the other region now
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		// Every other child stages its deltas; one in eight kills itself
		// after the first staged flip.
		budget := map[bool]int64{true: stagedBudget}[i%4 >= 2]
		self := i%8 == 3
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s\t%s\t%d\t%t", crashEnv, dir, target, budget, self))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The child needs some startup time before it writes anything.
		delay := 30*time.Millisecond + time.Duration(r.Int64N(int64(full)*3/4+1))
		if !self {
			time.Sleep(delay)
			cmd.Process.Kill()
		}
		if err := cmd.Wait(); err == nil {
			t.Logf("kill %d: the update finished first", i)
		} else {
			kills++
			if self {
				selfKilled++
			}
		}
		var opened strings.Builder
		got := snapshotLogged(t, dir, slog.New(slog.NewTextHandler(&opened, nil)))
		if strings.Contains(opened.String(), "finishing a delta a dead writer left") {
			finished++
		} else if self {
			t.Fatalf("kill %d: the child killed after a staged flip left no delta for the reopen to finish", i)
		}
		fromA, fromB := 0, 0
		for k, v := range got {
			switch v {
			case a[k]:
				fromA++
			case b[k]:
				fromB++
			default:
				t.Fatalf("kill %d: source %s is neither the old nor the new generation (%v; old %v, new %v)", i, k, v, a[k], b[k])
			}
		}
		if fromA > 0 && fromB > 0 {
			mixed++ // sources are swapped one at a time: some old, some new
		}
		update(t, dir, target)
		if i%4 != 3 {
			continue // the next kill's reopen checks consistency anyway
		}
		want := map[bool]map[string][2]uint64{true: a, false: b}[i%2 == 0]
		if got := snapshotOf(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("kill %d: after the next update the index is not the target region", i)
		}
	}
	if kills < 20 {
		t.Fatalf("only %d of the updates were killed midway", kills)
	}
	// Random kills seldom land between a staged delta's flip and the end of
	// its writes; the children that kill themselves there (each checked
	// above) keep Open's finishing of such deltas tested.
	if selfKilled == 0 {
		t.Fatal("no child killed itself between a staged delta's flip and the end of its writes")
	}
	t.Logf("%d kills, %d left some sources old and some new, %d a staged delta for the reopen to finish; one update takes %v", kills, mixed, finished, full)
}

// checkTables asserts that the only digest tables are those of live
// generations, and that each lists the live rows: its entries name exactly
// the record keys badger holds.
func checkTables(t *testing.T, db *DB, cat *Catalog) {
	t.Helper()
	names, _ := os.ReadDir(filepath.Join(db.dir, tablesDir))
	gens := map[uint16]uint32{}
	for _, s := range cat.Sources {
		gens[s.ID] = s.Gen
	}
	for _, n := range names {
		src, gen, ok := parseTableName(n.Name())
		if !ok || gens[src] != gen {
			t.Fatalf("digest table %s of a generation that is not live", n.Name())
		}
		if filepath.Ext(n.Name()) == ".stg" {
			t.Fatalf("staged log %s left after its delta was applied", n.Name())
		}
	}
	for _, s := range cat.Sources {
		if s.Gen == 0 {
			continue
		}
		checkFilter(t, db, s)
		tr, err := db.openTable(s.ID, s.Gen)
		if errors.Is(err, errNoTable) {
			continue // written whole on the next update
		}
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		ents, err := tr.read(0, int(tr.rows), nil)
		tr.close()
		if err != nil {
			t.Fatal(err)
		}
		p, unmap, err := db.readFilter(s.ID, s.Gen)
		if err != nil {
			t.Fatalf("source %s: digest table without its presence filter: %v", s.Path, err)
		}
		defer unmap()
		rows := map[uint64]int{}
		for i := 0; i < len(ents); i += entryLen {
			if e := getEntry(ents[i:]); e.flag != 0 {
				want[string(entryKey(nil, e, s.ID, s.dataGen(), uint32(i/entryLen)))] = true
				if !p.has(e.group) {
					t.Fatalf("source %s: the presence filter misses person key %d", s.Path, e.group)
				}
				if e.flag == kindRecord {
					rows[e.group] += 2 // under another key than shortKey
				} else if e.flag == kindShort {
					rows[e.group]++
				}
			}
		}
		checkShortKeys(t, db, s, rows)
		got := 0
		err = db.bdb.View(func(txn *badger.Txn) error {
			for _, k := range []byte{kindRecord, kindNameDOB} {
				p := genPrefix(k, s.ID, s.dataGen())
				it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
				for it.Seek(p); it.ValidForPrefix(p); it.Next() {
					if !want[string(it.Item().Key())] {
						t.Errorf("source %s: key %x not in the digest table", s.Path, it.Item().Key())
					}
					got++
				}
				it.Close()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != len(want) {
			t.Fatalf("source %s: %d keys, the digest table lists %d", s.Path, got, len(want))
		}
		checkColumns(t, db, s, tr.rows)
	}
}

// checkShortKeys asserts what a short-keyed source's readers rely on: a
// person key its repeat filter does not hold has one row, under shortKey
// (rows counts 1 per shortKey row, 2 per other). A generation without the
// filter is read by seeks.
func checkShortKeys(t *testing.T, db *DB, s Source, rows map[uint64]int) {
	t.Helper()
	if !s.ShortKeys {
		for g, n := range rows {
			if n%2 == 1 {
				t.Fatalf("source %s: person key %d has a shortKey row, but the source has no short keys", s.Path, g)
			}
		}
		return
	}
	rep, release := db.repeats(s.ID, s.Gen)
	defer release()
	if rep == nil {
		return
	}
	for g, n := range rows {
		if n != 1 && !rep.has(g) {
			t.Fatalf("source %s: person key %d has rows under other keys (weight %d), but the repeat filter says one row under shortKey", s.Path, g, n)
		}
	}
}

// checkColumns asserts that a live generation's column digests, when it has
// a chunk directory, are whole: every column file there, the chunks covering
// the table's rows in order, and their key counts summing to the catalog's.
func checkColumns(t *testing.T, db *DB, s Source, rows int64) {
	t.Helper()
	b, err := os.ReadFile(db.colDirPath(s.ID, s.Gen))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	n, cols, chunks, err := decodeColDir(b, s.ID, s.Gen)
	if err != nil {
		t.Fatalf("source %s: %v", s.Path, err)
	}
	r, err := db.openColumns(s.ID, s.Gen, cols)
	if err != nil {
		t.Fatalf("source %s: a chunk directory without its column files: %v", s.Path, err)
	}
	r.close()
	var next uint64
	var counts sources.Quality
	for _, c := range chunks {
		if c.seq0 != next || c.fps == nil {
			t.Fatalf("source %s: chunk at row %d, want %d", s.Path, c.seq0, next)
		}
		next += c.rows
		c.counts.AddTo(&counts)
	}
	if n != uint64(rows) || next != n || counts.Rows != s.Quality.Rows || counts.ValidKeys != s.Quality.ValidKeys {
		t.Fatalf("source %s: column digests of %d rows (chunks %d, counts %d valid %d), table %d, catalog %d valid %d",
			s.Path, n, next, counts.Rows, counts.ValidKeys, rows, s.Quality.Rows, s.Quality.ValidKeys)
	}
}

// checkFilter asserts that the presence filter of a live generation, when
// there is one, holds the group of every record key badger has.
func checkFilter(t *testing.T, db *DB, s Source) {
	t.Helper()
	p, unmap, err := db.readFilter(s.ID, s.Gen)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, k := range []byte{kindRecord, kindNameDOB} {
			pre := genPrefix(k, s.ID, s.dataGen())
			it := txn.NewIterator(badger.IteratorOptions{Prefix: pre})
			for it.Seek(pre); it.ValidForPrefix(pre); it.Next() {
				if g := binary.BigEndian.Uint64(it.Item().Key()[genPrefixLen:]); !p.has(g) {
					t.Errorf("source %s: the presence filter misses group %d", s.Path, g)
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
