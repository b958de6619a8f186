// Package svg draws the project's charts as inline SVG: horizontal bar
// charts (stacked or grouped) and column charts with reference marks. The
// output is plain text that needs no script, font file or network, so it can
// be pasted into a self-contained HTML page or printed.
//
// Every chart element carries data attributes (data-chart, data-category,
// data-series, data-count) so that tests and scripts can read the numbers
// back from the page. Output is deterministic: the same chart gives the same
// bytes.
package svg

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Series is one colour of a chart: a stack segment, a bar of a group or a
// column part.
type Series struct {
	Key   string // data-series; stable, not shown
	Label string // legend text
	Color string // CSS colour
}

// Category is one bar (or group of bars) of a chart.
type Category struct {
	Key    string    // data-category; stable, not shown
	Label  string    // axis text
	Values []float64 // one per series; missing ones count as 0
}

// Total returns the sum of the category's values.
func (c Category) Total() float64 {
	var t float64
	for _, v := range c.Values {
		t += v
	}
	return t
}

// Chart is the data every chart type shares.
type Chart struct {
	ID         string // data-chart
	Title      string // accessible title, also drawn on top when Caption is set
	Caption    bool
	Series     []Series
	Categories []Category
	// Max is the axis maximum; 0 means the largest bar.
	Max float64
	// Format renders values in labels; nil prints integers with thousands
	// separators.
	Format func(float64) string
	Width  int // pixels; 0 means 640
}

func (c *Chart) width() int {
	if c.Width > 0 {
		return c.Width
	}
	return 640
}

func (c *Chart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return Count(v)
}

func (c *Chart) value(ci, si int) float64 {
	vs := c.Categories[ci].Values
	if si < len(vs) {
		return vs[si]
	}
	return 0
}

// Count formats a count with thousands separators: 12,345.
func Count(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Percent formats a fraction in [0,1] as a percentage with one decimal.
func Percent(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

// Palette gives distinct colours for charts without a colour scheme.
var Palette = []string{"#2e86c1", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#7f8c8d", "#d4ac0d", "#16a085"}

const (
	fontSize = 12
	rowH     = 22
	legendH  = 24
	pad      = 8
)

// textWidth estimates the rendered width of s in pixels: CJK characters
// are one em, others about 0.6 em. Browsers do not tell a static page.
func textWidth(s string, size int) int {
	w := 0.0
	for _, r := range s {
		if r >= 0x2E80 || utf8.RuneLen(r) > 2 {
			w += float64(size)
		} else {
			w += 0.6 * float64(size)
		}
	}
	return int(math.Ceil(w))
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func px(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(s string) string { return html.EscapeString(s) }

// writer accumulates the first write error so drawing code stays linear.
type writer struct {
	w   io.Writer
	err error
}

func (w *writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

func (c *Chart) open(w *writer, width, height int, kind string, total float64) {
	w.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" data-chart="%s" data-kind="%s" data-count="%s" width="%d" height="%d" viewBox="0 0 %d %d" font-size="%d">`,
		esc(c.ID), kind, num(total), width, height, width, height, fontSize)
	w.printf(`<title>%s</title>`, esc(c.Title))
}

// legend draws the series keys in one row at y; it returns the height used.
func (c *Chart) legend(w *writer, x, y int) int {
	if len(c.Series) < 2 {
		return 0
	}
	for _, s := range c.Series {
		w.printf(`<g class="legend" data-series="%s"><rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text></g>`,
			esc(s.Key), x, y, esc(s.Color), x+16, y+10, esc(s.Label))
		x += 16 + textWidth(s.Label, fontSize) + 14
	}
	return legendH
}

func (c *Chart) total() float64 {
	var t float64
	for _, cat := range c.Categories {
		t += cat.Total()
	}
	return t
}

func (c *Chart) color(si int) string {
	if c.Series[si].Color != "" {
		return c.Series[si].Color
	}
	return Palette[si%len(Palette)]
}
