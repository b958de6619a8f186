package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hedui/hedui/report/svg"
	"github.com/hedui/hedui/sources"
)

//go:embed templates/report.html.tmpl
var reportTemplate string

//go:embed templates/style.css
var styleCSS string

// cjkFont is a GB 2312 subset of Noto Sans CJK SC (fonts/README.md): inlined
// in report.html so that the page shows Chinese on any machine, with no
// network and no installed CJK font.
//
//go:embed fonts/NotoSansSC-GB2312.woff2
var cjkFont []byte

// fontFace is the @font-face rule that carries cjkFont as a data URL; the
// family name comes first in style.css, so pages without the rule (the
// per-household reports, printed where they are made) use the system fonts.
// It is made on first use: every hedui command links this package, few
// write a report.
var fontFace = sync.OnceValue(func() template.CSS {
	return template.CSS(`@font-face { font-family: "hedui CJK"; font-display: swap; src: url(data:font/woff2;base64,` +
		base64.StdEncoding.EncodeToString(cjkFont) + `) format("woff2"); }`)
})

var funcs = template.FuncMap{
	"count":    func(n any) string { return svg.Count(toFloat(n)) },
	"percent":  svg.Percent,
	"css":      func() template.CSS { return template.CSS(styleCSS) },
	"fontface": func() template.CSS { return fontFace() },
}

var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(funcs).Parse(reportTemplate))
})

