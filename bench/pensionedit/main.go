// Command pensionedit makes the incremental benchmark's change: it adds
// ROUND yuan to the monthly_amount of every 100th row of a pension Parquet
// file (1 % of the rows), keeping its schema and row-group size, and
// replaces the file.
//
//	pensionedit FILE ROUND
//
// Each round's amounts differ from the last round's, so an index update
// finds the same 1 % of the rows changed every time.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pensionedit FILE ROUND")
		os.Exit(2)
	}
	round, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pensionedit: round %q: want a whole number\n", os.Args[2])
		os.Exit(2)
	}
	changed, total, err := edit(os.Args[1], round)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pensionedit:", err)
		os.Exit(1)
	}
	fmt.Printf("%d of %d rows changed\n", changed, total)
}

// edit rewrites path with every 100th row's monthly_amount raised by round.
func edit(path string, round int) (changed, total int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	col, ok := pf.Schema().Lookup("monthly_amount")
	if !ok {
		return 0, 0, fmt.Errorf("%s: no column monthly_amount", path)
	}
	if len(pf.RowGroups()) == 0 {
		return 0, 0, fmt.Errorf("%s: no row groups", path)
	}
	var rows []parquet.Row
	r := parquet.NewReader(pf)
	buf := make([]parquet.Row, 1024)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			rows = append(rows, row.Clone())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: row %d: %w", path, len(rows), err)
		}
	}
	for i := 0; i < len(rows); i += 100 {
		v := rows[i][col.ColumnIndex]
		if v.IsNull() {
			continue
		}
		x, err := strconv.ParseFloat(string(v.ByteArray()), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: row %d, column monthly_amount: %q is not an amount", path, i, v.ByteArray())
		}
		nv := parquet.ByteArrayValue([]byte(fmt.Sprintf("%.2f", x+float64(round))))
		rows[i][col.ColumnIndex] = nv.Level(v.RepetitionLevel(), v.DefinitionLevel(), col.ColumnIndex)
		changed++
	}
	out, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, 0, err
	}
	w := parquet.NewWriter(out, pf.Schema(), parquet.MaxRowsPerRowGroup(pf.RowGroups()[0].NumRows()))
	if _, err := w.WriteRows(rows); err != nil {
		out.Close()
		return 0, 0, err
	}
	if err := errors.Join(w.Close(), out.Close()); err != nil {
		return 0, 0, err
	}
	return changed, len(rows), os.Rename(path+".tmp", path)
}
