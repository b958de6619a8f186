package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/sources"
)

// Evidence is everything needed to explain a flag. It marshals to stable
// JSON: fields in this order, map keys sorted, dates as 2026-06-30.
type Evidence struct {
	RuleID        string `json:"rule_id"`
	RuleVersion   int    `json:"rule_version"`
	RuleSetDigest string `json:"rule_set_digest"`
	AsOf          string `json:"as_of"`
	RefDate       string `json:"ref_date"` // as_of, or the application date (incremental, applicants)
	Mode          string `json:"mode"`
	// Downgraded is set when the rule fired only once records matched by
	// name and birth date were counted: the outcome was lowered to review.
	Downgraded bool           `json:"downgraded,omitempty"`
	Values     map[string]any `json:"values"`     // the values the message shows
	Parameters []ParamUse     `json:"parameters"` // every parameter the rule read
	Facts      []FactUse      `json:"facts"`      // every record that made the rule fire
}

// ParamUse is one parameter value a flag used.
type ParamUse struct {
	Name      string `json:"name"`
	Value     any    `json:"value"` // float64 or []string
	Region    string `json:"region"`
	Area      string `json:"area,omitempty"`
	From      string `json:"from"`
	Until     string `json:"until,omitempty"`
	Reference string `json:"reference"`
}

// FactUse is one source record a flag rests on.
type FactUse struct {
	Kind     string `json:"kind"`
	Snapshot string `json:"snapshot,omitempty"`
	File     string `json:"file"`
	Row      int64  `json:"row"`
	Match    string `json:"match,omitempty"` // id or name_dob; empty for roster rows
	// PersonID is the raw canonical ID; masking happens at display.
	PersonID string         `json:"person_id"`
	Values   map[string]any `json:"values"` // canonical column → value
}

// EvidenceJSON returns the flag's evidence as stable JSON.
func (f *Flag) EvidenceJSON() ([]byte, error) { return json.Marshal(&f.Evidence) }

// paramUses turns the values a rule read into evidence, each once, in the
// order first read.
func paramUses(vals []*ParamValue) []ParamUse {
	out := make([]ParamUse, 0, len(vals))
	for i, v := range vals {
		seen := false
		for _, w := range vals[:i] {
			seen = seen || w == v
		}
		if seen {
			continue
		}
		u := ParamUse{Name: v.Name, Value: v.Value(), Region: v.Region, Area: v.Area,
			From: v.From.Format(dateLayout), Reference: v.Reference}
		if !v.Until.IsZero() {
			u.Until = v.Until.Format(dateLayout)
		}
		out = append(out, u)
	}
	return out
}

// kindOrder ranks kinds for evidence: the roster, then the sources in their
// report order.
func kindOrder(k sources.Kind) int {
	if k == sources.KindRoster {
		return 0
	}
	for i, s := range sources.SourceKinds {
		if s == k {
			return i + 1
		}
	}
	return len(sources.SourceKinds) + 1
}

// factUses turns records into evidence, each once, sorted by kind, file and row.
func factUses(recs []sources.Record) ([]FactUse, error) {
	sorted := append([]sources.Record(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Base(), sorted[j].Base()
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.PersonID < b.PersonID
	})
	out := make([]FactUse, 0, len(sorted))
	for i, r := range sorted {
		o := r.Base()
		if i > 0 {
			// Records may come by value (copies): compare provenance.
			if p := sorted[i-1].Base(); p.Kind == o.Kind && p.File == o.File && p.Row == o.Row && p.PersonID == o.PersonID {
				continue
			}
		}
		u := FactUse{Kind: string(o.Kind), File: o.File, Row: o.Row, Match: o.Match, PersonID: o.PersonID}
		if !o.Snapshot.IsZero() {
			u.Snapshot = o.Snapshot.Format(dateLayout)
		}
		vals, err := recordValues(r)
		if err != nil {
			return nil, err
		}
		u.Values = vals
		out = append(out, u)
	}
	return out, nil
}

// provenance names the Origin columns FactUse carries in its own fields.
var provenance = map[string]bool{"person_id": true, "kind": true, "file": true, "row": true, "snapshot": true, "match": true}

// recordValues returns a record's columns by their json names; empty
// optional columns (omitempty, omitzero) are left out.
func recordValues(r sources.Record) (map[string]any, error) {
	rv := reflect.ValueOf(r)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("record %T is not a pointer to a struct", r)
	}
	v := rv.Elem()
	plan, ok := recordPlans[v.Type()]
	if !ok {
		plan = planFields(v.Type(), nil, nil)
	}
	out := make(map[string]any, len(plan))
	for _, f := range plan {
		fv := v.FieldByIndex(f.index)
		if f.omitZero && fv.IsZero() {
			continue
		}
		out[f.name] = jsonValue(fv.Interface())
	}
	return out, nil
}

// fieldPlan is one column recordValues copies out of a record struct.
type fieldPlan struct {
	index    []int
	name     string // json name
	omitZero bool   // omitempty or omitzero: left out when zero
}

// recordPlans holds the field plan of every source record type, built once
// at start and never modified: parsing struct tags per record was a seventh
// of Evaluate for households with findings.
var recordPlans = func() map[reflect.Type][]fieldPlan {
	m := map[reflect.Type][]fieldPlan{}
	for _, k := range append([]sources.Kind{sources.KindRoster}, sources.SourceKinds...) {
		s, err := sources.SchemaOf(k)
		if err != nil {
			panic(err) // a kind listed by sources always has a schema
		}
		t := reflect.TypeOf(s.New()).Elem()
		m[t] = planFields(t, nil, nil)
	}
	return m
}()

var timeType = reflect.TypeOf(time.Time{})

// planFields lists the exported, json-named fields of t (embedded structs
// flattened) that are not provenance, prefixed by index.
func planFields(t reflect.Type, index []int, out []fieldPlan) []fieldPlan {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = planFields(f.Type, idx, out)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || provenance[name] || !f.IsExported() {
			continue
		}
		out = append(out, fieldPlan{index: idx, name: name,
			omitZero: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	return out
}

// jsonValue converts a value for stable JSON: dates as 2026-06-30,
// non-finite numbers as text, lists element by element.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.Format(dateLayout)
	case []string:
		return x
	case sources.Record:
		vals, _ := recordValues(x)
		return vals
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = jsonValue(rv.Index(i).Interface())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint()
	case reflect.Float32:
		return jsonValue(rv.Float())
	}
	return fmt.Sprint(v)
}

// formatValue renders a value in a message: amounts with two decimals,
// dates as 2026-06-30, lists joined with 、. A verb such as %.0f overrides.
func formatValue(v any, verb string) (string, error) {
	if verb != "" {
		switch x := v.(type) {
		case int:
			if strings.ContainsAny(verb[len(verb)-1:], "feEgG") {
				return fmt.Sprintf(verb, float64(x)), nil
			}
		case float64:
			if strings.HasSuffix(verb, "d") {
				return fmt.Sprintf(verb, int64(math.Round(x))), nil
			}
		}
		if _, ok := v.(time.Time); !ok {
			return fmt.Sprintf(verb, v), nil
		}
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "是", nil
		}
		return "否", nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', 2, 64), nil
	case time.Time:
		if x.IsZero() {
			return "不详", nil
		}
		return x.Format(dateLayout), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			s, err := formatValue(rv.Index(i).Interface(), verb)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, "、"), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	}
	return "", fmt.Errorf("cannot show a value of type %T in a message", v)
}
