package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/sources/personid"
)

// Chunk is one unit of parallel reading: one row group of one file of an entry.
type Chunk struct {
	Index    int    // position in Reader.Chunks(); results merge in this order
	File     string // resolved path
	RowGroup int
	FirstRow int64 // 1-based data row number, within File, of the chunk's first row
	Rows     int
}

// ReadOptions tune Open.
type ReadOptions struct {
	// CacheDir is where CSV files are converted to Parquet on ingest. Empty
	// means a temporary folder that Close removes.
	CacheDir string
}

// Reader reads one manifest entry (one or more files of one kind), Parquet
// row group by row group, only the columns asked for.
type Reader struct {
	impl *readerImpl
}

// Open checks every file of e (readable, required canonical columns present,
// column types convertible) and converts CSV files to Parquet.
//
// Files ending in .csv (any case) are CSV, everything else Parquet. Raw
// columns are found by exact name, else by a unique case-insensitive match.
// A column the manifest maps explicitly must exist, like a required one.
func Open(ctx context.Context, m *Manifest, e *Entry, opts ReadOptions) (*Reader, error) {
	s, err := SchemaOf(e.Kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestAt(m, e), err)
	}
	plans, err := buildPlans(m, e, s)
	if err != nil {
		return nil, err
	}
	if len(e.Files) == 0 {
		return nil, fmt.Errorf("%s: no files", manifestAt(m, e))
	}
	r := &readerImpl{m: m, e: e, schema: s, plans: plans, cacheDir: opts.CacheDir}
	files := slices.Clone(e.Files)
	slices.Sort(files)
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			r.close()
			return nil, err
		}
		f, err := r.openFile(ctx, path)
		if err != nil {
			r.close()
			return nil, err
		}
		r.files = append(r.files, f)
		f.first = len(r.chunks)
		first := int64(1)
		for i, rg := range f.pf.RowGroups() {
			n := rg.NumRows()
			if n > 0 {
				r.chunks = append(r.chunks, Chunk{Index: len(r.chunks), File: path, RowGroup: i, FirstRow: first, Rows: int(n)})
				r.chunkFile = append(r.chunkFile, f)
			}
			first += n
		}
	}
	return &Reader{impl: r}, nil
}

// readerImpl holds the open files of one entry. After Open it is read-only,
// so chunks can be read concurrently.
type readerImpl struct {
	m         *Manifest
	e         *Entry
	schema    *Schema
	plans     []colPlan
	files     []*pqFile
	chunks    []Chunk
	chunkFile []*pqFile // per chunk
	cacheDir  string
	tempDir   string // created for CSV conversions when cacheDir is empty; removed by Close
}

