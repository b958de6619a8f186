package main

import (
	"database/sql"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// openDB opens an in-memory DuckDB with the macros defined.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(macroSQL()); err != nil {
		t.Fatal(err)
	}
	return db
}

// loadStrings puts values into table t(i INTEGER, s VARCHAR); nil is NULL.
func loadStrings(t *testing.T, db *sql.DB, vals []*string) {
	t.Helper()
	if _, err := db.Exec("CREATE OR REPLACE TABLE t (i INTEGER, s VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		var arg any
		if v != nil {
			arg = *v
		}
		if _, err := tx.Exec("INSERT INTO t VALUES (?, ?)", i, arg); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }

// idCases are hand-written raw IDs covering every rule of personid.Parse.
func idCases(t *testing.T) []*string {
	k, err := personid.New(530102, 1985, 3, 12, 217)
	if err != nil {
		t.Fatal(err)
	}
	id := k.String()
	var withX string
	for seq := 0; seq < 1000 && withX == ""; seq++ {
		if kx, _ := personid.New(530102, 1990, 4, 28, seq); kx.CheckChar() == 'X' {
			withX = kx.String()
		}
	}
	old, _ := k.Old15()
	fw := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r - '0' + '０'
		}
		return r
	}, id)
	badCheck := id[:17] + string("0123456789"[(int(id[17]-'0')+1)%10])
	if id[17] == 'X' {
		badCheck = id[:17] + "0"
	}
	return []*string{
		nil, ptr(""), ptr("   "), ptr("--"), ptr(" - "), ptr(id), ptr(" " + id + " "), ptr("\u3000" + id),
		ptr("\ufeff" + id), ptr(id[:6] + " " + id[6:14] + " " + id[14:]), ptr(id[:6] + "-" + id[6:14] + "-" + id[14:]),
		ptr(id[:6] + "－" + id[6:14] + "—" + id[14:]), ptr("-" + id), ptr(id + "-"), ptr(" -" + id),
		ptr(withX), ptr(strings.ToLower(withX)), ptr(withX[:17] + "ｘ"), ptr(withX[:17] + "Ｘ"), ptr(fw),
		ptr(old), ptr(" " + old[:6] + "-" + old[6:] + " "), ptr(old + "X"), ptr(old[:14]), ptr(id[:17]), ptr(id + "1"),
		ptr(badCheck), ptr("99" + id[2:]), ptr(id[:10] + "0230" + id[14:]), ptr(id[:6] + "18891231" + id[14:]),
		ptr(id[:6] + "X" + id[7:]), ptr("张三"), ptr(id[:8] + "\t" + id[8:]), ptr(id[:8] + "a" + id[9:]),
		ptr("110101000229001"), ptr("110101000228001"), ptr("110101200002290011"),
	}
}

// mutate applies random edits to an ID, from an alphabet of characters that
// normalization treats specially.
func mutate(r *rand.Rand, s string) string {
	alphabet := []rune("0123456789Xx ０９Ｘｘ\u3000\t-－—‐a张\ufeff")
	rs := []rune(s)
	for range 1 + r.IntN(3) {
		pos := r.IntN(len(rs) + 1)
		c := alphabet[r.IntN(len(alphabet))]
		switch r.IntN(3) {
		case 0:
			rs = append(rs[:pos], append([]rune{c}, rs[pos:]...)...)
		case 1:
			if pos < len(rs) {
				rs = append(rs[:pos], rs[pos+1:]...)
			}
		default:
			if pos < len(rs) {
				rs[pos] = c
			}
		}
	}
	return string(rs)
}

// TestPIDMatchesPersonid checks the SQL ID normalization against
// personid.Parse on hand-written and randomly mutated values.
func TestPIDMatchesPersonid(t *testing.T) {
	db := openDB(t)
	vals := idCases(t)
	r := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		k, err := personid.New(uint32(110101+r.IntN(5)*10000), 1900+r.IntN(110), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
		if err != nil {
			t.Fatal(err)
		}
		s := k.String()
		if old, ok := k.Old15(); ok && r.IntN(4) == 0 {
			s = old
		}
		if r.IntN(3) > 0 {
			s = mutate(r, s)
		}
		vals = append(vals, &s)
	}
	loadStrings(t, db, vals)
	for _, validate := range []bool{true, false} {
		ec := &entryCols{e: &sources.Entry{Kind: sources.KindPayroll}, schema: mustSchema(t, sources.KindPayroll),
			types: map[string]string{"person_id": "VARCHAR", "i": "INTEGER"}}
		ec.register(&ec.raws, `"i"`, "i")
		q := scanSQL(ec, "(SELECT i, s AS person_id FROM t)", validate)
		checkPIDs(t, db, q, vals, validate)
	}
}

