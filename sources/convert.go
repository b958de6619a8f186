package sources

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// rawKind says how the values of a raw Parquet column are read.
type rawKind uint8

const (
	rawText      rawKind = iota // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY holding text
	rawInt                      // INT32 or INT64 without a date/time/decimal logical type
	rawDate32                   // INT32 DATE: days since 1970-01-01
	rawTimestamp                // INT64 TIMESTAMP (ms, µs or ns) or INT96 (read as ns)
	rawFloat                    // FLOAT or DOUBLE
	rawBool                     // BOOLEAN
	rawDecimal                  // DECIMAL on INT32, INT64, FIXED_LEN_BYTE_ARRAY or BYTE_ARRAY
)

// Timestamp units, as the number of nanoseconds per tick.
const (
	unitMillis = int64(time.Millisecond)
	unitMicros = int64(time.Microsecond)
	unitNanos  = int64(time.Nanosecond)
)

// chinaTime is China Standard Time. Timestamps marked as UTC instants are
// read as dates in China, where every export comes from: midnight in Kunming
// is 16:00 UTC the day before.
var chinaTime = time.FixedZone("CST", 8*3600)

// rawCol is one canonical column's raw column in one file.
type rawCol struct {
	leaf     int          // leaf column index in the file; -1 when the file lacks it
	name     string       // raw name as found in the file
	kind     rawKind      //
	phys     parquet.Kind // physical type
	scale    int          // decimal scale
	tsUnit   int64        // ns per tick for rawTimestamp
	tsUTC    bool         // timestamp is a UTC instant (isAdjustedToUTC, INT96)
	maxDef   int          // maximum definition level: 0 for required columns
	typeName string       // for error messages, e.g. "INT32 (DATE)"
}

// colPlan is how one canonical column of an entry is read, the same for every
// file of the entry.
type colPlan struct {
	col    Column
	raw    string // raw column name looked for
	mapped bool   // the manifest names the raw column explicitly
	format string // date layout as written
	layout DateLayout
	unit   string            // amount unit of the raw value: fen, yuan or wan
	values map[string]string // raw → canonical
}

// buildPlans checks the entry's mappings against the schema and returns one
// plan per schema column, in schema order (key first).
func buildPlans(m *Manifest, e *Entry, s *Schema) ([]colPlan, error) {
	at := manifestAt(m, e)
	names := strings.Join(s.Names(), ", ")
	for _, section := range []struct {
		name string
		keys []string
	}{
		{"columns", mapKeys(e.Columns)}, {"formats", mapKeys(e.Formats)},
		{"units", mapKeys(e.Units)}, {"values", mapKeys(e.Values)},
	} {
		for _, k := range section.keys {
			if _, ok := s.Column(k); !ok {
				return nil, fmt.Errorf("%s: %s: unknown column %q for kind %s; columns: %s", at, section.name, k, s.Kind, names)
			}
		}
	}
	plans := make([]colPlan, len(s.Columns))
	for i, c := range s.Columns {
		p := colPlan{col: c, raw: c.Name, values: e.Values[c.Name]}
		if raw, ok := e.Columns[c.Name]; ok && raw != "" {
			p.raw, p.mapped = raw, true
		}
		if f, ok := e.Formats[c.Name]; ok {
			if c.Type != TypeDate {
				return nil, fmt.Errorf("%s: formats: column %q is a %s column; formats apply to date columns only", at, c.Name, c.Type)
			}
			p.format = f
		}
		if c.Type == TypeDate {
			// No format at all means the default layout: an ISO date,
			// optionally followed by a time of day.
			p.format = cmpOr(p.format, c.Format)
			l, err := ParseDateLayout(p.format)
			if err != nil {
				return nil, fmt.Errorf("%s: column %q: date format %q: %w", at, c.Name, p.format, err)
			}
			p.layout = l
		}
		if u, ok := e.Units[c.Name]; ok {
			if !c.Amount {
				return nil, fmt.Errorf("%s: units: column %q is not an amount; units apply to: %s", at, c.Name, strings.Join(amountColumns(s), ", "))
			}
			if _, err := unitExp(u); err != nil {
				return nil, fmt.Errorf("%s: units: column %q: %w", at, c.Name, err)
			}
			p.unit = u
		}
		plans[i] = p
	}
	return plans, nil
}

