package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hedui/hedui/sources"
)

// A presence filter says, per source generation, which person keys (and
// name + birth date hashes) have no record there, so that a lookup skips that source without a badger seek
// (most persons are absent from most sources: an intake check asks every
// source for every member). It is a blocked Bloom filter: one 512-bit block
// per key, 7 bits set in it, about 10 bits per row, so about 1 % of absent
// keys still seek. A false "absent" is impossible: every record key of the
// generation is added as its digest table is written.
//
// The filter is a file beside the digest table, tables/<src>-<gen>.flt,
// written and synced before the catalog names generation gen live. A
// missing or damaged filter only means every lookup seeks.
//
// Layout: magic "HDF1", blocks uint32, the blocks (8 uint64 each,
// little-endian), then xxhash64 of all that.
const (
	filterMagic   = "HDF1"
	blockWords    = 8
	bitsPerRow    = 10
	filterHashLen = 8
)

// presence is a blocked Bloom filter of person keys.
type presence struct {
	words []uint64 // len = blocks * blockWords
}

func newPresence(rows int64) *presence {
	blocks := max(1, (rows*bitsPerRow+511)/512)
	return &presence{words: make([]uint64, blocks*blockWords)}
}

// mix64 spreads a person key (17 structured digits) over 64 bits.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// probe gives the key's block and its 7 bit positions (9 bits each) within.
func (p *presence) probe(key uint64) (int, uint64) {
	h := mix64(key)
	blocks := uint64(len(p.words) / blockWords)
	hi, _ := bits.Mul64(h, blocks)
	return int(hi) * blockWords, mix64(h ^ 0x9e3779b97f4a7c15)
}

// add records key; safe for concurrent use.
func (p *presence) add(key uint64) {
	b, h := p.probe(key)
	for i := 0; i < 7; i++ {
		bit := (h >> (9 * i)) & 511
		atomic.OrUint64(&p.words[b+int(bit>>6)], 1<<(bit&63))
	}
}

