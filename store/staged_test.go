package store

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
)

// viewContents is contents as one View sees it.
func viewContents(v *View) map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, s := range v.cat.Sources {
		var sum, n uint64
		for _, k := range []byte{kindRecord, kindNameDOB} {
			p := genPrefix(k, s.ID, s.dataGen())
			it := v.txn.NewIterator(badger.IteratorOptions{Prefix: p})
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				it.Item().Value(func(b []byte) error { sum += valueDigest(b); return nil })
				n++
			}
			it.Close()
		}
		out[string(s.Kind)+" "+s.Path] = [2]uint64{sum, n}
	}
	return out
}

// TestViewsDuringAStagedDelta: readers opening Views in a loop while every
// source is updated by a staged delta (the intake service answers while an
// update runs) see each source whole at its old or its new generation, never
// the new catalog over rows still being applied.
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
	old := viewContents(v)
	v.Close()

	var mu sync.Mutex
	var seen []map[string][2]uint64
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
				c := viewContents(v)
				v.Close()
				mu.Lock()
				seen = append(seen, c)
				mu.Unlock()
			}
		}()
	}
	m, err := sources.LoadManifest(man[1])
	if err != nil {
		t.Fatal(err)
	}
	ups, err := db.Update(context.Background(), m, stagedOptions(stagedBudget))
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
	now := viewContents(v)
	v.Close()
	if staged < 5 || len(seen) < 10 {
		t.Fatalf("%d staged deltas, %d views read during the update: the test proves nothing", staged, len(seen))
	}
	for i, c := range seen {
		for src, sig := range c {
			if sig != old[src] && sig != now[src] {
				t.Fatalf("view %d: source %s is neither its old generation %v nor its new one %v: %v", i, src, old[src], now[src], sig)
			}
		}
	}
	t.Logf("%d views during %d staged deltas, each source old or new", len(seen), staged)
}