func amountColumns(s *Schema) []string {
	var out []string
	for _, c := range s.Columns {
		if c.Amount {
			out = append(out, c.Name)
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// manifestAt names the manifest line of an entry for error messages.
func manifestAt(m *Manifest, e *Entry) string {
	path := "manifest"
	if m != nil && m.Path != "" {
		path = m.Path
	}
	return fmt.Sprintf("%s line %d, %s entry %q", path, e.Line, e.Kind, e.Path)
}

// numericAmount converts a numeric raw amount to 元 exactly as the same
// value written as text would be: through ParseAmount, so that 12345 fen is
// exactly 123.45 and every source is rounded to the fen the same way.
func (p *colPlan) numericAmount(text []byte) (cell, error) {
	f, err := ParseAmount(string(text), p.unit)
	if err != nil {
		return cell{}, err
	}
	return cell{f: f}, nil
}

// classify reads the physical and logical type of a file column.
func classify(col *parquet.Column) (rawCol, error) {
	t := col.Type()
	rc := rawCol{leaf: col.Index(), name: col.Name(), phys: t.Kind(), maxDef: col.MaxDefinitionLevel()}
	rc.typeName = t.Kind().String()
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
		if s := l.String(); s != "" {
			rc.typeName += " (" + s + ")"
		}
	}
	switch v := lt.(type) {
	case *format.DecimalType:
		rc.kind, rc.scale = rawDecimal, int(v.Scale)
		return rc, nil
	case *format.DateType:
		if rc.phys == parquet.Int32 {
			rc.kind = rawDate32
			return rc, nil
		}
	case *format.TimestampType:
		if rc.phys == parquet.Int64 {
			rc.kind, rc.tsUTC = rawTimestamp, v.IsAdjustedToUTC
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				rc.tsUnit = unitMillis
			case *format.MicroSeconds:
				rc.tsUnit = unitMicros
			default:
				rc.tsUnit = unitNanos
			}
			return rc, nil
		}
	case *format.TimeType, *format.UUIDType, *format.Float16Type:
		return rc, fmt.Errorf("type %s is not supported", rc.typeName)
	}
	switch rc.phys {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		rc.kind = rawText
	case parquet.Int32, parquet.Int64:
		rc.kind = rawInt
	case parquet.Int96:
		rc.kind, rc.tsUnit, rc.tsUTC = rawTimestamp, unitNanos, true
	case parquet.Float, parquet.Double:
		rc.kind = rawFloat
	case parquet.Boolean:
		rc.kind = rawBool
	default:
		return rc, fmt.Errorf("type %s is not supported", rc.typeName)
	}
	return rc, nil
}

// accepts reports whether raw values of kind k convert to the plan's column,
// and if not, what the column needs.
func (p *colPlan) accepts(k rawKind) (ok bool, need string) {
	if p.values != nil && k != rawText && k != rawInt {
		return false, "a values mapping needs a text or integer column"
	}
	switch p.col.Type {
	case TypeString:
		if p.col.Key {
			return k == rawText || k == rawInt, "an ID column must be text or an integer"
		}
		return k == rawText || k == rawInt || k == rawDecimal || k == rawDate32,
			"a text column must be text, an integer, a decimal or a date"
	case TypeDate:
		return k == rawText || k == rawInt || k == rawDate32 || k == rawTimestamp,
			"a date column must be text (read with its format), an integer like 20201001, an INT32 DATE or a TIMESTAMP"
	case TypeFloat:
		return k == rawText || k == rawInt || k == rawDecimal || k == rawFloat,
			"a number column must be text, an integer, a decimal or a FLOAT/DOUBLE"
	case TypeInt:
		return k == rawText || k == rawInt || k == rawDecimal || k == rawFloat,
			"an integer column must be text, an integer, a decimal or a FLOAT/DOUBLE holding whole numbers"
	case TypeBool:
		return k == rawText || k == rawBool || k == rawInt,
			"a boolean column must be BOOLEAN, text (true/false, 1/0, 是/否) or an integer 0/1"
	}
	return false, "unsupported column type"
}

// cell is one converted canonical value.
type cell struct {
	null bool // no value: null, or empty text
	s    string
	t    time.Time
	f    float64
	i    int
	b    bool
}

// errNotAllowed marks a value outside the column's enum.
var errNotAllowed = errors.New("value not allowed")

// fromText converts a text raw value: trim, values mapping, then parse.
func (p *colPlan) fromText(raw string) (cell, error) {
	s := strings.TrimSpace(raw)
	if v, ok := p.values[s]; ok {
		s = v
	}
	if s == "" {
		if p.col.Required && len(p.col.Enum) > 0 {
			return cell{}, fmt.Errorf("empty value in a required column; allowed values: %s", strings.Join(p.col.Enum, ", "))
		}
		return cell{null: true}, nil
	}
	switch p.col.Type {
	case TypeString:
		if len(p.col.Enum) > 0 && !slices.Contains(p.col.Enum, s) {
			if s != strings.TrimSpace(raw) {
				return cell{}, fmt.Errorf("%w: mapped to %q, which is not one of the allowed values: %s", errNotAllowed, s, strings.Join(p.col.Enum, ", "))
			}
			return cell{}, fmt.Errorf("%w: allowed values: %s (a manifest `values:` mapping can translate raw values)", errNotAllowed, strings.Join(p.col.Enum, ", "))
		}
		return cell{s: s}, nil
	case TypeDate:
		t, err := p.layout.Parse(s)
		if err != nil {
			if p.format == "" {
				return cell{}, fmt.Errorf("not an ISO date such as 2020-10-01 (a manifest `formats:` entry can give another layout): %w", err)
			}
			return cell{}, fmt.Errorf("not a date in format %q: %w", p.format, err)
		}
		return cell{t: t}, nil
	case TypeFloat:
		var f float64
		var err error
		if p.col.Amount {
			f, err = ParseAmount(s, p.unit)
		} else {
			f, err = ParseFloat(s)
		}
		if err != nil {
			return cell{}, err
		}
		return cell{f: f}, nil
	case TypeInt:
		i, err := ParseInt(s)
		if err != nil {
			return cell{}, err
		}
		return cell{i: int(i)}, nil
	case TypeBool:
		b, err := ParseBool(s)
		if err != nil {
			return cell{}, err
		}
		return cell{b: b}, nil
	}
	return cell{}, fmt.Errorf("unsupported column type %s", p.col.Type)
}

// fromInt converts an integer raw value (rawInt, or a bool as 0/1).
func (p *colPlan) fromInt(v int64) (cell, error) {
	switch p.col.Type {
	case TypeFloat:
		if p.col.Amount {
			var buf [24]byte
			return p.numericAmount(strconv.AppendInt(buf[:0], v, 10))
		}
		return cell{f: float64(v)}, nil
	case TypeInt:
		return cell{i: int(v)}, nil
	case TypeBool:
		if p.values == nil {
			switch v {
			case 0:
				return cell{b: false}, nil
			case 1:
				return cell{b: true}, nil
			}
			return cell{}, fmt.Errorf("not a boolean; allowed: 0, 1")
		}
	}
	// Strings, integer dates like 20201001 and mapped values go through text.
	var buf [24]byte
	return p.fromText(string(strconv.AppendInt(buf[:0], v, 10)))
}

// fromFloat converts a FLOAT/DOUBLE raw value.
func (p *colPlan) fromFloat(v float64) (cell, error) {
	if math.IsNaN(v) {
		return cell{null: true}, nil
	}
	if p.col.Type == TypeInt {
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return cell{}, fmt.Errorf("not a whole number")
		}
		return cell{i: int(v)}, nil
	}
	if math.IsInf(v, 0) {
		return cell{}, fmt.Errorf("infinite number")
	}
	if p.col.Amount {
		var buf [32]byte
		return p.numericAmount(strconv.AppendFloat(buf[:0], v, 'f', -1, 64))
	}
	return cell{f: v}, nil
}