func toFloat(n any) float64 {
	switch n := n.(type) {
	case int:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

type card struct {
	ID, Label string
	Count     int
}

type sourceRow struct {
	Kind, Label, Path, Snapshot string
	AgeDays, Files              int
}

type qualityRow struct {
	Label, Path, Snapshot                                                   string
	AgeDays                                                                 int
	Rows, Valid, From15, Quarantined, Duplicates, MatchedID, NameDOB, Unmat int64
	Reasons                                                                 string
	MatchRate, QuarantineRate                                               float64
}

type option struct {
	Value, Label string
	Count        int
}

type tableRow struct {
	County, CountyName, Rule, RuleTitle, Outcome, OutcomeLabel string
	Household, Link, Person, Message                           string
}

type page struct {
	Scope       sourceRow // the roster
	AsOf, Mode  string
	Digest      string
	DigestShort string
	Manifest    string
	Unmasked    bool
	Sources     []sourceRow
	Cards       []card
	Outcomes    []card
	ByRule      template.HTML
	ByCounty    template.HTML
	Rates       template.HTML
	Income      template.HTML
	IncomeN     int
	IncomeAbove int
	Quality     []qualityRow
	Counties    []option
	Rules       []option
	OutcomeOpts []option
	Rows        []tableRow
	Total       int
	Truncated   bool
}

func (r *run) writeHTML(w io.Writer) error {
	p, err := r.page()
	if err != nil {
		return err
	}
	return pageTmpl().Execute(w, p)
}

func (r *run) page() (*page, error) {
	s := &r.summary
	p := &page{AsOf: s.AsOf, Mode: s.Mode, Digest: s.RuleSetDigest, DigestShort: shortDigest(s.RuleSetDigest),
		Manifest: trimPath(s.Manifest), Unmasked: r.opts.Unmasked, Total: len(r.flags)}
	for _, q := range r.allQuality() {
		row := sourceRow{Kind: string(q.Kind), Label: KindLabel(q.Kind), Path: trimPath(q.Path), Snapshot: q.Snapshot, AgeDays: q.AgeDays, Files: q.Files}
		p.Sources = append(p.Sources, row)
		p.Quality = append(p.Quality, qualityRow{Label: row.Label, Path: row.Path, Snapshot: q.Snapshot, AgeDays: q.AgeDays,
			Rows: q.Rows, Valid: q.ValidKeys, From15: q.From15, Quarantined: q.QuarantinedTotal, Duplicates: q.DuplicateRows,
			MatchedID: q.MatchedID, NameDOB: q.MatchedNameDOB, Unmat: q.Unmatched, Reasons: reasons(q),
			MatchRate: matchRate(q), QuarantineRate: quarantineRate(q)})
	}
	p.Cards = []card{{"households", "救助家庭（户）", s.Households}, {"members", "家庭成员（人）", s.Members},
		{"candidates", "漏保候选人（人）", s.Candidates}, {"flags", "疑点（条）", s.Flags},
		{"flagged-households", "涉及家庭（户）", s.FlaggedHouseholds}}
	for _, o := range outcomes {
		p.Outcomes = append(p.Outcomes, card{o.Key, o.Label, s.ByOutcome[o.Key]})
	}
	var err error
	charts := []struct {
		dst    *template.HTML
		render func(*bytes.Buffer) error
	}{
		{&p.ByRule, func(b *bytes.Buffer) error { return r.flagsByRule().Render(b) }},
		{&p.ByCounty, func(b *bytes.Buffer) error { return r.flagsByCounty().Render(b) }},
		{&p.Rates, func(b *bytes.Buffer) error { return r.rates().Render(b) }},
		{&p.Income, func(b *bytes.Buffer) error {
			c := r.incomeDistribution()
			for i, cat := range c.Categories {
				p.IncomeN += int(cat.Total())
				if i >= standardMark {
					p.IncomeAbove += int(cat.Total())
				}
			}
			return c.Render(b)
		}},
	}
	for _, c := range charts {
		if *c.dst, err = inline(c.render); err != nil {
			return nil, err
		}
	}
	r.table(p)
	return p, nil
}

// reasons lists the quarantine counts by reason: "checksum 26，empty 17".
func reasons(q *sources.Quality) string {
	var parts []string
	for _, k := range sortedKeys(q.Quarantined) {
		if n := q.Quarantined[k]; n > 0 {
			parts = append(parts, reasonLabel(k)+" "+strconv.FormatInt(n, 10))
		}
	}
	return strings.Join(parts, "，")
}

var reasonLabels = map[string]string{"empty": "为空", "length": "位数错误", "characters": "含非法字符",
	"checksum": "校验位错误", "birth_date": "出生日期无效", "address": "地址码无效"}

func reasonLabel(k string) string {
	if l, ok := reasonLabels[k]; ok {
		return l
	}
	return k
}

// table fills the flag table and its filter options.
func (r *run) table(p *page) {
	counties, ruleCount, outcomeCount := map[string]int{}, map[string]int{}, map[string]int{}
	for i := range r.flags {
		f := &r.flags[i]
		counties[f.RegionCode]++
		ruleCount[f.RuleID]++
		outcomeCount[f.Outcome]++
		if len(p.Rows) >= r.opts.maxRows() {
			p.Truncated = true
			continue
		}
		row := tableRow{County: f.RegionCode, CountyName: CountyName(f.RegionCode), Rule: f.RuleID, RuleTitle: r.title(f.RuleID),
			Outcome: f.Outcome, OutcomeLabel: OutcomeLabel(f.Outcome), Household: f.HouseholdID,
			Person: r.mask.id(f.PersonID), Message: r.text(f, f.Message)}
		if f.HouseholdID != "" && r.opts.LinkHouseholds {
			row.Link = "households/" + f.HouseholdID + ".html"
		}
		p.Rows = append(p.Rows, row)
	}
	for _, c := range sortedKeys(counties) {
		p.Counties = append(p.Counties, option{c, CountyName(c), counties[c]})
	}
	for _, id := range sortedKeys(ruleCount) {
		p.Rules = append(p.Rules, option{id, r.title(id), ruleCount[id]})
	}
	for _, o := range outcomes {
		if n := outcomeCount[o.Key]; n > 0 {
			p.OutcomeOpts = append(p.OutcomeOpts, option{o.Key, o.Label, n})
			delete(outcomeCount, o.Key)
		}
	}
	rest := sortedKeys(outcomeCount)
	sort.Strings(rest)
	for _, o := range rest {
		p.OutcomeOpts = append(p.OutcomeOpts, option{o, o, outcomeCount[o]})
	}
}
