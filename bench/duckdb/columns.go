package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hedui/hedui/sources"
)

// entryCols resolves the canonical columns of one manifest entry against the
// raw columns DuckDB found in its files, and renders the SQL expression that
// converts each one the way hedui's connector does.
//
// Expressions come in stages, so that a source's other columns are converted
// only for the rows that matched (late materialization, as hedui does) and
// each raw value is trimmed once (DuckDB expands a CASE subject once per
// WHEN): the scan passes raw columns through as c__r (raws); after the join
// a first projection adds the trimmed text c__t (trims); the expressions the
// methods return read those aliases. With inline set, text is trimmed in
// place instead (for the few expressions needed before the join).
type entryCols struct {
	e      *sources.Entry
	schema *sources.Schema
	types  map[string]string // raw column name → DuckDB type
	raws   []string          // scan items: raw columns as c__r
	trims  []string          // post-join items: trimmed text as c__t
	seen   map[string]bool   // aliases registered
	inline bool
}

// reset forgets the registered items, before rendering another relation.
func (ec *entryCols) reset() { ec.raws, ec.trims, ec.seen, ec.inline = nil, nil, nil, false }

// register adds "expr AS alias" to list once and returns the quoted alias.
func (ec *entryCols) register(list *[]string, expr, alias string) string {
	if ec.seen == nil {
		ec.seen = map[string]bool{}
	}
	if !ec.seen[alias] {
		ec.seen[alias] = true
		*list = append(*list, expr+" AS "+quoteIdent(alias))
	}
	return quoteIdent(alias)
}

// rawRef returns the scan alias of canonical column c's raw value.
func (ec *entryCols) rawRef(c string) (ref, typ string, ok bool) {
	id, typ, ok := ec.raw(c)
	if !ok {
		return "", "", false
	}
	return ec.register(&ec.raws, id, c+"__r"), typ, true
}

// raw returns the quoted raw column of canonical column c and its DuckDB
// type; ok is false when the files lack it. Like hedui, the raw name is the
// manifest's mapping or the canonical name, found by exact name, else by a
// unique case-insensitive match.
func (ec *entryCols) raw(c string) (ident, typ string, ok bool) {
	name := c
	if r, mapped := ec.e.Columns[c]; mapped && r != "" {
		name = r
	}
	if t, found := ec.types[name]; found {
		return quoteIdent(name), t, true
	}
	var hits []string
	for n := range ec.types {
		if strings.EqualFold(n, name) {
			hits = append(hits, n)
		}
	}
	if len(hits) == 1 {
		return quoteIdent(hits[0]), ec.types[hits[0]], true
	}
	return "", "", false
}

// has reports whether the files carry canonical column c.
func (ec *entryCols) has(c string) bool {
	_, _, ok := ec.raw(c)
	return ok
}

// require returns an error naming the entry when a column the SQL needs and
// hedui requires is missing (hedui refuses such a manifest at open).
func (ec *entryCols) require(cols ...string) error {
	for _, c := range cols {
		col, ok := ec.schema.Column(c)
		if !ok {
			return fmt.Errorf("%s entry %q: unknown column %q", ec.e.Kind, ec.e.Path, c)
		}
		_, mapped := ec.e.Columns[c]
		if (col.Required || mapped) && !ec.has(c) {
			return fmt.Errorf("%s entry %q: required column %s not found in its files", ec.e.Kind, ec.e.Path, c)
		}
	}
	return nil
}

// text renders the trimmed text of column c after the values mapping, NULL
// when empty or absent: hedui's fromText before parsing.
func (ec *entryCols) text(c string) string {
	r, _, ok := ec.rawRef(c)
	if !ok {
		return "CAST(NULL AS VARCHAR)"
	}
	t := fmt.Sprintf("hd_trim(CAST(%s AS VARCHAR))", r)
	if !ec.inline {
		t = ec.register(&ec.trims, t, c+"__t")
	}
	if vals := ec.e.Values[c]; len(vals) > 0 {
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteString("CASE " + t)
		for _, k := range keys {
			fmt.Fprintf(&b, " WHEN %s THEN %s", quoteString(k), quoteString(vals[k]))
		}
		b.WriteString(" ELSE " + t + " END")
		t = b.String()
	}
	return fmt.Sprintf("NULLIF(%s, '')", t)
}

// str renders a string column: its text, ” when missing (the zero value a
// record field then holds).
func (ec *entryCols) str(c string) string { return fmt.Sprintf("coalesce(%s, '')", ec.text(c)) }

// mapped reports whether column c goes through text (a values mapping, or a
// text raw column) rather than a typed conversion.
func (ec *entryCols) viaText(c, typ string) bool {
	return len(ec.e.Values[c]) > 0 || typ == "VARCHAR" || typ == "BLOB"
}

