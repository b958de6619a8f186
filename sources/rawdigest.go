package sources

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// rawDigestVersion names how row digests are computed and how raw values
// convert; it is part of every digest, so digests of different versions never
// compare equal. The build's revision is part of it too (see buildSeed): a
// binary that converts some value differently must not take an old
// conversion for its own.
const rawDigestVersion = "hedui-rawrow-1"

// buildSeed is the seed shared by every digest of this binary.
var buildSeed = sync.OnceValue(func() uint64 {
	d := xxhash.New()
	d.WriteString(rawDigestVersion)
	if bi, ok := debug.ReadBuildInfo(); ok {
		d.WriteString(bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				d.WriteString(s.Key + "=" + s.Value)
			}
		}
	}
	return d.Sum64()
})

// nullHash stands for a null value; a value's hash is its bytes' xxhash,
// which this constant is as likely to collide with as any other value.
const nullHash = 0x9e3779b97f4a7c15

// RowDigests returns, per row of chunk c, a 64-bit digest of everything
// Decode reads to build the row's record: the raw value of every column the
// entry's schema reads (null distinct from empty), where the row sits (file
// and row number), how each raw column is typed, the entry's mappings,
// formats, units and value maps, and the conversion code's version. Equal
// digests mean Decode gives equal records (up to a 64-bit hash collision);
// a digest is never 0.
//
// The values are hashed straight from the Parquet pages, dictionary entries
// once, without converting them: a fraction of Decode's cost, so an update
// decodes only the rows whose digest changed. It is safe to call
// concurrently for different chunks.
func (r *Reader) RowDigests(c Chunk, dst []uint64) ([]uint64, error) {
	return r.rowDigests(c, dst, nil)
}

// ColumnDigests is RowDigests that also keeps what each raw column gave:
// cols[pi] (grown to c.Rows) receives ColumnHashes(c, pi), so that a later
// update can tell which rows changed from the columns that changed alone.
// cols must have Columns() elements.
func (r *Reader) ColumnDigests(c Chunk, dst []uint64, cols [][]uint64) ([]uint64, error) {
	if len(cols) != len(r.impl.plans) {
		return dst, fmt.Errorf("%d column buffers for %d columns", len(cols), len(r.impl.plans))
	}
	return r.rowDigests(c, dst, cols)
}

func (r *Reader) rowDigests(c Chunk, dst []uint64, cols [][]uint64) ([]uint64, error) {
	ri := r.impl
	f, err := ri.fileOf(c)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst[:0], c.Rows)[:c.Rows]
	seed := ri.fileSeed(f)
	for i := range dst {
		dst[i] = seed
	}
	var vals []uint64
	for pi := range ri.plans {
		if cols != nil {
			vals = slices.Grow(cols[pi][:0], c.Rows)[:c.Rows]
			cols[pi] = vals
		} else if vals == nil {
			vals = make([]uint64, c.Rows)
		}
		if err := f.columnHashes(c, pi, vals); err != nil {
			return dst[:0], err
		}
		if f.raws[pi].leaf < 0 {
			continue // the file lacks it: every row reads null, and the seed says so
		}
		for i, v := range vals {
			dst[i] = mix(dst[i], v)
		}
	}
	for i := range dst {
		dst[i] = mix(dst[i], uint64(c.FirstRow)+uint64(i))
		if dst[i] == 0 {
			dst[i] = 1
		}
	}
	return dst, nil
}

// Pin keeps the decompressed pages of chunk c that are read from now on
// until release is called, so that reading a column of it again (its keys,
// then its hashes, then some rows decoded) decompresses it once. Memory
// grows by the chunk's decompressed size while it is pinned.
func (r *Reader) Pin(c Chunk) (release func(), err error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return func() {}, err
	}
	f.pins.pin(c.RowGroup)
	return func() { f.pins.unpin(c.RowGroup) }, nil
}

// DigestSeed is the seed of chunk c's row digests: what, beside the raw
// values, decides the records they convert to (the build, the file, the
// entry's mappings, formats, units and value maps, the columns' types).
// ColumnHashes digest raw values only; they compare only under one seed.
func (r *Reader) DigestSeed(c Chunk) (uint64, error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return 0, err
	}
	return r.impl.fileSeed(f), nil
}

// Columns is the number of raw columns an entry's rows are read from, the
// range of ColumnHashes' and ColumnFingerprints' column index.
func (r *Reader) Columns() int { return len(r.impl.plans) }

