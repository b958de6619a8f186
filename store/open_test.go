package store

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
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

// TestCatalogVersions: a version 1 catalog (an older hedui's, without short
// keys) is read, and its sources by seeks, which find rows under either key;
// the next catalog write makes it version 2. A later version is refused.
func TestCatalogVersions(t *testing.T) {
	_, manifest, _ := regionCopy(t)
	db := openQuiet(t, filepath.Join(t.TempDir(), "ix"))
	defer db.Close()
	updateWith(t, db, manifest, UpdateOptions{})
	ref := openQuiet(t, filepath.Join(t.TempDir(), "ref"))
	defer ref.Close()
	updateWith(t, ref, manifest, UpdateOptions{})
	setCatalog := func(version int, shortKeys bool) {
		t.Helper()
		err := db.bdb.Update(func(txn *badger.Txn) error {
			c, err := readCatalog(txn)
			if err != nil {
				return err
			}
			for i := range c.Sources {
				c.Sources[i].ShortKeys = shortKeys && c.Sources[i].ShortKeys
			}
			c.Version = version
			b, _ := json.Marshal(c)
			return txn.Set(catalogKey, b)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	short := 0
	for _, s := range cat.Sources {
		if s.ShortKeys != shortKeyed(s.Kind) {
			t.Errorf("source %s: short keys %v", s.Path, s.ShortKeys)
		}
		if s.ShortKeys {
			short++
		}
	}
	if short == 0 {
		t.Fatal("no source with short keys")
	}
	setCatalog(1, false)
	sameViews(t, "version 1", db, ref)
	if err := db.editCatalog(func(*Catalog) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if c, err := db.Catalog(); err != nil || c.Version != catalogVersion {
		t.Fatalf("after a write: version %v, %v", c, err)
	}
	setCatalog(3, true)
	if _, err := db.Catalog(); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("version 3 read: %v", err)
	}
}
