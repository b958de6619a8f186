package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// A digest table lists, for one committed generation of one source, what
// each row ordinal (seq) holds: whether the row was
// indexed and under which key kind, its group (person key or name+DOB
// hash), its content digest and a hash of its whole stored value (which
// also covers its file and row number). An update compares a new snapshot
// with it row by row without reading the old generation out of badger, so
// that only the rows that differ are touched.
//
// The table is a plain file beside badger, tables/<src>-<gen>.tbl (or that
// of an older generation, linked, and an overlay of the entries that
// differ: overlay.go), written
// and synced before the catalog names generation gen live, and deleted
// once the generation is replaced; Open deletes tables of generations that
// are not live (a writer died). A missing or unreadable table only costs a
// full rewrite of the source.
//
// Layout: header (magic "HDT2", src uint16, 2 zero bytes, gen uint32,
// rows uint64, all little-endian) then one entry per row ordinal:
// flag (1: 0 = no record, 'R' valid ID, 'N' name+DOB), group, digest,
// value hash, raw digest (8 bytes each, little-endian).
//
// The raw digest (sources.Reader.RowDigests) digests the row's raw Parquet
// values, where it sits and how they convert, so that an update decodes only
// the rows whose raw digest changed; 0 means none. Tables of format 1
// ("HDT1") lack it: they read as entries with raw digest 0, and every row of
// such a generation is decoded, as before.
const (
	tableMagic   = "HDT2"
	tableMagicV1 = "HDT1"
	tableHeader  = 4 + 2 + 2 + 4 + 8
	entryLen     = 1 + 8 + 8 + 8 + 8
	entryLenV1   = 1 + 8 + 8 + 8
	tablesDir    = "tables"
)

// rowEntry is one row of a digest table.
type rowEntry struct {
	flag   byte // 0: no record (the row did not convert); kindRecord or kindNameDOB
	group  uint64
	digest uint64
	vhash  uint64
	raw    uint64 // the row's raw digest; 0: unknown
}

// sameRecord reports whether two entries stand for the same stored row
// (whatever their raw digests).
func (e rowEntry) sameRecord(o rowEntry) bool {
	e.raw, o.raw = 0, 0
	return e == o
}

func (e rowEntry) put(b []byte) {
	b[0] = e.flag
	binary.LittleEndian.PutUint64(b[1:], e.group)
	binary.LittleEndian.PutUint64(b[9:], e.digest)
	binary.LittleEndian.PutUint64(b[17:], e.vhash)
	binary.LittleEndian.PutUint64(b[25:], e.raw)
}

func getEntry(b []byte) rowEntry {
	return rowEntry{flag: b[0], group: binary.LittleEndian.Uint64(b[1:]),
		digest: binary.LittleEndian.Uint64(b[9:]), vhash: binary.LittleEndian.Uint64(b[17:]),
		raw: binary.LittleEndian.Uint64(b[25:])}
}

// entryOf is the table entry of a stored value filed under flag and group.
func entryOf(flag byte, group uint64, val []byte) rowEntry {
	return rowEntry{flag: flag, group: group, digest: valueDigest(val), vhash: xxhash.Sum64(val)}
}

func (db *DB) tablePath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.tbl", src, gen))
}

// tableWriter writes a table; chunks of rows are written concurrently at
// their offsets, so memory does not grow with the source.
type tableWriter struct {
	db   *DB
	src  uint16
	gen  uint32
	f    *os.File
	path string
	p    *presence // filled as entries are written
	// extend means p is the live generation's filter, extended by the
	// delta's changed rows rather than filled from every entry written.
	extend bool
	// cols, when not nil, are the generation's column digests, committed
	// and aborted with the table.
	cols *colWriter
	rows int64
	// repeats asks for the generation's repeat filter (keepsRepeats), made
	// from the finished table at commit.
	repeats bool
	// rep, when not nil, is the generation's repeat filter made beforehand
	// (a short-keyed source's: Source.ShortKeys), written at commit.
	rep *presence
	// over, when not nil, makes the table an overlay over the live
	// generation's (overlay.go): f is not used, the changed entries are
	// collected instead.
	over   *overlayWriter
	overMu sync.Mutex
}

