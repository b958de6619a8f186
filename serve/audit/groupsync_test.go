package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGroupSyncSharesRounds: every Wait returns only after a round that
// started after its write, and concurrent writers share rounds.
func TestGroupSyncSharesRounds(t *testing.T) {
	var g GroupSync
	var durable atomic.Int64 // writes made durable: what the last round saw
	var rounds atomic.Int64
	var mu sync.Mutex
	var writes int64
	g.Sync = func() error {
		mu.Lock()
		w := writes
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		durable.Store(w)
		rounds.Add(1)
		return nil
	}
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				mu.Lock()
				writes++
				mine := writes
				n := g.Written()
				mu.Unlock()
				if err := g.Wait(n); err != nil {
					t.Error(err)
					return
				}
				if d := durable.Load(); d < mine {
					t.Errorf("Wait returned for write %d, but only %d are durable", mine, d)
					return
				}
			}
		})
	}
	wg.Wait()
	if r := rounds.Load(); r >= workers*each {
		t.Errorf("%d rounds for %d writes: no round was shared", r, workers*each)
	}
}

// TestGroupSyncErrorIsFinal: after a failed sync every later Wait fails,
// even if the next fsync would succeed.
func TestGroupSyncErrorIsFinal(t *testing.T) {
	var g GroupSync
	fail := errors.New("disk gone")
	calls := 0
	g.Sync = func() error {
		calls++
		if calls == 2 {
			return fail
		}
		return nil
	}
	if err := g.Wait(g.Written()); err != nil {
		t.Fatal(err)
	}
	first := g.All()
	if err := g.Wait(g.Written()); !errors.Is(err, fail) {
		t.Fatalf("second Wait: got %v, want %v", err, fail)
	}
	if err := g.Wait(g.Written()); !errors.Is(err, fail) {
		t.Fatalf("third Wait: got %v, want %v", err, fail)
	}
	if err := g.Wait(first); err != nil {
		t.Fatalf("Wait for a write synced before the failure: %v", err)
	}
}

// TestLineIsMarshalOfEntry: a written line is exactly json.Marshal of the
// entry with its hash, the form Verify recomputes.
func TestLineIsMarshalOfEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	in := []Entry{
		{User: "wang", Role: "intake", Action: "check.create", Status: 201, Check: "ck01", Household: "hk:ab",
			AuthorizationRef: `SQ-<1>&"2"`, Snapshots: map[string]string{"vehicle": "2026-10-28", "bank": "2026-10-01"}, Verdict: "review"},
		{User: "李四", Action: "login.failed", Status: 401},
	}
	for _, e := range in {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(&e)
		if string(want) != sc.Text() {
			t.Errorf("line %d:\n got %s\nwant %s", n, sc.Text(), want)
		}
		if h, _ := e.digest(); h != e.Hash {
			t.Errorf("line %d: hash %s, digest %s", n, e.Hash, h)
		}
	}
	if n != len(in) {
		t.Fatalf("%d lines, want %d", n, len(in))
	}
	res, err := Verify(path)
	if err != nil || res.Problem != nil || res.Entries != 2 {
		t.Fatalf("Verify: %+v, %v", res, err)
	}
}
