package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// An overlay holds only the digest table entries of a generation that
// differ from its base: the table of an older generation of the same
// source, which the overlay's generation shares through a hard link under
// its own table name (the file is never written again once committed). A
// delta that changes 1 % of a source's rows then writes and syncs those
// entries rather than the whole table: for pension at 2 M × 30 M, 5 MB
// instead of 445 MB, which cost a second of the kernel's page copying and
// a third of a second of sync per update. Each overlay carries the older
// one's entries forward; once they exceed maxOverlayShare of the rows, the
// next delta writes the table whole again, the base of the ones after it.
//
// The overlay is tables/<src>-<gen>.tbo, committed with the table link
// before the catalog names generation gen. Layout: magic "HDO1", src
// uint16, 2 zero bytes, gen uint32, base gen uint32, rows uint64, entry
// count uint64 (all little-endian), then per entry its seq (uint32) and the
// entry (entryLen bytes), ascending by seq, then xxhash64 of all that.
const (
	overlayMagic    = "HDO1"
	overlayHeader   = 4 + 2 + 2 + 4 + 4 + 8 + 8
	overlayRec      = 4 + entryLen
	maxOverlayShare = 16 // an overlay of rows/maxOverlayShare entries or more is written whole next time
)

func (db *DB) overlayPath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.tbo", src, gen))
}

// overlay is an overlay's content: recs are overlayRec-byte records,
// ascending by seq.
type overlay struct {
	src     uint16
	gen     uint32
	baseGen uint32
	rows    int64
	recs    []byte
}

func (o *overlay) len() int { return len(o.recs) / overlayRec }

func (o *overlay) seq(i int) uint32 { return binary.LittleEndian.Uint32(o.recs[i*overlayRec:]) }

var errBadOverlay = errors.New("damaged digest table overlay")

// readOverlay reads the overlay of (src, gen); os.ErrNotExist when the
// generation has none.
func (db *DB) readOverlay(src uint16, gen uint32) (*overlay, error) {
	path := db.overlayPath(src, gen)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < overlayHeader+8 || string(b[:4]) != overlayMagic {
		return nil, fmt.Errorf("%s: %w", path, errBadOverlay)
	}
	body, ok := unsealed(b)
	o := &overlay{src: binary.LittleEndian.Uint16(b[4:]), gen: binary.LittleEndian.Uint32(b[8:]),
		baseGen: binary.LittleEndian.Uint32(b[12:]), rows: int64(binary.LittleEndian.Uint64(b[16:]))}
	n := binary.LittleEndian.Uint64(b[24:])
	if !ok || o.src != src || o.gen != gen || uint64(len(body)-overlayHeader) != n*overlayRec {
		return nil, fmt.Errorf("%s: %w", path, errBadOverlay)
	}
	o.recs = body[overlayHeader:]
	return o, nil
}

// write writes and syncs o as the overlay file of (o.src, o.gen).
func (o *overlay) write(path string) error {
	b := make([]byte, overlayHeader, overlayHeader+len(o.recs)+8)
	copy(b, overlayMagic)
	binary.LittleEndian.PutUint16(b[4:], o.src)
	binary.LittleEndian.PutUint32(b[8:], o.gen)
	binary.LittleEndian.PutUint32(b[12:], o.baseGen)
	binary.LittleEndian.PutUint64(b[16:], uint64(o.rows))
	binary.LittleEndian.PutUint64(b[24:], uint64(o.len()))
	b = append(b, o.recs...)
	return writeSynced(path, sealed(b))
}

// apply copies the overlay's entries of rows [seq, seq+n) into dst, which
// holds those rows' entries (entryLen bytes each).
func (o *overlay) apply(seq uint32, n int, dst []byte) {
	i := sort.Search(o.len(), func(i int) bool { return o.seq(i) >= seq })
	for ; i < o.len(); i++ {
		s := o.seq(i)
		if s >= seq+uint32(n) {
			break
		}
		r := o.recs[i*overlayRec+4 : (i+1)*overlayRec]
		copy(dst[int(s-seq)*entryLen:], r)
	}
}

// overlayWriter collects a delta's changed entries for an overlay over the
// live generation's table.
type overlayWriter struct {
	base *tableReader // the live generation's table (and its overlay)
	recs []byte       // this delta's changed entries, in no order
}

// mayOverlay reports whether a delta over table tr (of generation gen) may
// write an overlay for a generation of rows rows: the table is in the
// current format, and its overlay, if any, is still small.
func mayOverlay(tr *tableReader, rows int64) bool {
	return tr.width == entryLen && (tr.over == nil || int64(tr.over.len()) < rows/maxOverlayShare)
}

// add records the entries of the given rows of a chunk (ents, from seq0 on).
func (w *overlayWriter) add(seq0 uint32, ents []byte, rows []int) {
	for _, i := range rows {
		w.recs = binary.LittleEndian.AppendUint32(w.recs, seq0+uint32(i))
		w.recs = append(w.recs, ents[i*entryLen:(i+1)*entryLen]...)
	}
}

// merged returns the overlay of generation gen (rows rows): the base's
// overlay entries, replaced or joined by this delta's, below rows.
func (w *overlayWriter) merged(src uint16, gen uint32, rows int64) *overlay {
	var old []byte
	if w.base.over != nil {
		old = w.base.over.recs
	}
	type rec struct {
		seq uint32
		b   []byte
	}
	all := make([]rec, 0, (len(old)+len(w.recs))/overlayRec)
	// This delta's entries first: a stable sort keeps them ahead of the
	// older entries of the same row, which are then dropped.
	for _, src := range [][]byte{w.recs, old} {
		for i := 0; i+overlayRec <= len(src); i += overlayRec {
			if s := binary.LittleEndian.Uint32(src[i:]); int64(s) < rows {
				all = append(all, rec{s, src[i : i+overlayRec]})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b rec) int { return int(int64(a.seq) - int64(b.seq)) })
	o := &overlay{src: src, gen: gen, baseGen: w.base.fileGen, rows: rows, recs: make([]byte, 0, len(all)*overlayRec)}
	for i, r := range all {
		if i > 0 && all[i-1].seq == r.seq {
			continue
		}
		o.recs = append(o.recs, r.b...)
	}
	return o
}
