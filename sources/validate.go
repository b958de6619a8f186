package sources

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/text/width"

	"github.com/hedui/hedui/sources/personid"
)

// ValidateOptions tune Validate.
type ValidateOptions struct {
	Workers int // goroutines per entry; <= 0 means GOMAXPROCS
	// QuarantineDir is the folder under which quarantine/<kind>.parquet files
	// are written (see NewQuarantine); empty writes none.
	QuarantineDir string
	// CacheDir is where CSV files are converted (see ReadOptions); empty
	// means a temporary folder per entry.
	CacheDir string
	// Progress, if set, is called after each chunk with the rows done so far
	// and the entry's total. Calls for one entry never overlap.
	Progress func(kind Kind, path string, doneRows, totalRows int64)
}

// Validate reads the roster and every source entry of m in full: every key,
// and every row decoded, so that bad values surface. It returns one Quality
// per entry (roster first, then the sources in manifest order). An entry
// that fails keeps its partial counts out: its Quality has only the
// descriptive fields, and the error, naming the entry, joins the others.
//
// DuplicateRows counts rows whose canonical values in every column equal an
// earlier row of the same entry, compared by a 64-bit xxhash of the values
// (a collision among 10⁸ distinct rows has odds of about 1 in 3,700).
func Validate(ctx context.Context, m *Manifest, opts ValidateOptions) ([]*Quality, error) {
	var entries []*Entry
	if m.Roster != nil {
		entries = append(entries, m.Roster)
	}
	entries = append(entries, m.Sources...)
	var q *Quarantine
	if opts.QuarantineDir != "" {
		q = NewQuarantine(opts.QuarantineDir)
	}
	var errs []error
	out := make([]*Quality, 0, len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		qual, err := validateEntry(ctx, m, e, q, opts)
		out = append(out, qual)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if q != nil {
		errs = append(errs, q.Close())
	}
	return out, errors.Join(errs...)
}

// validateEntry reads one entry. Its quarantine rows go to q only when the
// whole entry read cleanly, so a failed entry leaves no partial quarantine.
func validateEntry(ctx context.Context, m *Manifest, e *Entry, q *Quarantine, opts ValidateOptions) (*Quality, error) {
	qual := &Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files)}
	if !e.Snapshot.IsZero() {
		qual.Snapshot = e.Snapshot.Format("2006-01-02")
		if !m.AsOf.IsZero() {
			qual.AgeDays = int(m.AsOf.Sub(e.Snapshot).Hours() / 24)
		}
	}
	r, err := Open(ctx, m, e, ReadOptions{CacheDir: opts.CacheDir})
	if err != nil {
		return qual, err
	}
	defer r.Close()
	chunks := r.Chunks()
	var total int64
	for _, c := range chunks {
		total += int64(c.Rows)
	}
	hashes := make([][]uint64, len(chunks))
	errsAt := make([]error, len(chunks))
	var mu sync.Mutex
	var done int64
	var local *Quarantine // rows kept in memory, copied to q once the entry read cleanly
	if q != nil {
		local = newMemoryQuarantine()
	}
	counted := &Quality{}
	scanErr := r.Scan(ctx, opts.Workers, local, counted, func(c Chunk, _ []personid.Parsed) error {
		hs, err := r.impl.rowHashes(c)
		if err != nil {
			// Keep going so that the error of the first bad chunk is
			// reported, whatever the number of workers.
			errsAt[c.Index] = err
		}
		hashes[c.Index] = hs
		if opts.Progress != nil {
			mu.Lock()
			done += int64(c.Rows)
			opts.Progress(e.Kind, e.Path, done, total)
			mu.Unlock()
		}
		return nil
	})
	if scanErr != nil {
		return qual, scanErr
	}
	for _, err := range errsAt {
		if err != nil {
			return qual, err
		}
	}
	qual.Rows, qual.ValidKeys, qual.From15 = counted.Rows, counted.ValidKeys, counted.From15
	qual.Quarantined, qual.QuarantinedTotal = counted.Quarantined, counted.QuarantinedTotal
	qual.DuplicateRows = countDuplicates(hashes)
	if q != nil {
		local.copyTo(q)
	}
	return qual, nil
}

