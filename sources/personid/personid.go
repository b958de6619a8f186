// Package personid parses, validates and encodes citizen ID numbers
// (公民身份号码, GB 11643-1999), the key every source joins on.
//
// A valid number is held as a Key: the 17 leading digits as an integer. The
// check character is derived, so a Key renders back to its one canonical
// 18-character form.
//
// Parsing is on the hot path of every source scan (10⁶–10⁸ rows per source),
// so Parse and ParseBytes allocate nothing, whatever the input.
package personid

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key is a validated citizen ID number: its first 17 digits as an integer.
// The zero Key means "no valid number".
//
// The digits are, from the left: the 6-digit address code, the birth date
// YYYYMMDD and the 3-digit sequence, so Key = region·10¹¹ + date·10³ + seq.
type Key uint64

// Reason says why a raw value was rejected. ReasonNone means accepted.
type Reason uint8

// Rejection reasons, in the words used by quarantine files and quality reports.
const (
	ReasonNone       Reason = iota // accepted
	ReasonEmpty                    // "empty": nothing left after trimming
	ReasonLength                   // "length": not 15 or 18 characters after normalization
	ReasonCharacters               // "characters": a character other than a digit (or X as check)
	ReasonChecksum                 // "checksum": the check character does not match
	ReasonBirthDate                // "birth_date": not a calendar date between 1890 and 2099
	ReasonAddress                  // "address": the province part of the address code does not exist
)

const (
	// weights are W_i of GB 11643-1999 for the 17 leading digits (2^(18-i) mod 11).
	weights = "\x07\x09\x0a\x05\x08\x04\x02\x01\x06\x03\x07\x09\x0a\x05\x08\x04\x02"
	// checkChars maps S mod 11 to the check character.
	checkChars = "10X98765432"

	// The accepted birth years: older numbers are data errors in practice
	// (nobody alive was born before 1890), later ones cannot be issued yet.
	minYear = 1890
	maxYear = 2099

	keyLen = 18 // canonical length, check character included
	oldLen = 15 // pre-1999 length: YYMMDD, no check character
)

// Parsed is the outcome of Parse.
type Parsed struct {
	Key    Key
	Reason Reason
	From15 bool // converted from an old 15-digit number
}

// Parse normalizes and validates a raw value: it trims, maps full-width
// characters to half-width, upper-cases x, removes inner spaces and dashes and
// converts 15-digit numbers to 18. A clean 18-digit value allocates nothing.
//
// Normalization: spaces are Unicode white space (U+3000 ideographic space
// included) and the byte-order mark U+FEFF; they are removed wherever they
// are. Full-width digits ０-９ and Ｘ/ｘ become 0-9 and X, x becomes X. Dashes
// (- － ‐ ‑ – —) are removed between characters; a dash before the first or
// after the last character is rejected as "characters", but a value made of
// dashes and spaces only (an export's placeholder for "none") is "empty".
//
// The checks run in this order and the first failure is the Reason:
//  1. empty: nothing left after removing spaces and dashes;
//  2. characters: a character other than a digit or X, an X anywhere but
//     the last position, or an X in a 15-character number (this is found
//     before length, so a name in the ID column is "characters");
//  3. length: not 15 or 18 characters;
//  4. address: the first two digits are not a province code;
//  5. birth_date: not a calendar date between 1890-01-01 and 2099-12-31
//     (a 15-digit number is born in 19YY);
//  6. checksum: the check character does not match (18 digits only; a
//     15-digit number has none, so it is computed).
//
// Parse never allocates: no heap copy is made of the input.
func Parse(raw string) Parsed { return parse(raw) }

// ParseBytes is Parse for a byte slice; it does not retain b.
func ParseBytes(b []byte) Parsed { return parse(b) }

// parse is the shared body of Parse and ParseBytes; a generic function rather
// than a string(b) conversion so that ParseBytes never copies.
func parse[T string | []byte](s T) Parsed {
	if len(s) == keyLen {
		if p, ok := parseClean18(s); ok {
			return p
		}
	}
	return parseNormalize(s)
}

