package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWarmReadsTablesOnly: Warm reads the LSM tables and the tables folder,
// never the value log or memtable logs (badger truncates those), reports
// what it read, and refuses a folder that is no index.
func TestWarmReadsTablesOnly(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{
		"MANIFEST": 10, "000001.sst": 5000, "000002.sst": 70000, "000001.vlog": 9000, "00003.mem": 4000,
		"tables/1-1.tbl": 3000, "tables/1-1.flt": 700, "tables/2-4.tbo": 0,
	}
	if err := os.Mkdir(filepath.Join(dir, tablesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var last, total int64
	st, err := Warm(context.Background(), dir, func(done, all int64) {
		mu.Lock()
		defer mu.Unlock()
		last, total = max(last, done), all
	})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(5000 + 70000 + 3000 + 700)
	if st.Files != 4 || st.Bytes != want || last != want || total != want {
		t.Fatalf("warmed %d files, %d bytes, progress %d of %d; want 4 files, %d bytes", st.Files, st.Bytes, last, total, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Warm(ctx, dir, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled warm: %v, want context.Canceled", err)
	}
	if _, err := Warm(context.Background(), filepath.Join(dir, tablesDir), nil); err == nil || !strings.Contains(err.Error(), "not an index folder") {
		t.Fatalf("warm of a folder without MANIFEST: %v", err)
	}
}