// openFile opens one file, converting CSV first, and resolves every column.
func (r *readerImpl) openFile(ctx context.Context, path string) (*pqFile, error) {
	f := &pqFile{path: path, data: path, name: r.m.RelPath(path)}
	if isCSV(path) {
		dir, err := r.csvDir()
		if err != nil {
			return nil, err
		}
		f.data, err = ingestCSV(ctx, path, dir, r.e.Encoding)
		if err != nil {
			return nil, err
		}
	}
	osf, pf, err := openParquet(f.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.osf, f.pf = osf, pf
	f.raws = make([]rawCol, len(r.plans))
	for i := range r.plans {
		rc, err := r.resolve(f, &r.plans[i])
		if err != nil {
			osf.Close()
			return nil, err
		}
		f.raws[i] = rc
	}
	return f, nil
}

func (r *readerImpl) csvDir() (string, error) {
	if r.cacheDir != "" {
		return r.cacheDir, os.MkdirAll(r.cacheDir, 0o755)
	}
	if r.tempDir == "" {
		d, err := os.MkdirTemp("", "hedui-csv-*")
		if err != nil {
			return "", err
		}
		r.tempDir = d
	}
	return r.tempDir, nil
}

// resolve finds plan p's raw column in f and checks that its type converts.
func (r *readerImpl) resolve(f *pqFile, p *colPlan) (rawCol, error) {
	c := findColumn(f.pf, p.raw)
	if c == nil {
		if p.col.Required || p.mapped {
			why := "required"
			if !p.col.Required {
				why = "mapped"
			}
			return rawCol{}, fmt.Errorf("%s: %s column %s not found: looked for raw column %q, as %s; file columns: %s",
				f.path, why, p.col.Name, p.raw, manifestAt(r.m, r.e), columnNames(f.pf))
		}
		return rawCol{leaf: -1}, nil
	}
	if !c.Leaf() || c.Repeated() {
		return rawCol{}, fmt.Errorf("%s: column %q (%s) is a group or list; a %s column must be a single value per row",
			f.path, c.Name(), p.col.Name, p.col.Type)
	}
	rc, err := classify(c)
	if err != nil {
		return rawCol{}, fmt.Errorf("%s: column %q (%s): %w", f.path, c.Name(), p.col.Name, err)
	}
	if ok, need := p.accepts(rc.kind); !ok {
		return rawCol{}, fmt.Errorf("%s: column %q (%s) has type %s; %s", f.path, c.Name(), p.col.Name, rc.typeName, need)
	}
	return rc, nil
}

// Entry returns the manifest entry being read.
func (r *Reader) Entry() *Entry { return r.impl.e }

// Chunks lists the units of work in a deterministic order: files sorted,
// row groups in file order. Empty row groups are left out.
func (r *Reader) Chunks() []Chunk { return slices.Clone(r.impl.chunks) }

func (r *readerImpl) fileOf(c Chunk) (*pqFile, error) {
	if c.Index < 0 || c.Index >= len(r.chunks) || r.chunks[c.Index] != c {
		return nil, fmt.Errorf("chunk %d (%s row group %d) is not a chunk of this reader", c.Index, c.File, c.RowGroup)
	}
	return r.chunkFile[c.Index], nil
}

// Keys parses the key column (person_id, owner_id or party_id) of chunk c, one
// Parsed per row, reusing dst. It is safe to call concurrently for different chunks.
func (r *Reader) Keys(c Chunk, dst []personid.Parsed) ([]personid.Parsed, error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return dst, err
	}
	dst, err = f.parseKeys(c.RowGroup, &f.raws[0], c.Rows, dst, nil)
	if err != nil {
		return dst[:0], fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, f.raws[0].name, err)
	}
	return dst, nil
}

// KeysAt parses the key column at the given chunk-relative rows (ascending)
// of chunk c, one Parsed per row asked, as Keys would give them: an index
// update that knows which few rows changed parses only those.
func (r *Reader) KeysAt(c Chunk, rows []int, dst []personid.Parsed) ([]personid.Parsed, error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return dst, err
	}
	if err := checkRows(c, rows); err != nil {
		return dst, err
	}
	if rows == nil {
		rows = []int{} // nil would mean every row
	}
	dst, err = f.parseKeys(c.RowGroup, &f.raws[0], c.Rows, dst, rows)
	if err == nil && len(dst) != len(rows) {
		err = fmt.Errorf("damaged Parquet column chunk: %d of %d rows found", len(dst), len(rows))
	}
	if err != nil {
		return dst[:0], fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, f.raws[0].name, err)
	}
	return dst, nil
}

// RawKeys returns the raw key values of the given chunk-relative rows, for quarantine.
// Null values are returned as "".
func (r *Reader) RawKeys(c Chunk, rows []int) ([]string, error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return nil, err
	}
	if err := checkRows(c, rows); err != nil {
		return nil, err
	}
	rc := &f.raws[0]
	// Only the asked rows are kept: the k-th at index k.
	d, err := f.loadColumn(c.RowGroup, rc, c.Rows, rows)
	if err != nil {
		return nil, fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
	}
	out := make([]string, len(rows))
	for i := range rows {
		out[i] = d.rawText(i, rc)
	}
	return out, nil
}

// rawText renders row i as the department wrote it, for quarantine files
// and error messages: text as is, integers in decimal, decimals with their
// scale, dates and timestamps in ISO form.
func (d *colData) rawText(i int, rc *rawCol) string {
	switch {
	case d.null[i]:
		return ""
	case rc.kind == rawDecimal:
		return decimalText(d.decimalOf(i, new(big.Int)), rc.scale)
	case d.spans != nil:
		return d.str(i)
	case d.flt != nil:
		return strconv.FormatFloat(d.flt[i], 'g', -1, 64)
	case rc.kind == rawDate32:
		return date32(d.num[i]).Format(time.DateOnly)
	case rc.kind == rawTimestamp:
		return timestampDate(d.num[i], rc.tsUnit, rc.tsUTC).Format(time.DateOnly)
	}
	return strconv.FormatInt(d.num[i], 10)
}

