package sources

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources/personid"
)

// TestTypedParquet reads typed columns: INT32 DATE, INT64 TIMESTAMP in the
// three units, INT64 amounts in fen, DOUBLE, DECIMAL on INT32, INT64 and
// FIXED_LEN_BYTE_ARRAY, BOOLEAN, INT32, integer IDs, integer dates with a
// format, integer codes with a values mapping, and nulls.
func TestTypedParquet(t *testing.T) {
	dir := t.TempDir()
	id0, id1 := testID(t, 0), testID(t, 1)
	idNum, _ := strconv.ParseInt(id1, 10, 64)
	if strings.HasSuffix(id1, "X") {
		t.Fatal("test ID 1 must be all digits")
	}
	ms := func(s string) int64 { return day(s).UnixMilli() }
	dec := func(scale, prec int, typ parquet.Type) parquet.Node {
		return parquet.Optional(parquet.Decimal(scale, prec, typ))
	}
	// FIXED_LEN_BYTE_ARRAY(8) big-endian two's complement.
	flba := func(v int64) []byte { b := big.NewInt(v).FillBytes(make([]byte, 8)); return b }
	flbaNeg := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x0c} // -500

	cases := []struct {
		name  string
		kind  Kind
		cols  []pqCol
		entry func(e *Entry)
		want  []Record
	}{
		{
			name: "police typed dates",
			kind: KindPolice,
			cols: []pqCol{
				{"person_id", parquet.Optional(parquet.String()), []any{id0, id1}},
				{"hukou_no", parquet.Int(64), []any{int64(530102000001), int64(530102000002)}}, // integer → text
				{"relation_to_head", parquet.Optional(parquet.Int(32)), []any{int32(1), int32(2)}},
				{"status", parquet.String(), []any{"normal", "deceased"}},
				{"gender", parquet.Optional(parquet.Int(32)), []any{nil, int32(2)}},
				{"birth_date", parquet.Optional(parquet.Date()), []any{int32(day("1980-01-01").Unix() / 86400), nil}},
				{"status_date", parquet.Optional(parquet.Timestamp(parquet.Millisecond)), []any{nil, ms("2025-03-04")}},
			},
			entry: func(e *Entry) {
				e.Values = map[string]map[string]string{"relation_to_head": {"1": "head", "2": "spouse"}, "gender": {"1": "male", "2": "female"}}
			},
			want: []Record{
				&Police{Origin: Origin{PersonID: id0, BirthDate: day("1980-01-01")}, HukouNo: "530102000001", RelationToHead: "head", Status: "normal"},
				&Police{Origin: Origin{PersonID: id1}, Gender: "female", HukouNo: "530102000002", RelationToHead: "spouse", Status: "deceased",
					StatusDate: day("2025-03-04")},
			},
		},
		{
			name: "timestamps micros nanos, UTC instants read in China",
			kind: KindCourt,
			cols: []pqCol{
				{"party_id", parquet.Int(64), []any{idNum, idNum}}, // an ID stored as a number
				{"case_no", parquet.String(), []any{"A", "B"}},
				{"case_type", parquet.String(), []any{"divorce", "other"}},
				// 2025-06-01 00:00 in Kunming is 2025-05-31 16:00 UTC.
				{"effective_date", parquet.TimestampAdjusted(parquet.Microsecond, true), []any{
					time.Date(2025, 5, 31, 16, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC).UnixMicro()}},
			},
			want: []Record{
				&Court{Origin: Origin{PersonID: id1}, CaseNo: "A", CaseType: "divorce", EffectiveDate: day("2025-06-01")},
				&Court{Origin: Origin{PersonID: id1}, CaseNo: "B", CaseType: "other", EffectiveDate: day("2025-06-02")},
			},
		},
		{
			name: "local nanos timestamp and integer date with format",
			kind: KindMedical,
			cols: []pqCol{
				{"person_id", parquet.String(), []any{id0, id0}},
				{"settle_date", parquet.Int(32), []any{int32(20260305), int32(20261231)}},
				{"total_cost", parquet.Optional(parquet.Int(64)), []any{int64(1234567), nil}}, // fen
				{"self_paid", parquet.Leaf(parquet.DoubleType), []any{12.345, 100.0}},         // yuan, rounded to the fen
			},
			entry: func(e *Entry) {
				e.Formats = map[string]string{"settle_date": "%Y%m%d"}
				e.Units = map[string]string{"total_cost": "fen"}
			},
			want: []Record{
				&Medical{Origin: Origin{PersonID: id0}, SettleDate: day("2026-03-05"), TotalCost: 12345.67, SelfPaid: 12.35},
				&Medical{Origin: Origin{PersonID: id0}, SettleDate: day("2026-12-31"), SelfPaid: 100},
			},
		},
		{
			name: "decimals and booleans",
			kind: KindVehicle,
			cols: []pqCol{
				{"owner_id", parquet.String(), []any{id0, id1}},
				{"plate_no", parquet.String(), []any{"云A1", "云A2"}},
				{"vehicle_type", parquet.String(), []any{"K33", "M21"}},
				{"status", parquet.String(), []any{"normal", "normal"}},
				{"price", dec(2, 18, parquet.FixedLenByteArrayType(8)), []any{flba(1234567), flbaNeg}},
				{"disabled", parquet.Optional(parquet.Leaf(parquet.BooleanType)), []any{true, nil}},
				{"register_date", parquet.Timestamp(parquet.Nanosecond), []any{day("2019-07-15").Add(13 * time.Hour).UnixNano(), day("2020-01-01").UnixNano()}},
			},
			entry: func(e *Entry) { e.Units = map[string]string{"price": "wan"} },
			want: []Record{
				&Vehicle{Origin: Origin{PersonID: id0}, PlateNo: "云A1", VehicleType: "K33", Status: "normal", Price: 123456700, Disabled: true,
					RegisterDate: day("2019-07-15")},
				&Vehicle{Origin: Origin{PersonID: id1}, PlateNo: "云A2", VehicleType: "M21", Status: "normal", Price: -50000,
					RegisterDate: day("2020-01-01")},
			},
		},
		{
			name: "int decimals, float share, int grade",
			kind: KindRealEstate,
			cols: []pqCol{
				{"owner_id", parquet.String(), []any{id0, id1}},
				{"cert_no", parquet.String(), []any{"C1", "C2"}},
				{"usage", parquet.String(), []any{"residential", "office"}},
				{"area_m2", dec(2, 9, parquet.Int32Type), []any{int32(8950), int32(12000)}},
				{"share", parquet.Leaf(parquet.FloatType), []any{float32(0.5), float32(1)}},
				{"status", parquet.String(), []any{"normal", "sealed"}},
			},
			want: []Record{
				&RealEstate{Origin: Origin{PersonID: id0}, CertNo: "C1", Usage: "residential", AreaM2: 89.5, Share: 0.5, Status: "normal"},
				&RealEstate{Origin: Origin{PersonID: id1}, CertNo: "C2", Usage: "office", AreaM2: 120, Share: 1, Status: "sealed"},
			},
		},
		{
			name: "int64 decimal amount, int grade",
			kind: KindDisability,
			cols: []pqCol{
				{"person_id", parquet.String(), []any{id0, id1}},
				{"category", parquet.String(), []any{"physical", "mental"}},
				{"grade", parquet.Int(32), []any{int32(1), int32(3)}},
			},
			want: []Record{
				&Disability{Origin: Origin{PersonID: id0}, Category: "physical", Grade: 1},
				&Disability{Origin: Origin{PersonID: id1}, Category: "mental", Grade: 3},
			},
		},
		{
			name: "int64 decimal balance",
			kind: KindDeposit,
			cols: []pqCol{
				{"person_id", parquet.String(), []any{id0, id1}},
				{"balance", dec(2, 18, parquet.Int64Type), []any{int64(1234567), int64(-5)}},
			},
			want: []Record{
				&Deposit{Origin: Origin{PersonID: id0}, Balance: 12345.67},
				&Deposit{Origin: Origin{PersonID: id1}, Balance: -0.05},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".parquet")
			writePQ(t, path, tc.cols)
			m, e := testEntry(tc.kind, path)
			if tc.entry != nil {
				tc.entry(e)
			}
			got := decodeAll(t, mustOpen(t, m, e))
			if len(got) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				o := w.Base()
				p := personid.Parse(o.PersonID)
				o.Key, o.Kind, o.File, o.Row, o.Snapshot = p.Key, tc.kind, filepath.Base(path), int64(i+1), testSnapshot
				if !reflect.DeepEqual(got[i], w) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i+1, got[i], w)
				}
			}
		})
	}
}