// parseClean18 validates an 18-byte value that needs no normalization. ok is
// false when s is not 17 ASCII digits followed by a digit or X.
func parseClean18[T string | []byte](s T) (p Parsed, ok bool) {
	var key uint64
	sum := 0
	for i := range keyLen - 1 {
		d := s[i] - '0'
		if d > 9 {
			return Parsed{}, false
		}
		key = key*10 + uint64(d)
		sum += int(d) * int(weights[i])
	}
	check := s[keyLen-1]
	if check != 'X' && check-'0' > 9 {
		return Parsed{}, false
	}
	k := Key(key)
	if r := validate(k); r != ReasonNone {
		return Parsed{Reason: r}, true
	}
	if checkChars[sum%11] != check {
		return Parsed{Reason: ReasonChecksum}, true
	}
	return Parsed{Key: k}, true
}

// parseNormalize is the slow path: normalize into a stack buffer, then
// validate 18 or convert 15.
func parseNormalize[T string | []byte](s T) Parsed {
	var buf [keyLen]byte
	n, r := normalize(s, &buf)
	if r != ReasonNone {
		return Parsed{Reason: r}
	}
	if n == keyLen {
		p, _ := parseClean18(buf[:])
		return p
	}
	// 15 digits: address, YYMMDD, sequence; born in the 1900s by definition.
	key := Key(digits(buf[0:6])*1e11 + (19e6+digits(buf[6:12]))*1e3 + digits(buf[12:15]))
	if r := validate(key); r != ReasonNone {
		return Parsed{Reason: r}
	}
	return Parsed{Key: key, From15: true}
}

// digits returns the value of a run of ASCII digits.
func digits(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// Rune kinds for normalization.
const (
	kindOther = iota // anything not allowed in a number
	kindChar         // a digit or X, kept
	kindSpace        // removed anywhere
	kindDash         // removed between characters
)

// normalize writes the normalized characters of s into buf and returns their
// count n (which may exceed len(buf): only the first len(buf) are stored) and
// ReasonEmpty, ReasonCharacters or ReasonLength, or ReasonNone if n is 15 or
// 18 and the characters are well placed digits and X.
func normalize[T string | []byte](s T, buf *[keyLen]byte) (n int, r Reason) {
	dash := false // a dash seen since the last kept character (or before the first)
	sawX := false
	for i := 0; i < len(s); {
		c, size := rune(s[i]), 1
		if c >= utf8.RuneSelf { // ASCII inline: most noisy values are dashes and spaces
			c, size = decodeRune(s, i)
		}
		i += size
		b, kind := classify(c)
		switch kind {
		case kindSpace:
		case kindDash:
			dash = true
		case kindChar:
			if (dash && n == 0) || sawX {
				// A leading dash, or anything after an X: X is only a check character.
				return n, ReasonCharacters
			}
			dash = false
			sawX = b == 'X'
			if n < len(buf) {
				buf[n] = b
			}
			n++
		default:
			return n, ReasonCharacters
		}
	}
	switch {
	case n == 0:
		return 0, ReasonEmpty
	case dash:
		return n, ReasonCharacters // trailing dash
	case n != keyLen && n != oldLen:
		return n, ReasonLength
	case sawX && n == oldLen:
		return n, ReasonCharacters // old numbers have no check character
	}
	return n, ReasonNone
}

// classify maps a rune to its kind; for kindChar, b is the half-width
// upper-case character.
func classify(r rune) (b byte, kind int) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), kindChar
	case r == 'X' || r == 'x':
		return 'X', kindChar
	case r >= '\uFF10' && r <= '\uFF19': // full-width digits ０-９
		return byte(r-'\uFF10') + '0', kindChar
	case r == '\uFF38' || r == '\uFF58': // full-width Ｘ ｘ
		return 'X', kindChar
	case r == '-', r == '\uFF0D', // hyphen-minus, full-width hyphen-minus －
		r == '\u2010', r == '\u2011', // hyphen ‐, non-breaking hyphen ‑
		r == '\u2013', r == '\u2014': // en dash –, em dash —
		return 0, kindDash
	case r == '\uFEFF' || unicode.IsSpace(r): // IsSpace covers U+3000 and U+00A0
		return 0, kindSpace
	}
	return 0, kindOther
}