func (db *DB) createTable(src uint16, gen uint32, rows int64) (*tableWriter, error) {
	path := db.tablePath(src, gen)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	h := make([]byte, tableHeader)
	copy(h, tableMagic)
	binary.LittleEndian.PutUint16(h[4:], src)
	binary.LittleEndian.PutUint32(h[8:], gen)
	binary.LittleEndian.PutUint64(h[12:], uint64(rows))
	if _, err := f.Write(h); err != nil {
		f.Close()
		return nil, err
	}
	// Size the file now: rows that never convert keep zero entries (no record).
	if err := f.Truncate(tableHeader + rows*entryLen); err != nil {
		f.Close()
		return nil, err
	}
	return &tableWriter{db: db, src: src, gen: gen, f: f, path: path, p: newPresence(rows), rows: rows}, nil
}

// overlayOn makes t an overlay over tr, the table of the live generation,
// when mayOverlay allows: its file is dropped and writeChunk collects the
// changed entries.
func (t *tableWriter) overlayOn(tr *tableReader) {
	if !mayOverlay(tr, t.rows) {
		return
	}
	t.f.Close()
	os.Remove(t.path + ".tmp")
	t.f = nil
	t.over = &overlayWriter{base: tr}
}

// writeChunk writes the entries of a chunk of rows from seq0 on, of which
// only the given rows may differ from the live generation's (the others
// are its entries as read): all of them to a table, those rows to an
// overlay.
func (t *tableWriter) writeChunk(seq0 uint32, entries []byte, changed []int) error {
	if t.over == nil {
		return t.writeAt(seq0, entries)
	}
	if !t.extend {
		t.p.addEntries(entries)
	}
	t.overMu.Lock()
	defer t.overMu.Unlock()
	t.over.add(seq0, entries, changed)
	return nil
}

// writeAt writes the entries (entryLen bytes each) of rows from seq on.
func (t *tableWriter) writeAt(seq uint32, entries []byte) error {
	if !t.extend {
		t.p.addEntries(entries)
	}
	_, err := t.f.WriteAt(entries, tableHeader+int64(seq)*entryLen)
	return err
}

// commit writes the presence filter, syncs the table and gives it its
// final name.
func (t *tableWriter) commit() error {
	if t.over != nil {
		return t.commitOverlay()
	}
	if err := t.commitBeside(); err != nil {
		t.f.Close()
		return err
	}
	if t.repeats {
		rep, err := repeatsOf(&tableReader{f: t.f, rows: t.rows, fileRows: t.rows, fileGen: t.gen, width: entryLen}, false)
		if err == nil {
			err = writeFilterFile(t.db.repeatPath(t.src, t.gen), rep)
		}
		if err != nil {
			t.f.Close()
			return err
		}
	}
	if err := t.f.Sync(); err != nil {
		t.f.Close()
		return err
	}
	if err := t.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(t.path+".tmp", t.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(t.path))
}

// commitBeside writes the files beside the table: its column digests,
// presence filter and, when made beforehand, repeat filter.
func (t *tableWriter) commitBeside() error {
	if t.cols != nil {
		if err := t.cols.commit(); err != nil {
			return err
		}
	}
	if t.rep != nil {
		if err := writeFilterFile(t.db.repeatPath(t.src, t.gen), t.rep); err != nil {
			return err
		}
	}
	return t.db.writeFilter(t.src, t.gen, t.p)
}

// commitOverlay links the base table under the generation's table name
// and writes its overlay and the files beside; all are synced, with their
// folder.
func (t *tableWriter) commitOverlay() error {
	if err := t.commitBeside(); err != nil {
		return err
	}
	o := t.over.merged(t.src, t.gen, t.rows)
	if err := linkOrCopy(t.over.base.f.Name(), t.path+".tmp"); err != nil {
		return err
	}
	if err := o.write(t.db.overlayPath(t.src, t.gen)); err != nil {
		return err
	}
	if err := os.Rename(t.path+".tmp", t.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(t.path))
}

