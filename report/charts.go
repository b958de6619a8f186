package report

import (
	"bytes"
	"html/template"
	"strconv"

	"github.com/hedui/hedui/report/svg"
	"github.com/hedui/hedui/sources"
)

// inline renders a chart for the page. The svg package escapes all text, so
// its output is safe as template.HTML.
func inline(render func(*bytes.Buffer) error) (template.HTML, error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// flagsByRule is a stacked bar per rule, split by outcome.
func (r *run) flagsByRule() *svg.Bars {
	seen := map[string]bool{}
	for _, byO := range r.summary.ByRule {
		for o := range byO {
			seen[o] = true
		}
	}
	series := outcomeSeries(seen)
	c := &svg.Bars{Chart: svg.Chart{ID: "flags-by-rule", Title: "按规则和结论统计的疑点数", Series: series, Width: 900}}
	for _, id := range sortedKeys(r.summary.ByRule) {
		c.Categories = append(c.Categories, svg.Category{Key: id, Label: r.title(id), Values: valuesOf(series, r.summary.ByRule[id])})
	}
	return c
}

// flagsByCounty is a stacked bar per county, split by outcome.
func (r *run) flagsByCounty() *svg.Bars {
	seen := map[string]bool{}
	for _, byO := range r.summary.ByCounty {
		for o := range byO {
			seen[o] = true
		}
	}
	series := outcomeSeries(seen)
	c := &svg.Bars{Chart: svg.Chart{ID: "flags-by-county", Title: "按区县统计的疑点数", Series: series, Width: 900}}
	for _, code := range sortedKeys(r.summary.ByCounty) {
		c.Categories = append(c.Categories, svg.Category{Key: code, Label: CountyName(code), Values: valuesOf(series, r.summary.ByCounty[code])})
	}
	return c
}

func valuesOf(series []svg.Series, counts map[string]int) []float64 {
	out := make([]float64, len(series))
	for i, s := range series {
		out[i] = float64(counts[s.Key])
	}
	return out
}

// allQuality returns the roster then every source, as quality.json orders them.
func (r *run) allQuality() []*sources.Quality {
	var out []*sources.Quality
	if r.quality.Roster != nil {
		out = append(out, r.quality.Roster)
	}
	for _, q := range r.quality.Sources {
		if q != nil {
			out = append(out, q)
		}
	}
	return out
}

func matchRate(q *sources.Quality) float64 {
	if q.Rows == 0 {
		return 0
	}
	return float64(q.MatchedID+q.MatchedNameDOB) / float64(q.Rows)
}

func quarantineRate(q *sources.Quality) float64 {
	if q.Rows == 0 {
		return 0
	}
	return float64(q.QuarantinedTotal) / float64(q.Rows)
}

// rates draws the match and quarantine rates of every source side by side.
func (r *run) rates() *svg.Bars {
	c := &svg.Bars{Grouped: true, Chart: svg.Chart{ID: "rates-by-source", Title: "各数据源匹配率与隔离率", Width: 900, Max: 1,
		Format: svg.Percent,
		Series: []svg.Series{{Key: "match", Label: "匹配率（与名册人员关联的行）", Color: "#27ae60"},
			{Key: "quarantine", Label: "隔离率（身份证号无效的行）", Color: "#c0392b"}}}}
	for i, q := range r.allQuality() {
		c.Categories = append(c.Categories, svg.Category{Key: string(q.Kind) + "#" + strconv.Itoa(i), Label: KindLabel(q.Kind),
			Values: []float64{matchRate(q), quarantineRate(q)}})
	}
	return c
}

// incomeBins are the bins of per-capita counted income as a multiple of
// the monthly standard; bin i holds ratios in (lo[i-1], lo[i]], the first
// exactly zero.
var incomeBins = []struct {
	key, label string
	upTo       float64
}{
	{"0", "0", 0}, {"0-0.25", "≤0.25倍", 0.25}, {"0.25-0.5", "0.25–0.5", 0.5}, {"0.5-0.75", "0.5–0.75", 0.75},
	{"0.75-1", "0.75–1", 1}, {"1-1.25", "1–1.25", 1.25}, {"1.25-1.5", "1.25–1.5", 1.5}, {"1.5-2", "1.5–2", 2},
	{"2-", ">2倍", 0},
}

// standardMark is the position of the standard in incomeBins: after (0.75, 1].
const standardMark = 5

func incomeBin(ratio float64) int {
	if ratio <= 0 {
		return 0
	}
	for i := 1; i < len(incomeBins)-1; i++ {
		if ratio <= incomeBins[i].upTo+1e-9 {
			return i
		}
	}
	return len(incomeBins) - 1
}

// assistanceSeries splits the income distribution by assistance type.
var assistanceSeries = []svg.Series{{Key: "dibao", Label: "低保", Color: "#2e86c1"}, {Key: "tekun", Label: "特困供养", Color: "#8e44ad"},
	{Key: "edge", Label: "低保边缘", Color: "#d68910"}, {Key: "other", Label: "其他", Color: "#7f8c8d"}}

// incomeDistribution counts roster households (not candidates) by their
// per-capita counted income over the standard that applies to them.
func (r *run) incomeDistribution() *svg.Columns {
	c := &svg.Columns{Marks: []svg.Mark{{At: standardMark, Label: "低保标准"}}, YLabel: "户数", Height: 220,
		Chart: svg.Chart{ID: "income-distribution", Title: "家庭人均认定收入与低保标准之比的分布", Series: assistanceSeries, Width: 900}}
	c.Categories = make([]svg.Category, len(incomeBins))
	for i, b := range incomeBins {
		c.Categories[i] = svg.Category{Key: b.key, Label: b.label, Values: make([]float64, len(assistanceSeries))}
	}
	for i := range r.households {
		h := &r.households[i]
		if h.Candidate || h.MonthlyStandard <= 0 {
			continue
		}
		s := len(assistanceSeries) - 1
		for j, a := range assistanceSeries[:s] {
			if a.Key == h.Assistance {
				s = j
			}
		}
		c.Categories[incomeBin(h.PerCapitaIncome/h.MonthlyStandard)].Values[s]++
	}
	return c
}
