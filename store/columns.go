package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hedui/hedui/sources"
)

// Column digests let a delta update hash only the raw columns whose bytes
// changed, rather than every value of the new snapshot. Beside a
// generation's digest table:
//
//   - tables/<src>-<gen>.cd, the chunk directory: per chunk (row group) its
//     first row ordinal, its rows, its file's digest seed
//     (sources.Reader.DigestSeed), its key counts (sources.KeyCounts) and one
//     fingerprint per raw column (sources.Reader.ColumnFingerprints), with a
//     checksum of the whole;
//   - tables/<src>-<gen>.c<pi>, per raw column pi, the value hash of every row
//     ordinal (sources.Reader.ColumnHashes), 8 bytes little-endian each.
//
// An update compares each chunk's fingerprints with the live generation's,
// when the chunk's digest seed is the live one's: a column's value hashes
// digest its raw values only, so under another seed (another build, or
// other entry settings: values that may convert otherwise) every row is
// compared by its raw digest, which covers the seed. A
// column whose fingerprint is unchanged keeps its hashes unread; a changed
// one is hashed and compared row by row; only the rows where some column's
// hash differs are decoded. When the key column is unchanged the chunk's key
// counts are the stored ones and only the decoded rows' keys are parsed. A
// column unchanged in every chunk is hard-linked into the new generation.
//
// The files are written and synced with the digest table, before the catalog
// names the generation, and deleted with it; Open deletes those of
// generations that are not live. Missing or damaged files, a chunk layout
// that moved, or fingerprints made by another build (the file seed is part
// of them) only cost the full comparison, which writes the files again.
const (
	colDirMagic  = "HDC2"
	colDirHeader = 4 + 2 + 2 + 4 + 4 + 4 + 8
	countsLen    = 8 * (3 + 8)
)

// colChunk is one chunk's entry in a chunk directory.
type colChunk struct {
	seq0, rows uint64
	seed       uint64 // the file's digest seed
	counts     sources.KeyCounts
	fps        []uint64 // per raw column; nil: the chunk was never written
}

func (db *DB) colDirPath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.cd", src, gen))
}

func (db *DB) colPath(src uint16, gen uint32, pi int) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.c%d", src, gen, pi))
}