// decodeRune decodes the UTF-8 rune at s[i] like utf8.DecodeRune, for both
// strings and byte slices without converting either. Invalid encodings,
// overlong forms and surrogates give (utf8.RuneError, 1).
func decodeRune[T string | []byte](s T, i int) (rune, int) {
	b0 := s[i]
	switch {
	case b0 < utf8.RuneSelf:
		return rune(b0), 1
	case b0 < 0xC2: // continuation byte, or overlong 2-byte lead
	case b0 < 0xE0:
		if i+1 < len(s) && isCont(s[i+1]) {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0 < 0xF0:
		if i+2 < len(s) && isCont(s[i+1]) && isCont(s[i+2]) {
			r := rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			if r >= 0x800 && (r < 0xD800 || r > 0xDFFF) {
				return r, 3
			}
		}
	case b0 < 0xF5:
		if i+3 < len(s) && isCont(s[i+1]) && isCont(s[i+2]) && isCont(s[i+3]) {
			r := rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
			if r >= 0x10000 && r <= utf8.MaxRune {
				return r, 4
			}
		}
	}
	return utf8.RuneError, 1
}

func isCont(b byte) bool { return b&0xC0 == 0x80 }

// validate checks the address and birth date parts of k, in that order.
func validate(k Key) Reason {
	if !isProvince(uint32(k / 1e15)) {
		return ReasonAddress
	}
	if y, m, d := k.BirthDate(); !validDate(y, m, d) {
		return ReasonBirthDate
	}
	return ReasonNone
}

// provinceCodes lists the allowed first two digits, for error messages.
const provinceCodes = "11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82, 83, 91"

// isProvince reports whether p is a province-level code (GB/T 2260), Taiwan
// (71), Hong Kong (81), Macao (82), the residence-permit code for those (83)
// and foreigners' permanent residence (91) included.
func isProvince(p uint32) bool {
	switch {
	case p >= 11 && p <= 15, p >= 21 && p <= 23, p >= 31 && p <= 37,
		p >= 41 && p <= 46, p >= 50 && p <= 54, p >= 61 && p <= 65:
		return true
	case p == 71, p == 81, p == 82, p == 83, p == 91:
		return true
	}
	return false
}

// validDate reports whether y-m-d is a Gregorian calendar date in the accepted years.
func validDate(y, m, d int) bool {
	if y < minYear || y > maxYear || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(y, m)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// String renders the canonical 18-character form, check character included.
// The zero Key renders as "".
func (k Key) String() string {
	var b [keyLen]byte
	return string(k.AppendTo(b[:0]))
}

// AppendTo appends the canonical 18-character form to dst.
// The zero Key appends nothing. It allocates only if dst is too small.
func (k Key) AppendTo(dst []byte) []byte {
	if k == 0 {
		return dst
	}
	var b [keyLen]byte
	v := uint64(k)
	sum := 0
	for i := keyLen - 2; i >= 0; i-- {
		d := v % 10
		v /= 10
		b[i] = byte(d) + '0'
		sum += int(d) * int(weights[i])
	}
	b[keyLen-1] = checkChars[sum%11]
	return append(dst, b[:]...)
}

// Mask renders the number for display with the birth date and part of the
// sequence hidden: 530102********123X. The zero Key renders as "".
func (k Key) Mask() string {
	if k == 0 {
		return ""
	}
	var b [keyLen]byte
	k.AppendTo(b[:0])
	for i := 6; i < keyLen-4; i++ {
		b[i] = '*'
	}
	return string(b[:])
}

// Region returns the 6-digit address code, e.g. 530102.
func (k Key) Region() uint32 { return uint32(k / 1e11) }

// BirthDate returns the encoded birth date.
func (k Key) BirthDate() (year, month, day int) {
	date := int(k / 1e3 % 1e8)
	return date / 1e4, date / 100 % 100, date % 100
}

// Male reports whether the sequence number is odd.
func (k Key) Male() bool { return k%2 == 1 }

// String returns the reason's word: "", "empty", "length", "characters",
// "checksum", "birth_date" or "address".
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return ""
	case ReasonEmpty:
		return "empty"
	case ReasonLength:
		return "length"
	case ReasonCharacters:
		return "characters"
	case ReasonChecksum:
		return "checksum"
	case ReasonBirthDate:
		return "birth_date"
	case ReasonAddress:
		return "address"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseReason returns the Reason whose word is s, as written by
// Reason.String; "" is ReasonNone. ok is false for any other word.
func ParseReason(s string) (r Reason, ok bool) {
	for c := ReasonNone; c <= ReasonAddress; c++ {
		if c.String() == s {
			return c, true
		}
	}
	return ReasonNone, false
}

// Reasons returns every rejection reason (ReasonNone excluded) in the order of
// their values, for reports that list a count per reason. The slice is new on
// every call.
func Reasons() []Reason {
	return []Reason{ReasonEmpty, ReasonLength, ReasonCharacters, ReasonChecksum,
		ReasonBirthDate, ReasonAddress}
}

// MaskString masks a raw value that may not be a valid number, keeping the
// first 6 and last 4 characters where it is long enough, for logs and screens.
//
// Surrounding spaces are trimmed first. A value of 12 characters (runes) or
// more keeps its first 6 and last 4, every other character becomes '*'; a
// shorter one becomes all '*', one per character, so no more than 10
// characters are ever revealed. Control characters and invalid UTF-8 among
// the kept ones are masked too, so the result is safe in a log line.
func MaskString(raw string) string {
	s := strings.TrimFunc(raw, func(r rune) bool { _, kind := classify(r); return kind == kindSpace })
	n := utf8.RuneCountInString(s)
	out := make([]byte, 0, len(s))
	i := 0
	for _, r := range s {
		keep := n >= 12 && (i < 6 || i >= n-4) && r != utf8.RuneError && !unicode.IsControl(r)
		if keep {
			out = utf8.AppendRune(out, r)
		} else {
			out = append(out, '*')
		}
		i++
	}
	return string(out)
}

// New builds the Key of a person from its parts: a 6-digit address code, a
// birth date and a 3-digit sequence (odd = male). It returns an error if a
// part is out of range, for generators and tests.
func New(region uint32, year, month, day, seq int) (Key, error) {
	if region < 100000 || region > 999999 || !isProvince(region/1e4) {
		return 0, fmt.Errorf("personid: region %d: want a 6-digit address code starting with a province code (%s)",
			region, provinceCodes)
	}
	if !validDate(year, month, day) {
		return 0, fmt.Errorf("personid: birth date %04d-%02d-%02d: want a calendar date from %d-01-01 to %d-12-31",
			year, month, day, minYear, maxYear)
	}
	if seq < 0 || seq > 999 {
		return 0, fmt.Errorf("personid: sequence %d: want 0-999", seq)
	}
	date := uint64(year*1e4 + month*100 + day)
	return Key(uint64(region)*1e11 + date*1e3 + uint64(seq)), nil
}

// CheckChar returns the check character ('0'-'9' or 'X') of the key's 17 digits.
func (k Key) CheckChar() byte {
	v := uint64(k)
	sum := 0
	for i := keyLen - 2; i >= 0; i-- {
		sum += int(v%10) * int(weights[i])
		v /= 10
	}
	return checkChars[sum%11]
}

// Old15 renders the old 15-digit form (century dropped, no check character);
// ok is false for people not born in the 1900s.
func (k Key) Old15() (s string, ok bool) {
	if y, _, _ := k.BirthDate(); k == 0 || y < 1900 || y > 1999 {
		return "", false
	}
	var full [keyLen]byte
	k.AppendTo(full[:0])
	var old [oldLen]byte
	copy(old[:6], full[:6])   // address code
	copy(old[6:], full[8:17]) // YYMMDD and sequence, "19" dropped
	return string(old[:]), true
}
