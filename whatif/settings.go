package whatif

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/rules"
)

// Reference is the reference every value a what-if writes carries, so that
// evidence shows it is not a value in force.
const Reference = "what-if"

// Setting is one --set: a parameter, where it applies, and its new value.
type Setting struct {
	Name   string
	Area   string // urban | rural: the values for that area (Region is then empty)
	Region string // 2, 4 or 6 digits: a new value at that region prefix (Area is then empty)
	Value  string // as written; a number, or codes separated by commas for a code list
}

// String writes the setting back as --set takes it.
func (s Setting) String() string {
	return s.target() + "=" + s.Value
}

func (s Setting) target() string {
	switch {
	case s.Area != "":
		return s.Name + "@" + s.Area
	case s.Region != "":
		return s.Name + "@" + s.Region
	}
	return s.Name
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	regionRE = regexp.MustCompile(`^(\d{2}|\d{4}|\d{6})$`)
)

// ParseSetting parses NAME=VALUE, NAME@AREA=VALUE or NAME@REGION=VALUE. It
// checks the syntax only; Apply checks the name and value against a set.
func ParseSetting(s string) (Setting, error) {
	target, value, ok := strings.Cut(s, "=")
	if !ok {
		return Setting{}, fmt.Errorf("--set %q: want NAME=VALUE, NAME@AREA=VALUE (area urban or rural) or NAME@REGION=VALUE (region 2, 4 or 6 digits)", s)
	}
	set, err := parseTarget(target, "--set", s)
	if err != nil {
		return Setting{}, err
	}
	set.Value = strings.TrimSpace(value)
	if set.Value == "" {
		return Setting{}, fmt.Errorf("--set %q: no value after '='", s)
	}
	return set, nil
}

// parseTarget parses NAME, NAME@AREA or NAME@REGION.
func parseTarget(target, flag, whole string) (Setting, error) {
	name, where, qualified := strings.Cut(strings.TrimSpace(target), "@")
	if !nameRE.MatchString(name) {
		return Setting{}, fmt.Errorf("%s %q: parameter name %q: use lower-case letters, digits and _", flag, whole, name)
	}
	set := Setting{Name: name}
	switch {
	case !qualified:
	case where == "urban" || where == "rural":
		set.Area = where
	case regionRE.MatchString(where):
		set.Region = where
	default:
		return Setting{}, fmt.Errorf("%s %q: %q after '@' is neither an area (urban, rural) nor a region prefix (2, 4 or 6 digits, e.g. 5301)", flag, whole, where)
	}
	return set, nil
}

// Sweep is a --sweep: one parameter (with an optional area or region) taken
// from From to To in steps of Step.
type Sweep struct {
	Setting        // Value is empty
	From, To, Step float64
}

// MaxSweepSteps bounds a sweep: each step re-evaluates the run.
const MaxSweepSteps = 1000

// ParseSweep parses NAME[@AREA|@REGION]=FROM:TO:STEP.
func ParseSweep(s string) (Sweep, error) {
	const want = "want NAME=FROM:TO:STEP or NAME@AREA=FROM:TO:STEP, e.g. dibao_standard@rural=4500:7500:500"
	target, rng, ok := strings.Cut(s, "=")
	if !ok {
		return Sweep{}, fmt.Errorf("--sweep %q: %s", s, want)
	}
	set, err := parseTarget(target, "--sweep", s)
	if err != nil {
		return Sweep{}, err
	}
	parts := strings.Split(rng, ":")
	if len(parts) != 3 {
		return Sweep{}, fmt.Errorf("--sweep %q: %s", s, want)
	}
	var nums [3]float64
	for i, p := range parts {
		if nums[i], err = parseNumber(p); err != nil {
			return Sweep{}, fmt.Errorf("--sweep %q: %s %v", s, [3]string{"FROM", "TO", "STEP"}[i], err)
		}
	}
	sw := Sweep{Setting: set, From: nums[0], To: nums[1], Step: nums[2]}
	if sw.Step <= 0 {
		return Sweep{}, fmt.Errorf("--sweep %q: STEP must be above 0", s)
	}
	if sw.To < sw.From {
		return Sweep{}, fmt.Errorf("--sweep %q: TO %g is below FROM %g", s, sw.To, sw.From)
	}
	if n := (sw.To - sw.From) / sw.Step; n >= MaxSweepSteps {
		return Sweep{}, fmt.Errorf("--sweep %q: %.0f steps; at most %d", s, math.Floor(n)+1, MaxSweepSteps)
	}
	return sw, nil
}

// Values lists the sweep's values: From + k × Step up to To (computed from k,
// not accumulated, so 0.1 steps do not drift; a value within 1e-9 × Step of
// To counts as reaching it). Values that round to the same 12 significant
// digits are listed once.
func (sw Sweep) Values() []float64 {
	n := int(math.Floor((sw.To-sw.From)/sw.Step + 1e-9))
	var out []float64
	for k := 0; k <= min(n, MaxSweepSteps); k++ {
		v := roundSig(sw.From + float64(k)*sw.Step)
		if len(out) == 0 || v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// roundSig removes binary noise such as 0.30000000000000004.
func roundSig(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return f
}

// At returns the setting of one sweep value.
func (sw Sweep) At(v float64) Setting {
	s := sw.Setting
	s.Value = strconv.FormatFloat(v, 'f', -1, 64)
	return s
}

// parseNumber reads a finite number ≥ 0: parameters are amounts, rates,
// counts and durations.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a number; write digits with an optional decimal point, e.g. 6000 or 0.12", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("%q is negative; parameters are amounts, rates, counts or durations (0 or more)", s)
	}
	return f, nil
}

