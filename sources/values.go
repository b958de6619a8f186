package sources

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Units of raw money amounts, as written in a manifest's `units:`.
const (
	UnitYuan = "yuan" // 元, the canonical unit; also what an empty unit means
	UnitFen  = "fen"  // 分, 1/100 元
	UnitWan  = "wan"  // 万元, 10 000 元
)

// ErrEmpty is returned by the value parsers for an empty or all-blank cell,
// so that callers can tell a missing value from a malformed one.
var ErrEmpty = errors.New("empty value")

// unitExp returns the power of ten that turns one raw unit into fen.
func unitExp(unit string) (int, error) {
	switch unit {
	case UnitYuan, "":
		return 2, nil
	case UnitFen:
		return 0, nil
	case UnitWan:
		return 6, nil
	}
	return 0, fmt.Errorf("unknown unit %q; supported units: fen, yuan, wan", unit)
}

const numberSyntax = "want digits with an optional sign, decimal point, comma thousands separators and exponent, e.g. 1234.50, 1,234.50, -12, 1.5E+04"

// maxExactFen bounds amounts so that every fen count is an exact float64.
const maxExactFen = 1 << 53

// ParseAmount reads a money amount in the given unit (fen, yuan or wan; ""
// means yuan) and returns it in 元, rounded half away from zero to the fen
// (0.01 元). The arithmetic is done on integers, so "0.295" yuan is 0.30 and
// "12345" fen is exactly 123.45. Thousands separators must group by three
// ("1,234.50"); currency signs and Chinese numerals are refused. Surrounding
// white space is ignored; a blank value gives ErrEmpty. It does not allocate
// unless it fails.
func ParseAmount(s string, unit string) (float64, error) {
	uexp, err := unitExp(unit)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	d, ok := scanDecimal(s)
	if !ok {
		return 0, fmt.Errorf("amount %q is not a number; %s", s, numberSyntax)
	}
	if d.overflow {
		return 0, fmt.Errorf("amount %q has too many significant digits (at most 19)", s)
	}
	fen, ok := d.scaledRound(uexp)
	if !ok || fen > maxExactFen {
		return 0, fmt.Errorf("amount %q %s is too large (at most 9e13 元)", s, unitOrYuan(unit))
	}
	v := float64(fen) / 100
	if d.neg && fen != 0 {
		v = -v
	}
	return v, nil
}

func unitOrYuan(unit string) string {
	if unit == "" {
		return UnitYuan
	}
	return unit
}

// ParseFloat reads a decimal number such as "12.5", "1,234.5" or "1.5e3".
// NaN and infinities are refused. Surrounding white space is ignored; a
// blank value gives ErrEmpty. Numbers of at most 15 significant digits and
// exponents within ±22 take an exact allocation-free path.
func ParseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	d, ok := scanDecimal(s)
	if !ok {
		return 0, fmt.Errorf("number %q is not a decimal number; %s", s, numberSyntax)
	}
	if !d.overflow {
		if d.mant == 0 {
			return 0, nil
		}
		if v, ok := d.exactFloat(); ok {
			return v, nil
		}
	}
	// Rare: many digits or a large exponent. strconv rounds correctly.
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("number %q is out of range", s)
	}
	return v, nil
}

// ParseInt reads a whole number such as "3", "-12", "1,024" or "3.0" (a
// zero fraction is accepted because spreadsheets and pandas write whole
// numbers that way). "2.5" is refused. Surrounding white space is ignored;
// a blank value gives ErrEmpty.
func ParseInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	d, ok := scanDecimal(s)
	if !ok {
		return 0, fmt.Errorf("integer %q is not a number; want digits with an optional sign and comma thousands separators, e.g. 3, -12, 1,024", s)
	}
	if d.mant == 0 && !d.overflow {
		return 0, nil
	}
	if d.exp10 < 0 {
		// mant carries no trailing zeros, so a negative exponent means a
		// non-zero fraction.
		return 0, fmt.Errorf("integer %q has a fraction; want a whole number", s)
	}
	v, ok := d.scaledRound(0)
	if d.overflow || !ok || v > math.MaxInt64 {
		return 0, fmt.Errorf("integer %q is out of range", s)
	}
	if d.neg {
		return -int(v), nil
	}
	return int(v), nil
}