// TestRowGroupsAndKeys checks chunks over several files and row groups,
// dictionary-encoded and nullable key columns, and Keys against Decode.
func TestRowGroupsAndKeys(t *testing.T) {
	dir := t.TempDir()
	var files []string
	var allIDs []string
	for f, dict := range []bool{true, false} {
		var rows [][]string
		for i := range 25 {
			id := testID(t, i%7) // repeats: small dictionary
			switch i % 10 {
			case 3:
				id = ""
			case 4:
				id = id[:17] + "0" // usually a bad check character
				if personid.Parse(id).Reason == personid.ReasonNone {
					id = id[:17] + "1"
				}
			}
			allIDs = append(allIDs, id)
			rows = append(rows, []string{id, "monitored", strconv.Itoa(i)})
		}
		path := filepath.Join(dir, "part"+strconv.Itoa(1-f)+".parquet") // written in reverse name order
		files = append(files, path)
		writePQ(t, path, strCols([]string{"person_id", "status", "household_no"}, rows, dict), parquet.MaxRowsPerRowGroup(10))
	}
	m, e := testEntry(KindPoverty, files[0], files[1])
	e.Columns = nil
	r := mustOpen(t, m, e)
	chunks := r.Chunks()
	wantChunks := []Chunk{
		{0, files[1], 0, 1, 10}, {1, files[1], 1, 11, 10}, {2, files[1], 2, 21, 5},
		{3, files[0], 0, 1, 10}, {4, files[0], 1, 11, 10}, {5, files[0], 2, 21, 5},
	}
	if !reflect.DeepEqual(chunks, wantChunks) {
		t.Fatalf("chunks:\n got %+v\nwant %+v", chunks, wantChunks)
	}
	// files[1] (part0) holds the second half of allIDs.
	ordered := append(append([]string{}, allIDs[25:]...), allIDs[:25]...)
	var keys []personid.Parsed
	var err error
	for _, c := range chunks {
		keys, err = r.Keys(c, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != c.Rows {
			t.Fatalf("chunk %d: %d keys, want %d", c.Index, len(keys), c.Rows)
		}
		recs, err := r.Decode(c, []int{0, c.Rows - 1})
		if err != nil {
			t.Fatal(err)
		}
		raws, err := r.RawKeys(c, []int{0, c.Rows - 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range []int{0, c.Rows - 1} {
			raw := ordered[c.Index/3*25+int(c.FirstRow)-1+row]
			if want := personid.Parse(raw); keys[row] != want {
				t.Errorf("chunk %d row %d: key %+v, want %+v", c.Index, row, keys[row], want)
			}
			if raws[i] != raw {
				t.Errorf("chunk %d row %d: raw %q, want %q", c.Index, row, raws[i], raw)
			}
			o := recs[i].Base()
			if o.Key != keys[row].Key || o.Row != c.FirstRow+int64(row) || o.File != filepath.Base(c.File) {
				t.Errorf("chunk %d row %d: origin %+v", c.Index, row, o)
			}
			if keys[row].Reason == personid.ReasonNone && o.PersonID != keys[row].Key.String() || keys[row].Reason != personid.ReasonNone && o.PersonID != raw {
				t.Errorf("chunk %d row %d: PersonID %q for raw %q", c.Index, row, o.PersonID, raw)
			}
		}
	}
	if _, err := r.Decode(chunks[0], []int{3, 2}); err == nil {
		t.Error("descending rows accepted")
	}
	if _, err := r.Keys(Chunk{Index: 99}, nil); err == nil {
		t.Error("foreign chunk accepted")
	}
}

// TestHashes checks that hashes follow the canonical value: mapped, trimmed,
// 0 for null and for a column the file lacks.
func TestHashes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.csv")
	id := testID(t, 2)
	writeCSV(t, path, []string{"证件号", "姓名", "状态"}, [][]string{
		{id, "王五", "监测"}, {old15(t, id), " 王五 ", "monitored"}, {"", "", "消除"},
	}, false)
	m, e := testEntry(KindPoverty, path)
	e.Columns = map[string]string{"person_id": "证件号", "name": "姓名", "status": "状态"}
	e.Values = map[string]map[string]string{"status": {"监测": "monitored", "消除": "stable"}}
	r := mustOpen(t, m, e)
	c := r.Chunks()[0]
	names, err := r.Hashes(c, "name", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := xxhash.Sum64String("王五"); names[0] != want || names[1] != want || names[2] != 0 {
		t.Errorf("name hashes %x", names)
	}
	status, err := r.Hashes(c, "status", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status[0] != xxhash.Sum64String("monitored") || status[1] != status[0] || status[2] != xxhash.Sum64String("stable") {
		t.Errorf("status hashes %x", status)
	}
	keys, err := r.Hashes(c, "person_id", nil)
	if err != nil || keys[0] != xxhash.Sum64String(id) || keys[1] != keys[0] || keys[2] != 0 {
		t.Errorf("key hashes %x %v", keys, err)
	}
	region, err := r.Hashes(c, "region_code", nil)
	if err != nil || len(region) != 3 || region[0] != 0 {
		t.Errorf("absent column: %x %v", region, err)
	}
	if _, err := r.Hashes(c, "salary", nil); err == nil {
		t.Error("unknown column accepted")
	}
}

// TestOpenErrors checks that bad input fails with messages naming the file,
// the column, the row, the value and what is allowed.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	id := testID(t, 3)
	good := filepath.Join(dir, "good.parquet")
	writePQ(t, good, strCols([]string{"person_id", "role"}, [][]string{{id, "handler"}}, false))
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, data[:len(data)-20], 0o644)
	garbage := filepath.Join(dir, "garbage.parquet")
	os.WriteFile(garbage, []byte("PAR1 this is not a parquet file at all PAR1"), 0o644)
	boolDate := filepath.Join(dir, "booldate.parquet")
	writePQ(t, boolDate, []pqCol{
		{"person_id", parquet.String(), []any{id}}, {"settle_date", parquet.Leaf(parquet.BooleanType), []any{true}},
		{"self_paid", parquet.String(), []any{"1"}},
	})
	missing := filepath.Join(dir, "missing.csv")
	os.WriteFile(missing, []byte("身份证号,岗位名称\n"+id+",handler\n"), 0o644)
	badEnum := filepath.Join(dir, "badenum.csv")
	os.WriteFile(badEnum, []byte("person_id,role\n"+id+",handler\n"+id+",村长\n"), 0o644)
	badDate := filepath.Join(dir, "baddate.csv")
	os.WriteFile(badDate, []byte("person_id,settle_date,self_paid\n"+id+",2026-02-30,1\n"), 0o644)
	ragged := filepath.Join(dir, "ragged.csv")
	os.WriteFile(ragged, []byte("person_id,role\n"+id+",handler\n"+id+",handler,extra\n"), 0o644)
	badUTF8 := filepath.Join(dir, "badutf8.csv")
	os.WriteFile(badUTF8, []byte("person_id,role\n"+id+",hand\xffler\n"), 0o644)
	badGB := filepath.Join(dir, "badgb.csv")
	os.WriteFile(badGB, []byte("person_id,role\n"+id+",\x81\x20x\n"), 0o644)
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)

	cases := []struct {
		name   string
		kind   Kind
		file   string
		setup  func(e *Entry)
		decode bool
		parts  []string
	}{
		{"truncated", KindStaff, truncated, nil, false, []string{truncated, "Parquet"}},
		{"garbage", KindStaff, garbage, nil, false, []string{garbage}},
		{"bool for date", KindMedical, boolDate, nil, false, []string{boolDate, `"settle_date"`, "BOOLEAN", "date column"}},
		{"missing required", KindStaff, missing, func(e *Entry) { e.Columns = map[string]string{"person_id": "身份证号"} }, false,
			[]string{missing, "required column role", `raw column "role"`, "sources.yaml line 7", `"岗位名称"`}},
		{"missing mapped", KindStaff, missing, func(e *Entry) { e.Columns = map[string]string{"person_id": "身份证号", "role": "岗位"} }, false,
			[]string{missing, "required column role", `raw column "岗位"`, "line 7"}},
		{"bad enum", KindStaff, badEnum, nil, true, []string{badEnum, "row 2", "column role", `"村长"`, "civil-affairs, village-committee, handler"}},
		{"bad mapped enum", KindStaff, badEnum, func(e *Entry) { e.Values = map[string]map[string]string{"role": {"村长": "chief"}} }, true,
			[]string{badEnum, "row 2", `"村长"`, `mapped to "chief"`}},
		{"bad date", KindMedical, badDate, nil, true, []string{badDate, "row 1", "column settle_date", `"2026-02-30"`, "ISO date"}},
		{"ragged", KindStaff, ragged, nil, false, []string{ragged, "line 3", "3 fields", "header has 2"}},
		{"bad utf-8", KindStaff, badUTF8, nil, false, []string{badUTF8, "line 2", `"role"`, "utf-8"}},
		{"bad gb18030", KindStaff, badGB, func(e *Entry) { e.Encoding = "gb18030" }, false, []string{badGB, "line 2", "gb18030"}},
		{"empty csv", KindStaff, empty, nil, false, []string{empty, "header"}},
		{"unknown unit", KindMedical, badDate, func(e *Entry) { e.Units = map[string]string{"self_paid": "jiao"} }, false,
			[]string{"line 7", "jiao", "fen, yuan, wan"}},
		{"unit on non-amount", KindMedical, badDate, func(e *Entry) { e.Units = map[string]string{"settle_date": "fen"} }, false,
			[]string{"line 7", "settle_date", "not an amount"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, e := testEntry(tc.kind, tc.file)
			if tc.setup != nil {
				tc.setup(e)
			}
			r, err := Open(context.Background(), m, e, ReadOptions{CacheDir: t.TempDir()})
			if tc.decode {
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				_, err = r.Decode(r.Chunks()[0], nil)
			} else if err == nil {
				r.Close()
			}
			t.Log(err)
			wantErr(t, err, tc.parts...)
		})
	}
}

// TestCorruptPage damages a data page (not the footer): reading fails with
// an error naming the file, never a partial result.
func TestCorruptPage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.parquet")
	var rows [][]string
	for i := range 2000 {
		rows = append(rows, []string{testID(t, i), "handler"})
	}
	writePQ(t, path, strCols([]string{"person_id", "role"}, rows, false), parquet.Compression(&parquet.Snappy))
	data, _ := os.ReadFile(path)
	// Overwrite the middle of the first column chunk, leaving the footer intact.
	for i := 200; i < 400; i++ {
		data[i] ^= 0x5a
	}
	os.WriteFile(path, data, 0o644)
	m, e := testEntry(KindStaff, path)
	r, err := Open(context.Background(), m, e, ReadOptions{})
	if err != nil {
		wantErr(t, err, path)
		return
	}
	defer r.Close()
	keys, err := r.Keys(r.Chunks()[0], nil)
	t.Log(err)
	wantErr(t, err, path)
	if len(keys) != 0 {
		t.Errorf("%d keys returned with the error", len(keys))
	}
}

