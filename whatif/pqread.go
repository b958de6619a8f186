package whatif

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources/personid"
)

// pqFile is an open Parquet file of the run folder and the leaf index of
// each column a what-if reads.
type pqFile struct {
	path   string
	osf    *os.File
	pf     *parquet.File
	leaf   map[string]int
	groups []int // first row of each row group, then the row count
}

// openPQ opens path and finds the named columns, which must all be there.
func openPQ(path string, columns ...string) (f *pqFile, err error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: damaged Parquet metadata: %v", path, p)
		}
		if err != nil {
			osf.Close()
		}
	}()
	st, err := osf.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(osf, st.Size(), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(256<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	f = &pqFile{path: path, osf: osf, pf: pf, leaf: map[string]int{}}
	for i, c := range pf.Root().Columns() {
		f.leaf[c.Name()] = i
	}
	for _, name := range columns {
		if _, ok := f.leaf[name]; !ok {
			return nil, f.missing(name)
		}
	}
	n := 0
	for _, rg := range pf.RowGroups() {
		f.groups = append(f.groups, n)
		n += int(rg.NumRows())
	}
	f.groups = append(f.groups, n)
	if int64(n) != pf.NumRows() {
		return nil, fmt.Errorf("%s: damaged Parquet metadata: row groups hold %d rows, the footer says %d", path, n, pf.NumRows())
	}
	return f, nil
}

func (f *pqFile) missing(name string) error {
	if name == "facts_bin" {
		return fmt.Errorf("%s: no column facts_bin; a run folder written before hedui stored facts in binary needs its review run again", f.path)
	}
	return fmt.Errorf("%s: no column %s: not a run folder this hedui wrote", f.path, name)
}

func (f *pqFile) close() { f.osf.Close() }

// eachGroup calls fn for every row group on up to workers goroutines.
func (f *pqFile) eachGroup(ctx context.Context, workers int, fn func(g int) error) error {
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(workers, 1))
	for g := range len(f.groups) - 1 {
		eg.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(g)
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// valueBatch is how many values a column reader takes at a time.
const valueBatch = 1024

// pages calls fn with every page of one column chunk of row group g, with
// the number in the group of the page's first row; fn returns the number of
// the row after the page's last. It checks that the pages hold the group's
// rows. Decoder panics on damaged pages become errors naming the file and
// column.
func (f *pqFile) pages(g int, name string, fn func(p parquet.Page, row int) (int, error)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: row group %d column %s: damaged Parquet page: %v", f.path, g+1, name, p)
		}
	}()
	pages := f.pf.RowGroups()[g].ColumnChunks()[f.leaf[name]].Pages()
	defer pages.Close()
	row := 0
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: row group %d column %s: %w", f.path, g+1, name, err)
		}
		row, err = fn(p, row)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
	if want := f.groups[g+1] - f.groups[g]; row != want {
		return fmt.Errorf("%s: row group %d column %s: %d values for %d rows", f.path, g+1, name, row, want)
	}
	return nil
}

// column calls fn with every value of one column chunk of row group g, with
// its row number in the group; a null value is an error.
func (f *pqFile) column(g int, name string, buf []parquet.Value, fn func(row int, v parquet.Value) error) error {
	return f.pages(g, name, func(p parquet.Page, row int) (int, error) {
		return f.pageValues(p, g, name, row, buf, fn)
	})
}

// plain reports whether a page's values can be read from its data as they
// are: of kind k, not dictionary-encoded, no nulls, one value per row.
func plain(p parquet.Page, k parquet.Kind) bool {
	return p.Dictionary() == nil && p.NumNulls() == 0 && p.Type().Kind() == k && p.NumValues() == p.NumRows()
}

// text is column for a BYTE_ARRAY column, reading plain pages without
// making a parquet.Value of each value.
func (f *pqFile) text(g int, name string, buf []parquet.Value, fn func(row int, b []byte)) error {
	return f.pages(g, name, func(p parquet.Page, row int) (int, error) {
		return f.pageTexts(p, g, name, row, buf, func(r int, b []byte) error { fn(r, b); return nil })
	})
}

// pageTexts calls fn with the values of one page of a BYTE_ARRAY column,
// rows numbered from row.
func (f *pqFile) pageTexts(p parquet.Page, g int, name string, row int, buf []parquet.Value, fn func(row int, b []byte) error) (int, error) {
	if plain(p, parquet.ByteArray) {
		data := p.Data()
		vals, offs := data.ByteArray()
		if n := int(p.NumValues()); len(offs) == n+1 {
			for i := range n {
				if err := fn(row+i, vals[offs[i]:offs[i+1]]); err != nil {
					return row + i, err
				}
			}
			return row + n, nil
		}
	}
	return f.pageValues(p, g, name, row, buf, func(r int, v parquet.Value) error { return fn(r, v.ByteArray()) })
}

