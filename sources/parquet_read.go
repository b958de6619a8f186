package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/hedui/hedui/sources/personid"
)

// pqFile is one open Parquet file of an entry (for a CSV file, its converted copy).
type pqFile struct {
	path  string   // the entry's file: what errors and Chunk.File name
	name  string   // path relative to the manifest's folder: what Origin.File and quarantine rows name
	data  string   // the Parquet file actually read
	osf   *os.File //
	pf    *parquet.File
	raws  []rawCol // per colPlan; leaf -1 when absent
	first int      // index of the file's first chunk
	pins  pinned   // row groups whose pages are kept (Reader.Pin)
}

// pinned keeps the decompressed pages of some row groups, per leaf column,
// so that reading a column of such a row group again does not decompress
// it again. A row group stays pinned, and its pages kept, while anybody
// holds it: each Pin, and each eachPage reading its kept pages.
type pinned struct {
	mu     sync.Mutex
	groups map[int]*pinnedGroup
}

type pinnedGroup struct {
	refs int
	cols map[int][]parquet.Page
}

// acquire takes a reference to row group rg if it is pinned.
func (p *pinned) acquire(rg int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.groups[rg]
	if ok {
		g.refs++
	}
	return ok
}

// pages returns the kept pages of a held row group's column, nil when the
// column is not read yet.
func (p *pinned) pages(rg, leaf int) []parquet.Page {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.groups[rg].cols[leaf]
}

// keep stores the pages of a held row group's column; pages read meanwhile
// by another holder are released once nobody can be reading them, with the
// group.
func (p *pinned) keep(rg, leaf int, pages []parquet.Page) []parquet.Page {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[rg]
	if kept := g.cols[leaf]; kept != nil {
		for _, pg := range pages {
			parquet.Release(pg)
		}
		return kept
	}
	g.cols[leaf] = pages
	return pages
}

// pin takes a reference to row group rg, pinning it if it is not.
func (p *pinned) pin(rg int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.groups == nil {
		p.groups = map[int]*pinnedGroup{}
	}
	g, ok := p.groups[rg]
	if !ok {
		g = &pinnedGroup{cols: map[int][]parquet.Page{}}
		p.groups[rg] = g
	}
	g.refs++
}

// unpin drops a reference; the last one releases the kept pages.
func (p *pinned) unpin(rg int) {
	p.mu.Lock()
	g := p.groups[rg]
	if g.refs--; g.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.groups, rg)
	p.mu.Unlock()
	for _, pages := range g.cols {
		for _, pg := range pages {
			parquet.Release(pg)
		}
	}
}

// openParquet opens a Parquet file, turning a panic of the decoder on a
// damaged footer into an error.
func openParquet(path string) (osf *os.File, pf *parquet.File, err error) {
	osf, err = os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged Parquet metadata: %v", r)
		}
		if err != nil {
			osf.Close()
			osf, pf = nil, nil
		}
	}()
	st, err := osf.Stat()
	if err != nil {
		return nil, nil, err
	}
	pf, err = parquet.OpenFile(osf, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable Parquet file (truncated or corrupt?): %w", err)
	}
	var rows int64
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() < 0 {
			return nil, nil, errors.New("damaged Parquet metadata: negative row count")
		}
		rows += rg.NumRows()
	}
	if rows != pf.NumRows() {
		return nil, nil, fmt.Errorf("damaged Parquet metadata: row groups hold %d rows, the footer says %d", rows, pf.NumRows())
	}
	return osf, pf, nil
}

// findColumn looks a raw column up among the top-level columns: by exact
// name, else by a unique case-insensitive match.
func findColumn(pf *parquet.File, name string) *parquet.Column {
	var fold *parquet.Column
	n := 0
	for _, c := range pf.Root().Columns() {
		if c.Name() == name {
			return c
		}
		if strings.EqualFold(c.Name(), name) {
			fold = c
			n++
		}
	}
	if n == 1 {
		return fold
	}
	return nil
}

