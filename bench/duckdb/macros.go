package main

import (
	"fmt"
	"slices"
	"strings"
)

// spaceChars are the characters Go's unicode.IsSpace accepts: what
// strings.TrimSpace trims from every text value.
var spaceChars = []rune{'\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
	0x2028, 0x2029, 0x202F, 0x205F, 0x3000}

// dashChars are the dashes personid removes between characters.
var dashChars = []rune{'-', 0xFF0D, 0x2010, 0x2011, 0x2013, 0x2014}

// idWeights are W_i of GB 11643-1999 for the 17 leading digits.
var idWeights = []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// reClass renders runes as an RE2 character class.
func reClass(rs []rune) string {
	var b strings.Builder
	b.WriteByte('[')
	for _, r := range rs {
		fmt.Fprintf(&b, `\x{%X}`, r)
	}
	b.WriteByte(']')
	return b.String()
}

// macroSQL defines the helper macros: text trimming as strings.TrimSpace,
// and citizen-ID normalization and validation exactly as personid.Parse —
// spaces (and U+FEFF) removed anywhere, full-width digits and X and a lower
// x mapped, dashes removed between characters (a leading or trailing dash is
// invalid), 18 digits (X only as the check character) validated by province,
// birth date (1890–2099, a calendar date) and the check character, 15 digits
// converted to 18 (born 19YY) with the check character computed. pidSQL
// applies them in stages, so that each is computed once per row.
func macroSQL() string {
	var sum []string
	for i, w := range idWeights {
		sum = append(sum, fmt.Sprintf("(n // %d %% 10) * %d", pow10(16-i), w))
	}
	spaces := reClass(append(append([]rune{}, spaceChars...), 0xFEFF))
	dashes := reClass(dashChars)
	return strings.Join([]string{
		// hd_trim is strings.TrimSpace. trim() with a set of 25 characters
		// is slow in DuckDB, so a regular expression first checks the ends.
		fmt.Sprintf("CREATE OR REPLACE TEMP MACRO hd_trim(s) AS CASE WHEN regexp_matches(s, '^%s|%s$') THEN trim(s, %s) ELSE s END",
			reClass(spaceChars), reClass(spaceChars), quoteString(string(spaceChars))),
		`CREATE OR REPLACE TEMP MACRO hd_leap(y) AS (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0`,
		`CREATE OR REPLACE TEMP MACRO hd_date_ok(y, m, d) AS y BETWEEN 1890 AND 2099 AND m BETWEEN 1 AND 12 AND d >= 1 AND d <= CASE WHEN m = 2 THEN CASE WHEN hd_leap(y) THEN 29 ELSE 28 END WHEN m = 4 OR m = 6 OR m = 9 OR m = 11 THEN 30 ELSE 31 END`,
		`CREATE OR REPLACE TEMP MACRO hd_province(p) AS p BETWEEN 11 AND 15 OR p BETWEEN 21 AND 23 OR p BETWEEN 31 AND 37 OR p BETWEEN 41 AND 46 OR p BETWEEN 50 AND 54 OR p BETWEEN 61 AND 65 OR p = 71 OR p = 81 OR p = 82 OR p = 83 OR p = 91`,
		"CREATE OR REPLACE TEMP MACRO hd_valid17(n) AS hd_province(n // 1000000000000000) AND hd_date_ok(n // 10000000 % 10000, n // 100000 % 100, n // 1000 % 100)",
		fmt.Sprintf("CREATE OR REPLACE TEMP MACRO hd_check(n) AS substr('10X98765432', CAST((%s) %% 11 AS INTEGER) + 1, 1)", strings.Join(sum, " + ")),
		// hd_idform: the normalized form of a raw ID — 18 characters, or a
		// converted 15-digit number as 17 digits and '?' (check character
		// to compute) — or NULL when its characters or length are wrong.
		`CREATE OR REPLACE TEMP MACRO hd_idclean(c) AS CASE WHEN regexp_full_match(c, '[0-9]{17}[0-9X]') THEN c WHEN regexp_full_match(c, '[0-9]{15}') THEN left(c, 6) || '19' || substr(c, 7) || '?' END`,
		fmt.Sprintf("CREATE OR REPLACE TEMP MACRO hd_iddashed(t) AS CASE WHEN regexp_matches(t, '^%s|%s$') THEN NULL ELSE hd_idclean(regexp_replace(t, '%s', '', 'g')) END", dashes, dashes, dashes),
		fmt.Sprintf("CREATE OR REPLACE TEMP MACRO hd_idform(raw) AS CASE WHEN regexp_full_match(raw, '[0-9]{17}[0-9X]') THEN raw ELSE hd_iddashed(translate(regexp_replace(raw, '%s', '', 'g'), '０１２３４５６７８９Ｘｘx', '0123456789XXX')) END", spaces),
		// hd_idok: form c (n = its 17 leading digits) is a valid number.
		`CREATE OR REPLACE TEMP MACRO hd_idok(c, n) AS hd_valid17(n) AND (right(c, 1) = '?' OR right(c, 1) = hd_check(n))`,
		// normalizeName of the matcher: half- and full-width spaces and tabs removed.
		`CREATE OR REPLACE TEMP MACRO hd_name(s) AS regexp_replace(s, '[ \x{3000}\t]', '', 'g')`,
		`CREATE OR REPLACE TEMP MACRO hd_cents(x) AS round(x * 100) / 100`,
	}, ";\n") + ";\n"
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// scanSQL reads from (a read_parquet call) in stages: the raw ID (hd_raw)
// and the raw columns registered so far (c__r); then the ID's normalized
// form; then its 17 digits; then pid, plus extra items (which may read pid
// and the c__r columns). Staging computes each part once per row.
//
// With validate, pid is the canonical 18 characters of a valid ID and NULL
// for an invalid one. Without, pid is only fit for an equality join with
// validated canonical IDs (the roster's): a normalized 18-character form is
// kept unchecked, since one that is invalid equals no canonical ID, and only
// a converted 15-digit number is validated and given its check character.
// The join gives the same pairs either way and skips the checksum on most
// rows; entries that need to know which IDs are invalid (the roster, and
// sources with the name + birth-date fallback) validate.
func scanSQL(ec *entryCols, from string, validate bool, extra ...string) string {
	pre := append([]string{ec.rawKey() + " AS hd_raw"}, ec.raws...)
	pid := "CASE WHEN hd_idok(hd_c, hd_n) THEN left(hd_c, 17) || hd_check(hd_n) END"
	if !validate {
		pid = "CASE WHEN right(hd_c, 1) <> '?' THEN hd_c WHEN hd_valid17(hd_n) THEN left(hd_c, 17) || hd_check(hd_n) END"
	}
	out := fmt.Sprintf(`SELECT * EXCLUDE (hd_raw, hd_c, hd_n), %s AS pid
    FROM (SELECT *, TRY_CAST(left(hd_c, 17) AS BIGINT) AS hd_n
      FROM (SELECT *, hd_idform(hd_raw) AS hd_c FROM (SELECT %s FROM %s)))`, pid, strings.Join(pre, ", "), from)
	if len(extra) > 0 {
		out = fmt.Sprintf("SELECT *, %s FROM (%s)", strings.Join(extra, ", "), out)
	}
	return out
}

// convertSQL converts the rows of rel (which carries the c__r columns):
// keep are passed through, then the trimmed texts are added, then sel (which
// reads them) is computed.
func convertSQL(ec *entryCols, rel string, keep, sel []string) string {
	post := append(slices.Clone(keep), ec.trims...)
	for _, r := range ec.raws {
		post = append(post, r[strings.LastIndex(r, " AS ")+4:])
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT %s FROM (%s))", strings.Join(append(slices.Clone(keep), sel...), ", "),
		strings.Join(post, ", "), rel)
}
