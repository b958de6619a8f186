package store

import (
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4/options"
)

// TestOpenCompressedIndex: an index whose tables an older version wrote
// compressed opens with a block cache and answers as one written
// uncompressed; an index written uncompressed has no cache. New tables are
// written uncompressed either way.
func TestOpenCompressedIndex(t *testing.T) {
	_, manifest, _ := regionCopy(t)
	oldDir := filepath.Join(t.TempDir(), "old")
	old, err := Open(oldDir, Options{Logger: quietLogger(), compression: options.Snappy})
	if err != nil {
		t.Fatal(err)
	}
	updateWith(t, old, manifest, UpdateOptions{})
	if err := old.bdb.Flatten(2); err != nil { // every row into tables
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := openQuiet(t, filepath.Join(t.TempDir(), "new"))
	defer fresh.Close()
	updateWith(t, fresh, manifest, UpdateOptions{})
	if err := fresh.bdb.Flatten(2); err != nil {
		t.Fatal(err)
	}

	old = openQuiet(t, oldDir)
	defer old.Close()
	if n := compressedTables(old.bdb); n == 0 {
		t.Fatal("the older index has no compressed table")
	}
	if c := old.bdb.Opts().BlockCacheSize; c != oldTableCache {
		t.Errorf("older index: block cache %d bytes, want %d", c, oldTableCache)
	}
	if old.bdb.Opts().Compression != options.None {
		t.Errorf("older index: new tables written with compression %d", old.bdb.Opts().Compression)
	}
	if n := compressedTables(fresh.bdb); n != 0 {
		t.Errorf("new index: %d compressed tables", n)
	}
	if c := fresh.bdb.Opts().BlockCacheSize; c != 0 {
		t.Errorf("new index: block cache %d bytes, want none", c)
	}
	sameViews(t, "compressed tables", old, fresh)
}