// abort deletes a table never committed.
func (t *tableWriter) abort() {
	if t.cols != nil {
		t.cols.abort()
	}
	if t.f != nil {
		t.f.Close()
	}
	os.Remove(t.path + ".tmp")
	os.Remove(t.db.overlayPath(t.src, t.gen))
	os.Remove(t.db.filterPath(t.src, t.gen))
	os.Remove(t.db.repeatPath(t.src, t.gen))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tableReader reads a committed table: its file, and its overlay if it
// has one (overlay.go).
type tableReader struct {
	f        *os.File
	rows     int64  // the generation's
	fileRows int64  // f's (rows, unless there is an overlay)
	fileGen  uint32 // the generation that wrote f
	width    int    // bytes per entry in the file: entryLen, or entryLenV1 for format 1
	over     *overlay
}

var errNoTable = errors.New("no digest table")

func (db *DB) openTable(src uint16, gen uint32) (*tableReader, error) {
	f, err := os.Open(db.tablePath(src, gen))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoTable
	}
	if err != nil {
		return nil, err
	}
	h := make([]byte, tableHeader)
	st, err := f.Stat()
	if err == nil {
		_, err = io.ReadFull(f, h)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &tableReader{f: f, rows: int64(binary.LittleEndian.Uint64(h[12:])), width: entryLen,
		fileGen: binary.LittleEndian.Uint32(h[8:])}
	t.fileRows = t.rows
	if string(h[:4]) == tableMagicV1 {
		t.width = entryLenV1
	}
	wantGen := gen
	t.over, err = db.readOverlay(src, gen)
	switch {
	case err == nil:
		t.rows, wantGen = t.over.rows, t.over.baseGen
	case !errors.Is(err, os.ErrNotExist):
		f.Close()
		return nil, err
	}
	if string(h[:4]) != tableMagic && t.width == entryLen || binary.LittleEndian.Uint16(h[4:]) != src ||
		t.fileGen != wantGen || st.Size() != tableHeader+t.fileRows*int64(t.width) {
		f.Close()
		return nil, fmt.Errorf("digest table %s: bad header or size", db.tablePath(src, gen))
	}
	return t, nil
}

// read returns the entries of rows [seq, seq+n) that the table holds
// (fewer at its end), reusing dst.
func (t *tableReader) read(seq uint32, n int, dst []byte) ([]byte, error) {
	end := min(int64(seq)+int64(n), t.rows)
	if end <= int64(seq) {
		return dst[:0], nil
	}
	n = int(end - int64(seq))
	size := n * entryLen
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	if t.over != nil {
		// The file's rows, none past its end, then the overlay's.
		inFile := max(0, int(min(end, t.fileRows)-int64(seq)))
		if _, err := t.readFile(seq, inFile, dst); err != nil {
			return dst, err
		}
		clear(dst[inFile*entryLen:])
		t.over.apply(seq, n, dst)
		return dst, nil
	}
	return t.readFile(seq, n, dst)
}

// readFile reads the entries of rows [seq, seq+n) from the file into dst.
func (t *tableReader) readFile(seq uint32, n int, dst []byte) ([]byte, error) {
	if n == 0 {
		return dst, nil
	}
	if t.width == entryLen {
		_, err := t.f.ReadAt(dst[:n*entryLen], tableHeader+int64(seq)*entryLen)
		return dst, err
	}
	// Format 1: widen each entry in place, from the last one down, with a
	// zero raw digest.
	_, err := t.f.ReadAt(dst[:n*t.width], tableHeader+int64(seq)*int64(t.width))
	for i := n - 1; i >= 0; i-- {
		copy(dst[i*entryLen:], dst[i*t.width:(i+1)*t.width])
		clear(dst[i*entryLen+t.width : (i+1)*entryLen])
	}
	return dst, err
}

func (t *tableReader) close() { t.f.Close() }

// cleanTables deletes the tables of generations that are not live.
func (db *DB) cleanTables(cat *Catalog) error {
	dir := filepath.Join(db.dir, tablesDir)
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	live, staged := map[string]bool{}, map[string]bool{}
	for _, s := range cat.Sources {
		if s.Gen != 0 {
			live[fmt.Sprintf("%d-%d", s.ID, s.Gen)] = true
		}
		if s.Staged != 0 {
			staged[fmt.Sprintf("%d-%d", s.ID, s.Staged)] = true
		}
	}
	for _, n := range names {
		ext := filepath.Ext(n.Name())
		name := strings.TrimSuffix(n.Name(), ext)
		if ext == ".stg" {
			// A staged log is kept until its delta is applied.
			if staged[name] {
				continue
			}
		} else if ext != ".tbl" && ext != ".tbo" && ext != ".flt" && ext != ".rpt" && ext != ".tmp" && !isColumnFile(ext) {
			continue
		} else if ext != ".tmp" && live[name] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// parseTableName is the inverse of the table file name, for tests.
func parseTableName(name string) (src uint16, gen uint32, ok bool) {
	a, b, found := strings.Cut(strings.TrimSuffix(name, filepath.Ext(name)), "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(a, 10, 16)
	g, err2 := strconv.ParseUint(b, 10, 32)
	return uint16(s), uint32(g), err1 == nil && err2 == nil
}
