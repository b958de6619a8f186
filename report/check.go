package report

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// CheckData is one intake check (逢进必核) held in memory: what Check
// needs to print its 核对报告 without a run folder.
type CheckData struct {
	// Household is the checked household; its ID is the check's ID, which
	// the report number carries.
	Household *facts.Household
	Flags     []rules.Flag
	// AsOf is the date the check was made as of.
	AsOf          time.Time
	RuleSetDigest string
	// Snapshots gives the snapshot date of each source kind the check read.
	Snapshots map[sources.Kind]time.Time
}

// Check writes the printable 核对报告 of one check: the same page Household
// writes for a household of a run, built from the check's own data.
func Check(w io.Writer, c CheckData, opts Options) error {
	r := &run{opts: opts, mask: masker{unmasked: opts.Unmasked}, facts: map[string]*facts.Household{}}
	r.summary = review.Summary{AsOf: c.AsOf.Format(time.DateOnly), Mode: string(rules.ModeIncremental), RuleSetDigest: c.RuleSetDigest}
	kinds := make([]sources.Kind, 0, len(c.Snapshots))
	for k := range c.Snapshots {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b sources.Kind) int { return kindRank(a) - kindRank(b) })
	for _, k := range kinds {
		snap := c.Snapshots[k]
		r.quality.Sources = append(r.quality.Sources, &sources.Quality{Kind: k, Snapshot: snap.Format(time.DateOnly),
			AgeDays: int(c.AsOf.Sub(snap).Hours() / 24)})
	}
	h := c.Household
	key := unitKey(h.ID, "")
	r.facts[key] = h
	for _, f := range c.Flags {
		// The evidence as a run's report reads it back from flags.parquet,
		// so that the page renders and masks it the same way.
		ev, err := decodedEvidence(&f.Evidence)
		if err != nil {
			return fmt.Errorf("flag %s: evidence: %w", f.RuleID, err)
		}
		r.flags = append(r.flags, flag{FlagRow: review.FlagRow{HouseholdID: h.ID, PersonID: f.PersonID, RegionCode: h.Region,
			RuleID: f.RuleID, RuleVersion: int32(f.RuleVersion), Outcome: string(f.Outcome), Message: f.Message, Basis: f.Basis},
			ev: ev})
	}
	if err := r.loadTitles(); err != nil {
		return err
	}
	return householdTmpl().Execute(w, r.householdPage(key, h))
}

// kindRank orders source kinds as sources.SourceKinds lists them (the
// order of a run's quality.json), unknown kinds last.
func kindRank(k sources.Kind) int {
	if i := slices.Index(sources.SourceKinds, k); i >= 0 {
		return i
	}
	return len(sources.SourceKinds)
}

// MaskText masks every run of characters in s that reads as an ID number
// (530102********123X), as reports mask free text: for log lines and error
// messages built from outside input.
func MaskText(s string) string { return maskIDs(s) }