// fromDecimal converts an unscaled decimal value.
func (p *colPlan) fromDecimal(unscaled *big.Int, scale int) (cell, error) {
	switch p.col.Type {
	case TypeString:
		return p.fromText(decimalText(unscaled, scale))
	case TypeInt:
		if scale > 0 {
			q, r := new(big.Int).QuoRem(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil), new(big.Int))
			if r.Sign() != 0 || !q.IsInt64() {
				return cell{}, fmt.Errorf("not a whole number")
			}
			return p.fromInt(q.Int64())
		}
		if !unscaled.IsInt64() {
			return cell{}, fmt.Errorf("integer out of range")
		}
		return p.fromInt(unscaled.Int64())
	}
	text := decimalText(unscaled, scale)
	if p.col.Amount {
		return p.numericAmount([]byte(text))
	}
	// Parsing the decimal text gives the double nearest the exact value.
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return cell{}, err
	}
	return cell{f: f}, nil
}

// decimalText renders unscaled × 10^-scale, e.g. 12345, 2 → "123.45".
func decimalText(unscaled *big.Int, scale int) string {
	s := unscaled.String()
	if scale <= 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// fromTime converts a date or timestamp raw value, already a date at UTC midnight.
func (p *colPlan) fromTime(t time.Time) (cell, error) {
	if p.col.Type == TypeString {
		return p.fromText(t.Format(time.DateOnly))
	}
	return cell{t: t}, nil
}

// date32 converts days since the epoch.
func date32(days int64) time.Time { return time.Unix(days*86400, 0).UTC() }

// timestampDate returns the calendar date of a timestamp: local-time
// timestamps by their wall clock, UTC instants as dates in China.
func timestampDate(ticks, unit int64, utc bool) time.Time {
	var t time.Time
	switch unit {
	case unitMillis:
		t = time.UnixMilli(ticks)
	case unitMicros:
		t = time.UnixMicro(ticks)
	default:
		t = time.Unix(0, ticks)
	}
	if utc {
		t = t.In(chinaTime)
	} else {
		t = t.UTC()
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// appendCanonical appends the canonical text of c: what Hashes hashes and
// duplicate detection compares. Dates are ISO, numbers shortest round-trip.
func (p *colPlan) appendCanonical(dst []byte, c cell) []byte {
	if c.null {
		return dst
	}
	switch p.col.Type {
	case TypeString:
		return append(dst, c.s...)
	case TypeDate:
		if c.t.IsZero() {
			return dst
		}
		return c.t.AppendFormat(dst, time.DateOnly)
	case TypeFloat:
		return strconv.AppendFloat(dst, c.f, 'f', -1, 64)
	case TypeInt:
		return strconv.AppendInt(dst, int64(c.i), 10)
	case TypeBool:
		return strconv.AppendBool(dst, c.b)
	}
	return dst
}