// encodeColDir is the chunk directory file's content.
func encodeColDir(src uint16, gen uint32, rows uint64, cols int, chunks []colChunk) []byte {
	b := make([]byte, colDirHeader, colDirHeader+len(chunks)*(24+countsLen+8*cols)+8)
	copy(b, colDirMagic)
	binary.LittleEndian.PutUint16(b[4:], src)
	binary.LittleEndian.PutUint32(b[8:], gen)
	binary.LittleEndian.PutUint32(b[12:], uint32(cols))
	binary.LittleEndian.PutUint32(b[16:], uint32(len(chunks)))
	binary.LittleEndian.PutUint64(b[20:], rows)
	for _, c := range chunks {
		b = binary.LittleEndian.AppendUint64(b, c.seq0)
		b = binary.LittleEndian.AppendUint64(b, c.rows)
		b = binary.LittleEndian.AppendUint64(b, c.seed)
		n := &c.counts
		for _, v := range append([]int64{n.Rows, n.Valid, n.From15}, n.ByReason[:]...) {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		for pi := range cols {
			fp := uint64(0)
			if pi < len(c.fps) {
				fp = c.fps[pi]
			}
			b = binary.LittleEndian.AppendUint64(b, fp)
		}
	}
	return sealed(b)
}

// decodeColDir parses a chunk directory of source src, generation gen.
func decodeColDir(b []byte, src uint16, gen uint32) (rows uint64, cols int, chunks []colChunk, err error) {
	if len(b) < colDirHeader+8 || string(b[:4]) != colDirMagic {
		return 0, 0, nil, errors.New("not a chunk directory")
	}
	body, ok := unsealed(b)
	if !ok {
		return 0, 0, nil, errors.New("checksum mismatch")
	}
	if binary.LittleEndian.Uint16(b[4:]) != src || binary.LittleEndian.Uint32(b[8:]) != gen {
		return 0, 0, nil, errors.New("another generation's directory")
	}
	cols = int(binary.LittleEndian.Uint32(b[12:]))
	n := int(binary.LittleEndian.Uint32(b[16:]))
	rows = binary.LittleEndian.Uint64(b[20:])
	per := 24 + countsLen + 8*cols
	if cols > 1<<12 || len(body) != colDirHeader+n*per {
		return 0, 0, nil, errors.New("bad size")
	}
	chunks = make([]colChunk, n)
	p := body[colDirHeader:]
	u := func() uint64 { v := binary.LittleEndian.Uint64(p); p = p[8:]; return v }
	for i := range chunks {
		c := &chunks[i]
		c.seq0, c.rows, c.seed = u(), u(), u()
		c.counts.Rows, c.counts.Valid, c.counts.From15 = int64(u()), int64(u()), int64(u())
		for r := range c.counts.ByReason {
			c.counts.ByReason[r] = int64(u())
		}
		c.fps = make([]uint64, cols)
		for pi := range c.fps {
			c.fps[pi] = u()
		}
	}
	return rows, cols, chunks, nil
}

// colReader reads the live generation's column digests.
type colReader struct {
	chunks []colChunk
	files  []*os.File // per raw column
	paths  []string
}

// openColumns opens the column digests of a live generation for an entry of
// cols raw columns; nil (and the reason) when they cannot be used.
func (db *DB) openColumns(src uint16, gen uint32, cols int) (*colReader, error) {
	b, err := os.ReadFile(db.colDirPath(src, gen))
	if err != nil {
		return nil, err
	}
	rows, n, chunks, err := decodeColDir(b, src, gen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", db.colDirPath(src, gen), err)
	}
	if n != cols {
		return nil, fmt.Errorf("%s: %d columns, the entry reads %d", db.colDirPath(src, gen), n, cols)
	}
	r := &colReader{chunks: chunks}
	for pi := range cols {
		p := db.colPath(src, gen, pi)
		f, err := os.Open(p)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil && uint64(st.Size()) != rows*8 {
				err = fmt.Errorf("%s: %d bytes for %d rows", p, st.Size(), rows)
			}
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			r.close()
			return nil, err
		}
		r.files, r.paths = append(r.files, f), append(r.paths, p)
	}
	return r, nil
}

// chunk returns the stored entry of chunk i when it covers the same rows
// under the same digest seed.
func (r *colReader) chunk(i int, seq0 uint32, rows int, seed uint64) *colChunk {
	if r == nil || i >= len(r.chunks) {
		return nil
	}
	c := &r.chunks[i]
	if c.seq0 != uint64(seq0) || c.rows != uint64(rows) || c.seed != seed || c.fps == nil {
		return nil
	}
	return c
}

// read returns column pi's hashes of rows [seq0, seq0+n) in dst, read
// through buf; both are reused and returned.
func (r *colReader) read(pi int, seq0 uint32, n int, dst []uint64, buf []byte) ([]uint64, []byte, error) {
	buf = slices.Grow(buf[:0], 8*n)[:8*n]
	if _, err := r.files[pi].ReadAt(buf, int64(seq0)*8); err != nil {
		return dst, buf, fmt.Errorf("%s: %w", r.paths[pi], err)
	}
	dst = slices.Grow(dst[:0], n)[:n]
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return dst, buf, nil
}

func (r *colReader) close() {
	if r == nil {
		return
	}
	for _, f := range r.files {
		f.Close()
	}
}

// colWriter writes a new generation's column digests, chunks concurrently.
type colWriter struct {
	db      *DB
	src     uint16
	gen     uint32
	rows    uint64
	old     *colReader // nil: every chunk is written whole
	chunks  []colChunk
	files   []*os.File // per raw column, under a .tmp name
	mu      sync.Mutex
	written [][]bool // per column, per chunk: hashes written (not to be copied from old)
}

func (db *DB) createColumns(src uint16, gen uint32, rows int64, cols, chunks int, old *colReader) (*colWriter, error) {
	w := &colWriter{db: db, src: src, gen: gen, rows: uint64(rows), old: old,
		chunks: make([]colChunk, chunks), written: make([][]bool, cols)}
	for pi := range cols {
		f, err := os.Create(db.colPath(src, gen, pi) + ".tmp")
		if err == nil {
			err = f.Truncate(rows * 8)
		}
		if err != nil {
			w.abort()
			return nil, err
		}
		w.files = append(w.files, f)
		w.written[pi] = make([]bool, chunks)
	}
	return w, nil
}

