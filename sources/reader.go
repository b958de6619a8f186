package sources

import (
	"context"

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
func Open(ctx context.Context, m *Manifest, e *Entry, opts ReadOptions) (*Reader, error) {
	panic("sources.Open: not implemented yet")
}

// Entry returns the manifest entry being read.
func (r *Reader) Entry() *Entry { panic("not implemented yet") }

// Chunks lists the units of work in a deterministic order: files sorted,
// row groups in file order.
func (r *Reader) Chunks() []Chunk { panic("not implemented yet") }

// Keys parses the key column (person_id, owner_id or party_id) of chunk c, one
// Parsed per row, reusing dst. It is safe to call concurrently for different chunks.
func (r *Reader) Keys(c Chunk, dst []personid.Parsed) ([]personid.Parsed, error) {
	panic("not implemented yet")
}

// RawKeys returns the raw key values of the given chunk-relative rows, for quarantine.
func (r *Reader) RawKeys(c Chunk, rows []int) ([]string, error) { panic("not implemented yet") }

// Hashes returns, per row of chunk c, the xxhash64 of the canonical string value
// of column (after the manifest's values mapping), 0 where null or empty.
func (r *Reader) Hashes(c Chunk, column string, dst []uint64) ([]uint64, error) {
	panic("not implemented yet")
}

// Decode returns the canonical records of the given chunk-relative rows
// (ascending; nil means every row). A value that cannot be converted is an
// error naming the file, row, column and value, and what is allowed.
// Origin.Match is left empty: the caller sets how the row matched.
func (r *Reader) Decode(c Chunk, rows []int) ([]Record, error) { panic("not implemented yet") }

// Scan reads the key column of every chunk with at most workers goroutines,
// writes invalid keys to q (may be nil), counts rows, valid keys, 15-digit
// conversions and quarantined rows into qual, and calls fn with each chunk's
// parsed keys. fn runs concurrently for different chunks.
func (r *Reader) Scan(ctx context.Context, workers int, q *Quarantine, qual *Quality,
	fn func(c Chunk, keys []personid.Parsed) error) error {
	panic("not implemented yet")
}

// Close releases files and removes the temporary CSV conversions.
func (r *Reader) Close() error { panic("not implemented yet") }

type readerImpl struct{}
