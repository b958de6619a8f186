package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// codec encodes the canonical records of one source generation. A value is
//
//	digest (8, big-endian) | file index (uvarint) | row (uvarint) | body
//
// and body is
//
//	person id flag (1: 0 = the canonical form of the key, 1 = a raw string follows)
//	[raw person id (uvarint length + bytes)]
//	every schema column but the key, in schema order:
//	  string: uvarint length + bytes; date: uvarint (0 = zero, else zigzag(days since 1970-01-01) + 1);
//	  float: 8 bytes little-endian IEEE 754; int: zigzag varint; bool: 1 byte.
//
// The digest is xxhash64 of the person key (8 bytes) and the body: it names
// the record's content, not where it sits, so a row that only moved in the
// file keeps its digest.
type codec struct {
	schema   *sources.Schema
	kind     sources.Kind
	files    []string
	snapshot time.Time
}

const digestLen = 8

var errCorrupt = errors.New("store: corrupt record value")

// appendRecord appends the value of rec (file index fi) to dst and returns it
// with the record's digest.
func (c *codec) appendRecord(dst []byte, rec sources.Record, fi int) ([]byte, uint64) {
	start := len(dst)
	dst = append(dst, make([]byte, digestLen)...)
	dst = binary.AppendUvarint(dst, uint64(fi))
	o := rec.Base()
	dst = binary.AppendUvarint(dst, uint64(o.Row))
	body := len(dst)
	dst = c.appendBody(dst, rec)
	var kb [8]byte
	binary.BigEndian.PutUint64(kb[:], uint64(o.Key))
	d := xxhash.New()
	d.Write(kb[:])
	d.Write(dst[body:])
	sum := d.Sum64()
	binary.BigEndian.PutUint64(dst[start:], sum)
	return dst, sum
}

func (c *codec) appendBody(dst []byte, rec sources.Record) []byte {
	o := rec.Base()
	if o.Key != 0 && o.PersonID == o.Key.String() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = appendString(dst, o.PersonID)
	}
	v := reflect.ValueOf(rec).Elem()
	for _, col := range c.schema.Columns[1:] {
		f := v.FieldByIndex(col.Field)
		switch col.Type {
		case sources.TypeString:
			dst = appendString(dst, f.String())
		case sources.TypeDate:
			dst = appendDate(dst, f.Interface().(time.Time))
		case sources.TypeFloat:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Float()))
		case sources.TypeInt:
			dst = binary.AppendVarint(dst, f.Int())
		case sources.TypeBool:
			b := byte(0)
			if f.Bool() {
				b = 1
			}
			dst = append(dst, b)
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendDate(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	days := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		days--
	}
	z := uint64(days<<1) ^ uint64(days>>63)
	return binary.AppendUvarint(dst, z+1)
}

// valueDigest returns the digest stored at the head of a value.
func valueDigest(v []byte) uint64 {
	if len(v) < digestLen {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// decode rebuilds the record of value v for person key (0 when the row had
// no valid ID). Origin.Match is left empty.
func (c *codec) decode(key personid.Key, v []byte) (sources.Record, error) {
	if len(v) < digestLen {
		return nil, errCorrupt
	}
	d := decoder{b: v[digestLen:]}
	fi := d.uvarint()
	row := d.uvarint()
	rec := c.schema.New()
	o := rec.Base()
	o.Key, o.Kind, o.Row, o.Snapshot = key, c.kind, int64(row), c.snapshot
	if fi < uint64(len(c.files)) {
		o.File = c.files[fi]
	} else if d.err == nil {
		d.err = fmt.Errorf("store: file index %d out of range (%d files)", fi, len(c.files))
	}
	if err := c.decodeBody(&d, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func (c *codec) decodeBody(d *decoder, rec sources.Record) error {
	o := rec.Base()
	switch d.byte() {
	case 0:
		if o.Key == 0 && d.err == nil {
			d.err = errCorrupt
		}
		o.PersonID = o.Key.String()
	case 1:
		o.PersonID = d.string()
	default:
		d.fail()
	}
	v := reflect.ValueOf(rec).Elem()
	for _, col := range c.schema.Columns[1:] {
		f := v.FieldByIndex(col.Field)
		switch col.Type {
		case sources.TypeString:
			f.SetString(d.string())
		case sources.TypeDate:
			f.Set(reflect.ValueOf(d.date()))
		case sources.TypeFloat:
			f.SetFloat(math.Float64frombits(d.fixed64()))
		case sources.TypeInt:
			f.SetInt(d.varint())
		case sources.TypeBool:
			switch d.byte() {
			case 0:
				f.SetBool(false)
			case 1:
				f.SetBool(true)
			default:
				d.fail()
			}
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("store: %d trailing bytes in a %s record", len(d.b), c.kind)
	}
	return d.err
}

// decoder reads a value; the first error sticks and later reads return zeros.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0xff
	}
	x := d.b[0]
	d.b = d.b[1:]
	return x
}

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	x := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return x
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) date() time.Time {
	z := d.uvarint()
	if z == 0 {
		return time.Time{}
	}
	z--
	days := int64(z>>1) ^ -int64(z&1)
	if days > 1<<40 || days < -(1<<40) {
		d.fail()
		return time.Time{}
	}
	return time.Unix(days*86400, 0).UTC()
}