// has reports whether key may have records (false: it has none).
func (p *presence) has(key uint64) bool {
	b, h := p.probe(key)
	for i := 0; i < 7; i++ {
		bit := (h >> (9 * i)) & 511
		if p.words[b+int(bit>>6)]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

// addEntries adds the groups of table entries: person keys, and the name +
// birth date hashes of rows without a valid ID (the weak-match lookups;
// the two kinds share the filter, a collision only costs a seek).
func (p *presence) addEntries(entries []byte) {
	for i := 0; i+entryLen <= len(entries); i += entryLen {
		if entries[i] != 0 {
			p.add(binary.LittleEndian.Uint64(entries[i+1:]))
		}
	}
}

// maxReusedFill is the share of set bits above which a delta builds its
// generation's filter again rather than extending the live one: a fresh
// filter of distinct keys sets about half of them (7 bits per key, about
// 10 bits per row), so about 1 % of absent keys still seek; at 55 % that
// is 1.5 %.
const maxReusedFill = 0.55

// fill is the share of p's bits that are set.
func (p *presence) fill() float64 {
	n := 0
	for _, w := range p.words {
		n += bits.OnesCount64(w)
	}
	return float64(n) / float64(64*len(p.words))
}

// reusableFilter returns a copy of the presence filter of generation gen of
// source src for a delta to extend into a generation of rows rows, or nil
// when that generation's filter must be built from all its entries: none
// on disk, one sized for another number of rows, or one too full. An
// extended filter still holds the groups that left (a delta adds the new
// groups and cannot remove any): each costs a seek when asked, never a
// record missed, and the fill bound rebuilds the filter before they add up.
func (db *DB) reusableFilter(src uint16, gen uint32, rows int64) *presence {
	p, release := db.filter(src, gen)
	defer release()
	if p == nil || len(p.words) != len(newPresence(rows).words) || p.fill() > maxReusedFill {
		return nil
	}
	return &presence{words: slices.Clone(p.words)}
}

func (db *DB) filterPath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.flt", src, gen))
}

// repeatPath is the file of the repeat filter of (src, gen) (see repeatsOf).
func (db *DB) repeatPath(src uint16, gen uint32) string {
	return filepath.Join(db.dir, tablesDir, fmt.Sprintf("%d-%d.rpt", src, gen))
}

// writeFilter writes and syncs p as the presence filter of (src, gen).
func (db *DB) writeFilter(src uint16, gen uint32, p *presence) error {
	return writeFilterFile(db.filterPath(src, gen), p)
}

// writeFilterFile writes and syncs p at path, in the filter file layout.
func writeFilterFile(path string, p *presence) error {
	b := make([]byte, 0, 8+8*len(p.words)+filterHashLen)
	b = append(b, filterMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.words)/blockWords))
	for _, w := range p.words {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	b = sealed(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeSynced(path, b)
}

var errBadFilter = errors.New("damaged presence filter")

func (db *DB) readFilter(src uint16, gen uint32) (*presence, func(), error) {
	return readFilterFile(db.filterPath(src, gen))
}

func readFilterFile(path string) (*presence, func(), error) {
	b, unmap, err := mapFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 8+filterHashLen || string(b[:4]) != filterMagic {
		unmap()
		return nil, nil, errBadFilter
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if body, ok := unsealed(b); !ok || len(body) != 8+n*blockWords*8 {
		unmap()
		return nil, nil, errBadFilter
	}
	if littleEndian {
		// The mapped words as they are (8-byte aligned: the mapping is
		// page-aligned), read-only: a filter read from disk is only asked.
		return &presence{words: unsafe.Slice((*uint64)(unsafe.Pointer(&b[8])), n*blockWords)}, unmap, nil
	}
	p := &presence{words: make([]uint64, n*blockWords)}
	for i := range p.words {
		p.words[i] = binary.LittleEndian.Uint64(b[8+8*i:])
	}
	unmap()
	return p, func() {}, nil
}

// littleEndian tells whether the machine's uint64 layout is the filter
// file's.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// filters caches the presence filter of each source's live generation, so
// that a View (one per check) does not read it again. A filter is a mapped
// file: it is unmapped once the cache has moved to another generation and
// no View holds it any more.
type filters struct {
	mu sync.Mutex
	m  map[filterID]*cachedFilter
}

// filterID names a cached filter: its source and which of the source's
// filters it is.
type filterID struct {
	src    uint16
	repeat bool // the repeat filter rather than the presence filter
}

type cachedFilter struct {
	gen   uint32
	p     *presence // nil: none on disk; every lookup seeks
	unmap func()
	refs  int // the cache's own and each holder's
}

// drop releases one reference; the caller holds f.mu.
func (c *cachedFilter) drop() {
	if c.refs--; c.refs == 0 && c.unmap != nil {
		c.unmap()
	}
}

// filter returns the presence filter of (src, gen), or nil, and the
// function that releases it; p may not be used after release.
func (db *DB) filter(src uint16, gen uint32) (p *presence, release func()) {
	return db.cachedFilter(filterID{src: src}, gen)
}

// repeats returns the repeat filter of (src, gen), or nil, as filter does.
func (db *DB) repeats(src uint16, gen uint32) (p *presence, release func()) {
	return db.cachedFilter(filterID{src: src, repeat: true}, gen)
}

func (db *DB) cachedFilter(id filterID, gen uint32) (p *presence, release func()) {
	db.filters.mu.Lock()
	defer db.filters.mu.Unlock()
	c, ok := db.filters.m[id]
	if !ok || c.gen != gen {
		path := db.filterPath(id.src, gen)
		if id.repeat {
			path = db.repeatPath(id.src, gen)
		}
		p, unmap, err := readFilterFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			db.log.Warn("index: filter not used", "file", path, "err", err)
		}
		if ok {
			c.drop() // the cache's reference to the generation it replaces
		}
		if db.filters.m == nil {
			db.filters.m = map[filterID]*cachedFilter{}
		}
		c = &cachedFilter{gen: gen, p: p, unmap: unmap, refs: 1}
		db.filters.m[id] = c
	}
	c.refs++
	var once sync.Once
	return c.p, func() {
		once.Do(func() {
			db.filters.mu.Lock()
			c.drop()
			db.filters.mu.Unlock()
		})
	}
}

// release drops the cache's references: a filter is unmapped as soon as
// no View holds it (the index closes after its Views).
func (f *filters) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.m {
		c.drop()
	}
	f.m = nil
}

