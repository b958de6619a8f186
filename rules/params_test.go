package rules

import (
	"strings"
	"testing"
	"time"
)

const paramsYAML = `
parameters:
  std:
    - {value: 100, from: 2020-01-01, region: "53", reference: province}
    - {value: 110, from: 2020-01-01, region: "53", area: urban, reference: province urban}
    - {value: 200, from: 2020-01-01, region: "5301", reference: city}
    - {value: 300, from: 2020-01-01, until: 2022-12-31, region: "530102", reference: county until 2022}
    - {value: 120, from: 2024-01-01, region: "53", reference: province 2024}
  codes:
    - {value: [A, B], from: 2020-01-01, region: "53", reference: list}
  max_age_days:
    - {value: 365, from: 2020-01-01, region: "53", reference: x}
`

func day(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLookupPrecedence(t *testing.T) {
	s, err := Parse([]byte(paramsYAML), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, date, region, area string
		want                     float64
		ref                      string
	}{
		{"province rural", "2021-01-01", "532301", "rural", 100, "province"},
		{"province area-specific beats area-less", "2021-01-01", "532301", "urban", 110, "province urban"},
		{"city beats province, even area-specific", "2021-01-01", "530111", "urban", 200, "city"},
		{"county beats city", "2021-01-01", "530102", "rural", 300, "county until 2022"},
		{"county on its until day", "2022-12-31", "530102", "rural", 300, "county until 2022"},
		{"after county until: city", "2023-01-01", "530102", "rural", 200, "city"},
		{"newer province value supersedes older", "2024-06-01", "532301", "rural", 120, "province 2024"},
		{"area-specific still beats newer area-less", "2024-06-01", "532301", "urban", 110, "province urban"},
		{"from day itself", "2020-01-01", "532301", "rural", 100, "province"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := s.Lookup("std", day(tt.date), tt.region, tt.area)
			if err != nil {
				t.Fatal(err)
			}
			if v.Number != tt.want || v.Reference != tt.ref {
				t.Fatalf("got %v (%s), want %v (%s)", v.Number, v.Reference, tt.want, tt.ref)
			}
		})
	}
	v, err := s.Lookup("codes", day("2021-01-01"), "530102", "urban")
	if err != nil || !v.List || strings.Join(v.Codes, ",") != "A,B" {
		t.Fatalf("codes: %+v %v", v, err)
	}
}

func TestLookupMissingIsError(t *testing.T) {
	s, err := Parse([]byte(paramsYAML), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, date, region string }{
		{"std", "2019-12-31", "530102"}, // before every from
		{"std", "2021-01-01", "520102"}, // another province
		{"nope", "2021-01-01", "530102"},
	} {
		_, err := s.Lookup(tt.name, day(tt.date), tt.region, "urban")
		if err == nil {
			t.Fatalf("%+v: no error", tt)
		}
		for _, want := range []string{tt.name} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if tt.name == "std" {
			for _, want := range []string{tt.date, tt.region, "urban"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		}
	}
}

func TestParamErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"duplicate value", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, region: "53", reference: x}
    - {value: 2, from: 2020-01-01, region: "53", reference: y}
`, "p.yaml:5:7: parameter \"a\" has two values"},
		{"mixed kinds", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, region: "53", reference: x}
    - {value: [X], from: 2021-01-01, region: "53", reference: y}
`, "p.yaml:5:7: parameter \"a\" mixes"},
		{"bad region", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, region: "533", reference: x}
`, "p.yaml:4:44: parameter a region: \"533\" is not a region prefix"},
		{"bad date", `
parameters:
  a:
    - {value: 1, from: 2020-13-01, region: "53", reference: x}
`, "p.yaml:4:24: parameter a from: \"2020-13-01\" is not a date"},
		{"until before from", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, until: 2019-01-01, region: "53", reference: x}
`, "until 2019-01-01 is before from"},
		{"unknown key", `
parameters:
  a:
    - {value: 1, form: 2020-01-01, region: "53", reference: x}
`, "p.yaml:4:18: unknown key \"form\" in parameter a; allowed keys: value, from, until, region, area, reference"},
		{"missing reference", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, region: "53"}
`, "p.yaml:4:7: parameter a: missing reference"},
		{"bad area", `
parameters:
  a:
    - {value: 1, from: 2020-01-01, region: "53", area: city, reference: x}
`, "unknown value \"city\"; allowed: urban, rural"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "p.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
