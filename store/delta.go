package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/badger/v4"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// errRewrite means an update cannot be applied as a delta and the source
// is written whole instead (what it wraps says why).
var errRewrite = errors.New("source rewritten whole")

// delta applies a new snapshot of one source to its live rows in place, in
// one badger transaction.
//
// Why one transaction rather than a delta generation layered over the base:
// readers then keep reading one key prefix per source (no layer to consult
// on every lookup, which the intake check's latency cannot afford, and no
// folding of layers), and badger's transaction is atomic by itself: its
// writes reach the log with a commit marker, and replay drops a transaction
// without one. The same transaction rewrites the catalog (the new logical
// generation, snapshot, fingerprint, change set), so a kill at any moment
// leaves the old snapshot or the new one. A delta beyond badger's
// transaction limits is staged: logged over several transactions, flipped
// in by one and then applied (staged.go). More than a fifth of the rows
// changed, or a changed file list, falls back to the full rewrite.
//
// The rows to touch are found without reading the old rows: the source is
// scanned in parallel by row group, each row's raw digest (its raw Parquet
// values, hashed from the pages) compared with the live generation's digest
// table; a row whose raw digest is unchanged keeps its entry undecoded.
// Only the other rows (all of them when the live table predates raw
// digests) are decoded and encoded as a full build would, and their table
// entry (group, digest, value hash) compared. The result is exactly the key
// set a full build of the new snapshot would hold, under the old key
// prefix, at a cost that follows the change rather than the source.
type delta struct {
	db     *DB
	m      *sources.Manifest
	e      *sources.Entry
	src    uint16
	gen    uint32 // the new (logical) generation, pending in the catalog
	oldGen uint32 // the live generation, whose digest table is compared with
	data   uint32 // the key prefix generation the rows live under
	fp     string
	opts   UpdateOptions

	qual    *sources.Quality
	changed int64 // change-set groups written
	rows    int64 // rows rewritten
	size    int64 // their estimated transaction bytes
	staged  bool  // applied as a staged delta (staged.go)
	// combos are the roster's (region, area, assistance) rows the delta
	// adds and removes, which flip applies to the catalog's counts.
	combos comboCounts
	// scratch holds *chunkScratch, the scan workers' buffers.
	scratch sync.Pool
	// live reads the live generation during the scan (livePersonID).
	live *badger.Txn
}

// chunkScratch is a scan worker's buffers, reused from chunk to chunk. A 1 %
// change of the 13.5 M-row pension source allocated a gigabyte of them a
// round (each chunk's table entries, its column hashes old and new, and
// their bytes), and the collections that paid for took a tenth of the
// round's CPU.
type chunkScratch struct {
	ents     []byte
	cur, old []uint64
	bytes    []byte
	mark     []bool
}

// deltaRow is one row ordinal whose entry differs from the live one.
type deltaRow struct {
	seq uint32
	old rowEntry // flag 0: no live row at seq
	new rowEntry // flag 0: no row at seq any more
	key personid.Key
	val []byte // the new value
}

func compareSeq(a, b deltaRow) int { return cmp.Compare(a.seq, b.seq) }