// copyTo adds every row held by q to dst.
func (q *Quarantine) copyTo(dst *Quarantine) {
	q.impl.mu.Lock()
	defer q.impl.mu.Unlock()
	for kind, rows := range q.impl.rows {
		for _, row := range rows {
			dst.Add(kind, row.File, row.Row, row.Column, row.Value, row.Reason)
		}
	}
}

// rowHashes decodes every row of chunk c and hashes its canonical values.
func (r *readerImpl) rowHashes(c Chunk) ([]uint64, error) {
	out := make([]uint64, 0, c.Rows)
	rows := make([]int, c.Rows)
	for i := range rows {
		rows[i] = i
	}
	var d xxhash.Digest
	var buf []byte
	err := r.decodeRows(c, rows, nil, nil, func(_ int, _ Record, cells []cell) error {
		d.Reset()
		for pi, x := range cells {
			// Each value is framed by a null marker and its length, so
			// that ("ab", "c") and ("a", "bc") hash apart.
			buf = append(buf[:0], 0, 0, 0, 0, 0)
			if !x.null {
				buf[0] = 1
				buf = r.plans[pi].appendCanonical(buf, x)
			}
			binary.LittleEndian.PutUint32(buf[1:5], uint32(len(buf)-5))
			d.Write(buf)
		}
		out = append(out, d.Sum64())
		return nil
	}, false)
	return out, err
}

// countDuplicates counts hashes equal to an earlier one.
func countDuplicates(perChunk [][]uint64) int64 {
	var all []uint64
	for _, hs := range perChunk {
		all = append(all, hs...)
	}
	slices.Sort(all)
	var dups int64
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			dups++
		}
	}
	return dups
}

// FormatQualityTable writes qs as an aligned text table, one line per entry:
// kind, path, files, snapshot, age in days, rows, valid keys, 15-digit
// conversions, quarantined rows by reason, duplicate rows. Chinese
// characters count as two columns, as terminals show them.
func FormatQualityTable(w io.Writer, qs []*Quality) error {
	rows := [][]string{{"KIND", "PATH", "FILES", "SNAPSHOT", "AGE", "ROWS", "VALID", "FROM15", "QUARANTINED", "DUPLICATES"}}
	for _, q := range qs {
		age := ""
		if q.Snapshot != "" {
			age = strconv.Itoa(q.AgeDays) + "d"
		}
		rows = append(rows, []string{string(q.Kind), q.Path, strconv.Itoa(q.Files), q.Snapshot, age,
			strconv.FormatInt(q.Rows, 10), strconv.FormatInt(q.ValidKeys, 10), strconv.FormatInt(q.From15, 10),
			quarantineText(q), strconv.FormatInt(q.DuplicateRows, 10)})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, s := range row {
			widths[i] = max(widths[i], displayWidth(s))
		}
	}
	numeric := []bool{false, false, true, false, true, true, true, true, false, true}
	var b strings.Builder
	for _, row := range rows {
		b.Reset()
		for i, s := range row {
			pad := strings.Repeat(" ", widths[i]-displayWidth(s))
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case numeric[i]:
				b.WriteString(pad + s)
			case i == len(row)-1:
				b.WriteString(s)
			default:
				b.WriteString(s + pad)
			}
		}
		b.WriteString("\n")
		if _, err := io.WriteString(w, strings.TrimRight(b.String(), " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// quarantineText renders "3 (checksum 2, length 1)", reasons sorted.
func quarantineText(q *Quality) string {
	if q.QuarantinedTotal == 0 {
		return "0"
	}
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(q.Quarantined)) {
		parts = append(parts, fmt.Sprintf("%s %d", reason, q.Quarantined[reason]))
	}
	return fmt.Sprintf("%d (%s)", q.QuarantinedTotal, strings.Join(parts, ", "))
}

// displayWidth counts East Asian wide and full-width characters as two columns.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
