package whatif

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/hedui/hedui/report"
	"github.com/hedui/hedui/report/svg"
)

var page = template.Must(template.New("whatif").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>政策模拟 what-if</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;max-width:980px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.note{color:#555;font-size:13px}pre{background:#f7f7f7;padding:8px;font-size:12px}
</style></head><body>
<h1>政策模拟（what-if）</h1>
<p class="note">核对批次 {{.Run}} · 核对日 {{.AsOf}} · 规则集 {{.Digest}}</p>
{{if .Settings}}<table><tr><th class="l">参数调整 setting</th></tr>{{range .Settings}}<tr><td class="l"><code>{{.}}</code></td></tr>{{end}}</table>{{end}}
{{if .Total}}
<h2>总体 Totals</h2>
<table>
<tr><th></th><th>调整前 before</th><th>调整后 after</th><th>变化 change</th></tr>
<tr><td class="l">符合条件的低保户 eligible dibao households</td><td>{{.EligibleBefore}}</td><td>{{.EligibleAfter}}</td><td>{{.EligibleDelta}}</td></tr>
<tr><td class="l">月保障金合计 monthly benefit total (元)</td><td>{{.BenefitBefore}}</td><td>{{.BenefitAfter}}</td><td>{{.BenefitDelta}}</td></tr>
</table>
<table><tr><th>新增疑点 newly flagged</th><th>疑点消除 cleared</th><th>结论改变 changed</th><th>涉及家庭 households</th><th>重新计算 re-evaluated</th></tr>
<tr><td>{{.Total.NewlyFlagged}}</td><td>{{.Total.Cleared}}</td><td>{{.Total.Changed}}</td><td>{{.Total.HouseholdsChanged}}</td><td>{{.Evaluated}}</td></tr></table>
<h2>按区县 By county</h2>
{{.ByCounty}}
{{.EligibleByCounty}}
{{.BenefitByCounty}}
<h2>按规则 By rule</h2>
{{.ByRule}}
{{end}}
{{if .Sweep}}
<h2>参数扫描 Sweep: {{.SweepParam}}</h2>
{{.SweepEligible}}
{{.SweepBenefit}}
<table><tr><th>value</th><th>eligible</th><th>benefit total (元)</th><th>newly flagged</th><th>cleared</th><th>changed</th></tr>
{{range .Sweep}}<tr><td>{{.Value}}</td><td>{{.Totals.EligibleAfter}}</td><td>{{printf "%.2f" .Totals.BenefitAfter}}</td><td>{{.Totals.NewlyFlagged}}</td><td>{{.Totals.Cleared}}</td><td>{{.Totals.Changed}}</td></tr>{{end}}
</table>
{{end}}
<p class="note">{{.Benefit}}</p>
{{range .Overrides}}<pre>{{.}}</pre>{{end}}
</body></html>
`))

type pageData struct {
	Run, AsOf, Digest                            string
	Settings, Overrides                          []string
	Total                                        *Totals
	Evaluated                                    int
	EligibleBefore, EligibleAfter, EligibleDelta string
	BenefitBefore, BenefitAfter, BenefitDelta    string
	ByCounty, EligibleByCounty, BenefitByCounty  template.HTML
	ByRule                                       template.HTML
	Sweep                                        []Step
	SweepParam                                   string
	SweepEligible, SweepBenefit                  template.HTML
	Benefit                                      string
}

func writeHTML(path string, rep *Report) error {
	s := rep.summary()
	d := pageData{Run: s.Run, AsOf: s.AsOf, Digest: s.RuleSetDigest, Settings: s.Settings, Overrides: s.Overrides,
		Evaluated: s.Evaluated, Benefit: BenefitDefinition}
	var err error
	if sc := rep.Scenario; sc != nil {
		t := sc.Total
		d.Total = &t
		d.EligibleBefore, d.EligibleAfter = svg.Count(float64(t.EligibleBefore)), svg.Count(float64(t.EligibleAfter))
		d.EligibleDelta = signed(float64(t.EligibleAfter-t.EligibleBefore), svg.Count)
		d.BenefitBefore, d.BenefitAfter = yuan(t.BenefitBefore), yuan(t.BenefitAfter)
		d.BenefitDelta = signed(t.BenefitAfter-t.BenefitBefore, yuan)
		if d.ByCounty, err = render(changesChart("changes-by-county", "按区县的疑点变化", countyCats(sc))); err != nil {
			return err
		}
		if d.ByRule, err = render(changesChart("changes-by-rule", "按规则的疑点变化", ruleCats(sc))); err != nil {
			return err
		}
		if d.EligibleByCounty, err = render(beforeAfter(sc, "eligible-by-county", "按区县符合条件的低保户", nil,
			func(t *Totals) (float64, float64) { return float64(t.EligibleBefore), float64(t.EligibleAfter) })); err != nil {
			return err
		}
		if d.BenefitByCounty, err = render(beforeAfter(sc, "benefit-by-county", "按区县月保障金合计（元）", yuan,
			func(t *Totals) (float64, float64) { return t.BenefitBefore, t.BenefitAfter })); err != nil {
			return err
		}
	}
	if rep.Sweep != nil {
		d.Sweep, d.SweepParam = rep.Steps, rep.Sweep.target()
		if d.SweepEligible, err = render(sweepChart(rep, "sweep-eligible", "符合条件的低保户数", "#2e86c1",
			func(t Totals) float64 { return float64(t.EligibleAfter) })); err != nil {
			return err
		}
		// In 万元: a whole province's total in 元 does not fit the axis.
		if d.SweepBenefit, err = render(sweepChart(rep, "sweep-benefit", "月保障金合计（万元）", "#d68910",
			func(t Totals) float64 { return math.Round(t.BenefitAfter/100) / 100 })); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// render draws a chart; the svg package escapes every text, so its output is
// safe as template.HTML.
func render(c interface{ Render(io.Writer) error }) (template.HTML, error) {
	var b bytes.Buffer
	if err := c.Render(&b); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

var changeSeries = []svg.Series{
	{Key: "newly_flagged", Label: "新增疑点", Color: "#c0392b"},
	{Key: "cleared", Label: "疑点消除", Color: "#27ae60"},
	{Key: "changed", Label: "结论改变", Color: "#d68910"},
}

func countyCats(sc *Scenario) []svg.Category {
	var out []svg.Category
	for _, c := range sortedKeys(sc.ByCounty) {
		t := sc.ByCounty[c]
		if t.NewlyFlagged+t.Cleared+t.Changed == 0 {
			continue
		}
		out = append(out, svg.Category{Key: c, Label: report.CountyName(c), Values: []float64{float64(t.NewlyFlagged), float64(t.Cleared), float64(t.Changed)}})
	}
	return out
}

func ruleCats(sc *Scenario) []svg.Category {
	var out []svg.Category
	for _, id := range sortedKeys(sc.ByRule) {
		t := sc.ByRule[id]
		label := id
		if r, ok := sc.Set.Rule(id); ok {
			label = r.Title.Zh
		}
		out = append(out, svg.Category{Key: id, Label: label, Values: []float64{float64(t.NewlyFlagged), float64(t.Cleared), float64(t.Changed)}})
	}
	return out
}

func changesChart(id, title string, cats []svg.Category) *svg.Bars {
	return &svg.Bars{Chart: svg.Chart{ID: id, Title: title, Caption: true, Series: changeSeries, Categories: cats, Width: 900}}
}

func beforeAfter(sc *Scenario, id, title string, format func(float64) string, get func(*Totals) (float64, float64)) *svg.Bars {
	c := &svg.Bars{Grouped: true, Chart: svg.Chart{ID: id, Title: title, Caption: true, Width: 900, Format: format,
		Series: []svg.Series{{Key: "before", Label: "调整前", Color: "#7f8c8d"}, {Key: "after", Label: "调整后", Color: "#2e86c1"}}}}
	for _, code := range sortedKeys(sc.ByCounty) {
		b, a := get(sc.ByCounty[code])
		if b == 0 && a == 0 {
			continue
		}
		c.Categories = append(c.Categories, svg.Category{Key: code, Label: report.CountyName(code), Values: []float64{b, a}})
	}
	return c
}

func sweepChart(rep *Report, id, title, color string, get func(Totals) float64) *svg.Columns {
	c := &svg.Columns{Chart: svg.Chart{ID: id, Title: title, Caption: true, Width: 900,
		Series: []svg.Series{{Key: id, Label: title, Color: color}}}}
	for _, st := range rep.Steps {
		v := strconv.FormatFloat(st.Value, 'f', -1, 64)
		c.Categories = append(c.Categories, svg.Category{Key: v, Label: v, Values: []float64{get(st.Totals)}})
	}
	return c
}

// yuan formats an amount with thousands separators and 2 decimals.
func yuan(v float64) string {
	fen := int64(math.Round(v * 100))
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + svg.Count(float64(fen/100)) + fmt.Sprintf(".%02d", fen%100)
}

func signed(v float64, f func(float64) string) string {
	if v > 0 {
		return "+" + f(v)
	}
	return f(v)
}