// apply scans the source, writes the new digest table and commits the delta
// with the catalog flip. An error wrapping errRewrite or errNoTable means
// nothing was changed and the caller writes the source whole.
func (d *delta) apply(ctx context.Context) error {
	cat, err := d.db.Catalog()
	if err != nil {
		return err
	}
	live := cat.byID(d.src)
	if live == nil || live.Gen != d.oldGen {
		return fmt.Errorf("catalog lost source %d", d.src)
	}
	tr, err := d.db.openTable(d.src, d.oldGen)
	if err != nil {
		if !errors.Is(err, errNoTable) {
			d.db.log.Warn("index: unreadable digest table", "err", err)
		}
		return fmt.Errorf("%w: %w", errRewrite, err)
	}
	defer tr.close()
	rd, err := sources.Open(ctx, d.m, d.e, sources.ReadOptions{CacheDir: d.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	files, fileIdx := entryFiles(d.m, d.e)
	if !slices.Equal(files, live.Files) {
		return fmt.Errorf("%w: the file list changed", errRewrite)
	}
	if d.e.Kind == sources.KindRoster {
		if _, err := combosAfter(live, nil); err != nil {
			return err
		}
	}
	schema, err := sources.SchemaOf(d.e.Kind)
	if err != nil {
		return err
	}
	cd := &codec{schema: schema, kind: d.e.Kind, files: files, snapshot: d.e.Snapshot}
	chunks := rd.Chunks()
	base, total, err := chunkBases(chunks)
	if err != nil {
		return err
	}
	tw, err := d.db.createTable(d.src, d.gen, total)
	if err != nil {
		return err
	}
	if tw.repeats = keepsRepeats(d.e.Kind); !tw.repeats {
		tw.overlayOn(tr)
	}
	committed := false
	defer func() {
		if !committed {
			tw.abort()
		}
	}()
	if p := d.db.reusableFilter(d.src, d.oldGen, total); p != nil {
		tw.p, tw.extend = p, true
	}
	if live.ShortKeys {
		if tw.rep, err = d.liveRepeats(tr); err != nil {
			return err
		}
	}
	old, err := d.db.openColumns(d.src, d.oldGen, rd.Columns())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		d.db.log.Warn("index: column digests not used", "err", err)
	}
	defer old.close()
	if tw.cols, err = d.db.createColumns(d.src, d.gen, total, rd.Columns(), len(chunks), old); err != nil {
		return err
	}
	rows, err := d.scan(ctx, rd, cd, tr, tw, chunks, base, total, fileIdx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if tw.extend && r.new.flag != 0 {
			tw.p.add(r.new.group)
		}
		if tw.rep != nil && r.new.flag == kindRecord {
			tw.rep.add(r.new.group)
		}
	}
	// The new table is written and synced while the delta's writes are
	// built; the transaction that names its generation waits for it.
	var tg errgroup.Group
	tg.Go(tw.commit)
	defer tg.Wait() // before the deferred abort, which runs after
	table := func() error {
		err := tg.Wait()
		committed = committed || err == nil
		return err
	}
	// A delta beyond one transaction has its writes logged first; the
	// transaction below then only flips the catalog, marking it staged, and
	// Views read the source through the logged writes until Update's
	// background apply has written them (stagedread.go).
	maxRows, maxSize := d.deltaBudget()
	if d.staged = int64(len(rows)) > maxRows || d.size > maxSize; !d.staged {
		if err := d.commitRetrying(rows, cd, live.Files, table); err != nil {
			return err
		}
		d.done(rows)
		return nil
	}
	ws, err := d.stage(rows, cd)
	if err != nil {
		return err
	}
	ws.gate = d.opts.applyGate
	// A View that sees the flip must find the writes it reads through.
	d.db.applying.Lock()
	err = d.commitRetrying(rows, cd, live.Files, table)
	if err == nil {
		d.db.readThrough(ws)
	}
	d.db.applying.Unlock()
	if err != nil {
		return err
	}
	if d.opts.afterFlip != nil {
		d.opts.afterFlip()
	}
	d.done(rows)
	return nil
}

// commitRetrying is commit, built again after a conflict: another writer
// changed the catalog meanwhile (a run pruning its change sets), and the
// delta still holds.
func (d *delta) commitRetrying(rows []deltaRow, cd *codec, files []string, table func() error) error {
	for try := 0; ; try++ {
		err := d.commit(rows, cd, files, table)
		if errors.Is(err, badger.ErrConflict) && try < 3 {
			continue
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			return fmt.Errorf("%w: %d changed rows exceed one transaction", errRewrite, len(rows))
		}
		return err
	}
}

// done ends a delta made live: the replaced generation's digest table goes.
func (d *delta) done(rows []deltaRow) {
	d.db.removeTable(d.src, d.oldGen)
	d.rows = int64(len(rows))
}

// liveRepeats returns a copy of the live generation's repeat filter, made
// again from its table tr when it is missing or full; the delta adds the
// persons of the rows it files under other keys than shortKey. Persons the
// delta removes stay in it: a filter only errs towards seeking.
func (d *delta) liveRepeats(tr *tableReader) (*presence, error) {
	rep, release := d.db.repeats(d.src, d.oldGen)
	defer release()
	if rep != nil && rep.fill() <= maxReusedFill {
		return &presence{words: slices.Clone(rep.words)}, nil
	}
	d.db.log.Info("index: making the repeat filter again", "kind", d.e.Kind, "path", d.e.Path, "rows", tr.rows)
	return repeatsOf(tr, true)
}

// commit writes the delta (unless it was staged), the change set and the
// catalog flip in one transaction, once table reports the new table
// committed.
func (d *delta) commit(rows []deltaRow, cd *codec, files []string, table func() error) error {
	txn := d.db.bdb.NewTransaction(true)
	defer txn.Discard()
	if !d.staged {
		var err error
		if d.changed, err = d.write(txn, txn, txn.Set, rows, cd); err != nil {
			return err
		}
	}
	if err := d.flip(txn, files); err != nil {
		return err
	}
	// The table must be on disk before the catalog names its generation.
	if err := table(); err != nil {
		return err
	}
	return txn.Commit()
}

// stage logs the delta's writes and writes its change set under the pending
// generation, over as many transactions as they take (staged.go); it returns
// the logged writes, sorted, for Views to read through once it is live.
func (d *delta) stage(rows []deltaRow, cd *codec) (*stagedWrites, error) {
	wb := d.db.bdb.NewWriteBatch()
	defer wb.Cancel()
	st, err := d.db.createStager(d.src, d.gen)
	if err != nil {
		return nil, err
	}
	defer st.close()
	txn := d.db.bdb.NewTransaction(false) // the live rows the delta replaces
	d.changed, err = d.write(txn, st, func(k, v []byte) error { return wb.Set(k, v) }, rows, cd)
	txn.Discard()
	if err != nil {
		return nil, err
	}
	// The writes are sorted while the log and the change set are written.
	var ws *stagedWrites
	var sorted errgroup.Group
	sorted.Go(func() (err error) {
		ws, err = newStagedWrites(d.src, d.gen, st.body(), st.n)
		return err
	})
	err = st.commit()
	if err == nil {
		err = wb.Flush()
	}
	if serr := sorted.Wait(); err == nil {
		err = serr
	}
	return ws, err
}

// entryFiles lists an entry's files relative to the manifest, sorted (the
// order of Reader.Chunks), with each one's index.
func entryFiles(m *sources.Manifest, e *sources.Entry) ([]string, map[string]int) {
	var files []string
	idx := map[string]int{}
	for _, f := range slices.Sorted(slices.Values(e.Files)) {
		idx[m.RelPath(f)] = len(files)
		files = append(files, m.RelPath(f))
	}
	return files, idx
}

// chunkBases gives each chunk's first row ordinal, and the entry's rows.
func chunkBases(chunks []sources.Chunk) ([]uint32, int64, error) {
	base := make([]uint32, len(chunks))
	var total int64
	for i, c := range chunks {
		if total+int64(c.Rows) > 1<<32-1 {
			return nil, 0, fmt.Errorf("more than %d rows in one entry; split it into several manifest entries", uint32(1<<32-1))
		}
		base[i] = uint32(total)
		total += int64(c.Rows)
	}
	return base, total, nil
}

// deltaBudget is how many changed rows and value bytes are collected before
// giving up on a delta: a transaction holds at most MaxBatchCount entries
// (each changed row takes up to five: two deletes, two sets and a change-set
// entry; a roster row up to two more, its person's A key moved) and
// MaxBatchSize bytes.
func (d *delta) deltaBudget() (rows, size int64) {
	perRow := int64(5)
	if d.e.Kind == sources.KindRoster {
		perRow = 7
	}
	rows, size = d.db.bdb.MaxBatchCount()/perRow, d.db.bdb.MaxBatchSize()*3/4
	if d.opts.maxDeltaRows > 0 {
		rows = d.opts.maxDeltaRows
	}
	return rows, size
}

// stagedBudget is how many changed rows and bytes a delta of a source of
// total rows may have before writing the source whole is the better deal:
// a fifth of its rows, and maxStagedBytes of them in memory. What does not
// fit one transaction is staged (staged.go).
func (d *delta) stagedBudget(total int64) (rows, size int64) {
	rows, size = d.deltaBudget()
	rows = max(rows, total/5)
	size = max(size, maxStagedBytes)
	if d.opts.maxStagedRows > 0 {
		rows = d.opts.maxStagedRows
	}
	if d.opts.maxStagedBytes > 0 {
		size = d.opts.maxStagedBytes
	}
	return rows, size
}

// maxStagedBytes bounds a staged delta's rows held in memory.
const maxStagedBytes = 256 << 20

// perRowOverhead estimates a changed row's key bytes in the transaction.
const perRowOverhead = 4 * (genPrefixLen + 8 + 4 + 10 + 16)

// scan compares every row of the new snapshot with the live table, writes
// the new table and returns the rows that differ, in row order.
func (d *delta) scan(ctx context.Context, rd *sources.Reader, cd *codec, tr *tableReader, tw *tableWriter,
	chunks []sources.Chunk, base []uint32, total int64, fileIdx map[string]int) ([]deltaRow, error) {
	maxRows, maxSize := d.stagedBudget(total)
	var mu sync.Mutex
	// Each chunk's rows come ascending, and chunks cover ascending ordinals:
	// kept per chunk, they join in order without a sort.
	perChunk := make([][]deltaRow, len(chunks))
	var nrows, size, done, skipped atomic.Int64
	d.qual = &sources.Quality{Quarantined: map[string]int64{}}
	rd.Describe(d.qual)
	d.live = d.db.bdb.NewTransaction(false)
	defer func() { d.live.Discard(); d.live = nil }()
	err := eachChunk(ctx, d.opts.Workers, chunks, func(c sources.Chunk) error {
		s, _ := d.scratch.Get().(*chunkScratch)
		if s == nil {
			s = &chunkScratch{}
		}
		defer d.scratch.Put(s)
		local, ents, touched, counts, bytes, bad, err := d.scanChunk(rd, cd, tr, tw.cols, c, base[c.Index], fileIdx, s)
		if err != nil {
			return err
		}
		mu.Lock()
		counts.AddTo(d.qual)
		mu.Unlock()
		skipped.Add(int64(bad))
		if err := tw.writeChunk(base[c.Index], ents, touched); err != nil {
			return err
		}
		if nrows.Add(int64(len(local))) > maxRows || size.Add(bytes) > maxSize {
			return fmt.Errorf("%w: more than %d changed rows or %d MB of them", errRewrite, maxRows, maxSize>>20)
		}
		perChunk[c.Index] = local
		if d.opts.Progress != nil {
			d.opts.Progress(d.e, done.Add(int64(c.Rows)), total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n := skipped.Load(); n > 0 {
		d.qual.Quarantined["value"] += n
		d.db.log.Warn("index: rows skipped for a value that does not convert", "kind", d.e.Kind, "path", d.e.Path, "rows", n)
	}
	out := slices.Concat(perChunk...)
	// Rows past the new end were removed.
	for seq := total; seq < tr.rows; seq += 4096 {
		old, err := tr.read(uint32(seq), 4096, nil)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(old); i += entryLen {
			if e := getEntry(old[i:]); e.flag != 0 {
				out = append(out, deltaRow{seq: uint32(seq) + uint32(i/entryLen), old: e})
			}
		}
		if int64(len(out)) > maxRows {
			return nil, fmt.Errorf("%w: more than %d changed or removed rows", errRewrite, maxRows)
		}
	}
	d.size = size.Load()
	if !slices.IsSortedFunc(out, compareSeq) {
		return nil, fmt.Errorf("delta rows out of order: chunks not in ordinal order")
	}
	return out, nil
}

// scanChunk compares the rows of chunk c (first ordinal seq0) with the live
// generation: it finds the rows that may differ (changedRows), decodes them
// and encodes them as a full build would. It returns the rows that differ,
// the chunk's new table entries and the rows whose entry may have changed,
// its key counts, the transaction bytes the rows take and the rows that did
// not convert.
func (d *delta) scanChunk(rd *sources.Reader, cd *codec, tr *tableReader, cw *colWriter, c sources.Chunk,
	seq0 uint32, fileIdx map[string]int, s *chunkScratch) ([]deltaRow, []byte, []int, sources.KeyCounts, int64, int, error) {
	var counts sources.KeyCounts
	// Its columns are read up to three times (keys, hashes, changed rows):
	// decompressed once.
	release, err := rd.Pin(c)
	if err != nil {
		return nil, nil, nil, counts, 0, 0, err
	}
	defer release()
	// The old entries become the new ones in place: a row found unchanged
	// keeps its entry as it is, so only the others are touched.
	ents, err := tr.read(seq0, c.Rows, slices.Grow(s.ents[:0], c.Rows*entryLen))
	if err != nil {
		return nil, nil, nil, counts, 0, 0, err
	}
	s.ents = ents                 // the entries are the caller's until it puts s back
	known := len(ents) / entryLen // rows past the old end have no entry
	ents = ents[:c.Rows*entryLen]
	clear(ents[known*entryLen:])
	todo, ids, counts, err := d.changedRows(rd, cd, cw, c, seq0, ents, s)
	if err != nil {
		return nil, nil, nil, counts, 0, 0, err
	}
	bad := 0
	for i, j := 0, 0; i < c.Rows; i++ {
		if j < len(todo) && todo[j] == i {
			j++
		} else if ents[i*entryLen] == 0 {
			bad++ // unchanged, and it did not convert before either
		}
	}
	if d.opts.decoded != nil {
		d.opts.decoded.Add(int64(len(todo)))
	}
	recs, nbad := decodeSome(rd, c, todo, ids)
	bad += nbad
	var local []deltaRow
	var buf []byte
	var bytes int64
	for j, i := range todo {
		rec := recs[j]
		r := deltaRow{seq: seq0 + uint32(i), old: getEntry(ents[i*entryLen:])}
		raw := r.old.raw // the changedRows verdict's raw digest, put there
		if rec != nil {
			r.key = ids[j].Key
			o := rec.Base()
			o.Key = r.key
			fi, ok := fileIdx[o.File]
			if !ok {
				return nil, nil, nil, counts, 0, 0, fmt.Errorf("record of file %q that the entry does not list", o.File)
			}
			buf, _ = cd.appendRecord(buf[:0], rec, fi)
			flag, group := recordGroup(r.key, rec)
			if flag == kindRecord && r.old.flag == kindShort && r.old.group == group {
				// Changed in place: the person's rows under other keys, if
				// any came since, are in the repeat filter.
				flag = kindShort
			}
			r.new = entryOf(flag, group, buf)
		}
		r.new.raw = raw
		r.new.put(ents[i*entryLen:]) // a row that does not convert has the zero entry and its raw digest
		if r.old.sameRecord(r.new) {
			continue
		}
		if rec != nil {
			r.val = append([]byte(nil), buf...)
		}
		bytes += int64(2*len(r.val)) + perRowOverhead
		local = append(local, r)
	}
	// The entries that may differ from the live table's: the rows looked
	// at again, and those past its end.
	touched := todo
	if known < c.Rows {
		touched = slices.Clone(todo)
		for i := known; i < c.Rows; i++ {
			if _, found := slices.BinarySearch(todo, i); !found {
				touched = append(touched, i)
			}
		}
	}
	return local, ents, touched, counts, bytes, bad, nil
}

// changedRows returns the rows of chunk c that may differ from the live
// generation (ascending), the key of each, and the chunk's key counts. It
// writes each changed row's new raw digest into the raw field of its table
// entry in ents (the old entry's other fields untouched), and the chunk's
// column digests into cw.
//
// When the live generation's column digests cover the chunk, only the
// columns whose fingerprint changed are hashed and compared row by row; the
// rows they change get raw digest 0 (unknown), which a later full
// comparison decodes. Otherwise every column is hashed and each row's raw
// digest compared with the live entry's; when even that fails, every row
// is decoded.
func (d *delta) changedRows(rd *sources.Reader, cd *codec, cw *colWriter, c sources.Chunk, seq0 uint32,
	ents []byte, s *chunkScratch) (todo []int, ids []sources.KnownID, counts sources.KeyCounts, err error) {
	seed, err := rd.DigestSeed(c)
	if err != nil {
		return nil, nil, counts, err
	}
	fps, err := rd.ColumnFingerprints(c, nil)
	if err != nil {
		d.db.log.Warn("index: no column fingerprints", "file", c.File, "row_group", c.RowGroup, "err", err)
		fps = nil
	}
	if oc := cw.old.chunk(c.Index, seq0, c.Rows, seed); oc != nil && fps != nil {
		if todo, err = changedByColumn(rd, cw, c, seq0, fps, oc, s); err != nil {
			return nil, nil, counts, err
		}
		for _, i := range todo {
			binary.LittleEndian.PutUint64(ents[i*entryLen+25:], 0)
		}
		if fps[0] == oc.fps[0] { // the key column is the same: so are its counts
			ids, err = d.idsOfEntries(rd, cd, c, seq0, todo, ents)
			cw.setChunk(c.Index, seq0, c.Rows, seed, oc.counts, fps)
			return todo, ids, oc.counts, err
		}
		if ids, counts, err = keysOf(rd, c, todo); err != nil {
			return nil, nil, counts, err
		}
		cw.setChunk(c.Index, seq0, c.Rows, seed, counts, fps)
		return todo, ids, counts, nil
	}
	cols := make([][]uint64, rd.Columns())
	raws, err := rd.ColumnDigests(c, nil, cols)
	if err != nil {
		d.db.log.Warn("index: rows without raw digests", "file", c.File, "row_group", c.RowGroup, "err", err)
		raws, fps = nil, nil
	}
	for i := range c.Rows {
		e := ents[i*entryLen+25:]
		if raws != nil && binary.LittleEndian.Uint64(e) != 0 && binary.LittleEndian.Uint64(e) == raws[i] {
			continue
		}
		todo = append(todo, i)
		r := uint64(0)
		if raws != nil {
			r = raws[i]
		}
		binary.LittleEndian.PutUint64(e, r)
	}
	if fps != nil {
		for pi, h := range cols {
			if s.bytes, err = cw.write(pi, c.Index, seq0, h, s.bytes); err != nil {
				return nil, nil, counts, err
			}
		}
	}
	if ids, counts, err = keysOf(rd, c, todo); err != nil {
		return nil, nil, counts, err
	}
	if fps != nil {
		cw.setChunk(c.Index, seq0, c.Rows, seed, counts, fps)
	}
	return todo, ids, counts, nil
}

// changedByColumn hashes the columns of chunk c whose fingerprint differs
// from the live one, writes their hashes into cw and returns the rows where
// some hash differs, ascending.
func changedByColumn(rd *sources.Reader, cw *colWriter, c sources.Chunk, seq0 uint32, fps []uint64, oc *colChunk, s *chunkScratch) ([]int, error) {
	var mark []bool
	for pi, fp := range fps {
		if fp != 0 && fp == oc.fps[pi] {
			continue
		}
		var err error
		if s.cur, err = rd.ColumnHashes(c, pi, s.cur); err != nil {
			return nil, err
		}
		if s.old, s.bytes, err = cw.old.read(pi, seq0, c.Rows, s.old, s.bytes); err != nil {
			return nil, err
		}
		if mark == nil {
			s.mark = slices.Grow(s.mark[:0], c.Rows)[:c.Rows]
			clear(s.mark)
			mark = s.mark
		}
		for i, h := range s.cur {
			mark[i] = mark[i] || h != s.old[i]
		}
		if s.bytes, err = cw.write(pi, c.Index, seq0, s.cur, s.bytes); err != nil {
			return nil, err
		}
	}
	var todo []int
	for i, m := range mark {
		if m {
			todo = append(todo, i)
		}
	}
	return todo, nil
}

// idsOfEntries returns what is known of the person IDs of the given rows
// of chunk c (first row seq0), whose key column is the same as the live
// generation's, so that each row's ID is what it was then: a row the live
// table files by person key (kindRecord, kindShort) has that key, and one it
// files by name and birth date (an invalid ID) has its live record's ID.
// Only the others (rows that did not convert, rows past the live table's
// end) are parsed again. This spares decompressing the key column of every
// chunk that changed elsewhere: a sixth of a 1 % pension update's work when
// the changed rows' keys were parsed, and as much again when they were read
// to decode the rows.
func (d *delta) idsOfEntries(rd *sources.Reader, cd *codec, c sources.Chunk, seq0 uint32, rows []int, ents []byte) ([]sources.KnownID, error) {
	ids := make([]sources.KnownID, len(rows))
	var rest, restRows []int
	for j, i := range rows {
		switch e := getEntry(ents[i*entryLen:]); e.flag {
		case kindRecord, kindShort:
			ids[j] = sources.KnownID{Known: true, Key: personid.Key(e.group)}
		case kindNameDOB:
			ids[j].PersonID, ids[j].Known = d.livePersonID(cd, e, seq0+uint32(i))
		default:
			rest, restRows = append(rest, j), append(restRows, i)
		}
	}
	if len(rest) == 0 {
		return ids, nil
	}
	parsed, err := rd.KeysAt(c, restRows, nil)
	if err != nil {
		return nil, err
	}
	for x, j := range rest {
		k := validKey(parsed[x])
		ids[j] = sources.KnownID{Known: k != 0, Key: k}
	}
	return ids, nil
}

// livePersonID returns the person ID of the live row at seq that entry e
// files by name and birth date: an invalid one, which its record keeps as
// the file has it. ok is false when the row cannot be read or its ID is
// valid after all; the caller then reads the ID from the file.
func (d *delta) livePersonID(cd *codec, e rowEntry, seq uint32) (id string, ok bool) {
	if d.live == nil {
		return "", false
	}
	rec, err := d.liveRecord(d.live, entryKey(nil, e, d.src, d.data, seq), 0, cd)
	if err != nil {
		return "", false
	}
	id = rec.Base().PersonID
	return id, personid.Parse(id).Reason != personid.ReasonNone
}

// keysOf parses every key of chunk c for its counts and returns the person
// keys of the given rows (Key 0 and not Known for a row without a valid ID).
func keysOf(rd *sources.Reader, c sources.Chunk, rows []int) ([]sources.KnownID, sources.KeyCounts, error) {
	var counts sources.KeyCounts
	all, err := rd.Keys(c, nil)
	if err != nil {
		return nil, counts, err
	}
	counts.Count(all, nil)
	out := make([]sources.KnownID, len(rows))
	for j, i := range rows {
		k := validKey(all[i])
		out[j] = sources.KnownID{Known: k != 0, Key: k}
	}
	return out, counts, nil
}

// validKey is p's person key, or 0 when the ID did not validate.
func validKey(p personid.Parsed) personid.Key {
	if p.Reason != personid.ReasonNone {
		return 0
	}
	return p.Key
}

// eachChunk calls fn for every chunk, workers at a time (every core when
// workers is 0), stopping at the first error.
func eachChunk(ctx context.Context, workers int, chunks []sources.Chunk, fn func(c sources.Chunk) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, c := range chunks {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(c)
		})
	}
	return g.Wait()
}

// decodeSome decodes the given rows of c (ascending), whose person IDs are
// ids, without reading the key column for the rows whose ID is known
// (sources.Reader.DecodeKnown); when a value does not convert, it decodes
// them one by one and leaves the bad rows nil, as decodeAll does.
func decodeSome(rd *sources.Reader, c sources.Chunk, rows []int, ids []sources.KnownID) ([]sources.Record, int) {
	if len(rows) == 0 {
		return nil, 0
	}
	recs, err := rd.DecodeKnown(c, rows, ids)
	if err == nil {
		return recs, 0
	}
	recs = make([]sources.Record, len(rows))
	bad := 0
	for j, i := range rows {
		one, err := rd.DecodeKnown(c, []int{i}, ids[j:j+1])
		if err != nil {
			bad++
			continue
		}
		recs[j] = one[0]
	}
	return recs, bad
}

// groupDiff collects, per change-set group, the identities added (+1) and
// removed (-1); a group whose counts do not all cancel changed, as the full
// diff's multiset comparison decides. Rows that did not change count on
// neither side, so the changed rows suffice. A list sorted once costs a
// fraction of a map per group when a delta changes 100,000 persons.
type groupDiff struct{ adds []groupAdd }

// groupAdd is an identity added to (n = 1) or removed from (n = -1) a group:
// a household's (changeHousehold), or a 64-bit one (every other sub). Fixed
// groups are kept as numbers, which sort without a string each.
type groupAdd struct {
	rank  uint8 // subRank(sub)
	sub   byte
	n     int32
	group uint64
	house string // the household ID and its NUL (houseKey's group)
	id    uint64
}

func (g *groupDiff) add(sub byte, group, id uint64, n int) {
	g.adds = append(g.adds, groupAdd{rank: uint8(subRank(sub)), sub: sub, n: int32(n), group: group, id: id})
}

func (g *groupDiff) addHouse(group []byte, id uint64, n int) {
	g.adds = append(g.adds, groupAdd{rank: uint8(subRank(changeHousehold)), sub: changeHousehold, n: int32(n), house: string(group), id: id})
}

// cmpGroup orders groups as a full diff finds them: by sub as diffKinds
// lists them, then by the group's bytes (a big-endian number's order).
func cmpGroup(a, b *groupAdd) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.group, b.group); c != 0 {
		return c
	}
	return strings.Compare(a.house, b.house)
}

// eachChanged calls fn, in the order of cmpGroup, with the groups whose
// counts do not cancel; group is valid only during the call.
func (g *groupDiff) eachChanged(fn func(sub byte, group []byte) error) error {
	slices.SortFunc(g.adds, func(a, b groupAdd) int {
		if c := cmpGroup(&a, &b); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	var buf [8]byte
	for i := 0; i < len(g.adds); {
		j, changed := i, false
		for j < len(g.adds) && cmpGroup(&g.adds[j], &g.adds[i]) == 0 {
			k, sum := j, int32(0)
			for ; k < len(g.adds) && cmpGroup(&g.adds[k], &g.adds[j]) == 0 && g.adds[k].id == g.adds[j].id; k++ {
				sum += g.adds[k].n
			}
			changed = changed || sum != 0
			j = k
		}
		if a := &g.adds[i]; changed {
			group := []byte(a.house)
			if a.sub != changeHousehold {
				group = binary.BigEndian.AppendUint64(buf[:0], a.group)
			}
			if err := fn(a.sub, group); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// keyedID is keyedIdentity of a hukou value: key(8) | digest(8) | ...
func keyedID(key uint64, digest uint64) uint64 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], key)
	binary.BigEndian.PutUint64(b[8:], digest)
	return xxhash.Sum64(b[:])
}

func subOf(flag byte) byte {
	if flag == kindNameDOB {
		return changeNameDOB
	}
	return changePerson
}

// writeTarget takes a delta's writes: a transaction, or a stager that logs
// them for a staged delta.
type writeTarget interface {
	Set(k, v []byte) error
	Delete(k []byte) error
}

// keyed tells the sources whose rows have a second key: police rows by
// hukou, roster rows by household.
func (d *delta) keyed() bool {
	return d.e.Kind == sources.KindPolice || d.e.Kind == sources.KindRoster
}

// write puts the delta into w and the change set into changes, reading the
// live rows it replaces through txn; it returns the number of change-set
// groups.
func (d *delta) write(txn *badger.Txn, w writeTarget, changes func(k, v []byte) error, rows []deltaRow, cd *codec) (int64, error) {
	diff := &groupDiff{}
	d.combos = comboCounts{}
	var firsts []firstMove
	if d.e.Kind == sources.KindRoster {
		// Before any write: the persons' other rows are read as they are live.
		var err error
		if firsts, err = d.rosterFirsts(txn, rows, cd); err != nil {
			return 0, err
		}
	}
	for _, r := range rows {
		var newKey []byte // the key the row's new record goes under
		if r.new.flag != 0 {
			newKey = entryKey(nil, r.new, d.src, d.data, r.seq)
		}
		if r.old.flag != 0 {
			k := entryKey(nil, r.old, d.src, d.data, r.seq)
			oldKey := personid.Key(0)
			if r.old.flag == kindRecord || r.old.flag == kindShort {
				oldKey = personid.Key(r.old.group)
			}
			if d.keyed() {
				old, err := d.liveRecord(txn, k, oldKey, cd)
				if err != nil {
					return 0, err
				}
				if err := d.second(w, diff, old, oldKey, r.old.digest, r.seq, nil, -1); err != nil {
					return 0, err
				}
			}
			// A row changed in place keeps its key: the Set below replaces
			// its value, and a Delete first would only cost a log record
			// and a write (most rows of a 1 % pension update).
			if !bytes.Equal(k, newKey) {
				if err := w.Delete(k); err != nil {
					return 0, err
				}
			}
			diff.add(subOf(r.old.flag), r.old.group, r.old.digest, -1)
		}
		if r.new.flag == kindShort {
			if err := w.Set(newKey, shortValue(r.seq, r.val)); err != nil {
				return 0, err
			}
			diff.add(changePerson, r.new.group, r.new.digest, 1)
		} else if r.new.flag != 0 {
			if err := w.Set(newKey, r.val); err != nil {
				return 0, err
			}
			diff.add(subOf(r.new.flag), r.new.group, r.new.digest, 1)
			if d.keyed() {
				// Decoded again rather than kept from the scan: the rows a
				// delta holds stay within its byte budget.
				rec, err := cd.decode(r.key, r.val)
				if err != nil {
					return 0, err
				}
				if err := d.second(w, diff, rec, r.key, r.new.digest, r.seq, r.val, 1); err != nil {
					return 0, err
				}
			}
		}
	}
	for _, f := range firsts {
		if err := d.moveFirst(w, diff, f); err != nil {
			return 0, err
		}
	}
	cw := &changeWriter{src: d.src, gen: d.gen, put: changes}
	if err := diff.eachChanged(cw.add); err != nil {
		return 0, err
	}
	return cw.n, cw.flush()
}

// second deletes (n = -1) or sets (n = 1) the second key of a police or
// roster row at seq, its hukou or household key, and counts it in the
// change set and, for the roster, in the (region, area, assistance) rows.
// Other records have none.
func (d *delta) second(w writeTarget, diff *groupDiff, rec sources.Record, key personid.Key, digest uint64, seq uint32, val []byte, n int) error {
	var k []byte
	switch r := rec.(type) {
	case *sources.Police:
		if r.HukouNo == "" {
			return nil
		}
		hh := matcher.HukouHash(r.HukouNo)
		k = recKey(nil, kindHukou, d.src, d.data, hh, seq)
		diff.add(changeHukou, hh, keyedID(uint64(key), digest), n)
	case *sources.RosterMember:
		if strings.IndexByte(r.HouseholdID, 0) >= 0 {
			return fmt.Errorf("%s row %d: household_id %q holds a NUL byte", r.File, r.Row, r.HouseholdID)
		}
		k = houseKey(nil, d.src, d.data, r.HouseholdID, seq)
		// The ID and its NUL, as diffKinds groups it.
		diff.addHouse(k[genPrefixLen:len(k)-4], keyedID(uint64(key), digest), n)
		d.combos.add(r, int64(n))
	default:
		return nil
	}
	if n < 0 {
		return w.Delete(k)
	}
	return w.Set(k, withKey(key, val))
}

// liveRecord reads and decodes the live row under key k.
func (d *delta) liveRecord(txn *badger.Txn, k []byte, key personid.Key, cd *codec) (sources.Record, error) {
	item, err := txn.Get(k)
	if err != nil {
		return nil, fmt.Errorf("live row %x missing: %w", k, err)
	}
	var rec sources.Record
	err = item.Value(func(v []byte) error {
		rec, err = cd.decode(key, v)
		return err
	})
	return rec, err
}

// flip makes the new generation live in txn: same key prefix, new logical
// generation with its change set, snapshot and fingerprint.
func (d *delta) flip(txn *badger.Txn, files []string) error {
	c, err := readCatalog(txn)
	if err != nil {
		return err
	}
	s := c.byID(d.src)
	if s == nil || s.Pending != d.gen || s.Gen != d.oldGen {
		return fmt.Errorf("catalog lost the pending generation %d", d.gen)
	}
	e := d.e
	s.Pending, s.Gen, s.Data, s.Snapshot, s.Fingerprint = 0, d.gen, d.data, e.Snapshot, d.fp
	s.Files, s.Quality = files, d.qual
	if s.Kind == sources.KindRoster {
		c, err := combosAfter(s, d.combos)
		if err != nil {
			return err
		}
		s.Combos, s.ComboRows = c.sorted()
	}
	if d.staged {
		s.Staged = d.gen // its logged writes are still to apply
	}
	s.Entry = EntryInfo{Columns: e.Columns, Formats: e.Formats, Units: e.Units, Values: e.Values, Encoding: e.Encoding}
	s.Chain = append(s.Chain, GenInfo{Gen: d.gen, Snapshot: e.Snapshot, Changed: d.changed, Built: d.opts.Now.UTC()})
	reorder(c, d.m)
	return writeCatalog(txn, c)
}

// removeTable deletes the digest table of a replaced generation; a failure
// only leaves a file that the next Open deletes.
func (db *DB) removeTable(src uint16, gen uint32) {
	for _, p := range append([]string{db.tablePath(src, gen), db.overlayPath(src, gen), db.filterPath(src, gen), db.repeatPath(src, gen), db.stagedPath(src, gen)}, db.columnFiles(src, gen)...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.log.Warn("index: digest table not removed", "err", err)
		}
	}
}