func checkRows(c Chunk, rows []int) error {
	for i, row := range rows {
		if row < 0 || row >= c.Rows || (i > 0 && row <= rows[i-1]) {
			return fmt.Errorf("%s row group %d: rows must be ascending chunk-relative indexes below %d; got %d at position %d", c.File, c.RowGroup, c.Rows, row, i)
		}
	}
	return nil
}

// Hashes returns, per row of chunk c, the xxhash64 of the canonical string value
// of column (after the manifest's values mapping), 0 where null or empty.
//
// The canonical string is the text value trimmed and mapped; dates are
// "2006-01-02", numbers the shortest decimal that round-trips, booleans
// "true"/"false"; the key column hashes the canonical 18-character ID, or
// the trimmed raw value when invalid. A column the file lacks hashes to 0.
func (r *Reader) Hashes(c Chunk, column string, dst []uint64) ([]uint64, error) {
	ri := r.impl
	f, err := ri.fileOf(c)
	if err != nil {
		return dst, err
	}
	pi, ok := ri.schema.byName[column]
	if !ok {
		return dst, fmt.Errorf("unknown column %q for kind %s; columns: %s", column, ri.schema.Kind, strings.Join(ri.schema.Names(), ", "))
	}
	dst = slices.Grow(dst[:0], c.Rows)[:c.Rows]
	rc := &f.raws[pi]
	if rc.leaf < 0 {
		clear(dst)
		return dst, nil
	}
	if p := &ri.plans[pi]; pi != 0 && rc.kind == rawText && p.col.Type == TypeString && len(p.col.Enum) == 0 && len(p.values) == 0 {
		// Free text canonicalizes to itself trimmed: hash straight from the pages.
		if err := f.hashText(c.RowGroup, rc, dst); err != nil {
			return dst[:0], fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
		}
		return dst, nil
	}
	cd, err := f.loadColumn(c.RowGroup, rc, c.Rows, nil)
	if err != nil {
		return dst[:0], fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
	}
	cv := newConverter(&ri.plans[pi], rc, cd)
	var buf []byte
	for i := range dst {
		if cd.null[i] || cd.spans != nil && len(bytes.TrimSpace(cd.text(i))) == 0 {
			dst[i] = 0
			continue
		}
		if pi == 0 {
			dst[i] = xxhash.Sum64String(canonicalID(cd.rawText(i, rc)))
			continue
		}
		v, err := cv.cell(i)
		if err != nil {
			return dst[:0], ri.valueError(f, c, i, i, pi, cd, err)
		}
		buf = cv.plan.appendCanonical(buf[:0], v)
		if len(buf) == 0 {
			dst[i] = 0
			continue
		}
		dst[i] = xxhash.Sum64(buf)
	}
	return dst, nil
}

// valueError names the file, row, column and raw value of a conversion error.
// row is the chunk-relative row, pos its index in cd (they differ when cd
// holds only some rows).
func (r *readerImpl) valueError(f *pqFile, c Chunk, row, pos, pi int, cd *colData, err error) error {
	p, rc := &r.plans[pi], &f.raws[pi]
	raw := cd.rawText(pos, rc)
	col := p.col.Name
	if rc.name != col {
		col = fmt.Sprintf("%s (raw column %q)", col, rc.name)
	}
	return fmt.Errorf("%s row %d, column %s: value %q: %w", f.path, c.FirstRow+int64(row), col, raw, err)
}

// converter turns the rows of one materialized column into cells, caching
// the conversion of each dictionary entry.
type converter struct {
	plan  *colPlan
	raw   *rawCol
	data  *colData
	cache []cell
	done  []bool
	errs  []error
	z     big.Int
}

func newConverter(p *colPlan, rc *rawCol, d *colData) *converter {
	cv := &converter{plan: p, raw: rc, data: d}
	// The cache has a slot per dictionary entry: worth it when the rows
	// materialized may repeat entries, not for a few rows of a dictionary
	// of unique values (names, plate numbers), where it cost more to
	// allocate than the conversions it saved.
	if d.ndict > 0 && rc.kind == rawText && len(d.null) >= d.ndict/4 {
		cv.cache, cv.done, cv.errs = make([]cell, d.ndict), make([]bool, d.ndict), make([]error, d.ndict)
	}
	return cv
}