// int32s is column for an INT32 column, reading plain pages as they are.
func (f *pqFile) int32s(g int, name string, buf []parquet.Value, fn func(row int, x int32)) error {
	return f.pages(g, name, func(p parquet.Page, row int) (int, error) {
		if plain(p, parquet.Int32) {
			data := p.Data()
			if xs := data.Int32(); len(xs) == int(p.NumValues()) {
				for i, x := range xs {
					fn(row+i, x)
				}
				return row + len(xs), nil
			}
		}
		return f.pageValues(p, g, name, row, buf, func(r int, v parquet.Value) error { fn(r, v.Int32()); return nil })
	})
}

// doubles is column for a DOUBLE column, reading plain pages as they are.
func (f *pqFile) doubles(g int, name string, buf []parquet.Value, fn func(row int, x float64)) error {
	return f.pages(g, name, func(p parquet.Page, row int) (int, error) {
		if plain(p, parquet.Double) {
			data := p.Data()
			if xs := data.Double(); len(xs) == int(p.NumValues()) {
				for i, x := range xs {
					fn(row+i, x)
				}
				return row + len(xs), nil
			}
		}
		return f.pageValues(p, g, name, row, buf, func(r int, v parquet.Value) error { fn(r, v.Double()); return nil })
	})
}

// pageValues calls fn with the values of one page, rows numbered from row.
func (f *pqFile) pageValues(p parquet.Page, g int, name string, row int, buf []parquet.Value, fn func(row int, v parquet.Value) error) (int, error) {
	vr := p.Values()
	for {
		n, err := vr.ReadValues(buf)
		for _, v := range buf[:n] {
			if v.IsNull() {
				return row, fmt.Errorf("%s: row %d column %s: null; want a value", f.path, f.groups[g]+row+1, name)
			}
			if err := fn(row, v); err != nil {
				return row, err
			}
			row++
		}
		if err == io.EOF {
			return row, nil
		}
		if err != nil {
			return row, fmt.Errorf("%s: row group %d column %s: %w", f.path, g+1, name, err)
		}
	}
}

// interner gives one string per distinct value of a low-cardinality column
// (region codes, areas, rule ids) so that a million rows share a few hundred
// strings. Neighbouring rows mostly hold the same value (rows come by
// region): the last value is checked before the map.
type interner struct {
	m    map[string]string
	last string
}

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) get(b []byte) string {
	if string(b) == in.last { // no allocation for the comparison
		return in.last
	}
	s, ok := in.m[string(b)] // no allocation for the lookup
	if !ok {
		s = string(b)
		in.m[s] = s
	}
	in.last = s
	return s
}

// arena collects the values of a high-cardinality text column (household
// and person ids) of one row group, then makes them substrings of one
// string: one allocation per column chunk instead of one per value.
type arena struct {
	buf  []byte
	ends []int
}

// newArena returns an arena sized for a column chunk of rows values whose
// pages hold about size bytes: the buffers then grow seldom, if at all.
func (f *pqFile) newArena(g int, name string, rows int) arena {
	size := f.pf.Metadata().RowGroups[g].Columns[f.leaf[name]].MetaData.TotalUncompressedSize
	return arena{buf: make([]byte, 0, max(0, min(size, 1<<30))), ends: make([]int, 0, rows)}
}

func (a *arena) add(b []byte) {
	a.buf = append(a.buf, b...)
	a.ends = append(a.ends, len(a.buf))
}

func (a *arena) each(fn func(i int, s string)) {
	// buf is not written again: its bytes can back the strings.
	all, start := unsafe.String(unsafe.SliceData(a.buf), len(a.buf)), 0
	for i, end := range a.ends {
		fn(i, all[start:end])
		start = end
	}
}

// householdColumns are the columns of households.parquet a what-if reads
// for every row; facts_bin is read for the rows a scenario needs.
var householdColumns = []string{"household_id", "person_id", "region_code", "area", "assistance", "status",
	"members", "monthly_benefit", "candidate", "flags", "per_capita_income", "monthly_standard", "facts_bin"}