// checkPIDs runs q and compares each row's pid with personid.Parse. With
// validate, pid must be the canonical ID or NULL; without, a valid ID must
// still give its canonical form and an invalid one anything but a valid
// canonical ID (so that it can never join with one).
func checkPIDs(t *testing.T, db *sql.DB, q string, vals []*string, validate bool) {
	t.Helper()
	rows, err := db.Query("SELECT i, pid FROM (" + q + ") ORDER BY i")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, valid := 0, 0
	for rows.Next() {
		var i int
		var got sql.NullString
		if err := rows.Scan(&i, &got); err != nil {
			t.Fatal(err)
		}
		want := ""
		if v := vals[i]; v != nil {
			if p := personid.Parse(*v); p.Reason == personid.ReasonNone {
				want = p.Key.String()
			}
		}
		ok := got.String == want
		if !validate && want == "" && got.Valid {
			// An unchecked form must not be a valid canonical ID.
			p := personid.Parse(got.String)
			ok = p.Reason != personid.ReasonNone || p.Key.String() != got.String
		}
		if !ok {
			raw := "<NULL>"
			if vals[i] != nil {
				raw = strconv.Quote(personid.MaskString(*vals[i])) // never a full ID in logs
			}
			t.Errorf("validate %v, case %d, raw %s: SQL gives %q, personid %q", validate, i, raw,
				personid.MaskString(got.String), personid.MaskString(want))
		}
		if want != "" {
			valid++
		}
		n++
	}
	if n != len(vals) {
		t.Fatalf("%d rows back for %d values", n, len(vals))
	}
	if valid < len(vals)/4 || valid == len(vals) {
		t.Fatalf("%d of %d values valid: the cases do not exercise both outcomes", valid, len(vals))
	}
}

func mustSchema(t *testing.T, k sources.Kind) *sources.Schema {
	t.Helper()
	s, err := sources.SchemaOf(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrimMatchesTrimSpace checks hd_trim against strings.TrimSpace.
func TestTrimMatchesTrimSpace(t *testing.T) {
	db := openDB(t)
	var vals []*string
	for _, s := range []string{"", " ", "a", " a ", "\u3000正常\u3000", "\t现势\n", "\u00a0x\u2000", "a b", " \u3000 ", "\ufeffa", "x\u205f", "\u1680y\u2028"} {
		vals = append(vals, ptr(s))
	}
	loadStrings(t, db, vals)
	rows, err := db.Query("SELECT i, hd_trim(s) FROM t ORDER BY i")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var got string
		if err := rows.Scan(&i, &got); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(*vals[i]); got != want {
			t.Errorf("hd_trim(%q) = %q, want %q", *vals[i], got, want)
		}
	}
}

// TestAmountMatchesParseAmount checks money conversion from text, doubles
// and integers in every unit against sources.ParseAmount.
func TestAmountMatchesParseAmount(t *testing.T) {
	db := openDB(t)
	texts := []string{"0", "1", "3926.00", " 12.5 ", "1,234.56", "0.005", "0.015", "-0.005", "2.675", "1.5E+04",
		"123456789.125", "0.295", "7", "100000", "10.0049", "99.995", ""}
	doubles := []float64{0, 0.1, 0.125, 0.295, 2.675, 153.6, 1e-7, 12345.678, 10, 100000.5, -3.14159}
	ints := []int64{0, 1, 12345, -7, 3000000, 99}
	if _, err := db.Exec("CREATE TABLE a (i INTEGER, txt VARCHAR, dbl DOUBLE, big BIGINT)"); err != nil {
		t.Fatal(err)
	}
	n := max(len(texts), len(doubles), len(ints))
	for i := range n {
		var txt, dbl, big any
		if i < len(texts) {
			txt = texts[i]
		}
		if i < len(doubles) {
			dbl = doubles[i]
		}
		if i < len(ints) {
			big = ints[i]
		}
		if _, err := db.Exec("INSERT INTO a VALUES (?, ?, ?, ?)", i, txt, dbl, big); err != nil {
			t.Fatal(err)
		}
	}
	for _, unit := range []string{"", "yuan", "fen", "wan"} {
		for _, col := range []string{"txt", "dbl", "big"} {
			typ := map[string]string{"txt": "VARCHAR", "dbl": "DOUBLE", "big": "BIGINT"}[col]
			e := &sources.Entry{Kind: sources.KindPayroll, Columns: map[string]string{"monthly_salary": col},
				Units: map[string]string{"monthly_salary": unit}}
			ec := &entryCols{e: e, schema: mustSchema(t, sources.KindPayroll), types: map[string]string{col: typ, "i": "INTEGER"}}
			expr := ec.amount("monthly_salary")
			i := ec.register(&ec.raws, `"i"`, "i")
			q := convertSQL(ec, "SELECT "+strings.Join(ec.raws, ", ")+" FROM a", nil, []string{i, expr + " AS v"})
			rows, err := db.Query(q + " ORDER BY 1")
			if err != nil {
				t.Fatalf("unit %q col %s: %v\n%s", unit, col, err, q)
			}
			for rows.Next() {
				var i int
				var got float64
				if err := rows.Scan(&i, &got); err != nil {
					t.Fatal(err)
				}
				var raw string
				switch {
				case col == "txt" && i < len(texts):
					raw = texts[i]
				case col == "dbl" && i < len(doubles):
					raw = strconv.FormatFloat(doubles[i], 'f', -1, 64)
				case col == "big" && i < len(ints):
					raw = strconv.FormatInt(ints[i], 10)
				}
				want, err := sources.ParseAmount(raw, unit)
				if err != nil {
					want = 0 // missing: the record field's zero value
				}
				if got != want {
					t.Errorf("unit %q %s %q: SQL %v, ParseAmount %v", unit, col, raw, got, want)
				}
			}
			rows.Close()
		}
	}
}
