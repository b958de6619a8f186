package report

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

//go:embed templates/household.html.tmpl
var householdTemplate string

var householdTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("household").Funcs(funcs).Parse(householdTemplate))
})

// ObjectionWorkingDays is the window for objections printed on a 核对报告.
const ObjectionWorkingDays = 5

// Household writes the printable 核对报告 of one household of the run in
// dir. id is a household ID, or the person ID of an omission candidate.
func Household(ctx context.Context, dir, id string, w io.Writer, opts Options) error {
	id = strings.TrimSpace(id)
	r, err := load(ctx, dir, opts, func(h *householdLite) bool {
		return (!h.Candidate && h.HouseholdID == id) || (h.Candidate && h.PersonID == id)
	})
	if err != nil {
		return err
	}
	if len(r.facts) == 0 {
		return fmt.Errorf("run %s has no household %q (and no omission candidate with that ID number); "+
			"give a household_id of households.parquet or the person_id of a candidate", dir, maskIDs(id))
	}
	for key, h := range r.facts {
		return householdTmpl().Execute(w, r.householdPage(key, h))
	}
	return nil
}

// AllHouseholds writes households/<id>.html in dir for every household with
// at least one flag. Omission candidates are listed in report.xlsx (漏保线索)
// and get a report one at a time through Household: a file per candidate
// would be named by an ID number.
func AllHouseholds(ctx context.Context, dir string, opts Options) error {
	r, err := load(ctx, dir, opts, func(h *householdLite) bool { return !h.Candidate && h.Flags > 0 })
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "households")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, key := range sortedKeys(r.facts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := r.facts[key]
		p := r.householdPage(key, h)
		if err := writeAtomic(filepath.Join(out, h.ID+".html"), func(w io.Writer) error { return householdTmpl().Execute(w, p) }); err != nil {
			return err
		}
	}
	return nil
}

type memberRow struct{ Name, ID, Relation, Note string }

type checkRow struct {
	Kind, Label, Snapshot string
	AgeDays               int
	Found                 []string
}

type evidenceRow struct{ Source, Snapshot, Where, Match, Text string }

type finding struct {
	N                                                          int
	Rule, Title, Outcome, OutcomeLabel, Person, Message, Basis string
	Version                                                    int32
	Downgraded                                                 bool
	Evidence                                                   []evidenceRow
	Params                                                     []string
}

type householdPage struct {
	Number, Date, AsOf, Digest, Agency, Deadline string
	Days                                         int // the objection window in working days
	Candidate, Unmasked                          bool
	ID, County, Assistance, Status, Area         string
	Benefit, PerCapita, Standard                 float64
	HasIncome                                    bool
	Members                                      []memberRow
	Sources                                      []checkRow
	Findings                                     []finding
}

func (r *run) householdPage(key string, h *facts.Household) *householdPage {
	asOf, _ := time.Parse(time.DateOnly, r.summary.AsOf)
	day := r.opts.Date
	if day.IsZero() {
		day = asOf
	}
	p := &householdPage{Date: day.Format("2006年1月2日"), AsOf: r.summary.AsOf, Digest: shortDigest(r.summary.RuleSetDigest),
		Agency: r.opts.agency(), Deadline: addWorkingDays(day, ObjectionWorkingDays).Format("2006年1月2日"), Days: ObjectionWorkingDays,
		Candidate: h.Candidate, Unmasked: r.opts.Unmasked, ID: h.ID, County: CountyName(h.Region),
		Assistance: word(h.Assistance), Status: word(h.Status), Area: word(h.Area), Benefit: h.MonthlyBenefit}
	p.Number = reportNumber(asOf, h)
	for i := range r.households {
		x := &r.households[i]
		if unitKey(x.HouseholdID, x.PersonID) == key {
			p.PerCapita, p.Standard, p.HasIncome = x.PerCapitaIncome, x.MonthlyStandard, x.MonthlyStandard > 0
		}
	}
	for _, m := range h.Members {
		row := memberRow{Name: r.mask.name(m.Name), ID: r.mask.id(m.PersonID), Relation: word(m.Relation)}
		if h.Candidate {
			row.Relation = "—"
		}
		if len(m.OtherHouseholds) > 0 {
			row.Note = "同时在救助家庭 " + strings.Join(m.OtherHouseholds, "、")
		}
		p.Members = append(p.Members, row)
	}
	for _, q := range r.quality.Sources {
		if q == nil {
			continue
		}
		row := checkRow{Kind: string(q.Kind), Label: KindLabel(q.Kind), Snapshot: q.Snapshot, AgeDays: q.AgeDays}
		for _, m := range h.Members {
			for _, line := range describe(q.Kind, m) {
				row.Found = append(row.Found, r.mask.name(m.Name)+"："+r.mask.text(line, nil))
			}
		}
		if !containsKind(p.Sources, q.Kind) {
			p.Sources = append(p.Sources, row)
		}
	}
	for i := range r.flags {
		f := &r.flags[i]
		if unitKey(f.HouseholdID, f.PersonID) != key {
			continue
		}
		p.Findings = append(p.Findings, r.finding(len(p.Findings)+1, f))
	}
	return p
}

// containsKind reports whether a kind with several manifest entries (yearly
// files) is already listed: the household's records are the same.
func containsKind(rows []checkRow, k sources.Kind) bool {
	for _, r := range rows {
		if r.Kind == string(k) {
			return true
		}
	}
	return false
}

func (r *run) finding(n int, f *flag) finding {
	fd := finding{N: n, Rule: f.RuleID, Title: r.title(f.RuleID), Version: f.RuleVersion, Outcome: f.Outcome,
		OutcomeLabel: OutcomeLabel(f.Outcome), Person: r.mask.id(f.PersonID), Message: r.text(f, f.Message),
		Basis: f.Basis, Downgraded: f.ev.Downgraded}
	for _, fu := range f.ev.Facts {
		fd.Evidence = append(fd.Evidence, evidenceRow{Source: KindLabel(sources.Kind(fu.Kind)), Snapshot: fu.Snapshot,
			Where: fu.File + " 第 " + strconv.FormatInt(fu.Row, 10) + " 行", Match: word(fu.Match), Text: r.recordText(f, fu)})
	}
	for _, pu := range f.ev.Parameters {
		fd.Params = append(fd.Params, paramText(pu))
	}
	return fd
}

func paramText(pu rules.ParamUse) string {
	s := pu.Name + " = " + valueText(pu.Value)
	if pu.Area != "" {
		s += "（" + word(pu.Area) + "）"
	}
	return s + "，自 " + pu.From + " 起；" + pu.Reference
}

// reportNumber is stable for a run: HD-<as-of>-<household ID>, or for a
// candidate HD-<as-of>-<county>-C<hash of the ID number>, so the number
// does not reveal the ID.
func reportNumber(asOf time.Time, h *facts.Household) string {
	if !h.Candidate {
		return "HD-" + asOf.Format("20060102") + "-" + h.ID
	}
	return fmt.Sprintf("HD-%s-%s-C%08x", asOf.Format("20060102"), h.Region, uint32(xxhash.Sum64String(h.Members[0].PersonID)))
}

// addWorkingDays counts n working days (Monday to Friday) after day. Public
// holidays are not known here; the report says the deadline moves with them.
func addWorkingDays(day time.Time, n int) time.Time {
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return day
}