// Apply returns set with every setting applied in order (a later setting
// wins where two overlap) and the override YAML generated for each. Unknown
// names and values that do not fit the parameter are errors listing the
// known parameter names.
func Apply(set *rules.Set, asOf time.Time, settings []Setting) (*rules.Set, [][]byte, error) {
	var docs [][]byte
	for _, s := range settings {
		doc, err := Override(set, asOf, s)
		if err != nil {
			return nil, nil, err
		}
		next, err := set.Extend(doc, "--set "+s.String())
		if err != nil {
			return nil, nil, fmt.Errorf("--set %s: %w", s, err)
		}
		set, docs = next, append(docs, doc)
	}
	return set, docs, nil
}

// Override generates the override YAML (for rules.Set.Extend) of one
// setting against set:
//
//   - NAME=VALUE replaces every value of NAME (same region, area, from and
//     until), so the new value applies wherever and whenever NAME did;
//   - NAME@AREA=VALUE replaces the values for that area and adds an
//     area-specific copy of each area-less value (area-specific values win
//     over area-less ones of the same region), so every household of that
//     area sees VALUE wherever NAME applied to it;
//   - NAME@REGION=VALUE adds an area-less value at that region prefix from
//     the `from` of the value in force there at as_of (the latest `from` among
//     the values that apply to the region, any area; as_of if none), and
//     replaces values at exactly that region in force at as_of (an
//     area-specific one would otherwise win). Values of longer prefixes
//     (a county's own value under @53) keep winning, as a region prefix means.
//
// Every value written has reference "what-if".
func Override(set *rules.Set, asOf time.Time, s Setting) ([]byte, error) {
	vals := set.ParamValues(s.Name)
	if len(vals) == 0 {
		return nil, fmt.Errorf("--set %s: unknown parameter %q; known parameters: %s", s, s.Name, strings.Join(set.ParamNames(), ", "))
	}
	value, err := valueYAML(vals[0].List, s)
	if err != nil {
		return nil, fmt.Errorf("%w; known parameters: %s", err, strings.Join(set.ParamNames(), ", "))
	}
	var out []rules.ParamValue
	switch {
	case s.Area != "":
		out = areaValues(vals, s.Area)
	case s.Region != "":
		out = regionValues(vals, s.Region, asOf)
	default:
		out = vals
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nparameters:\n  %s:\n", strconv.Quote("what-if "+s.String()), s.Name)
	for _, v := range out {
		fmt.Fprintf(&b, "    - value: %s\n      from: %s\n      region: %s\n", value, v.From.Format(time.DateOnly), strconv.Quote(v.Region))
		if !v.Until.IsZero() {
			fmt.Fprintf(&b, "      until: %s\n", v.Until.Format(time.DateOnly))
		}
		if v.Area != "" {
			fmt.Fprintf(&b, "      area: %s\n", v.Area)
		}
		fmt.Fprintf(&b, "      reference: %s\n", strconv.Quote(Reference))
	}
	return []byte(b.String()), nil
}

// valueYAML checks s.Value against the parameter's kind and writes it as YAML.
func valueYAML(list bool, s Setting) (string, error) {
	if list {
		var codes []string
		for _, c := range strings.Split(s.Value, ",") {
			c = strings.TrimSpace(c)
			if c == "" || strings.ContainsAny(c, "\"\\\n") {
				return "", fmt.Errorf("--set %s: parameter %q is a code list: write codes separated by commas, e.g. M2,N,T (got %q)", s, s.Name, s.Value)
			}
			codes = append(codes, strconv.Quote(c))
		}
		return "[" + strings.Join(codes, ", ") + "]", nil
	}
	f, err := parseNumber(s.Value)
	if err != nil {
		return "", fmt.Errorf("--set %s: parameter %q is a number: %v", s, s.Name, err)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

type valueKey struct {
	region, area string
	from         time.Time
}

func keyOf(v rules.ParamValue) valueKey { return valueKey{v.Region, v.Area, v.From} }

// areaValues: the area's own values, then area-specific copies of area-less
// values whose key is not already taken by an own value.
func areaValues(vals []rules.ParamValue, area string) []rules.ParamValue {
	var out []rules.ParamValue
	taken := map[valueKey]bool{}
	for _, v := range vals {
		if v.Area == area {
			out = append(out, v)
			taken[keyOf(v)] = true
		}
	}
	for _, v := range vals {
		if v.Area != "" {
			continue
		}
		v.Area = area
		if !taken[keyOf(v)] {
			out = append(out, v)
			taken[keyOf(v)] = true
		}
	}
	return out
}

// regionValues: see Override.
func regionValues(vals []rules.ParamValue, region string, asOf time.Time) []rules.ParamValue {
	inForce := func(v rules.ParamValue) bool {
		return strings.HasPrefix(region, v.Region) && !asOf.Before(v.From) && (v.Until.IsZero() || !asOf.After(v.Until))
	}
	from, found := asOf, false
	for _, v := range vals {
		if inForce(v) && (!found || v.From.After(from)) {
			from, found = v.From, true
		}
	}
	own := rules.ParamValue{Region: region, From: from}
	var out []rules.ParamValue
	for _, v := range vals {
		if v.Region != region || !inForce(v) {
			continue
		}
		if keyOf(v) == keyOf(own) {
			own.Until = v.Until // replaced in place: keep its end
			continue
		}
		out = append(out, v)
	}
	return append([]rules.ParamValue{own}, out...)
}
