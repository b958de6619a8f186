package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// DB is an open index. One process at a time may hold it (badger locks the
// folder); its methods are safe for concurrent use.
type DB struct {
	bdb     *badger.DB
	dir     string
	log     *slog.Logger
	filters filters
	// applying orders a staged delta's flip and its readThrough, and the
	// end of its apply, with Views opening (which take it shared); it guards
	// staged and queued. Open and Update's recovery hold it while they apply.
	applying sync.RWMutex
	// staged holds, by source, the writes of the staged deltas made live and
	// not yet applied, which Views read through; it is replaced, never
	// changed, so a View keeps the one it took.
	staged map[uint16]*stagedWrites
	// queued are the staged deltas an Update made live, applied in the
	// background once it returns (startApplies).
	queued []*stagedWrites
	// applies counts the background applies running; applyErr holds their
	// failures until recoverStaged finishes their work.
	applies  sync.WaitGroup
	applyMu  sync.Mutex
	applyErr error
}

// Options tune Open.
type Options struct {
	// Logger receives badger's warnings and the index's own log lines; nil
	// means slog.Default().
	Logger *slog.Logger
	// compression is what new tables are written with; tests set it to
	// make an index as an older version did.
	compression options.CompressionType
}

// Open opens (or creates) the index in dir and finishes whatever a writer
// that died left behind: a half-written generation is dropped, a replaced
// one deleted, a committed run's history applied.
func Open(dir string, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	bdb, err := openBadger(dir, opts, 0)
	if err == nil {
		if n := compressedTables(bdb); n > 0 {
			// An index an older version wrote: its tables' blocks are
			// decompressed at every read, which a block cache spares until
			// compactions or a rebuild rewrite them uncompressed.
			opts.Logger.Info("index: tables written compressed by an older version; reading them through a block cache (rebuild the index to drop it)",
				"dir", dir, "tables", n)
			if err = bdb.Close(); err == nil {
				bdb, err = openBadger(dir, opts, oldTableCache)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	db := &DB{bdb: bdb, dir: dir, log: opts.Logger}
	if err := db.recover(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("index %s: recover: %w", dir, err)
	}
	return db, nil
}

// oldTableCache is the block cache of an index with compressed tables.
const oldTableCache = 64 << 20

// openBadger opens badger in dir with a block cache of cache bytes (0: none).
func openBadger(dir string, opts Options, cache int64) (*badger.DB, error) {
	bo := badger.DefaultOptions(filepath.Clean(dir)).
		WithLogger(badgerLogger{opts.Logger}).
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		// Tables are written uncompressed: a lookup then reads its blocks
		// straight from the mapped file, where a compressed block is
		// decompressed (or fetched from a block cache, whose bookkeeping
		// costs as much) at every level it seeks in. Intake checks ran 25 %
		// faster at city scale, for 54 % more disk. Badger records each
		// table's compression, so tables an older version compressed stay
		// readable.
		WithCompression(opts.compression).
		WithBlockCacheSize(cache).
		WithIndexCacheSize(0).
		WithValueThreshold(1 << 16).
		WithNumVersionsToKeep(1).
		WithMetricsEnabled(false)
	if opts.compression != options.None && cache == 0 {
		bo = bo.WithBlockCacheSize(oldTableCache) // badger requires one
	}
	return badger.Open(bo)
}

// compressedTables counts the LSM tables whose blocks are compressed: those
// holding more bytes of blocks than the file does.
func compressedTables(bdb *badger.DB) int {
	n := 0
	for _, t := range bdb.Tables() {
		if t.UncompressedSize > t.OnDiskSize {
			n++
		}
	}
	return n
}

// Close waits for badger's compactions to catch up with what this process
// wrote, then flushes and closes the index.
func (db *DB) Close() error {
	aerr := db.waitApplies()
	db.settle(30 * time.Second)
	err := db.bdb.Close()
	db.filters.release()
	return errors.Join(aerr, err)
}

// dropPrefix is badger's DropPrefix once the background applies are done:
// it blocks writes, which would fail theirs.
func (db *DB) dropPrefix(prefixes ...[]byte) error {
	if err := db.waitApplies(); err != nil {
		return err
	}
	return db.bdb.DropPrefix(prefixes...)
}

// settle waits, up to limit, until no LSM level is over its target size.
// Compaction debt left at exit is otherwise paid by the next process that
// opens the index, typically an incremental run or a check service whose
// cost should follow its own work (a city build leaves ≈ 2 CPU-s of it).
func (db *DB) settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy := false
		for _, l := range db.bdb.Levels() {
			// As badger picks: a level over its target whose adjusted
			// score (after the level below) is too; L0 always.
			busy = busy || l.Score >= 1 && (l.Level == 0 || l.Adjusted >= 1)
		}
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dir is the index folder.
func (db *DB) Dir() string { return db.dir }

// Catalog returns a copy of the committed catalog.
func (db *DB) Catalog() (*Catalog, error) {
	var c *Catalog
	err := db.bdb.View(func(txn *badger.Txn) (err error) {
		c, err = readCatalog(txn)
		return err
	})
	return c, err
}

// recover drops generations that never became live, deletes replaced ones,
// finishes staged deltas made live, gives the roster and police of an
// older index their repeat filters and applies a committed run's pending
// history.
func (db *DB) recover() error {
	if err := db.collect(true); err != nil {
		return err
	}
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	if err := db.cleanTables(cat); err != nil {
		return err
	}
	if err := db.recoverStaged(cat); err != nil {
		return err
	}
	db.addMissingRepeats(cat)
	return db.recoverHistory()
}

// dataKinds are the key kinds a generation writes besides its change set.
var dataKinds = []byte{kindRecord, kindNameDOB, kindHukou, kindHouse, kindRosterN}

// collect deletes, in one DropPrefix (which stalls writes and flushes the
// memtables, so it is called once per update rather than per source), every
// replaced generation and, with pending, every generation whose writer died
// before making it live (its change set included); then clears the marks.
func (db *DB) collect(pending bool) error {
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	var prefixes [][]byte
	garbage := map[uint16][]uint32{}
	dead := map[uint16]uint32{}
	for _, s := range cat.Sources {
		for _, g := range s.Garbage {
			for _, k := range dataKinds {
				prefixes = append(prefixes, genPrefix(k, s.ID, g))
			}
		}
		garbage[s.ID] = s.Garbage
		if pending && s.Pending != 0 {
			dead[s.ID] = s.Pending
			prefixes = append(prefixes, pendingPrefixes(s.ID, s.Pending)...)
		}
	}
	if len(prefixes) == 0 {
		return nil
	}
	if err := db.dropPrefix(prefixes...); err != nil {
		return err
	}
	return db.editCatalog(func(c *Catalog) error {
		for i := range c.Sources {
			s := &c.Sources[i]
			s.Garbage = without(s.Garbage, garbage[s.ID])
			if g, ok := dead[s.ID]; ok && s.Pending == g {
				s.Pending = 0
			}
		}
		return nil
	})
}

// pendingPrefixes are the key prefixes an unfinished generation gen of
// source src may have written: its rows (a full write), its change set and
// its staged log (a delta).
func pendingPrefixes(src uint16, gen uint32) [][]byte {
	prefixes := [][]byte{genPrefix(kindChange, src, gen), genPrefix(kindStaged, src, gen)}
	for _, k := range dataKinds {
		prefixes = append(prefixes, genPrefix(k, src, gen))
	}
	return prefixes
}

// dropPending removes what a failed update of source src left under its
// pending generation gen, files beside badger included, and clears the
// mark, as Open does after a dead writer: the next update in this process
// (the intake service applies them without restarting) can then run. A
// generation already made live (a staged delta whose apply failed) is not
// pending any more and is left for recoverStaged.
func (db *DB) dropPending(src uint16, gen uint32) error {
	cat, err := db.Catalog()
	if err != nil {
		return err
	}
	if s := cat.byID(src); s == nil || s.Pending != gen {
		return nil
	}
	if err := db.dropPrefix(pendingPrefixes(src, gen)...); err != nil {
		return err
	}
	db.removeTable(src, gen)
	return db.editCatalog(func(c *Catalog) error {
		if s := c.byID(src); s != nil && s.Pending == gen {
			s.Pending = 0
		}
		return nil
	})
}

func without(list, drop []uint32) []uint32 {
	var out []uint32
	for _, x := range list {
		keep := true
		for _, d := range drop {
			keep = keep && x != d
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// editCatalog reads, changes and writes the catalog in one transaction.
func (db *DB) editCatalog(fn func(*Catalog) error) error {
	for {
		err := db.bdb.Update(func(txn *badger.Txn) error {
			c, err := readCatalog(txn)
			if err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
			return writeCatalog(txn, c)
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		return err
	}
}

// badgerLogger passes badger's warnings and errors to slog; its info lines
// (compactions, replays) are debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   {}