// A repeat filter says, per generation of the roster and of police, which
// person keys may have more than one row there (a false "no" is
// impossible), so that assembling a household can take a member's only
// roster row, or only police row, from where it already holds it rather
// than seek it again. It is a presence filter of the keys met twice in one
// pass over the generation's digest table, in row order (repeatPass). The
// filter is tables/<src>-<gen>.rpt, written with the table.
//
// A short-keyed source's generation (Source.ShortKeys) has one too, made
// before its rows are written (repeatedKeys) and extended by its deltas: it
// also holds every person key with a row not under shortKey.
//
// repeatsOf makes the repeat filter of the digest table tr; short says the
// table is a short-keyed source's.
func repeatsOf(tr *tableReader, short bool) (*presence, error) {
	p := newRepeatPass(tr.rows, max(tr.rows/4, 1))
	if short {
		p.rep = newPresence(max(tr.rows, 1)) // it holds the persons of every row under another key
	}
	const batch = 1 << 16
	var buf []byte
	for seq := int64(0); seq < tr.rows; seq += batch {
		b, err := tr.read(uint32(seq), batch, buf)
		if err != nil {
			return nil, fmt.Errorf("repeat filter: %w", err)
		}
		buf = b
		for i := 0; i+entryLen <= len(b); i += entryLen {
			if b[i] != kindRecord && b[i] != kindShort {
				continue
			}
			if g := binary.LittleEndian.Uint64(b[i+1:]); short && b[i] == kindRecord {
				p.rep.add(g)
			} else {
				p.meet(g)
			}
		}
	}
	return p.rep, nil
}

// repeatPass finds the keys met twice in one pass over a source's rows in
// order: a key's second row always finds its first in seen, and the rare
// false "seen" only adds a key that does not repeat.
type repeatPass struct{ seen, rep *presence }

// newRepeatPass sizes the filters for rows rows, of which repeats repeat.
func newRepeatPass(rows, repeats int64) *repeatPass {
	return &repeatPass{seen: newPresence(rows), rep: newPresence(repeats)}
}

func (p *repeatPass) meet(g uint64) {
	if p.seen.has(g) {
		p.rep.add(g)
	} else {
		p.seen.add(g)
	}
}

// addMissingRepeats gives the live roster and police generations of an
// index written before repeat filters theirs, made from their digest
// tables, once; Open calls it before any View can cache a filter. A
// generation without a table keeps none, and a failure only costs seeks.
func (db *DB) addMissingRepeats(cat *Catalog) {
	for _, s := range cat.Sources {
		if !s.Live() || !keepsRepeats(s.Kind) && !s.ShortKeys {
			continue
		}
		path := db.repeatPath(s.ID, s.Gen)
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		tr, err := db.openTable(s.ID, s.Gen)
		if err != nil {
			continue // no table: every lookup asks, as before
		}
		// Once per index, but a pass over the whole table: say why Open waits.
		db.log.Info("index: making the repeat filter an older index lacks", "kind", s.Kind, "path", s.Path, "rows", tr.rows)
		rep, err := repeatsOf(tr, s.ShortKeys)
		tr.close()
		if err == nil {
			err = writeFilterFile(path, rep)
		}
		if err != nil {
			db.log.Warn("index: no repeat filter", "kind", s.Kind, "path", s.Path, "err", err)
		}
	}
}

// keepsRepeats tells the kinds whose generations get a repeat filter: those
// whose rows the assembly meets again before it would ask for them.
// shortKeyed tells the kinds whose full writes store persons' only rows
// under shortKey: all but the roster and police, whose rows have second keys
// (and whose repeat filters are made from their tables).
func shortKeyed(k sources.Kind) bool { return !keepsRepeats(k) }

func keepsRepeats(k sources.Kind) bool {
	return k == sources.KindRoster || k == sources.KindPolice
}