// readHouseholds reads every column of households.parquet but facts_bin,
// row group by row group on up to workers goroutines.
func (r *Run) readHouseholds(ctx context.Context, path string, workers int) error {
	f, err := openPQ(path, householdColumns...)
	if err != nil {
		return err
	}
	defer f.close()
	n := f.groups[len(f.groups)-1]
	r.Rows, r.decoded, r.groups = make([]review.HouseholdRow, n), make([]*facts.Household, n), f.groups
	return f.eachGroup(ctx, workers, func(g int) error {
		return f.readRowGroup(g, r.Rows[f.groups[g]:f.groups[g+1]])
	})
}

func (f *pqFile) readRowGroup(g int, rows []review.HouseholdRow) error {
	buf := make([]parquet.Value, valueBatch)
	in := newInterner()
	texts := []struct {
		name string
		set  func(*review.HouseholdRow, string)
		ids  bool // one value per row: kept in an arena, not interned
	}{
		{"household_id", func(h *review.HouseholdRow, s string) { h.HouseholdID = s }, true},
		{"person_id", func(h *review.HouseholdRow, s string) { h.PersonID = s }, true},
		{"region_code", func(h *review.HouseholdRow, s string) { h.RegionCode = s }, false},
		{"area", func(h *review.HouseholdRow, s string) { h.Area = s }, false},
		{"assistance", func(h *review.HouseholdRow, s string) { h.Assistance = s }, false},
		{"status", func(h *review.HouseholdRow, s string) { h.Status = s }, false},
	}
	for _, c := range texts {
		var a arena
		if c.ids {
			a = f.newArena(g, c.name, len(rows))
		}
		err := f.text(g, c.name, buf, func(i int, b []byte) {
			if c.ids {
				a.add(b)
			} else {
				c.set(&rows[i], in.get(b))
			}
		})
		if err != nil {
			return err
		}
		a.each(func(i int, s string) { c.set(&rows[i], s) })
	}
	for _, c := range []struct {
		name string
		set  func(*review.HouseholdRow, int32)
	}{
		{"members", func(h *review.HouseholdRow, x int32) { h.Members = x }},
		{"flags", func(h *review.HouseholdRow, x int32) { h.Flags = x }},
	} {
		if err := f.int32s(g, c.name, buf, func(i int, x int32) { c.set(&rows[i], x) }); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name string
		set  func(*review.HouseholdRow, float64)
	}{
		{"monthly_benefit", func(h *review.HouseholdRow, x float64) { h.MonthlyBenefit = x }},
		{"per_capita_income", func(h *review.HouseholdRow, x float64) { h.PerCapitaIncome = x }},
		{"monthly_standard", func(h *review.HouseholdRow, x float64) { h.MonthlyStandard = x }},
	} {
		if err := f.doubles(g, c.name, buf, func(i int, x float64) { c.set(&rows[i], x) }); err != nil {
			return err
		}
	}
	err := f.column(g, "candidate", buf, func(i int, v parquet.Value) error { rows[i].Candidate = v.Boolean(); return nil })
	if err != nil {
		return err
	}
	for i := range rows {
		if rows[i].Members <= 0 {
			return fmt.Errorf("%s: row %d (household %q): members %d; want 1 or more", f.path, f.groups[g]+i+1, rows[i].HouseholdID, rows[i].Members)
		}
	}
	return nil
}

// fetch reads and decodes the facts of the given rows (ascending; rows
// already decoded are skipped): per row group on up to workers goroutines,
// and in each only the facts_bin pages that hold a wanted row (found from
// the offset index; without one, every page is read and the others skipped).
func (r *Run) fetch(ctx context.Context, want []int, workers int) error {
	want = slices.DeleteFunc(slices.Clone(want), func(i int) bool { return r.decoded[i] != nil })
	if len(want) == 0 {
		return nil
	}
	f, err := r.openFacts()
	if err != nil {
		return err
	}
	defer f.close()
	// want split by row group.
	parts := make([][]int, len(f.groups)-1)
	for lo := 0; lo < len(want); {
		g, _ := slices.BinarySearch(f.groups, want[lo]+1)
		g--
		hi := lo
		for hi < len(want) && want[hi] < f.groups[g+1] {
			hi++
		}
		parts[g] = want[lo:hi]
		lo = hi
	}
	return f.eachGroup(ctx, workers, func(g int) error {
		if len(parts[g]) == 0 {
			return nil
		}
		return r.fetchGroup(f, g, parts[g], facts.AllLists, false, func(rows []int, hs []*facts.Household) error {
			for j, i := range rows {
				r.decoded[i] = hs[j]
			}
			return nil
		})
	})
}

