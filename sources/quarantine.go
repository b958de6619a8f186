package sources

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// quarantineRow is one row of a quarantine file.
type quarantineRow struct {
	File   string `parquet:"file,dict"`
	Row    int64  `parquet:"row"`
	Column string `parquet:"column,dict"`
	Value  string `parquet:"value"`
	Reason string `parquet:"reason,dict"`
}

type quarantineImpl struct {
	dir    string
	keep   bool // hold rows, not just counts
	mu     sync.Mutex
	rows   map[Kind][]quarantineRow
	counts map[Kind]map[string]int64
	closed bool
}

// NewQuarantine returns a quarantine that Close writes under dir, as
// dir/quarantine/<kind>.parquet. An empty dir keeps counts only.
func NewQuarantine(dir string) *Quarantine {
	return &Quarantine{impl: &quarantineImpl{dir: dir, keep: dir != "", rows: map[Kind][]quarantineRow{}, counts: map[Kind]map[string]int64{}}}
}

// newMemoryQuarantine holds rows in memory and writes nothing.
func newMemoryQuarantine() *Quarantine {
	q := NewQuarantine("")
	q.impl.keep = true
	return q
}

// Add records one rejected row: the raw value of column in row (1-based data
// row) of file, and the reason word. It is safe for concurrent use.
func (q *Quarantine) Add(kind Kind, file string, row int64, column, value string, reason string) {
	qi := q.impl
	qi.mu.Lock()
	defer qi.mu.Unlock()
	if qi.keep {
		qi.rows[kind] = append(qi.rows[kind], quarantineRow{File: file, Row: row, Column: column, Value: value, Reason: reason})
	}
	c := qi.counts[kind]
	if c == nil {
		c = map[string]int64{}
		qi.counts[kind] = c
	}
	c[reason]++
}

// Counts returns a copy of the number of rows added, by kind and reason.
func (q *Quarantine) Counts() map[Kind]map[string]int64 {
	qi := q.impl
	qi.mu.Lock()
	defer qi.mu.Unlock()
	out := make(map[Kind]map[string]int64, len(qi.counts))
	for k, c := range qi.counts {
		out[k] = maps.Clone(c)
	}
	return out
}

// Close writes one file per kind that has rows, sorted by file, row, column,
// value and reason, so the bytes are the same whatever the arrival order.
// Calling Close again does nothing.
func (q *Quarantine) Close() error {
	qi := q.impl
	qi.mu.Lock()
	defer qi.mu.Unlock()
	if qi.closed || qi.dir == "" {
		qi.closed = true
		return nil
	}
	qi.closed = true
	if len(qi.rows) == 0 {
		return nil
	}
	dir := filepath.Join(qi.dir, "quarantine")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, kind := range slices.Sorted(maps.Keys(qi.rows)) {
		rows := qi.rows[kind]
		slices.SortFunc(rows, func(a, b quarantineRow) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Column, b.Column),
				cmp.Compare(a.Value, b.Value), cmp.Compare(a.Reason, b.Reason))
		})
		if err := writeQuarantine(filepath.Join(dir, string(kind)+".parquet"), rows); err != nil {
			errs = append(errs, fmt.Errorf("quarantine %s: %w", kind, err))
		}
		qi.rows[kind] = nil
	}
	return errors.Join(errs...)
}

func writeQuarantine(path string, rows []quarantineRow) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".quarantine-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := parquet.NewGenericWriter[quarantineRow](tmp, parquet.Compression(&parquet.Zstd),
		parquet.CreatedBy("hedui", "quarantine-1", ""), parquet.MaxRowsPerRowGroup(1<<20))
	if _, err := w.Write(rows); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