// ColumnHashes writes, per row of chunk c, the hash of raw column pi's
// value (what RowDigests mixes), reusing dst; a column the file lacks hashes
// as null in every row.
func (r *Reader) ColumnHashes(c Chunk, pi int, dst []uint64) ([]uint64, error) {
	f, err := r.impl.fileOf(c)
	if err != nil {
		return dst, err
	}
	if pi < 0 || pi >= len(f.raws) {
		return dst, fmt.Errorf("column %d of %d", pi, len(f.raws))
	}
	dst = slices.Grow(dst[:0], c.Rows)[:c.Rows]
	return dst, f.columnHashes(c, pi, dst)
}

func (f *pqFile) columnHashes(c Chunk, pi int, dst []uint64) error {
	rc := &f.raws[pi]
	if rc.leaf < 0 {
		for i := range dst {
			dst[i] = nullHash
		}
		return nil
	}
	if err := f.hashColumn(c.RowGroup, rc, dst); err != nil {
		return fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
	}
	return nil
}

// ColumnFingerprints returns, per raw column of chunk c, a digest of the
// column chunk's stored bytes (every page as written, compressed, with its
// header and the dictionary), of its type, codec and sizes, and of the
// file's digest seed (what RowDigests' conversions depend on). Two chunks
// whose column pi has equal fingerprints give equal ColumnHashes: an update
// rehashes only the columns whose fingerprint changed, reading nothing else
// but their bytes. A column the file lacks has a fixed fingerprint; 0 means
// unknown (the chunk lives in another file) and never equals a stored one.
func (r *Reader) ColumnFingerprints(c Chunk, dst []uint64) ([]uint64, error) {
	ri := r.impl
	f, err := ri.fileOf(c)
	if err != nil {
		return dst, err
	}
	seed := ri.fileSeed(f)
	rgs := f.pf.Metadata().RowGroups
	if c.RowGroup >= len(rgs) {
		return dst, fmt.Errorf("%s: row group %d not in the footer", f.path, c.RowGroup)
	}
	md := rgs[c.RowGroup].Columns
	var buf []byte
	dst = dst[:0]
	for pi := range ri.plans {
		rc := &f.raws[pi]
		switch {
		case rc.leaf < 0:
			dst = append(dst, mix(seed, absentColumn))
			continue
		case rc.leaf >= len(md) || md[rc.leaf].FilePath != "":
			dst = append(dst, 0)
			continue
		}
		m := &md[rc.leaf].MetaData
		start := m.DataPageOffset
		if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
			start = m.DictionaryPageOffset
		}
		if start < 4 || m.TotalCompressedSize <= 0 || m.TotalCompressedSize > 1<<31 {
			return dst, fmt.Errorf("%s: row group %d, column %q: damaged column chunk metadata (offset %d, size %d)",
				f.path, c.RowGroup, rc.name, start, m.TotalCompressedSize)
		}
		buf = slices.Grow(buf[:0], int(m.TotalCompressedSize))[:m.TotalCompressedSize]
		if _, err := f.osf.ReadAt(buf, start); err != nil {
			return dst, fmt.Errorf("%s: row group %d, column %q: %w", f.path, c.RowGroup, rc.name, err)
		}
		d := xxhash.New()
		var b [8 * 6]byte
		for i, v := range [...]uint64{seed, uint64(pi), uint64(m.Type), uint64(m.Codec), uint64(m.NumValues), uint64(m.TotalUncompressedSize)} {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
		d.Write(b[:])
		d.Write(buf)
		dst = append(dst, max(d.Sum64(), 1))
	}
	return dst, nil
}

// absentColumn stands for a column the file lacks in its fingerprint.
const absentColumn = 0x5bd1e9955bd1e995

// mix folds v into h. Both steps are bijections of h, so two rows that
// differ in one value's hash always get different digests.
func mix(h, v uint64) uint64 {
	h = (h ^ v) * 0x9fb21c651e98df25
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// fileSeed digests what decides how file f's raw values become records,
// beside the values themselves.
func (r *readerImpl) fileSeed(f *pqFile) uint64 {
	d := xxhash.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], buildSeed())
	d.Write(b[:])
	fmt.Fprintf(d, "%s\x00%s\x00%s\x00", r.e.Kind, f.name, r.e.Encoding)
	for pi := range r.plans {
		p, rc := &r.plans[pi], &f.raws[pi]
		fmt.Fprintf(d, "%s|%s|%v|%s|%s|%v|", p.col.Name, p.raw, p.mapped, p.format, p.unit, p.values)
		fmt.Fprintf(d, "%d|%s|%d|%d|%d|%d|%v|%d\x00", rc.leaf, rc.name, rc.kind, rc.phys, rc.scale, rc.tsUnit, rc.tsUTC, rc.maxDef)
	}
	return d.Sum64()
}