// openFacts opens households.parquet to read facts_bin.
func (r *Run) openFacts() (*pqFile, error) {
	f, err := openPQ(filepath.Join(r.Dir, "households.parquet"), "facts_bin")
	if err != nil {
		return nil, err
	}
	if !slices.Equal(f.groups, r.groups) {
		f.close()
		return nil, fmt.Errorf("%s: row groups changed since the run folder was read", f.path)
	}
	return f, nil
}

// fetchGroup decodes the facts of the rows want (ascending, all in row
// group g), each member with only the parts lists names, and hands them to
// put a page at a time, in order (rows are numbers in the run; the slices
// serve again for the next page); an error of put stops it. With reuse,
// the households of a page are dropped when put returns: their memory
// serves the next page's (facts.Decoder.Reuse).
func (r *Run) fetchGroup(f *pqFile, g int, want []int, lists facts.Lists, reuse bool, put func(rows []int, hs []*facts.Household) error) (err error) {
	inPut := false // a panic of put is not a damaged page: it goes on
	defer func() {
		if p := recover(); p != nil {
			if inPut {
				panic(p)
			}
			err = fmt.Errorf("%s: row group %d column facts_bin: damaged Parquet page: %v", f.path, g+1, p)
		}
	}()
	cc := f.pf.RowGroups()[g].ColumnChunks()[f.leaf["facts_bin"]]
	pages := cc.Pages()
	defer pages.Close()
	first := f.groups[g]
	starts := pageStarts(cc, f.groups[g+1]-first)
	buf := make([]parquet.Value, valueBatch)
	dec := facts.NewDecoder(lists)
	var hs []*facts.Household
	var rows []int
	for k := 0; k < len(want); {
		row := want[k] - first
		start := 0 // the first row of the page holding row, or 0 to read from the start
		if starts != nil {
			p, _ := slices.BinarySearch(starts, row+1)
			start = starts[p-1]
		}
		if err := pages.SeekToRow(int64(start)); err != nil {
			return fmt.Errorf("%s: row group %d column facts_bin: seek to row %d: %w", f.path, g+1, start, err)
		}
		// Read pages from start until past the last wanted row they hold.
		for k < len(want) {
			p, err := pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%d rows; row %d wanted", start, want[k]-first+1)
				}
				return fmt.Errorf("%s: row group %d column facts_bin: %w", f.path, g+1, err)
			}
			end := start + int(p.NumRows())
			// Decode the wanted rows from the page's buffer: the decoder
			// copies the strings it keeps, so the page can go.
			hs, rows = hs[:0], rows[:0]
			_, err = f.pageTexts(p, g, "facts_bin", start, buf, func(row int, b []byte) error {
				if k >= len(want) || want[k]-first != row {
					return nil
				}
				k++
				h, err := r.decode(f, dec, first+row, b)
				if err != nil {
					return err
				}
				hs, rows = append(hs, h), append(rows, first+row)
				return nil
			})
			parquet.Release(p)
			if err != nil {
				return err
			}
			if len(rows) > 0 {
				inPut = true
				err = put(rows, hs)
				inPut = false
				if err != nil {
					return err
				}
				if reuse {
					clear(hs)
					dec.Reuse()
				}
			}
			start = end
			if starts != nil && k < len(want) && want[k]-first >= end {
				break // the next wanted row is on a later page: seek to it
			}
		}
	}
	return nil
}

// pageStarts gives the first row of each page of the column chunk, or nil
// when the file has no usable offset index.
func pageStarts(cc parquet.ColumnChunk, rows int) []int {
	oi, err := cc.OffsetIndex()
	if err != nil || oi == nil || oi.NumPages() == 0 {
		return nil
	}
	out := make([]int, oi.NumPages())
	for i := range out {
		out[i] = int(oi.FirstRowIndex(i))
		if out[i] < 0 || out[i] >= rows || (i > 0 && out[i] <= out[i-1]) || (i == 0 && out[i] != 0) {
			return nil
		}
	}
	return out
}

// decode decodes the facts of row i from b with dec.
func (r *Run) decode(f *pqFile, dec *facts.Decoder, i int, b []byte) (*facts.Household, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: row %d (household %q): facts_bin is empty; a run folder written before hedui stored facts in binary needs its review run again", f.path, i+1, r.Rows[i].HouseholdID)
	}
	h, err := dec.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: row %d (household %q): facts_bin: %w", f.path, i+1, r.Rows[i].HouseholdID, err)
	}
	if len(h.Members) == 0 {
		return nil, fmt.Errorf("%s: row %d (household %q): facts have no members", f.path, i+1, r.Rows[i].HouseholdID)
	}
	return h, nil
}