// boolWords lists the accepted spellings, compared ignoring case.
var boolWords = [...]struct {
	word string
	val  bool
}{
	{"true", true}, {"false", false},
	{"1", true}, {"0", false},
	{"是", true}, {"否", false},
	{"yes", true}, {"no", false},
	{"y", true}, {"n", false},
}

// ParseBool reads true/false, 1/0, 是/否, yes/no or Y/N, ignoring case and
// surrounding white space; a blank value gives ErrEmpty.
func ParseBool(s string) (bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return false, ErrEmpty
	}
	for _, w := range boolWords {
		if strings.EqualFold(s, w.word) {
			return w.val, nil
		}
	}
	return false, fmt.Errorf("boolean %q; want true/false, 1/0, 是/否, yes/no or Y/N", s)
}

// decimal is a scanned number: mant × 10^exp10, with mant free of trailing
// zeros so that it stays small for values like "1.50000000000000000000".
type decimal struct {
	neg      bool
	mant     uint64
	exp10    int
	overflow bool // more significant digits than mant holds
}

// maxExp bounds the exponent so that exp10 arithmetic cannot overflow int.
const maxExp = 100000

// scanDecimal parses [+-] digits [, digits]... [. digits] [e [+-] digits].
// Commas, if any, must separate groups of exactly three integer digits.
func scanDecimal(s string) (d decimal, ok bool) {
	if s == "" {
		return d, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		d.neg = s[0] == '-'
		i++
	}
	var (
		pending   int // zeros not yet multiplied into mant
		nDigits   int
		intDigits int
		group     = -1 // digits since the last comma; -1 before the first
	)
	addDigit := func(c byte) {
		nDigits++
		if c == '0' {
			pending++
			return
		}
		for ; pending >= 0; pending-- {
			hi, lo := bits.Mul64(d.mant, 10)
			if hi != 0 {
				d.overflow = true
			}
			d.mant = lo
		}
		pending = 0
		sum, carry := bits.Add64(d.mant, uint64(c-'0'), 0)
		if carry != 0 {
			d.overflow = true
		}
		d.mant = sum
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			addDigit(c)
			intDigits++
			if group >= 0 {
				group++
			}
			continue
		}
		if c != ',' {
			break
		}
		if (group == -1 && (intDigits == 0 || intDigits > 3)) || (group >= 0 && group != 3) {
			return d, false
		}
		group = 0
	}
	if group >= 0 && group != 3 {
		return d, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			addDigit(s[i])
			d.exp10--
		}
	}
	if nDigits == 0 {
		return d, false
	}
	d.exp10 += pending
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		e, n := 0, 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < maxExp {
				e = e*10 + int(s[i]-'0')
			}
			n++
		}
		if n == 0 {
			return d, false
		}
		if neg {
			e = -e
		}
		d.exp10 += e
	}
	return d, i == len(s)
}

var pow10u = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

var pow10f = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scaledRound returns |d| × 10^shift rounded half away from zero to an
// integer; ok is false when it does not fit a uint64.
func (d decimal) scaledRound(shift int) (uint64, bool) {
	if d.mant == 0 {
		return 0, true
	}
	e := d.exp10 + shift
	if e >= 0 {
		if e >= len(pow10u) {
			return 0, false
		}
		hi, lo := bits.Mul64(d.mant, pow10u[e])
		return lo, hi == 0
	}
	if -e >= len(pow10u) {
		// mant < 2^64 < 10^20 / 2, so the quotient rounds to zero.
		return 0, true
	}
	p := pow10u[-e]
	q, r := d.mant/p, d.mant%p
	if r >= p-r {
		q++
	}
	return q, true
}

// exactFloat converts d with a single correctly rounded operation on exact
// operands, when that is possible.
func (d decimal) exactFloat() (float64, bool) {
	if d.mant >= 1<<53 || d.exp10 < -22 || d.exp10 > 22 {
		return 0, false
	}
	v := float64(d.mant)
	if d.exp10 < 0 {
		v /= pow10f[-d.exp10]
	} else {
		v *= pow10f[d.exp10]
	}
	if d.neg {
		v = -v
	}
	return v, true
}