// amount renders a money column in 元 rounded to the fen, as ParseAmount:
// the value read as a decimal with the unit's fen digits (fen 0, yuan 2,
// wan 6), which DuckDB rounds half away from zero, scaled to whole fen, then
// ÷ 100 as a double; 0 when missing. Doubles go through their shortest text
// as in hedui; integers are exact.
func (ec *entryCols) amount(c string) string {
	id, typ, ok := ec.rawRef(c)
	if !ok {
		return "CAST(0 AS DOUBLE)"
	}
	digits := map[string]int{"": 2, "yuan": 2, "fen": 0, "wan": 6}[ec.e.Units[c]]
	mult := pow10(digits)
	var fen string
	switch {
	case ec.viaText(c, typ):
		fen = fmt.Sprintf("round(CAST(TRY_CAST(replace(%s, ',', '') AS DECIMAL(18,%d)) AS DOUBLE) * %d)", ec.text(c), digits, mult)
	case isIntType(typ):
		fen = fmt.Sprintf("CAST(CAST(%s AS BIGINT) * %d AS DOUBLE)", id, mult)
	case typ == "DOUBLE" || typ == "FLOAT":
		fen = fmt.Sprintf("round(CAST(TRY_CAST(CAST(CAST(%s AS DOUBLE) AS VARCHAR) AS DECIMAL(18,%d)) AS DOUBLE) * %d)", id, digits, mult)
	default: // DECIMAL
		fen = fmt.Sprintf("round(CAST(TRY_CAST(CAST(%s AS VARCHAR) AS DECIMAL(18,%d)) AS DOUBLE) * %d)", id, digits, mult)
	}
	return fmt.Sprintf("coalesce(%s / 100, 0)", fen)
}

// number renders a plain number column (area, share); 0 when missing.
func (ec *entryCols) number(c string) string {
	id, typ, ok := ec.rawRef(c)
	if !ok {
		return "CAST(0 AS DOUBLE)"
	}
	if ec.viaText(c, typ) {
		return fmt.Sprintf("coalesce(TRY_CAST(replace(%s, ',', '') AS DOUBLE), 0)", ec.text(c))
	}
	return fmt.Sprintf("coalesce(CAST(%s AS DOUBLE), 0)", id)
}

// boolean renders a boolean column as ParseBool reads it; false when missing.
func (ec *entryCols) boolean(c string) string {
	id, typ, ok := ec.rawRef(c)
	if !ok {
		return "false"
	}
	switch {
	case ec.viaText(c, typ):
		return fmt.Sprintf("coalesce(lower(%s) IN ('true', '1', '是', 'yes', 'y'), false)", ec.text(c))
	case typ == "BOOLEAN":
		return fmt.Sprintf("coalesce(%s, false)", id)
	}
	return fmt.Sprintf("coalesce(%s <> 0, false)", id)
}

// date renders a date column: text through the manifest's strftime layout
// (or ISO), DATE as is, timestamps by their calendar date (UTC instants in
// China time); NULL when missing or unreadable.
func (ec *entryCols) date(c string) string {
	id, typ, ok := ec.rawRef(c)
	if !ok {
		return "CAST(NULL AS DATE)"
	}
	col, _ := ec.schema.Column(c)
	format := ec.e.Formats[c]
	if format == "" {
		format = col.Format
	}
	switch {
	case ec.viaText(c, typ) || isIntType(typ):
		t := ec.text(c)
		if format == "" {
			return fmt.Sprintf("TRY_CAST(left(%s, 10) AS DATE)", t)
		}
		return fmt.Sprintf("CAST(try_strptime(%s, %s) AS DATE)", t, quoteString(format))
	case typ == "DATE":
		return id
	case strings.HasPrefix(typ, "TIMESTAMP WITH TIME ZONE"):
		return fmt.Sprintf("CAST(CAST(%s AS TIMESTAMP) + INTERVAL 8 HOUR AS DATE)", id)
	}
	return fmt.Sprintf("CAST(%s AS DATE)", id)
}

// rawKey renders the raw key column as text (see pidSQL).
func (ec *entryCols) rawKey() string {
	id, _, ok := ec.raw(ec.schema.KeyColumn().Name)
	if !ok {
		return "CAST(NULL AS VARCHAR)"
	}
	return fmt.Sprintf("CAST(%s AS VARCHAR)", id)
}

func isIntType(t string) bool {
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT":
		return true
	}
	return false
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fileList renders the entry's resolved files as a DuckDB list literal.
func fileList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = quoteString(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
