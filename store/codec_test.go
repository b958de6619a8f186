package store

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

var allKinds = append([]sources.Kind{sources.KindRoster}, sources.SourceKinds...)

// fill sets every column of rec from r and s, the way odd exports look:
// empty strings, zero and pre-1970 dates, negative and non-integral numbers.
func fill(rec sources.Record, schema *sources.Schema, r *rand.Rand, s string) {
	v := reflect.ValueOf(rec).Elem()
	for _, col := range schema.Columns[1:] {
		f := v.FieldByIndex(col.Field)
		switch col.Type {
		case sources.TypeString:
			if n := len(s); n > 0 {
				i, j := r.IntN(n+1), r.IntN(n+1)
				f.SetString(s[min(i, j):max(i, j)])
			}
		case sources.TypeDate:
			if r.IntN(4) > 0 {
				f.Set(reflect.ValueOf(time.Date(1800+r.IntN(400), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)))
			}
		case sources.TypeFloat:
			f.SetFloat([]float64{0, -1.5, r.NormFloat64() * 1e6, math.MaxFloat64, math.SmallestNonzeroFloat64}[r.IntN(5)])
		case sources.TypeInt:
			f.SetInt(r.Int64() - math.MaxInt64/2)
		case sources.TypeBool:
			f.SetBool(r.IntN(2) == 1)
		}
	}
}

func FuzzCodec(f *testing.F) {
	f.Add(uint8(0), int64(1), "张三 530102", []byte{})
	f.Add(uint8(1), int64(2), "", []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0})
	f.Add(uint8(5), int64(3), "\x00\xff云A·12345", []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, kindNo uint8, seed int64, s string, junk []byte) {
		kind := allKinds[int(kindNo)%len(allKinds)]
		schema, err := sources.SchemaOf(kind)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		c := &codec{schema: schema, kind: kind, files: []string{"a.parquet", "b/c.csv"}, snapshot: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
		rec := schema.New()
		fill(rec, schema, r, s)
		o := rec.Base()
		o.Kind, o.Snapshot, o.Row = kind, c.snapshot, r.Int64N(1<<40)+1
		o.File = c.files[r.IntN(2)]
		if r.IntN(3) > 0 {
			k, err := personid.New(530102, 1900+r.IntN(120), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
			if err != nil {
				t.Fatal(err)
			}
			o.Key, o.PersonID = k, k.String()
		} else {
			o.PersonID = s
		}
		fi := 0
		if o.File != c.files[0] {
			fi = 1
		}
		val, sum := c.appendRecord(nil, rec, fi)
		if valueDigest(val) != sum {
			t.Fatalf("digest %x stored as %x", sum, valueDigest(val))
		}
		got, err := c.decode(o.Key, val)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("decode(encode(r)) != r:\n got %#v\nwant %#v", got, rec)
		}
		// A moved row keeps its digest; a changed value does not.
		o.Row++
		if _, s2 := c.appendRecord(nil, rec, 1-fi); s2 != sum {
			t.Fatal("the digest depends on where the row sits")
		}
		// Arbitrary bytes decode to an error or a record, never a panic.
		c.decode(o.Key, junk)
		c.decode(0, append(val[:len(val):len(val)], junk...))
		if len(val) > 9 {
			c.decode(o.Key, val[:len(val)-1])
		}
	})
}

func TestCodecRejectsTruncated(t *testing.T) {
	schema, _ := sources.SchemaOf(sources.KindVehicle)
	c := &codec{schema: schema, kind: sources.KindVehicle, files: []string{"v.parquet"}}
	k, _ := personid.New(530102, 1980, 1, 2, 33)
	rec := &sources.Vehicle{PlateNo: "云A12345", VehicleType: "K33", Status: "normal", Price: 123456.78}
	rec.Key, rec.PersonID, rec.File, rec.Row = k, k.String(), "v.parquet", 9
	val, _ := c.appendRecord(nil, rec, 0)
	for n := 0; n < len(val); n++ {
		if _, err := c.decode(k, val[:n]); err == nil {
			t.Fatalf("a value cut to %d of %d bytes decoded without error", n, len(val))
		}
	}
}
