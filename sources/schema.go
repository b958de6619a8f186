package sources

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Type is the canonical type of a column.
type Type uint8

// Canonical column types.
const (
	TypeString Type = iota
	TypeDate        // time.Time at UTC midnight; default layout %Y-%m-%d
	TypeFloat       // float64; amounts (Column.Amount) are in 元
	TypeInt         // int
	TypeBool        // true/false, 1/0, 是/否
)

func (t Type) String() string {
	return [...]string{"string", "date", "float", "int", "bool"}[t]
}

// Column describes one canonical column of a kind.
type Column struct {
	Name     string   // canonical name, e.g. "plate_no"
	Type     Type     //
	Required bool     // the file must have it
	Key      bool     // the person-key column (person_id, owner_id or party_id)
	Amount   bool     // a money amount: the manifest may give a unit (fen, yuan, wan)
	Enum     []string // allowed canonical values; empty means any
	Format   string   // default strftime layout for dates, e.g. "%Y%m"; empty means "%Y-%m-%d"
	Field    []int    // index path of the struct field (reflect.Value.FieldByIndex)
}

// Schema is the canonical layout of one kind.
type Schema struct {
	Kind    Kind
	Columns []Column // key column first, then the kind's own, then optional origin columns
	New     func() Record
	byName  map[string]int
}

// Column returns the named canonical column.
func (s *Schema) Column(name string) (Column, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Column{}, false
	}
	return s.Columns[i], true
}

// KeyColumn returns the person-key column.
func (s *Schema) KeyColumn() Column { return s.Columns[0] }

// Names lists the canonical column names in schema order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// SchemaOf returns the schema of kind k, or an error listing the known kinds.
func SchemaOf(k Kind) (*Schema, error) {
	s, ok := schemas[k]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q; supported kinds: %s", k, strings.Join(kindNames(), ", "))
	}
	return s, nil
}

func kindNames() []string {
	out := []string{string(KindRoster)}
	for _, k := range SourceKinds {
		out = append(out, string(k))
	}
	return out
}

// schemas is built once from the record struct tags and never modified.
var schemas = map[Kind]*Schema{
	KindRoster:     mustSchema(KindRoster, func() Record { return &RosterMember{} }),
	KindPolice:     mustSchema(KindPolice, func() Record { return &Police{} }),
	KindVehicle:    mustSchema(KindVehicle, func() Record { return &Vehicle{} }),
	KindRealEstate: mustSchema(KindRealEstate, func() Record { return &RealEstate{} }),
	KindPension:    mustSchema(KindPension, func() Record { return &Pension{} }),
	KindFund:       mustSchema(KindFund, func() Record { return &Fund{} }),
	KindCourt:      mustSchema(KindCourt, func() Record { return &Court{} }),
	KindBusiness:   mustSchema(KindBusiness, func() Record { return &Business{} }),
	KindPayroll:    mustSchema(KindPayroll, func() Record { return &Payroll{} }),
	KindMedical:    mustSchema(KindMedical, func() Record { return &Medical{} }),
	KindDisability: mustSchema(KindDisability, func() Record { return &Disability{} }),
	KindPoverty:    mustSchema(KindPoverty, func() Record { return &Poverty{} }),
	KindDeposit:    mustSchema(KindDeposit, func() Record { return &Deposit{} }),
	KindStaff:      mustSchema(KindStaff, func() Record { return &Staff{} }),
}

var timeType = reflect.TypeOf(time.Time{})

func mustSchema(k Kind, newRec func() Record) *Schema {
	s := &Schema{Kind: k, New: newRec, byName: map[string]int{}}
	t := reflect.TypeOf(newRec()).Elem()
	var origin []Column
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("col")
		if f.Anonymous && f.Type == reflect.TypeOf(Origin{}) {
			// The tag on the embedded Origin names the key column.
			s.Columns = append(s.Columns, Column{Name: tag, Type: TypeString, Required: true, Key: true, Field: []int{i, 0}})
			for j := 0; j < f.Type.NumField(); j++ {
				of := f.Type.Field(j)
				if otag := of.Tag.Get("col"); otag != "" {
					origin = append(origin, parseColumn(otag, of.Type, []int{i, j}))
				}
			}
			continue
		}
		if tag == "" {
			continue
		}
		s.Columns = append(s.Columns, parseColumn(tag, f.Type, []int{i}))
	}
	for _, c := range origin {
		if _, dup := s.byNameOf(c.Name); !dup {
			s.Columns = append(s.Columns, c)
		}
	}
	for i, c := range s.Columns {
		s.byName[c.Name] = i
	}
	return s
}

func (s *Schema) byNameOf(name string) (int, bool) {
	for i, c := range s.Columns {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}

func parseColumn(tag string, ft reflect.Type, index []int) Column {
	parts := strings.Split(tag, ",")
	c := Column{Name: parts[0], Field: index}
	switch {
	case ft == timeType:
		c.Type = TypeDate
	case ft.Kind() == reflect.Float64:
		c.Type = TypeFloat
	case ft.Kind() == reflect.Int:
		c.Type = TypeInt
	case ft.Kind() == reflect.Bool:
		c.Type = TypeBool
	case ft.Kind() == reflect.String:
		c.Type = TypeString
	default:
		panic(fmt.Sprintf("sources: column %s has unsupported Go type %s", c.Name, ft))
	}
	for _, p := range parts[1:] {
		switch {
		case p == "req":
			c.Required = true
		case p == "opt":
		case p == "amount":
			c.Amount = true
		case strings.HasPrefix(p, "enum="):
			c.Enum = strings.Split(strings.TrimPrefix(p, "enum="), "|")
		case strings.HasPrefix(p, "format="):
			c.Format = strings.TrimPrefix(p, "format=")
		default:
			panic(fmt.Sprintf("sources: column %s has unknown tag option %q", c.Name, p))
		}
	}
	return c
}
