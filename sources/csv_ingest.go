package sources

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// csvIngestVersion is part of the cache key: bump it when the conversion changes.
const csvIngestVersion = "csv2parquet-1"

// csvMaxColumns bounds the header: department exports have tens of columns,
// and the Parquet writer's cost grows faster than linearly with the count.
const csvMaxColumns = 2048

// csvRowGroupRows is the row-group size of converted CSV files: small enough
// for parallel reading, large enough that per-chunk overhead stays low.
const csvRowGroupRows = 128 << 10

func isCSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".csv") }

// ingestCSV converts a CSV file to Parquet in dir, unless a conversion of the
// same file (path, size, modification time) and encoding is already there,
// and returns the Parquet file's path.
func ingestCSV(ctx context.Context, src, dir, enc string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	enc, err = csvEncoding(enc)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	key := xxhash.Sum64String(strings.Join([]string{csvIngestVersion, abs, strconv.FormatInt(st.Size(), 10),
		strconv.FormatInt(st.ModTime().UnixNano(), 10), enc}, "\x00"))
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	out := filepath.Join(dir, fmt.Sprintf("%s-%016x.parquet", base, key))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".ingest-*.parquet")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	if _, err := convertCSV(ctx, in, src, enc, w); err != nil {
		tmp.Close()
		return "", err
	}
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return "", fmt.Errorf("%s: writing the Parquet conversion: %w", src, err)
	}
	// The rename publishes the conversion whole: an interrupted ingest never
	// leaves a partial cache file behind.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// csvEncoding normalizes the manifest's encoding name.
func csvEncoding(enc string) (string, error) {
	switch strings.ToLower(strings.ReplaceAll(enc, "-", "")) {
	case "", "utf8":
		return "utf-8", nil
	case "gb18030", "gbk", "gb2312":
		// GBK and GB2312 are subsets of GB18030.
		return "gb18030", nil
	}
	return "", fmt.Errorf("unknown encoding %q; supported encodings: utf-8, gb18030", enc)
}

// convertCSV writes the CSV read from in as Parquet to w: the header row
// gives the column names, every column an optional string (empty fields are
// null), rows in file order. name is used in error messages. It returns the
// number of data rows.
// ConvertCSV writes the CSV read from in (encoding enc: utf-8, the default,
// or gb18030) as Parquet to w, exactly as Open converts a CSV source on
// ingest: every column an optional string named by the header, empty fields
// null. name is used in errors. It returns the number of data rows.
func ConvertCSV(ctx context.Context, in io.Reader, name, enc string, w io.Writer) (int64, error) {
	return convertCSV(ctx, in, name, enc, w)
}

func convertCSV(ctx context.Context, in io.Reader, name, enc string, w io.Writer) (int64, error) {
	enc, err := csvEncoding(enc)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	gb := enc == "gb18030"
	if gb {
		in = transform.NewReader(in, simplifiedchinese.GB18030.NewDecoder())
	}
	cr := csv.NewReader(bufio.NewReaderSize(in, 1<<20))
	cr.FieldsPerRecord = -1 // checked here, for a clearer message
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return 0, fmt.Errorf("%s: empty file: a CSV file needs a header row with the column names", name)
	}
	if err != nil {
		return 0, csvError(name, err)
	}
	names, err := csvHeader(name, header, gb)
	if err != nil {
		return 0, err
	}
	group := parquet.Group{}
	for _, n := range names {
		group[n] = parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary))
	}
	schema := parquet.NewSchema("csv", group)
	leaf := make([]int, len(names)) // CSV position → Parquet leaf index (a Group sorts by name)
	for i, n := range names {
		lc, _ := schema.Lookup(n)
		leaf[i] = lc.ColumnIndex
	}
	pw := parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(csvRowGroupRows), parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("hedui", csvIngestVersion, ""))
	batch := make([]parquet.Row, 0, 256)
	var rows int64
	flush := func() error {
		if _, err := pw.WriteRows(batch); err != nil {
			return fmt.Errorf("%s: writing the Parquet conversion: %w", name, err)
		}
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(names) {
			return rows, fmt.Errorf("%s line %d: %d fields, the header has %d", name, line, len(rec), len(names))
		}
		row := make(parquet.Row, len(names))
		for i, field := range rec {
			if bad := badText(field, gb); bad >= 0 {
				l, col := cr.FieldPos(i)
				return rows, fmt.Errorf("%s line %d, column %q (field %d, byte %d): bytes that are not valid %s",
					name, l, names[i], i+1, col+bad, enc)
			}
			if field == "" {
				row[leaf[i]] = parquet.NullValue().Level(0, 0, leaf[i])
			} else {
				row[leaf[i]] = parquet.ByteArrayValue([]byte(field)).Level(0, 1, leaf[i])
			}
		}
		batch = append(batch, row)
		rows++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return rows, err
			}
			if err := ctx.Err(); err != nil {
				return rows, err
			}
		}
	}
	if err := flush(); err != nil {
		return rows, err
	}
	if err := pw.Close(); err != nil {
		return rows, fmt.Errorf("%s: writing the Parquet conversion: %w", name, err)
	}
	return rows, nil
}

// csvHeader checks and cleans the header: a byte-order mark stripped, names
// trimmed, an empty name becomes _N (its 1-based position), no duplicates.
func csvHeader(name string, header []string, gb bool) ([]string, error) {
	if len(header) > csvMaxColumns {
		return nil, fmt.Errorf("%s line 1: %d columns; at most %d are supported", name, len(header), csvMaxColumns)
	}
	names := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		if bad := badText(h, gb); bad >= 0 {
			return nil, fmt.Errorf("%s line 1, header field %d: bytes that are not valid text in the file's encoding", name, i+1)
		}
		h = strings.TrimSpace(h)
		if h == "" {
			h = "_" + strconv.Itoa(i+1)
		}
		if j, dup := seen[h]; dup {
			return nil, fmt.Errorf("%s line 1: column name %q appears twice (fields %d and %d)", name, h, j+1, i+1)
		}
		seen[h] = i
		names[i] = h
	}
	return names, nil
}

// badText returns the byte offset of the first undecodable character in s,
// or -1: invalid UTF-8, or after GB18030 decoding the replacement character
// the decoder puts in place of bytes it cannot decode.
func badText(s string, gb bool) int {
	for i, r := range s {
		if r == utf8.RuneError {
			_, size := utf8.DecodeRuneInString(s[i:])
			if size == 1 || gb {
				return i
			}
		}
	}
	return -1
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s line %d, column %d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}
