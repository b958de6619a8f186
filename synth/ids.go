package synth

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/sources/personid"
)

// The generator builds citizen ID numbers itself (GB 11643-1999) so that
// it does not depend on the validator it is meant to test.

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// checkChar returns the check character of 17 ASCII digits.
func checkChar(d17 string) byte {
	s := 0
	for i := 0; i < 17; i++ {
		s += int(d17[i]-'0') * idWeights[i]
	}
	return idCheckChars[s%11]
}

// makeID renders the 18-character number of region, birth date and
// sequence. A part out of range is a generator bug.
func makeID(region string, dob time.Time, seq int) string {
	code, err := strconv.Atoi(region)
	if err != nil {
		panic(err)
	}
	k, err := personid.New(uint32(code), dob.Year(), int(dob.Month()), dob.Day(), seq)
	if err != nil {
		panic(err)
	}
	return k.String()
}

// old15 renders the pre-1999 15-digit form; ok only for births in the 1900s.
func old15(id string) (string, bool) {
	return personid.Parse(id).Key.Old15()
}

// idSlots remembers the (birth date, sequence) pairs used in one county so
// that every generated person gets a distinct number. One bit per pair:
// about 5.6 MB per county, one county alive at a time.
type idSlots struct {
	bits []uint64
}

var slotEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

const slotDays = 46000 // 1900-01-01 … 2025

func newIDSlots() *idSlots { return &idSlots{bits: make([]uint64, slotDays*1000/64+1)} }

// take draws a free sequence of the right parity (odd = male) for dob.
func (s *idSlots) take(r *rand.Rand, dob time.Time, male bool) int {
	day := int(dob.Sub(slotEpoch).Hours() / 24)
	parity := 0
	if male {
		parity = 1
	}
	free := func(seq int) bool {
		i := day*1000 + seq
		if s.bits[i/64]&(1<<(i%64)) != 0 {
			return false
		}
		s.bits[i/64] |= 1 << (i % 64)
		return true
	}
	for range 64 {
		if seq := r.IntN(500)*2 + parity; free(seq) {
			return seq
		}
	}
	// A crowded day: draws would take ever longer to hit a free sequence.
	for seq := parity; seq < 1000; seq += 2 {
		if free(seq) {
			return seq
		}
	}
	// resolve keeps counties small enough that this cannot happen.
	panic(fmt.Sprintf("synth: all 500 ID sequences of %s for one sex are taken in one county", dob.Format(time.DateOnly)))
}

// dirtyKind is how a raw ID value written to a file differs from the
// canonical number.
type dirtyKind uint8

const (
	cleanID dirtyKind = iota
	// Normalizable: these must still match.
	dirtyOld15
	dirtyFullWidth
	dirtySpaces
	dirtyLowerX
	// Invalid: these must be quarantined, counted by reason.
	badEmpty
	badLength
	badCharacters
	badAddress
	badBirthDate
	badChecksum
)

// reasonWord is the quarantine reason of an invalid kind, in personid's words.
func (d dirtyKind) reasonWord() string {
	switch d {
	case badEmpty:
		return "empty"
	case badLength:
		return "length"
	case badCharacters:
		return "characters"
	case badAddress:
		return "address"
	case badBirthDate:
		return "birth_date"
	case badChecksum:
		return "checksum"
	}
	return ""
}

// dirtyValid renders a valid id in a messy but normalizable form, as
// exports have them. It falls back to the clean form when the chosen mess
// does not apply (no 15-digit form for births after 1999, no x to lower).
func dirtyValid(r *rand.Rand, id string) string {
	switch r.IntN(4) {
	case 0:
		if s, ok := old15(id); ok {
			return s
		}
	case 1:
		var b strings.Builder
		for _, c := range id {
			if c >= '0' && c <= '9' {
				b.WriteRune(c - '0' + '０')
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	case 2:
		if r.IntN(2) == 0 {
			return id[:6] + " " + id[6:14] + " " + id[14:]
		}
		return " " + id[:6] + "-" + id[6:14] + "-" + id[14:] + " "
	case 3:
		if id[17] == 'X' {
			return id[:17] + "x"
		}
		return id + " "
	}
	return id
}

// invalidID renders an invalid value of the given kind, derived from a
// plausible number so that it looks like a real typo. The check character
// of impossible numbers (bad address or birth date) is computed by
// checkChar, which personid.New would refuse to do.
func invalidID(r *rand.Rand, kind dirtyKind, region string, dob time.Time) string {
	seq := r.IntN(1000)
	id := makeID(region, dob, seq)
	switch kind {
	case badEmpty:
		if r.IntN(2) == 0 {
			return ""
		}
		return "  "
	case badLength:
		// All digits, never 15 or 18 long after normalization.
		switch r.IntN(3) {
		case 0:
			return id[:17]
		case 1:
			return id[:16]
		default:
			return id[:17] + "0" + strconv.Itoa(r.IntN(10))
		}
	case badCharacters:
		b := []byte(id)
		b[6+r.IntN(10)] = "ABCDEFGHJKO"[r.IntN(11)]
		return string(b)
	case badAddress:
		// "99" is no province: no GB/T 2260 code starts with it.
		d17 := "99" + id[2:17]
		return d17 + string(checkChar(d17))
	case badBirthDate:
		// A day that never exists, with a correct check character.
		bad := [...]string{"0230", "1332", "0431", "0000", "0229"}[r.IntN(5)]
		year := "1981" // not a leap year, so 0229 is impossible too
		d17 := region + year + bad + id[14:17]
		return d17 + string(checkChar(d17))
	case badChecksum:
		c := checkChar(id[:17])
		for {
			w := idCheckChars[r.IntN(11)]
			if w != c {
				return id[:17] + string(w)
			}
		}
	}
	return id
}

// invalidKinds lists the invalid kinds, drawn uniformly for junk rows.
var invalidKinds = []dirtyKind{badEmpty, badLength, badCharacters, badAddress, badBirthDate, badChecksum}
