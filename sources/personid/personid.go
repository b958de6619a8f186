// Package personid parses, validates and encodes citizen ID numbers
// (公民身份号码, GB 11643-1999), the key every source joins on.
//
// A valid number is held as a Key: the 17 leading digits as an integer. The
// check character is derived, so a Key renders back to its one canonical
// 18-character form.
package personid

// Key is a validated citizen ID number: its first 17 digits as an integer.
// The zero Key means "no valid number".
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

// Parsed is the outcome of Parse.
type Parsed struct {
	Key    Key
	Reason Reason
	From15 bool // converted from an old 15-digit number
}

// Parse normalizes and validates a raw value: it trims, maps full-width
// characters to half-width, upper-cases x, removes inner spaces and dashes and
// converts 15-digit numbers to 18. A clean 18-digit value allocates nothing.
func Parse(raw string) Parsed { panic("personid.Parse: not implemented yet") }

// ParseBytes is Parse for a byte slice; it does not retain b.
func ParseBytes(b []byte) Parsed { panic("personid.ParseBytes: not implemented yet") }

// String renders the canonical 18-character form, check character included.
// The zero Key renders as "".
func (k Key) String() string { panic("not implemented yet") }

// AppendTo appends the canonical 18-character form to dst.
func (k Key) AppendTo(dst []byte) []byte { panic("not implemented yet") }

// Mask renders the number for display with the birth date and part of the
// sequence hidden: 530102********123X.
func (k Key) Mask() string { panic("not implemented yet") }

// Region returns the 6-digit address code, e.g. 530102.
func (k Key) Region() uint32 { panic("not implemented yet") }

// BirthDate returns the encoded birth date.
func (k Key) BirthDate() (year, month, day int) { panic("not implemented yet") }

// Male reports whether the sequence number is odd.
func (k Key) Male() bool { panic("not implemented yet") }

// String returns the reason's word: "", "empty", "length", "characters",
// "checksum", "birth_date" or "address".
func (r Reason) String() string { panic("not implemented yet") }

// MaskString masks a raw value that may not be a valid number, keeping the
// first 6 and last 4 characters where it is long enough, for logs and screens.
func MaskString(raw string) string { panic("not implemented yet") }
