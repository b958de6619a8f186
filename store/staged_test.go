package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
)

// viewContents is contents as one View reads it (through the writes of a
// staged delta being applied), with the sources it read through them.
func viewContents(t *testing.T, v *View) (map[string][2]uint64, map[string]bool) {
	t.Helper()
	out := map[string][2]uint64{}
	through := map[string]bool{}
	lss := []*liveSource{}
	if v.roster != nil {
		lss = append(lss, v.roster)
	}
	for i := range v.live {
		lss = append(lss, &v.live[i])
	}
	for _, ls := range lss {
		var sum, n uint64
		for _, k := range []byte{kindRecord, kindNameDOB} {
			err := v.scan(k, ls, genPrefix(k, ls.src.ID, ls.src.dataGen()), func(_, b []byte) error {
				sum += valueDigest(b)
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		name := string(ls.src.Kind) + " " + ls.src.Path
		out[name] = [2]uint64{sum, n}
		through[name] = ls.staged != nil
	}
	return out, through
}

// TestViewsDuringAStagedDelta: readers opening Views in a loop while every
// source is updated by a staged delta (the intake service answers while an
// update runs) see each source whole at its old or its new generation; those
// that read a source through the writes of a delta still being applied in
// the background see it at its new one.
func TestViewsDuringAStagedDelta(t *testing.T) {
	man, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "index")
	update(t, dir, man[0])
	db := openQuiet(t, dir)
	defer db.Close()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	old, _ := viewContents(t, v)
	v.Close()

	type seen struct {
		sig     map[string][2]uint64
		through map[string]bool
	}
	var mu sync.Mutex
	var all []seen
	var throughViews atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				v, err := db.View()
				if err != nil {
					t.Error(err)
					return
				}
				c, through := viewContents(t, v)
				v.Close()
				for _, ok := range through {
					if ok {
						throughViews.Add(1)
						break
					}
				}
				mu.Lock()
				all = append(all, seen{c, through})
				mu.Unlock()
			}
		}()
	}
	m, err := sources.LoadManifest(man[1])
	if err != nil {
		t.Fatal(err)
	}
	opts := stagedOptions(stagedBudget)
	// The first background apply waits until views have read through the
	// staged writes of every source.
	var gate sync.Once
	opts.applyGate = func() {
		gate.Do(func() {
			for start := throughViews.Load(); throughViews.Load() < start+4; {
				time.Sleep(time.Millisecond)
			}
		})
	}
	ups, err := db.Update(context.Background(), m, opts)
	if err == nil {
		err = db.waitApplies()
	}
	done.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	staged := 0
	for _, u := range ups {
		if u.Staged {
			staged++
		}
	}
	v, err = db.View()
	if err != nil {
		t.Fatal(err)
	}
	now, through := viewContents(t, v)
	v.Close()
	for src, ok := range through {
		if ok {
			t.Fatalf("source %s is still read through staged writes after they were applied", src)
		}
	}
	if staged < 5 || len(all) < 10 || throughViews.Load() < 4 {
		t.Fatalf("%d staged deltas, %d views read during the update, %d of them through staged writes: the test proves nothing",
			staged, len(all), throughViews.Load())
	}
	for i, c := range all {
		for src, sig := range c.sig {
			if c.through[src] && sig != now[src] {
				t.Fatalf("view %d read source %s through its staged writes as %v, not as its new generation %v (old %v)", i, src, sig, now[src], old[src])
			}
			if sig != old[src] && sig != now[src] {
				t.Fatalf("view %d: source %s is neither its old generation %v nor its new one %v: %v", i, src, old[src], now[src], sig)
			}
		}
	}
	t.Logf("%d views during %d staged deltas, each source old or new; %d read through staged writes", len(all), staged, throughViews.Load())
}

// stagedKey is Q | src | gen | block: where older versions logged.
func stagedKey(src uint16, gen uint32, block uint32) []byte {
	return binary.BigEndian.AppendUint32(genPrefix(kindStaged, src, gen), block)
}

// stagedToKeys moves every staged log file into badger under Q keys, one
// block each, as an older version kept it.
func (db *DB) stagedToKeys() error {
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	for _, s := range cat.Sources {
		if s.Staged == 0 {
			continue
		}
		path := db.stagedPath(s.ID, s.Staged)
		b, err := readStaged(path)
		if err != nil {
			return err
		}
		k := stagedKey(s.ID, s.Staged, 0)
		if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(k, b) }); err != nil {
			return err
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return nil
}

// TestOpenFinishesAnOlderStagedLog: a writer of an older version, which
// logged a staged delta under Q keys rather than in a file, died after the
// flip; Open applies the delta from those keys, deletes them, and the next
// update brings the index to its target.
func TestOpenFinishesAnOlderStagedLog(t *testing.T) {
	man, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "index")
	update(t, dir, man[1])
	want := snapshotOf(t, dir)
	dir = filepath.Join(t.TempDir(), "index")
	update(t, dir, man[0])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s\t%s\t%d\t%t\t%t", crashEnv, dir, man[1], stagedBudget, false, true))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("the child was not killed after its first staged flip")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("child: %v", err)
	}
	if stg, _ := filepath.Glob(filepath.Join(dir, tablesDir, "*.stg")); len(stg) != 0 {
		t.Fatalf("staged log files %v: the child should have moved them to Q keys", stg)
	}
	var opened strings.Builder
	db, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&opened, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(opened.String(), "finishing a delta a dead writer left") {
		db.Close()
		t.Fatal("Open did not finish the staged delta")
	}
	left := 0
	db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindStaged}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			left++
		}
		return nil
	})
	db.Close()
	if left != 0 {
		t.Fatalf("%d staged log keys left after Open applied them", left)
	}
	update(t, dir, man[1])
	if got := snapshotOf(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("after the next update the index is not the target region")
	}
}