// flagColumns are the columns of flags.parquet a what-if reads.
var flagColumns = []string{"household_id", "person_id", "rule_id", "outcome"}

// flagRow is the part of a flags.parquet row a what-if reads.
type flagRow struct {
	household, person string
	key               FlagKey
}

// readFlags reads flags.parquet and files each flag under its household
// (by household_id) or candidate (by person_id). A run writes flags in the
// order of households.parquet, so they are matched by walking both files
// together; flags in another order are matched through a map.
func readFlags(ctx context.Context, path string, hs []review.HouseholdRow, workers int) ([][]FlagKey, error) {
	f, err := openPQ(path, flagColumns...)
	if err != nil {
		return nil, err
	}
	defer f.close()
	rows := make([]flagRow, f.groups[len(f.groups)-1])
	err = f.eachGroup(ctx, workers, func(g int) error {
		return f.readFlagGroup(g, rows[f.groups[g]:f.groups[g+1]])
	})
	if err != nil {
		return nil, err
	}
	if out, ok := flagsInOrder(rows, hs); ok {
		return out, nil
	}
	return flagsByMap(path, rows, hs)
}

func (f *pqFile) readFlagGroup(g int, rows []flagRow) error {
	buf := make([]parquet.Value, valueBatch)
	in := newInterner()
	hh, pp := f.newArena(g, "household_id", len(rows)), f.newArena(g, "person_id", len(rows))
	cols := []struct {
		name string
		fn   func(i int, b []byte)
	}{
		{"household_id", func(i int, b []byte) { hh.add(b) }},
		{"person_id", func(i int, b []byte) { pp.add(b) }},
		{"rule_id", func(i int, b []byte) { rows[i].key.RuleID = in.get(b) }},
		{"outcome", func(i int, b []byte) { rows[i].key.Outcome = rules.Outcome(in.get(b)) }},
	}
	for _, c := range cols {
		if err := f.text(g, c.name, buf, c.fn); err != nil {
			return err
		}
	}
	hh.each(func(i int, s string) { rows[i].household = s })
	pp.each(func(i int, s string) { rows[i].person = s })
	for i := range rows {
		if rows[i].household != "" {
			rows[i].key.PersonID = rows[i].person
		} // a candidate is its own target: PersonID stays empty
	}
	return nil
}

// matches reports whether flag fr belongs to row h.
func (fr *flagRow) matches(h *review.HouseholdRow) bool {
	if fr.household == "" {
		return h.Candidate && h.PersonID == fr.person
	}
	return !h.Candidate && h.HouseholdID == fr.household
}

// flagsInOrder files flags that follow households.parquet's order; ok is
// false when one does not.
func flagsInOrder(rows []flagRow, hs []review.HouseholdRow) (out [][]FlagKey, ok bool) {
	all := make([]FlagKey, len(rows)) // one backing array; each row's flags a capped slice of it
	out = make([][]FlagKey, len(hs))
	i, start := 0, 0 // the current row and its first flag
	for n := range rows {
		for i == len(hs) || !rows[n].matches(&hs[i]) {
			if i == len(hs) {
				return nil, false
			}
			if start < n {
				out[i] = all[start:n:n]
			}
			i, start = i+1, n
		}
		all[n] = rows[n].key
	}
	if start < len(rows) {
		out[i] = all[start:len(rows):len(rows)]
	}
	return out, true
}

func flagsByMap(path string, rows []flagRow, hs []review.HouseholdRow) ([][]FlagKey, error) {
	households, candidates := make(map[string]int, len(hs)), map[string]int{}
	for i, h := range hs {
		if h.Candidate {
			candidates[h.PersonID] = i
		} else {
			households[h.HouseholdID] = i
		}
	}
	out := make([][]FlagKey, len(hs))
	for n, f := range rows {
		i, ok := households[f.household]
		if f.household == "" {
			i, ok = candidates[f.person]
		}
		if !ok {
			return nil, fmt.Errorf("%s: row %d: flag %s of household %q candidate %q is not in households.parquet",
				path, n+1, f.key.RuleID, f.household, personid.MaskString(f.person))
		}
		out[i] = append(out[i], f.key)
	}
	return out, nil
}