// TestCSVCache checks that a second Open reuses the conversion, and that a
// changed file is converted again.
func TestCSVCache(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "s.csv")
	writeCSV(t, path, []string{"person_id", "role"}, [][]string{{testID(t, 1), "handler"}}, false)
	m, e := testEntry(KindStaff, path)
	open := func() []os.DirEntry {
		r, err := Open(context.Background(), m, e, ReadOptions{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		ents, _ := os.ReadDir(cache)
		return ents
	}
	first := open()
	if len(first) != 1 {
		t.Fatalf("cache holds %d files, want 1", len(first))
	}
	st1, _ := first[0].Info()
	time.Sleep(10 * time.Millisecond)
	second := open()
	st2, _ := second[0].Info()
	if len(second) != 1 || !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("conversion not reused: %v", second)
	}
	writeCSV(t, path, []string{"person_id", "role"}, [][]string{{testID(t, 1), "handler"}, {testID(t, 2), "handler"}}, false)
	if third := open(); len(third) != 2 {
		t.Errorf("changed file not converted again: %d cache files", len(third))
	}
	// Without a cache folder, Close removes the temporary conversion.
	r, err := Open(context.Background(), m, e, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := r.impl.tempDir
	if tmp == "" {
		t.Fatal("no temporary folder")
	}
	r.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary folder %s left behind", tmp)
	}
}

// TestConvertCSVRoundTrip checks the conversion cell by cell.
func TestConvertCSVRoundTrip(t *testing.T) {
	in := "\ufeff a ,b,\n\"x,1\",,\"multi\nline\"\n你好, y ,z\n"
	var out bytes.Buffer
	n, err := convertCSV(context.Background(), strings.NewReader(in), "t.csv", "", &out)
	if err != nil || n != 2 {
		t.Fatalf("rows %d, err %v", n, err)
	}
	got := readBack(t, out.Bytes())
	want := map[string][]string{"a": {"x,1", "你好"}, "b": {"\x00", " y "}, "_3": {"multi\nline", "z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// readBack reads every column of a converted file as text, "\x00" for null.
func readBack(t testing.TB, data []byte) map[string][]string {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, col := range f.Root().Columns() {
		out[col.Name()] = []string{}
	}
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					name := f.Root().Columns()[v.Column()].Name()
					s := "\x00"
					if !v.IsNull() {
						s = string(v.ByteArray())
					}
					out[name] = append(out[name], s)
				}
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return out
}

func old15(t *testing.T, id string) string {
	s, ok := personid.Parse(id).Key.Old15()
	if !ok {
		t.Fatalf("%s has no 15-digit form", id)
	}
	return s
}
