package sources

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources/personid"
)

type benchRow struct {
	PersonID string `parquet:"person_id"`
	Role     string `parquet:"role,dict"`
}

type benchDictRow struct {
	PersonID string `parquet:"person_id,dict"`
	Role     string `parquet:"role,dict"`
}

const benchRows = 1 << 20

// benchIDs returns distinct valid IDs, a tenth of them in the old
// 15-digit form when old15.
func benchIDs(b *testing.B, n int, old15 bool) []string {
	ids := make([]string, n)
	for i := range ids {
		k, err := personid.New(530102+uint32(i%50)*100, 1950+i%49, 1+i%12, 1+i%28, 1+i/(49*12*28)%999)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = k.String()
		if old15 && i%10 == 0 {
			ids[i], _ = k.Old15()
		}
	}
	return ids
}

func writeBenchFile[T any](b *testing.B, path string, rows []T) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(128<<10), parquet.Compression(&parquet.Snappy))
	if _, err := w.Write(rows); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkKeys parses the key column of a 1M-row file: plain-encoded
// distinct IDs, and dictionary-encoded IDs with each person on 8 rows.
// rows/s counts rows parsed; allocs/op is per pass over the whole file.
func BenchmarkKeys(b *testing.B) {
	dir := b.TempDir()
	ids := benchIDs(b, benchRows, true)
	plain := make([]benchRow, benchRows)
	dict := make([]benchDictRow, benchRows)
	for i := range plain {
		plain[i] = benchRow{ids[i], "handler"}
		dict[i] = benchDictRow{ids[i/8], "handler"}
	}
	writeBenchFile(b, filepath.Join(dir, "plain.parquet"), plain)
	writeBenchFile(b, filepath.Join(dir, "dict.parquet"), dict)
	for _, name := range []string{"plain", "dict"} {
		path := filepath.Join(dir, name+".parquet")
		m, e := testEntry(KindStaff, path)
		r, err := Open(context.Background(), m, e, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		chunks := r.Chunks()
		b.Run(name, func(b *testing.B) {
			var keys []personid.Parsed
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range chunks {
					if keys, err = r.Keys(c, keys); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(name+"/scan-2-workers", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var q Quality
				if err := r.Scan(context.Background(), 2, nil, &q, nil); err != nil {
					b.Fatal(err)
				}
				if q.ValidKeys != benchRows {
					b.Fatalf("%d valid keys", q.ValidKeys)
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		r.Close()
	}
}