func (cv *converter) cell(i int) (cell, error) {
	d := cv.data
	if d.null[i] {
		return cv.plan.fromText("")
	}
	if cv.cache != nil {
		if k := d.dict[i]; k >= 0 {
			if !cv.done[k] {
				cv.cache[k], cv.errs[k] = cv.plan.fromText(d.str(i))
				cv.done[k] = true
			}
			return cv.cache[k], cv.errs[k]
		}
	}
	rc := cv.raw
	switch rc.kind {
	case rawText:
		return cv.plan.fromText(d.str(i))
	case rawInt, rawBool:
		if rc.kind == rawBool && cv.plan.col.Type == TypeBool {
			return cell{b: d.num[i] != 0}, nil
		}
		return cv.plan.fromInt(d.num[i])
	case rawFloat:
		return cv.plan.fromFloat(d.flt[i])
	case rawDecimal:
		return cv.plan.fromDecimal(d.decimalOf(i, &cv.z), rc.scale)
	case rawDate32:
		return cv.plan.fromTime(date32(d.num[i]))
	case rawTimestamp:
		return cv.plan.fromTime(timestampDate(d.num[i], rc.tsUnit, rc.tsUTC))
	}
	return cell{}, fmt.Errorf("unsupported raw type %s", rc.typeName)
}

// Decode returns the canonical records of the given chunk-relative rows
// (ascending; nil means every row). A value that cannot be converted is an
// error naming the file, row, column and value, and what is allowed.
// Origin.Match is left empty: the caller sets how the row matched.
func (r *Reader) Decode(c Chunk, rows []int) ([]Record, error) {
	if rows == nil {
		rows = make([]int, c.Rows)
		for i := range rows {
			rows[i] = i
		}
	}
	return r.decode(c, rows, nil)
}

// DecodeOrigins is Decode reading only the key and the columns of Origin
// (name, birth_date, region_code): what matching a row without a valid ID
// by name and birth date needs. The kind's own fields are left zero.
func (r *Reader) DecodeOrigins(c Chunk, rows []int) ([]Record, error) {
	only := make([]bool, len(r.impl.plans))
	only[0] = true
	for pi, p := range r.impl.plans {
		switch p.col.Name {
		case "name", "birth_date", "region_code":
			only[pi] = true
		}
	}
	return r.decode(c, rows, only)
}

// KnownID is what a caller already knows of a row's person ID, from an
// index, so that DecodeKnown need not read it.
type KnownID struct {
	Known bool         // false: the row's key column is read
	Key   personid.Key // the valid key, as Keys parses it; 0: none
	// PersonID, with Key 0, is Origin.PersonID as Decode gives it (the raw
	// value trimmed).
	PersonID string
}

// DecodeKnown is Decode for rows whose person IDs are known: ids[j] is row
// rows[j]'s. Only the rows not Known read the key column, which is most of
// a person register's bytes (a pension file's IDs: 70 % of its compressed
// bytes); a valid key gives its canonical PersonID, as Decode does.
func (r *Reader) DecodeKnown(c Chunk, rows []int, ids []KnownID) ([]Record, error) {
	if len(ids) != len(rows) {
		return nil, fmt.Errorf("decode: %d IDs for %d rows", len(ids), len(rows))
	}
	return r.decodeWith(c, rows, nil, ids)
}

func (r *Reader) decode(c Chunk, rows []int, only []bool) ([]Record, error) {
	return r.decodeWith(c, rows, only, nil)
}