func columnNames(pf *parquet.File) string {
	var names []string
	for _, c := range pf.Root().Columns() {
		names = append(names, fmt.Sprintf("%q", c.Name()))
	}
	return strings.Join(names, ", ")
}

// eachPage calls fn with every page of one column chunk, in order, and checks
// that the pages hold exactly the row group's rows. Decoder panics on damaged
// pages become errors. The pages of a pinned row group are read once and
// kept until it is unpinned.
func (f *pqFile) eachPage(rg, leaf int, fn func(p parquet.Page) error) (err error) {
	if !f.pins.acquire(rg) {
		return f.eachPageOnce(rg, leaf, fn)
	}
	defer f.pins.unpin(rg)
	kept := f.pins.pages(rg, leaf)
	if kept == nil {
		if kept, err = f.readPages(rg, leaf); err != nil {
			return err
		}
		kept = f.pins.keep(rg, leaf, kept)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged Parquet page: %v", r)
		}
	}()
	for _, p := range kept {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// eachPageOnce is eachPage reading the pages from the file, each released
// once fn returns.
func (f *pqFile) eachPageOnce(rg, leaf int, fn func(p parquet.Page) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged Parquet page: %v", r)
		}
	}()
	group := f.pf.RowGroups()[rg]
	pages := group.ColumnChunks()[leaf].Pages()
	defer pages.Close()
	var rows int64
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rows += p.NumValues()
		err = fn(p)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
	if rows != group.NumRows() {
		return fmt.Errorf("damaged Parquet column chunk: %d values for %d rows", rows, group.NumRows())
	}
	return nil
}

// readPages reads every page of one column chunk and checks that they hold
// exactly the row group's rows; the caller releases them.
func (f *pqFile) readPages(rg, leaf int) (out []parquet.Page, err error) {
	err = f.eachPageOnce(rg, leaf, func(p parquet.Page) error {
		parquet.Retain(p)
		out = append(out, p)
		return nil
	})
	if err != nil {
		for _, p := range out {
			parquet.Release(p)
		}
		return nil, err
	}
	return out, nil
}

// span locates one text value in colData.arena.
type span struct{ off, len uint32 }

// colData is one column of one chunk, materialized: text values copied out
// of the pages (dictionary entries once), other values as int64 or float64.
type colData struct {
	null     []bool
	spans    []span  // rawText, FLBA/BYTE_ARRAY decimals
	dict     []int32 // per row: dictionary index, -1 for plain-encoded or null rows
	ndict    int     // dictionary entries seen so far in this chunk
	dictBase int     // number of the current dictionary's first entry
	arena    []byte
	arenaStr string    // arena as one string, made on first need (str)
	num      []int64   // rawInt, rawDate32, rawTimestamp (ticks), INT decimals, bools 0/1
	flt      []float64 // rawFloat
}

func (d *colData) text(i int) []byte {
	s := d.spans[i]
	return d.arena[s.off : s.off+s.len]
}

// str returns row i's text as a string: a substring of one copy of the
// arena, made on first use, so that the values of a column cost one
// allocation, not one each. The arena holds only the values of the rows
// asked for (dictionary entries once), which their records keep anyway.
func (d *colData) str(i int) string {
	if d.arenaStr == "" && len(d.arena) > 0 {
		d.arenaStr = string(d.arena)
	}
	s := d.spans[i]
	return d.arenaStr[s.off : s.off+s.len]
}

// byteValues returns the values of a text page's data: BYTE_ARRAY or
// FIXED_LEN_BYTE_ARRAY, as one buffer and n+1 offsets (fixed-length values
// get computed offsets in offs).
func byteValues(v *encoding.Values, kind parquet.Kind, offs []uint32) ([]byte, []uint32) {
	if kind == parquet.FixedLenByteArray {
		data, size := v.FixedLenByteArray()
		if size <= 0 {
			return data, append(offs[:0], 0)
		}
		n := len(data) / size
		offs = offs[:0]
		for i := 0; i <= n; i++ {
			offs = append(offs, uint32(i*size))
		}
		return data, offs
	}
	return v.ByteArray()
}