// setChunk records chunk i's rows, digest seed, key counts and fingerprints.
func (w *colWriter) setChunk(i int, seq0 uint32, rows int, seed uint64, counts sources.KeyCounts, fps []uint64) {
	w.chunks[i] = colChunk{seq0: uint64(seq0), rows: uint64(rows), seed: seed, counts: counts, fps: fps}
}

// write stores column pi's hashes of chunk i, whose first row is seq0,
// through buf, which it returns for reuse.
func (w *colWriter) write(pi, i int, seq0 uint32, hashes []uint64, buf []byte) ([]byte, error) {
	buf = slices.Grow(buf[:0], 8*len(hashes))[:8*len(hashes)]
	for j, h := range hashes {
		binary.LittleEndian.PutUint64(buf[8*j:], h)
	}
	if _, err := w.files[pi].WriteAt(buf, int64(seq0)*8); err != nil {
		return buf, err
	}
	w.mu.Lock()
	w.written[pi][i] = true
	w.mu.Unlock()
	return buf, nil
}

// commit completes every column (a column no chunk wrote is the live one,
// hard-linked; the chunks a changed column did not write are copied from
// the live one), syncs them and writes the chunk directory.
func (w *colWriter) commit() error {
	for pi, f := range w.files {
		final := w.db.colPath(w.src, w.gen, pi)
		if w.old != nil && !anyTrue(w.written[pi]) {
			f.Close()
			os.Remove(f.Name())
			w.files[pi] = nil
			if err := linkOrCopy(w.old.paths[pi], final); err != nil {
				return err
			}
			continue
		}
		if err := w.fill(pi); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		w.files[pi] = nil
		if err := os.Rename(f.Name(), final); err != nil {
			return err
		}
	}
	dir := w.db.colDirPath(w.src, w.gen)
	if err := writeSynced(dir, encodeColDir(w.src, w.gen, w.rows, len(w.written), w.chunks)); err != nil {
		return err
	}
	return nil
}

// fill copies from the live column the chunks this update did not write.
func (w *colWriter) fill(pi int) error {
	for i, done := range w.written[pi] {
		if done {
			continue
		}
		c := &w.chunks[i]
		if w.old == nil || w.old.chunk(i, uint32(c.seq0), int(c.rows), c.seed) == nil {
			return fmt.Errorf("column %d of chunk %d neither written nor stored", pi, i)
		}
		sr := io.NewSectionReader(w.old.files[pi], int64(c.seq0)*8, int64(c.rows)*8)
		if _, err := io.Copy(io.NewOffsetWriter(w.files[pi], int64(c.seq0)*8), sr); err != nil {
			return err
		}
	}
	return nil
}

// abort deletes what was written.
func (w *colWriter) abort() {
	for pi, f := range w.files {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
		os.Remove(w.db.colPath(w.src, w.gen, pi))
	}
	os.Remove(w.db.colDirPath(w.src, w.gen))
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// linkOrCopy gives file old a second name (a copy where links are not
// supported), synced.
func linkOrCopy(old, name string) error {
	os.Remove(name)
	if err := os.Link(old, name); err == nil {
		return nil
	}
	b, err := os.ReadFile(old)
	if err != nil {
		return err
	}
	return writeSynced(name, b)
}

// writeSynced writes a file under a temporary name, syncs it and renames it.
func writeSynced(path string, b []byte) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// columnFiles lists a generation's column digest files (directory included).
func (db *DB) columnFiles(src uint16, gen uint32) []string {
	names, _ := filepath.Glob(filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.c*", src, gen)))
	return names
}

// isColumnFile tells column digest file names (".cd", ".c<n>") apart.
func isColumnFile(ext string) bool {
	if ext == ".cd" {
		return true
	}
	if len(ext) < 3 || ext[:2] != ".c" {
		return false
	}
	for _, r := range ext[2:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