func (r *Reader) decodeWith(c Chunk, rows []int, only []bool, ids []KnownID) ([]Record, error) {
	out := make([]Record, 0, len(rows))
	err := r.impl.decodeRows(c, rows, only, ids, func(_ int, rec Record, _ []cell) error {
		out = append(out, rec)
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeRows converts the given rows of chunk c and calls fn with each record
// and its cells (per schema column; the key cell holds PersonID). With fresh,
// every row gets a new record; otherwise one record is reused. only, when
// not nil, names the plans (columns) to read; the others stay zero. ids,
// when not nil, are what is known of the rows' person IDs (DecodeKnown).
func (r *readerImpl) decodeRows(c Chunk, rows []int, only []bool, ids []KnownID, fn func(row int, rec Record, cells []cell) error, fresh bool) error {
	f, err := r.fileOf(c)
	if err != nil {
		return err
	}
	if err := checkRows(c, rows); err != nil {
		return err
	}
	convs := make([]*converter, len(r.plans))
	for pi := range r.plans {
		rc := &f.raws[pi]
		if rc.leaf < 0 || (only != nil && !only[pi]) {
			continue
		}
		want := rows
		if pi == 0 && ids != nil {
			// Only the rows whose ID is not known: their values, in order.
			if want = unknown(rows, ids); len(want) == 0 {
				continue
			}
		}
		d, err := f.loadColumn(c.RowGroup, rc, c.Rows, want)
		if err != nil {
			return fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
		}
		convs[pi] = newConverter(&r.plans[pi], rc, d)
	}
	cells := make([]cell, len(r.plans))
	var rec Record
	var canon [18]byte
	// The key column holds only the rows whose ID is not known (ids): its
	// values are at rawPos.
	rawPos := 0
	for pos, row := range rows { // columns hold just these rows: row's values are at pos
		if rec == nil || fresh {
			rec = r.schema.New()
		}
		o := rec.Base()
		var k personid.Key
		var id string
		if ids != nil && ids[pos].Known {
			k, id = ids[pos].Key, ids[pos].PersonID
			if k != 0 {
				id = k.String()
			}
		} else {
			key := convs[0]
			raw := key.data.rawText(rawPos, key.raw)
			rawPos++
			p := personid.Parse(raw)
			k, id = p.Key, strings.TrimSpace(raw)
			if p.Reason == personid.ReasonNone {
				// Most IDs are written in canonical form already: keep raw
				// rather than make the same string again.
				if c := p.Key.AppendTo(canon[:0]); string(c) != raw {
					id = string(c)
				}
			}
		}
		*o = Origin{Key: k, PersonID: id, Kind: r.e.Kind, File: f.name, Row: c.FirstRow + int64(row), Snapshot: r.e.Snapshot}
		cells[0] = cell{s: o.PersonID, null: o.PersonID == ""}
		v := reflect.ValueOf(rec).Elem()
		for pi := 1; pi < len(r.plans); pi++ {
			cv := convs[pi]
			if cv == nil {
				cells[pi] = cell{null: true}
				setField(v.FieldByIndex(r.plans[pi].col.Field), cell{null: true})
				continue
			}
			x, err := cv.cell(pos)
			if err != nil {
				return r.valueError(f, c, row, pos, pi, cv.data, err)
			}
			cells[pi] = x
			setField(v.FieldByIndex(cv.plan.col.Field), x)
		}
		if err := fn(row, rec, cells); err != nil {
			return err
		}
	}
	return nil
}

// unknown returns the rows whose ID is not known, never nil (loadColumn
// reads every row for nil).
func unknown(rows []int, ids []KnownID) []int {
	out := []int{}
	for j, id := range ids {
		if !id.Known {
			out = append(out, rows[j])
		}
	}
	return out
}

// canonicalID is what Origin.PersonID holds: the canonical 18 characters of
// a valid number, else the raw value trimmed.
func canonicalID(raw string) string {
	if p := personid.Parse(raw); p.Reason == personid.ReasonNone {
		return p.Key.String()
	}
	return strings.TrimSpace(raw)
}

// setField stores a cell in a record field of the column's Go type.
func setField(f reflect.Value, x cell) {
	switch f.Kind() {
	case reflect.String:
		f.SetString(x.s)
	case reflect.Float64:
		f.SetFloat(x.f)
	case reflect.Int:
		f.SetInt(int64(x.i))
	case reflect.Bool:
		f.SetBool(x.b)
	default:
		// Through a pointer: reflect.ValueOf(x.t) would box a copy of the
		// time on the heap for every record.
		*f.Addr().Interface().(*time.Time) = x.t
	}
}

// Scan reads the key column of every chunk with at most workers goroutines,
// writes invalid keys to q (may be nil), counts rows, valid keys, 15-digit
// conversions and quarantined rows into qual, and calls fn with each chunk's
// parsed keys. fn runs concurrently for different chunks.
//
// keys are valid only during fn: the buffer is reused for a later chunk.
// Scan also sets qual's Kind, Path, Files, Snapshot and AgeDays (against the
// manifest's as_of). The quarantine's column is the raw key column name.
// workers <= 0 means GOMAXPROCS.
func (r *Reader) Scan(ctx context.Context, workers int, q *Quarantine, qual *Quality,
	fn func(c Chunk, keys []personid.Parsed) error) error {
	ri := r.impl
	if qual == nil {
		qual = &Quality{}
	}
	ri.describe(qual)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(1, len(ri.chunks)))
	var mu sync.Mutex
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			var keys []personid.Parsed
			var bad []int
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ri.chunks) {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				c := ri.chunks[i]
				var err error
				if keys, bad, err = r.scanChunk(c, keys, bad, q, qual, &mu, fn); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// scanChunk is one chunk of Scan: its keys parsed, counted and quarantined,
// then fn. The chunk is pinned meanwhile: fn typically decodes some of its
// rows, whose key column then comes from the pages Keys decompressed.
func (r *Reader) scanChunk(c Chunk, keys []personid.Parsed, bad []int, q *Quarantine, qual *Quality, mu *sync.Mutex,
	fn func(c Chunk, keys []personid.Parsed) error) ([]personid.Parsed, []int, error) {
	release, err := r.Pin(c)
	if err != nil {
		return keys, bad, err
	}
	defer release()
	if keys, err = r.Keys(c, keys); err != nil {
		return keys, bad, err
	}
	var n KeyCounts
	bad = n.Count(keys, bad[:0])
	if len(bad) > 0 && q != nil {
		if err := r.quarantine(q, c, keys, bad); err != nil {
			return keys, bad, err
		}
	}
	mu.Lock()
	n.AddTo(qual)
	mu.Unlock()
	if fn != nil {
		err = fn(c, keys)
	}
	return keys, bad, err
}

// KeyCounts are the key counts of some rows (a chunk's, as a rule), what a
// Quality record sums; an index update keeps them per chunk so that a chunk
// whose key column did not change need not be parsed again.
type KeyCounts struct {
	Rows, Valid, From15 int64
	ByReason            [8]int64 // rows with an invalid key, by personid.Reason
}

// Count sets n to the counts of keys and returns the rows with an invalid
// key, appended to bad.
func (n *KeyCounts) Count(keys []personid.Parsed, bad []int) []int {
	*n = KeyCounts{Rows: int64(len(keys))}
	for i, k := range keys {
		if k.Reason == personid.ReasonNone {
			n.Valid++
			if k.From15 {
				n.From15++
			}
			continue
		}
		n.ByReason[k.Reason%8]++
		bad = append(bad, i)
	}
	return bad
}

// AddTo adds n to the counts of q.
func (n *KeyCounts) AddTo(q *Quality) {
	q.Rows += n.Rows
	q.ValidKeys += n.Valid
	q.From15 += n.From15
	for reason, k := range n.ByReason {
		if k == 0 {
			continue
		}
		if q.Quarantined == nil {
			q.Quarantined = map[string]int64{}
		}
		q.Quarantined[personid.Reason(reason).String()] += k
		q.QuarantinedTotal += k
	}
}

func (r *Reader) quarantine(q *Quarantine, c Chunk, keys []personid.Parsed, bad []int) error {
	raws, err := r.RawKeys(c, bad)
	if err != nil {
		return err
	}
	f := r.impl.chunkFile[c.Index]
	for i, row := range bad {
		q.Add(r.impl.e.Kind, f.name, c.FirstRow+int64(row), f.raws[0].name, raws[i], keys[row].Reason.String())
	}
	return nil
}

// Describe fills the descriptive fields of a Quality record (kind, path,
// files, snapshot and its age), what Scan fills before it counts.
func (r *Reader) Describe(q *Quality) { r.impl.describe(q) }

// describe fills the descriptive fields of a Quality record.
func (r *readerImpl) describe(q *Quality) {
	q.Kind, q.Path, q.Files = r.e.Kind, r.e.Path, len(r.files)
	if !r.e.Snapshot.IsZero() {
		q.Snapshot = r.e.Snapshot.Format("2006-01-02")
		if r.m != nil && !r.m.AsOf.IsZero() {
			q.AgeDays = int(r.m.AsOf.Sub(r.e.Snapshot).Hours() / 24)
		}
	}
}

// Close releases files and removes the temporary CSV conversions.
func (r *Reader) Close() error { return r.impl.close() }

func (r *readerImpl) close() error {
	var errs []error
	for _, f := range r.files {
		if f.osf != nil {
			errs = append(errs, f.osf.Close())
			f.osf = nil
		}
	}
	if r.tempDir != "" {
		errs = append(errs, os.RemoveAll(r.tempDir))
		r.tempDir = ""
	}
	return errors.Join(errs...)
}