// loadColumn materializes column rc of row group rg. want, when not nil,
// lists the only rows (ascending) to keep: the k-th kept row is at index k
// of the result. Decoding the few rows a probe matched then costs a pass
// over the pages but no per-row copies or arrays for the rest.
func (f *pqFile) loadColumn(rg int, rc *rawCol, rows int, want []int) (*colData, error) {
	keep := rows
	if want != nil {
		keep = len(want)
	}
	d := &colData{null: make([]bool, 0, keep)}
	switch rc.kind {
	case rawText:
		return d, f.loadText(rg, rc, d, keep, want)
	case rawDecimal:
		if rc.phys == parquet.ByteArray || rc.phys == parquet.FixedLenByteArray {
			return d, f.loadText(rg, rc, d, keep, want)
		}
	}
	vals := make([]parquet.Value, 1024)
	if rc.kind == rawFloat {
		d.flt = make([]float64, 0, keep)
	} else {
		d.num = make([]int64, 0, keep)
	}
	w := wantCursor{rows: want}
	row := 0
	return d, f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		r := p.Values()
		for {
			n, err := r.ReadValues(vals)
			for _, v := range vals[:n] {
				row++
				if !w.wanted(row - 1) {
					continue
				}
				d.null = append(d.null, v.IsNull())
				switch {
				case rc.kind == rawFloat && v.IsNull():
					d.flt = append(d.flt, 0)
				case rc.kind == rawFloat && rc.phys == parquet.Float:
					d.flt = append(d.flt, float64(v.Float()))
				case rc.kind == rawFloat:
					d.flt = append(d.flt, v.Double())
				default:
					d.num = append(d.num, numOf(v, rc.phys))
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// numOf reads a non-text, non-float value as int64; INT96 timestamps as
// nanoseconds since the epoch.
func numOf(v parquet.Value, phys parquet.Kind) int64 {
	if v.IsNull() {
		return 0
	}
	switch phys {
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int96:
		return int96Nanos(v.Int96())
	}
	return v.Int64()
}

// int96Nanos converts a legacy INT96 timestamp (nanoseconds of the day, then
// the Julian day) to nanoseconds since the Unix epoch.
func int96Nanos(x deprecated.Int96) int64 {
	nanos := int64(x[1])<<32 | int64(x[0])
	const julianUnixEpoch = 2440588
	return (int64(x[2])-julianUnixEpoch)*86400e9 + nanos
}

// loadText materializes a text (or byte-array decimal) column, dictionary
// entries copied once per chunk, plain values only for the wanted rows.
func (f *pqFile) loadText(rg int, rc *rawCol, d *colData, keep int, want []int) error {
	w := wantCursor{rows: want}
	d.spans = make([]span, 0, keep)
	d.dict = make([]int32, 0, keep)
	// Most text values (ID numbers, names, codes, dates) are under 24 bytes:
	// the arena rarely grows.
	d.arena = make([]byte, 0, keep*24)
	// Dictionary entries are copied out on first use: a dictionary of unique
	// values (names, plate numbers) is as big as the column, and a probe
	// wants a few of its rows.
	var lastDict parquet.Dictionary
	var dictVals []byte
	var dictOffs, offs []uint32
	var dictSpans []span
	const notCopied = ^uint32(0)
	null := func() {
		d.null, d.spans, d.dict = append(d.null, true), append(d.spans, span{}), append(d.dict, -1)
	}
	fromDict := func(k int32) {
		if dictSpans[k].off == notCopied {
			v := dictVals[dictOffs[k]:dictOffs[k+1]]
			dictSpans[k] = span{uint32(len(d.arena)), uint32(len(v))}
			d.arena = append(d.arena, v...)
		}
		d.null, d.spans, d.dict = append(d.null, false), append(d.spans, dictSpans[k]), append(d.dict, int32(d.dictBase)+k)
	}
	plain := func(v []byte) {
		d.null, d.spans, d.dict = append(d.null, false), append(d.spans, span{uint32(len(d.arena)), uint32(len(v))}), append(d.dict, -1)
		d.arena = append(d.arena, v...)
	}
	maxDef := byte(rc.maxDef)
	row := 0
	return f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		defs := p.DefinitionLevels()
		n := int(p.NumValues())
		data := p.Data()
		ws, sparse := w.sparseIn(row, n)
		if dict := p.Dictionary(); dict != nil {
			if dict != lastDict {
				lastDict = dict
				dv := dict.Page().Data()
				dictVals, dictOffs = byteValues(&dv, rc.phys, dictOffs)
				dictSpans = slices.Grow(dictSpans[:0], len(dictOffs))[:max(len(dictOffs)-1, 0)]
				for i := range dictSpans {
					dictSpans[i] = span{notCopied, 0}
				}
				// Entries of an earlier dictionary in this chunk keep their own
				// cache slots in the converter: number them after those.
				d.dictBase = d.ndict
				d.ndict += len(dictSpans)
			}
			idx := data.Int32()
			if sparse {
				return sparseText(defs, maxDef, n, len(idx), ws, &row, func(j int) error {
					switch {
					case j < 0:
						null()
					case idx[j] < 0 || int(idx[j]) >= len(dictSpans):
						return errors.New("damaged Parquet page: dictionary index out of range")
					default:
						fromDict(idx[j])
					}
					return nil
				})
			}
			j := 0
			for i := 0; i < n; i++ {
				row++
				if len(defs) > 0 && defs[i] != maxDef {
					if w.wanted(row - 1) {
						null()
					}
					continue
				}
				if j >= len(idx) || idx[j] < 0 || int(idx[j]) >= len(dictSpans) {
					return errors.New("damaged Parquet page: dictionary index out of range")
				}
				k := idx[j]
				j++
				if w.wanted(row - 1) {
					fromDict(k)
				}
			}
			return nil
		}
		vals, o := byteValues(&data, rc.phys, offs)
		offs = o
		if sparse {
			return sparseText(defs, maxDef, n, max(len(o)-1, 0), ws, &row, func(j int) error {
				if j < 0 {
					null()
				} else {
					plain(vals[o[j]:o[j+1]])
				}
				return nil
			})
		}
		j := 0
		for i := 0; i < n; i++ {
			row++
			if len(defs) > 0 && defs[i] != maxDef {
				if w.wanted(row - 1) {
					null()
				}
				continue
			}
			if j+1 >= len(o) {
				return errors.New("damaged Parquet page: fewer values than rows")
			}
			v := vals[o[j]:o[j+1]]
			j++
			if w.wanted(row - 1) {
				plain(v)
			}
		}
		return nil
	})
}

// hashText writes, per row of a text column, the xxhash of the value with
// surrounding white space trimmed, 0 for null or blank values, reading the
// page buffers in place (dictionary entries hashed once).
func (f *pqFile) hashText(rg int, rc *rawCol, dst []uint64) error {
	var lastDict parquet.Dictionary
	var dictHash []uint64
	var offs []uint32
	hash := func(v []byte) uint64 {
		if v = bytes.TrimSpace(v); len(v) == 0 {
			return 0
		}
		return xxhash.Sum64(v)
	}
	maxDef := byte(rc.maxDef)
	row := 0
	return f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		defs := p.DefinitionLevels()
		n := int(p.NumValues())
		if row+n > len(dst) {
			return errors.New("damaged Parquet column chunk: more values than rows")
		}
		data := p.Data()
		if dict := p.Dictionary(); dict != nil {
			if dict != lastDict {
				lastDict = dict
				dv := dict.Page().Data()
				vals, o := byteValues(&dv, rc.phys, offs)
				offs = o
				dictHash = dictHash[:0]
				for i := 0; i+1 < len(o); i++ {
					dictHash = append(dictHash, hash(vals[o[i]:o[i+1]]))
				}
			}
			idx := data.Int32()
			j := 0
			for i := 0; i < n; i++ {
				if len(defs) > 0 && defs[i] != maxDef {
					dst[row+i] = 0
					continue
				}
				if j >= len(idx) || idx[j] < 0 || int(idx[j]) >= len(dictHash) {
					return errors.New("damaged Parquet page: dictionary index out of range")
				}
				dst[row+i] = dictHash[idx[j]]
				j++
			}
			row += n
			return nil
		}
		vals, o := byteValues(&data, rc.phys, offs)
		offs = o
		j := 0
		for i := 0; i < n; i++ {
			if len(defs) > 0 && defs[i] != maxDef {
				dst[row+i] = 0
				continue
			}
			if j+1 >= len(o) {
				return errors.New("damaged Parquet page: fewer values than rows")
			}
			dst[row+i] = hash(vals[o[j]:o[j+1]])
			j++
		}
		row += n
		return nil
	})
}

