package pipeline

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// fillAll sets every exported field of a record to a value that differs
// from its zero, so that a field the codec dropped would show.
func fillAll(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		*n++
		switch {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(time.Date(2020, 1, *n%28+1, 0, 0, 0, 0, time.UTC)))
		case f.Kind() == reflect.Struct:
			fillAll(t, f, n)
		case f.Kind() == reflect.String:
			f.SetString(strings.Repeat("值", *n%3+1) + "x")
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			f.SetInt(int64(-*n * 1000))
		case f.Kind() == reflect.Uint64:
			f.SetUint(uint64(*n) << 40)
		case f.Kind() == reflect.Float64:
			f.SetFloat(float64(*n) + 0.1)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("field %s: type %s not covered by this test", v.Type().Field(i).Name, f.Type())
		}
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	kinds := []sources.Kind{sources.KindRoster, sources.KindPolice, sources.KindStaff, sources.KindPoverty, sources.KindDisability}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			s, err := sources.SchemaOf(k)
			if err != nil {
				t.Fatal(err)
			}
			rec := s.New()
			n := 0
			fillAll(t, reflect.ValueOf(rec).Elem(), &n)
			rec.Base().Kind = k
			rec.Base().Key = personid.Key(110101199003070011)
			b, err := encodeRecord(nil, rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, rec) {
				t.Errorf("round trip:\n got  %+v\n want %+v", got, rec)
			}
			for cut := range len(b) {
				if _, err := decodeRecord(b[:cut]); err == nil {
					t.Fatalf("decoding the first %d of %d bytes: want an error", cut, len(b))
				}
			}
		})
	}
}

func TestCompareFlagsOrdersLikeHeduiRun(t *testing.T) {
	h := func(id string, seq int) FlagOut { return FlagOut{Seq: seq, Row: flagRow(id, "")} }
	c := func(person string, key uint64, seq int) FlagOut {
		return FlagOut{Candidate: key, Seq: seq, Row: flagRow("", person)}
	}
	want := []FlagOut{h("H1", 0), h("H1", 1), h("H2", 0), c("5301", 9, 0), c("5301", 9, 1), c("5302", 1, 0)}
	got := []FlagOut{c("5302", 1, 0), h("H2", 0), c("5301", 9, 1), h("H1", 1), c("5301", 9, 0), h("H1", 0)}
	sortFlagOuts(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order:\n got  %+v\n want %+v", got, want)
	}
}

func flagRow(household, person string) review.FlagRow {
	return review.FlagRow{HouseholdID: household, PersonID: person}
}

func sortFlagOuts(fs []FlagOut) { slices.SortFunc(fs, compareFlags) }
