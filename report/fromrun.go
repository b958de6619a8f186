package report

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
)

// WriteRun writes report.html and report.xlsx in dir for the run res, whose
// outputs dir holds: the files Write makes from dir, built from the run's
// memory instead of reading flags.parquet and households.parquet back and
// decoding every flag's evidence and every flagged household's facts again.
// res must hold the whole run (one shard); a sharded run's reports are
// written with Write.
func WriteRun(ctx context.Context, dir string, res *review.Result, opts Options) error {
	r, err := fromResult(res, opts)
	if err != nil {
		return err
	}
	return r.write(ctx, dir)
}

// fromResult is the run as load would read it from the run's files.
func fromResult(res *review.Result, opts Options) (*run, error) {
	r := &run{opts: opts, mask: masker{unmasked: opts.Unmasked}, facts: map[string]*facts.Household{}}
	// summary.json and quality.json are small: going through their JSON
	// gives exactly what load reads.
	if err := jsonCopy(res.Summary, &r.summary); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	if err := jsonCopy(review.Quality{Roster: res.Match.Roster, Sources: res.Match.Quality}, &r.quality); err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	rows, err := review.FlagRowsWithoutEvidence(res)
	if err != nil {
		return nil, err
	}
	r.flags = make([]flag, len(rows))
	for i := range rows {
		r.flags[i].FlagRow = rows[i]
		f := &res.Flags[i]
		if r.flags[i].ev, err = decodedEvidence(&f.Evidence); err != nil {
			return nil, fmt.Errorf("flag %d (%s, household %q): evidence: %w", i+1, f.RuleID, f.HouseholdID, err)
		}
	}
	hrows, err := review.HouseholdRowsWithoutFacts(res)
	if err != nil {
		return nil, err
	}
	units := append(append([]*facts.Household(nil), res.Households...), res.Candidates...)
	r.households = make([]householdLite, len(hrows))
	for i := range hrows {
		h := &hrows[i]
		r.households[i] = householdLite{HouseholdID: h.HouseholdID, PersonID: h.PersonID, RegionCode: h.RegionCode,
			Area: h.Area, Assistance: h.Assistance, Status: h.Status, Members: h.Members, MonthlyBenefit: h.MonthlyBenefit,
			Candidate: h.Candidate, Flags: h.Flags, PerCapitaIncome: h.PerCapitaIncome, MonthlyStandard: h.MonthlyStandard}
		if flaggedOnly(&r.households[i]) {
			r.facts[unitKey(h.HouseholdID, h.PersonID)] = units[i]
		}
	}
	if err := r.loadTitles(); err != nil {
		return nil, err
	}
	return r, nil
}

func jsonCopy(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// decodedEvidence returns ev as json.Unmarshal reads it back from its JSON
// (the evidence column of flags.parquet): numbers as float64, lists as
// []any, records as map[string]any, nil lists as nil. Evidence with a
// string that is not valid UTF-8 (JSON replaces its bytes) or a value of
// another type goes through JSON itself.
func decodedEvidence(ev *rules.Evidence) (rules.Evidence, error) {
	if out, ok := asDecodedEvidence(ev); ok {
		return out, nil
	}
	var out rules.Evidence
	b, err := json.Marshal(ev)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

// asDecodedEvidence converts ev without JSON; ok is false when it cannot.
func asDecodedEvidence(ev *rules.Evidence) (rules.Evidence, bool) {
	out := *ev
	ok := validStrings(ev.RuleID, ev.RuleSetDigest, ev.AsOf, ev.RefDate, ev.Mode)
	out.Values, ok = asDecodedMap(ev.Values, ok)
	if ev.Parameters != nil {
		out.Parameters = make([]rules.ParamUse, len(ev.Parameters))
		for i, p := range ev.Parameters {
			ok = ok && validStrings(p.Name, p.Region, p.Area, p.From, p.Until, p.Reference)
			out.Parameters[i] = p
			out.Parameters[i].Value, ok = asDecodedValue(p.Value, ok)
		}
	}
	if ev.Facts != nil {
		out.Facts = make([]rules.FactUse, len(ev.Facts))
		for i, f := range ev.Facts {
			ok = ok && validStrings(f.Kind, f.Snapshot, f.File, f.Match, f.PersonID)
			out.Facts[i] = f
			out.Facts[i].Values, ok = asDecodedMap(f.Values, ok)
		}
	}
	return out, ok
}

// asDecodedMap converts a JSON object's values; a nil map stays nil (null).
func asDecodedMap(m map[string]any, ok bool) (map[string]any, bool) {
	if m == nil || !ok {
		return nil, ok
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !utf8.ValidString(k) {
			return nil, false
		}
		if out[k], ok = asDecodedValue(v, true); !ok {
			return nil, false
		}
	}
	return out, true
}

// asDecodedValue converts one value as JSON would read it into an any.
func asDecodedValue(v any, ok bool) (any, bool) {
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case nil, bool:
		return x, true
	case string:
		return x, utf8.ValidString(x)
	case float64:
		return x, true // NaN and infinities fail to marshal: the run already failed
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case []string:
		if x == nil {
			return nil, true
		}
		out := make([]any, len(x))
		for i, s := range x {
			if !utf8.ValidString(s) {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	case []any:
		if x == nil {
			return nil, true
		}
		out := make([]any, len(x))
		for i, e := range x {
			if out[i], ok = asDecodedValue(e, true); !ok {
				return nil, false
			}
		}
		return out, true
	case map[string]any:
		if x == nil {
			return nil, true
		}
		return asDecodedMap(x, true)
	}
	return nil, false
}

func validStrings(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// write writes report.html and report.xlsx in dir, side by side.
func (r *run) write(ctx context.Context, dir string) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return writeAtomic(filepath.Join(dir, "report.html"), r.writeHTML) })
	g.Go(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return writeAtomic(filepath.Join(dir, "report.xlsx"), r.writeXLSX)
	})
	return g.Wait()
}