// wantCursor answers, for rows asked in ascending order, whether a row is
// in an ascending list; a nil list wants every row.
type wantCursor struct {
	rows []int
	i    int
}

// sparseIn returns the wanted rows of the page of n rows from row on, and
// moves past them, when they are few enough to be visited alone (under one
// in eight: a delta's changed rows); otherwise sparse is false and the page
// is walked whole, with wanted.
func (w *wantCursor) sparseIn(row, n int) (ws []int, sparse bool) {
	if w.rows == nil {
		return nil, false
	}
	for w.i < len(w.rows) && w.rows[w.i] < row {
		w.i++
	}
	i := w.i
	for w.i < len(w.rows) && w.rows[w.i] < row+n {
		w.i++
	}
	if w.i-i >= n/8 {
		w.i = i // the full pass walks them
		return nil, false
	}
	return w.rows[i:w.i], true
}

// sparseText visits the wanted rows (ascending, within the page) of a page
// of n rows, with definition levels defs, that holds values non-null values:
// fn gets the index of each wanted row's value, or -1 for a null. The rows
// between are not looked at, but the page's value count is checked against
// its definition levels as a full pass would. *row moves past the page.
func sparseText(defs []byte, maxDef byte, n, values int, wanted []int, row *int, fn func(j int) error) error {
	nonNull := n
	if len(defs) > 0 {
		nonNull = bytes.Count(defs[:n], []byte{maxDef})
	}
	if nonNull > values {
		return errors.New("damaged Parquet page: fewer values than rows")
	}
	j, i := 0, 0 // the value index of page row i
	for _, r := range wanted {
		t := r - *row
		if len(defs) == 0 {
			j, i = t, t
		}
		for ; i < t; i++ {
			if defs[i] == maxDef {
				j++
			}
		}
		k := j
		if len(defs) > 0 && defs[t] != maxDef {
			k = -1
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	*row += n
	return nil
}

func (w *wantCursor) wanted(row int) bool {
	if w.rows == nil {
		return true
	}
	for w.i < len(w.rows) && w.rows[w.i] < row {
		w.i++
	}
	return w.i < len(w.rows) && w.rows[w.i] == row
}

// parseKeys parses the key column of row group rg into dst: one Parsed per
// row, or, when want is not nil, one per wanted row (ascending). Dictionary
// entries are parsed once, when first used; plain values straight from the
// page buffer. It allocates nothing per row.
func (f *pqFile) parseKeys(rg int, rc *rawCol, rows int, dst []personid.Parsed, want []int) ([]personid.Parsed, error) {
	n := rows
	if want != nil {
		n = len(want)
	}
	dst = slices.Grow(dst[:0], n)
	empty := personid.ParseBytes(nil)
	w := wantCursor{rows: want}
	if rc.kind != rawText {
		return f.parseIntKeys(rg, rc, dst, empty, &w)
	}
	var lastDict parquet.Dictionary
	var dictKeys []personid.Parsed
	var dictDone []bool
	var dictVals []byte
	var offs, pageOffs []uint32
	maxDef := byte(rc.maxDef)
	row := 0
	err := f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		defs := p.DefinitionLevels()
		n := int(p.NumValues())
		data := p.Data()
		dict := p.Dictionary()
		if dict != nil && dict != lastDict {
			lastDict = dict
			dv := dict.Page().Data()
			dictVals, offs = byteValues(&dv, rc.phys, offs)
			dictKeys = slices.Grow(dictKeys[:0], len(offs))[:max(len(offs)-1, 0)]
			dictDone = slices.Grow(dictDone[:0], len(offs))[:len(dictKeys)]
			clear(dictDone)
		}
		var vals []byte
		var o []uint32
		var idx []int32
		values := 0
		if dict != nil {
			idx = data.Int32()
			values = len(idx)
		} else {
			vals, pageOffs = byteValues(&data, rc.phys, pageOffs)
			o = pageOffs
			values = max(len(o)-1, 0)
		}
		if ws, sparse := w.sparseIn(row, n); sparse {
			return sparseText(defs, maxDef, n, values, ws, &row, func(j int) error {
				switch {
				case j < 0:
					dst = append(dst, empty)
				case dict == nil:
					dst = append(dst, personid.ParseBytes(vals[o[j]:o[j+1]]))
				case uint32(idx[j]) >= uint32(len(dictKeys)):
					return errors.New("damaged Parquet page: dictionary index out of range")
				default:
					d := idx[j]
					if !dictDone[d] {
						dictKeys[d], dictDone[d] = personid.ParseBytes(dictVals[offs[d]:offs[d+1]]), true
					}
					dst = append(dst, dictKeys[d])
				}
				return nil
			})
		}
		j := 0
		for i := 0; i < n; i++ {
			if len(defs) > 0 && defs[i] != maxDef {
				if w.wanted(row + i) {
					dst = append(dst, empty)
				}
				continue
			}
			k := j
			j++
			if !w.wanted(row + i) {
				continue
			}
			if dict == nil {
				if k+1 >= len(o) {
					return errors.New("damaged Parquet page: fewer values than rows")
				}
				dst = append(dst, personid.ParseBytes(vals[o[k]:o[k+1]]))
				continue
			}
			if k >= len(idx) || uint32(idx[k]) >= uint32(len(dictKeys)) {
				return errors.New("damaged Parquet page: dictionary index out of range")
			}
			d := idx[k]
			if !dictDone[d] {
				dictKeys[d], dictDone[d] = personid.ParseBytes(dictVals[offs[d]:offs[d+1]]), true
			}
			dst = append(dst, dictKeys[d])
		}
		row += n
		return nil
	})
	return dst, err
}

