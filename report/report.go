// Package report turns a run folder into what county staff read, print and
// sign: report.html (scope, headline counts, SVG charts, data quality and a
// filterable table of flags), report.xlsx (one sheet per audience) and a
// printable verification report (核对报告) per household.
//
// Reports read only the run folder's files (flags.parquet,
// households.parquet, summary.json, quality.json), so they can be written
// for any earlier run.
//
// Privacy: citizen ID numbers are masked (530102********123X) and persons'
// names keep only the surname (张*, 欧**) unless Options.Unmasked is set.
// Free text (messages, evidence values) is scanned as well: any 15- or
// 18-character run that reads as an ID number is masked, and the names the
// flag's evidence and the household's members carry are replaced by their
// masked form. Household IDs and business registration numbers are not
// personal and are shown whole.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
)

// Options controls what reports show.
type Options struct {
	// Unmasked shows full ID numbers and names, for roles allowed to see them.
	Unmasked bool
	// Rules gives the rule titles; nil means the default rule set. Rules the
	// set does not know are shown by their id.
	Rules *rules.Set
	// Date is the date printed on the 核对报告; zero means the run's as-of
	// date, which keeps reports of the same run byte-identical.
	Date time.Time
	// MaxTableRows caps the flag table of report.html (the workbook always
	// has every flag); 0 means 5000.
	MaxTableRows int
	// LinkHouseholds links household IDs in report.html to
	// households/<id>.html; set it when AllHouseholds is written too.
	LinkHouseholds bool
	// Agency is the issuing office printed on the 核对报告; empty means
	// "县级民政部门（社会救助家庭经济状况核对机构）".
	Agency string
}

func (o Options) maxRows() int {
	if o.MaxTableRows > 0 {
		return o.MaxTableRows
	}
	return 5000
}

func (o Options) agency() string {
	if o.Agency != "" {
		return o.Agency
	}
	return "县级民政部门（社会救助家庭经济状况核对机构）"
}

// Write reads the outputs in the run folder dir and writes report.html and
// report.xlsx there. Each file is written under a temporary name and
// renamed, so a failed call leaves no half-written report.
func Write(ctx context.Context, dir string, opts Options) error {
	r, err := load(ctx, dir, opts, flaggedOnly)
	if err != nil {
		return err
	}
	return r.write(ctx, dir)
}

// flag is one row of flags.parquet with its evidence decoded.
type flag struct {
	review.FlagRow
	ev rules.Evidence
}

// householdLite is households.parquet without the facts column, which is
// only decoded for the households a report shows.
type householdLite struct {
	HouseholdID     string  `parquet:"household_id"`
	PersonID        string  `parquet:"person_id"`
	RegionCode      string  `parquet:"region_code"`
	Area            string  `parquet:"area"`
	Assistance      string  `parquet:"assistance"`
	Status          string  `parquet:"status"`
	Members         int32   `parquet:"members"`
	MonthlyBenefit  float64 `parquet:"monthly_benefit"`
	Candidate       bool    `parquet:"candidate"`
	Flags           int32   `parquet:"flags"`
	PerCapitaIncome float64 `parquet:"per_capita_income"`
	MonthlyStandard float64 `parquet:"monthly_standard"`
}

// run is a run folder as reports see it.
type run struct {
	dir        string
	opts       Options
	mask       masker
	summary    review.Summary
	quality    review.Quality
	flags      []flag
	households []householdLite
	// facts of the households and candidates selected at load, by unitKey.
	facts  map[string]*facts.Household
	titles map[string]string
}

// unitKey identifies a household, or a candidate by "candidate:" + person ID.
func unitKey(householdID, personID string) string {
	if householdID != "" {
		return householdID
	}
	return "candidate:" + personID
}

// selector picks the households whose facts load decodes.
type selector func(h *householdLite) bool

func flaggedOnly(h *householdLite) bool { return h.Flags > 0 }

func load(ctx context.Context, dir string, opts Options, want selector) (*run, error) {
	r := &run{dir: dir, opts: opts, mask: masker{unmasked: opts.Unmasked}, facts: map[string]*facts.Household{}}
	if err := readJSON(filepath.Join(dir, "summary.json"), &r.summary); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "quality.json"), &r.quality); err != nil {
		return nil, err
	}
	rows, err := parquet.ReadFile[review.FlagRow](filepath.Join(dir, "flags.parquet"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, "flags.parquet"), err)
	}
	r.flags = make([]flag, len(rows))
	for i, row := range rows {
		r.flags[i].FlagRow = row
		if row.Evidence == "" {
			continue
		}
		if err := json.Unmarshal([]byte(row.Evidence), &r.flags[i].ev); err != nil {
			return nil, fmt.Errorf("flags.parquet row %d (%s, household %q): evidence: %w", i+1, row.RuleID, row.HouseholdID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "households.parquet")
	if r.households, err = parquet.ReadFile[householdLite](path); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := r.loadFacts(ctx, path, want); err != nil {
		return nil, err
	}
	if err := r.loadTitles(); err != nil {
		return nil, err
	}
	return r, nil
}

// loadFacts streams households.parquet and decodes the facts of the
// households want selects, so memory follows the report, not the run.
func (r *run) loadFacts(ctx context.Context, path string, want selector) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pr := parquet.NewGenericReader[review.HouseholdRow](f)
	defer pr.Close()
	buf := make([]review.HouseholdRow, 256)
	row := 0
	for {
		n, err := pr.Read(buf)
		for i := range buf[:n] {
			row++
			h := &buf[i]
			lite := householdLite{HouseholdID: h.HouseholdID, PersonID: h.PersonID, Flags: h.Flags, Candidate: h.Candidate}
			if !want(&lite) {
				continue
			}
			if len(h.FactsBin) == 0 {
				return fmt.Errorf("%s row %d (household %q): facts_bin is empty; a run folder written before hedui stored facts in binary needs its review run again", path, row, h.HouseholdID)
			}
			hh, err := facts.DecodeBinary(h.FactsBin)
			if err != nil {
				return fmt.Errorf("%s row %d (household %q): facts_bin: %w", path, row, h.HouseholdID, err)
			}
			r.facts[unitKey(h.HouseholdID, h.PersonID)] = hh
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (r *run) loadTitles() error {
	set := r.opts.Rules
	if set == nil {
		var err error
		if set, err = rules.Default(); err != nil {
			return err
		}
	}
	r.titles = map[string]string{}
	for id, t := range extraTitles {
		r.titles[id] = t
	}
	for _, rule := range set.Rules() {
		r.titles[rule.ID] = rule.Title.Zh
	}
	return nil
}

// title returns the Chinese title of a rule, or its id.
func (r *run) title(id string) string {
	if t, ok := r.titles[id]; ok && t != "" {
		return t
	}
	return id
}

// names returns the persons' names a flag's text may quote: those of its
// household's members and those its evidence carries.
func (r *run) names(f *flag) []string {
	var out []string
	if h := r.facts[unitKey(f.HouseholdID, f.PersonID)]; h != nil {
		for _, m := range h.Members {
			out = append(out, m.Name)
		}
	}
	return append(out, evidenceNames(&f.ev)...)
}

// text masks the ID numbers and names in a flag's free text.
func (r *run) text(f *flag, s string) string { return r.mask.text(s, r.names(f)) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the run folder: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeAtomic writes path through a temporary file in the same folder.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shortDigest shows the first 12 characters of a rule-set digest.
func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// trimPath shows a source path relative to the manifest folder.
func trimPath(p string) string { return strings.TrimPrefix(p, "./") }