// valueSize is the width of one fixed-size value of a physical type; 0 for
// byte arrays and booleans (bit-packed), which are read otherwise.
func valueSize(k parquet.Kind) int {
	switch k {
	case parquet.Int32, parquet.Float:
		return 4
	case parquet.Int64, parquet.Double:
		return 8
	case parquet.Int96:
		return 12
	}
	return 0
}

// hashColumn writes, per row of column rc of row group rg, the hash of the
// row's raw value (nullHash for null), reading the page buffers in place.
func (f *pqFile) hashColumn(rg int, rc *rawCol, dst []uint64) error {
	if rc.phys == parquet.Boolean {
		return f.hashBools(rg, rc, dst)
	}
	var lastDict parquet.Dictionary
	var dictHash, scratch []uint64
	maxDef := byte(rc.maxDef)
	row := 0
	return f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		defs := p.DefinitionLevels()
		n := int(p.NumValues())
		if row+n > len(dst) {
			return errors.New("damaged Parquet column chunk: more values than rows")
		}
		data := p.Data()
		dict := p.Dictionary()
		var hashes []uint64
		var idx []int32
		if dict != nil {
			if dict != lastDict {
				lastDict = dict
				dv := dict.Page().Data()
				var err error
				if dictHash, err = hashValues(&dv, rc.phys, dictHash[:0]); err != nil {
					return err
				}
			}
			hashes, idx = dictHash, data.Int32()
		} else if !hasNulls(defs, maxDef) {
			// Each value is a row's: hashed straight into place, without a
			// page-sized scratch (a whole column chunk's, for a file
			// written with one page per chunk).
			got, err := hashValues(&data, rc.phys, dst[row:row:row+n])
			if err != nil {
				return err
			}
			if len(got) != n {
				return errors.New("damaged Parquet page: values and rows disagree")
			}
			row += n
			return nil
		} else {
			var err error
			if scratch, err = hashValues(&data, rc.phys, scratch[:0]); err != nil {
				return err
			}
			hashes = scratch
		}
		j := 0
		for i := 0; i < n; i++ {
			if len(defs) > 0 && defs[i] != maxDef {
				dst[row+i] = nullHash
				continue
			}
			k := j
			if dict != nil {
				if j >= len(idx) {
					return errors.New("damaged Parquet page: fewer values than rows")
				}
				k = int(idx[j])
			}
			if k < 0 || k >= len(hashes) {
				return errors.New("damaged Parquet page: value index out of range")
			}
			dst[row+i] = hashes[k]
			j++
		}
		if dict == nil && j != len(hashes) {
			return errors.New("damaged Parquet page: values and rows disagree")
		}
		row += n
		return nil
	})
}

// hasNulls reports whether a page's definition levels hold a null.
func hasNulls(defs []byte, maxDef byte) bool {
	for _, d := range defs {
		if d != maxDef {
			return true
		}
	}
	return false
}

// hashValues appends the hash of each value of a page's (or dictionary's)
// data.
func hashValues(v *encoding.Values, phys parquet.Kind, dst []uint64) ([]uint64, error) {
	data, offs := v.Data()
	switch phys {
	case parquet.ByteArray:
		for i := 0; i+1 < len(offs); i++ {
			if offs[i] > offs[i+1] || int(offs[i+1]) > len(data) {
				return dst, errors.New("damaged Parquet page: bad value offsets")
			}
			dst = append(dst, xxhash.Sum64(data[offs[i]:offs[i+1]]))
		}
		return dst, nil
	case parquet.FixedLenByteArray:
		_, size := v.FixedLenByteArray()
		return hashFixed(data, size, dst), nil
	}
	size := valueSize(phys)
	if size == 0 {
		return dst, fmt.Errorf("unsupported physical type %s", phys)
	}
	return hashFixed(data, size, dst), nil
}

func hashFixed(data []byte, size int, dst []uint64) []uint64 {
	if size <= 0 {
		return dst
	}
	for i := 0; i+size <= len(data); i += size {
		dst = append(dst, xxhash.Sum64(data[i:i+size]))
	}
	return dst
}

// hashBools hashes a BOOLEAN column value by value (its pages are
// bit-packed; such columns are rare and narrow).
func (f *pqFile) hashBools(rg int, rc *rawCol, dst []uint64) error {
	vals := make([]parquet.Value, 1024)
	row := 0
	return f.eachPage(rg, rc.leaf, func(p parquet.Page) error {
		r := p.Values()
		for {
			n, err := r.ReadValues(vals)
			for _, v := range vals[:n] {
				if row >= len(dst) {
					return errors.New("damaged Parquet column chunk: more values than rows")
				}
				switch {
				case v.IsNull():
					dst[row] = nullHash
				case v.Boolean():
					dst[row] = 1
				default:
					dst[row] = 2
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
}