// parseIntKeys parses an integer key column (IDs stored as numbers).
func (f *pqFile) parseIntKeys(rg int, rc *rawCol, dst []personid.Parsed, empty personid.Parsed, w *wantCursor) ([]personid.Parsed, error) {
	vals := make([]parquet.Value, 1024)
	var buf [24]byte
	row := 0
	err := f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		r := p.Values()
		for {
			n, err := r.ReadValues(vals)
			for _, v := range vals[:n] {
				switch {
				case !w.wanted(row):
				case v.IsNull():
					dst = append(dst, empty)
				default:
					dst = append(dst, personid.ParseBytes(strconv.AppendInt(buf[:0], numOf(v, rc.phys), 10)))
				}
				row++
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	return dst, err
}

// decimalOf reads row i of a decimal column as its unscaled integer.
func (d *colData) decimalOf(i int, z *big.Int) *big.Int {
	if d.spans == nil {
		return z.SetInt64(d.num[i])
	}
	b := d.text(i)
	if len(b) <= 8 {
		var x int64
		for _, c := range b {
			x = x<<8 | int64(c)
		}
		if len(b) > 0 && len(b) < 8 && b[0]&0x80 != 0 {
			x -= 1 << (8 * len(b)) // sign-extend the two's complement
		}
		return z.SetInt64(x)
	}
	z.SetBytes(b)
	if b[0]&0x80 != 0 {
		z.Sub(z, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return z
}
