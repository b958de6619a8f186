package sources

import (
	"reflect"
	"testing"
)

func TestSchemasMatchContract(t *testing.T) {
	keyCol := map[Kind]string{KindVehicle: "owner_id", KindRealEstate: "owner_id", KindCourt: "party_id"}
	for _, k := range append([]Kind{KindRoster}, SourceKinds...) {
		s, err := SchemaOf(k)
		if err != nil {
			t.Fatal(err)
		}
		want := keyCol[k]
		if want == "" {
			want = "person_id"
		}
		if got := s.KeyColumn().Name; got != want {
			t.Errorf("%s: key column %q, want %q", k, got, want)
		}
		rec := reflect.ValueOf(s.New()).Elem()
		for _, c := range s.Columns {
			f := rec.Type().FieldByIndex(c.Field)
			if c.Key {
				continue
			}
			if e := f.Tag.Get("expr"); e != c.Name {
				t.Errorf("%s.%s: expr tag %q differs from the canonical name", k, c.Name, e)
			}
		}
	}
	if _, err := SchemaOf("cars"); err == nil {
		t.Fatal("unknown kind accepted")
	}
	police, _ := SchemaOf(KindPolice)
	if c, ok := police.Column("name"); !ok || c.Required {
		t.Errorf("police name column: %+v %v", c, ok)
	}
	pension, _ := SchemaOf(KindPension)
	if c, _ := pension.Column("period"); c.Type != TypeDate || c.Format != "%Y%m" {
		t.Errorf("pension period: %+v", c)
	}
}
