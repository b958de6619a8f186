package sources

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// FuzzCSVIngest checks that the CSV conversion never panics and either fails
// or keeps every data row and cell: the Parquet file holds as many rows as
// encoding/csv reads after the header, with the same values (empty ↔ null).
func FuzzCSVIngest(f *testing.F) {
	for _, seed := range []string{
		"a,b\n1,2\n", "\ufeffa,b\n\"x,y\",\n", "a\n", "", "a,a\n1,2\n", "a,b\n1\n", "a,\"b\nc\"\n\"1\n2\",3\n",
		"身份证号,姓名\n530102198001010011,张三\n", "a,b\r\n1,2\r\n", "a,b\n\"unterminated\n", " , \n1,2\n", "a\n\xff\n",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("\xc9\xed\xb7\xdd\xd6\xa4\n1\n"), true) // 身份证 in GB18030
	f.Fuzz(func(t *testing.T, data []byte, gb bool) {
		enc := "utf-8"
		if gb {
			enc = "gb18030"
		}
		var out bytes.Buffer
		n, err := convertCSV(context.Background(), bytes.NewReader(data), "f.csv", enc, &out)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		text := data
		if gb {
			text = mustDecodeGB(t, data)
		}
		records := referenceCSV(t, text)
		if int64(len(records)) != n+1 {
			t.Fatalf("converted %d rows, encoding/csv reads %d records", n, len(records))
		}
		got := readBack(t, out.Bytes())
		names, err := csvHeader("f.csv", records[0], gb)
		if err != nil {
			t.Fatalf("header accepted by convertCSV, refused now: %v", err)
		}
		for i, name := range names {
			col := got[name]
			if int64(len(col)) != n {
				t.Fatalf("column %q holds %d values, want %d", name, len(col), n)
			}
			for r, rec := range records[1:] {
				want := rec[i]
				if want == "" {
					want = "\x00"
				}
				if col[r] != want || !utf8.ValidString(col[r]) {
					t.Fatalf("row %d column %q: %q, want %q", r+1, name, col[r], want)
				}
			}
		}
	})
}

func referenceCSV(t *testing.T, data []byte) [][]string {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("encoding/csv refuses what convertCSV accepted: %v", err)
		}
		out = append(out, rec)
	}
}

func mustDecodeGB(t *testing.T, data []byte) []byte {
	var out bytes.Buffer
	_, err := convertGB(&out, data)
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func convertGB(w io.Writer, data []byte) (int64, error) {
	return io.Copy(w, transformGB(bytes.NewReader(data)))
}

func transformGB(r io.Reader) io.Reader {
	return transform.NewReader(r, simplifiedchinese.GB18030.NewDecoder())
}
