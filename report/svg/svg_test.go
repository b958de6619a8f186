package svg

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func twoSeries() []Series {
	return []Series{{Key: "a", Label: "甲", Color: "#f00"}, {Key: "b", Label: "乙"}}
}

func render(t *testing.T, c interface{ Render(w *bytes.Buffer) error }) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

type barsR struct{ *Bars }

func (b barsR) Render(w *bytes.Buffer) error { return b.Bars.Render(w) }

type colsR struct{ *Columns }

func (c colsR) Render(w *bytes.Buffer) error { return c.Columns.Render(w) }

var attr = regexp.MustCompile(`<g class="(?:bar|column)" data-category="([^"]*)" data-count="([^"]*)"`)

func TestChartsCarryTheirCounts(t *testing.T) {
	cats := []Category{{Key: "x", Label: "<x&y>", Values: []float64{3, 4}}, {Key: "z", Label: "丙", Values: []float64{0, 1}}, {Key: "e", Label: "空"}}
	for _, c := range []struct {
		name string
		r    interface{ Render(w *bytes.Buffer) error }
	}{
		{"stacked", barsR{&Bars{Chart: Chart{ID: "t", Title: "标题", Series: twoSeries(), Categories: cats}}}},
		{"grouped", barsR{&Bars{Grouped: true, Chart: Chart{ID: "t", Series: twoSeries(), Categories: cats}}}},
		{"columns", colsR{&Columns{Marks: []Mark{{At: 1, Label: "标准"}}, Chart: Chart{ID: "t", Series: twoSeries(), Categories: cats}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := render(t, c.r)
			if !strings.HasPrefix(out, `<svg xmlns="http://www.w3.org/2000/svg"`) || !strings.HasSuffix(out, "</svg>") {
				t.Fatalf("not one svg element: %.80s…", out)
			}
			if !strings.Contains(out, `data-chart="t"`) || !strings.Contains(out, `data-count="8"`) {
				t.Errorf("chart total missing: %.200s", out)
			}
			got := attr.FindAllStringSubmatch(out, -1)
			want := [][2]string{{"x", "7"}, {"z", "1"}, {"e", "0"}}
			if len(got) != len(want) {
				t.Fatalf("%d categories drawn, want %d", len(got), len(want))
			}
			for i, w := range want {
				if got[i][1] != w[0] || got[i][2] != w[1] {
					t.Errorf("category %d = %s/%s, want %s/%s", i, got[i][1], got[i][2], w[0], w[1])
				}
			}
			if strings.Contains(out, "<x&y>") || !strings.Contains(out, "&lt;x&amp;y&gt;") {
				t.Error("label not escaped")
			}
			if again := render(t, c.r); again != out {
				t.Error("two renders differ")
			}
		})
	}
}

func TestEmptyBarsSayNoData(t *testing.T) {
	out := render(t, barsR{&Bars{Chart: Chart{ID: "e"}}})
	if !strings.Contains(out, "无数据") || !strings.Contains(out, `data-count="0"`) {
		t.Errorf("empty chart: %s", out)
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Count(0), "0"}, {Count(999), "999"}, {Count(1000), "1,000"}, {Count(1234567), "1,234,567"}, {Count(-4321), "-4,321"},
		{Percent(0.1234), "12.3%"}, {Percent(1), "100.0%"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
