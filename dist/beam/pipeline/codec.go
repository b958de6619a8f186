package pipeline

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/hedui/hedui/sources"
)

// The record codec turns a canonical record into bytes and back so that it
// can cross a shuffle. Beam's own coders cannot carry sources.Record (an
// interface), and JSON would drop fields tagged json:"-" such as the key.
// The layout is the kind name, then every exported field of the record
// struct in declaration order (the embedded Origin first): strings and
// kinds length-prefixed, numbers as varints or IEEE bits, booleans as one
// byte and dates as time.MarshalBinary.

var timeType = reflect.TypeFor[time.Time]()

// encodeRecord appends the encoding of rec to dst.
func encodeRecord(dst []byte, rec sources.Record) ([]byte, error) {
	kind := rec.Base().Kind
	dst = appendString(dst, string(kind))
	return appendStruct(dst, reflect.ValueOf(rec).Elem())
}

func appendStruct(dst []byte, v reflect.Value) ([]byte, error) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		f := v.Field(i)
		if sf.Type == timeType {
			b, err := f.Interface().(time.Time).MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", sf.Name, err)
			}
			dst = appendString(dst, string(b))
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			var err error
			if dst, err = appendStruct(dst, f); err != nil {
				return nil, err
			}
		case reflect.String:
			dst = appendString(dst, f.String())
		case reflect.Int, reflect.Int64, reflect.Int32:
			dst = binary.AppendVarint(dst, f.Int())
		case reflect.Uint64, reflect.Uint32, reflect.Uint:
			dst = binary.AppendUvarint(dst, f.Uint())
		case reflect.Float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Float()))
		case reflect.Bool:
			b := byte(0)
			if f.Bool() {
				b = 1
			}
			dst = append(dst, b)
		default:
			return nil, fmt.Errorf("record codec: field %s.%s has unsupported type %s", t.Name(), sf.Name, sf.Type)
		}
	}
	return dst, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeRecord returns a fresh record decoded from b.
func decodeRecord(b []byte) (sources.Record, error) {
	d := decoder{b: b}
	kind := sources.Kind(d.string())
	if d.err != nil {
		return nil, d.err
	}
	s, err := sources.SchemaOf(kind)
	if err != nil {
		return nil, fmt.Errorf("record codec: %w", err)
	}
	rec := s.New()
	d.fill(reflect.ValueOf(rec).Elem())
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("record codec: %d trailing bytes after a %s record", len(d.b), kind)
	}
	if d.err != nil {
		return nil, d.err
	}
	return rec, nil
}

// decoder reads what appendStruct wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("record codec: truncated or corrupt %s", what)
	}
}

func (d *decoder) string() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail("string")
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *decoder) fill(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		if d.err != nil {
			return
		}
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		f := v.Field(i)
		if sf.Type == timeType {
			var tm time.Time
			if err := tm.UnmarshalBinary([]byte(d.string())); err != nil && d.err == nil {
				d.err = fmt.Errorf("record codec: field %s: %w", sf.Name, err)
			}
			f.Set(reflect.ValueOf(tm))
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			d.fill(f)
		case reflect.String:
			f.SetString(d.string())
		case reflect.Int, reflect.Int64, reflect.Int32:
			x, k := binary.Varint(d.b)
			if k <= 0 {
				d.fail("integer")
				return
			}
			f.SetInt(x)
			d.b = d.b[k:]
		case reflect.Uint64, reflect.Uint32, reflect.Uint:
			x, k := binary.Uvarint(d.b)
			if k <= 0 {
				d.fail("unsigned integer")
				return
			}
			f.SetUint(x)
			d.b = d.b[k:]
		case reflect.Float64:
			if len(d.b) < 8 {
				d.fail("float")
				return
			}
			f.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(d.b)))
			d.b = d.b[8:]
		case reflect.Bool:
			if len(d.b) < 1 {
				d.fail("bool")
				return
			}
			f.SetBool(d.b[0] == 1)
			d.b = d.b[1:]
		default:
			d.err = fmt.Errorf("record codec: field %s.%s has unsupported type %s", t.Name(), sf.Name, sf.Type)
		}
	}
}
