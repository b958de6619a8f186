package svg

import "io"

// Mark is a vertical reference line of a column chart, e.g. the standard in
// a distribution of incomes.
type Mark struct {
	// At is the position in column units: 0 is the left edge of the first
	// column, 1 the boundary between the first and the second.
	At    float64
	Label string
	Color string // default dark red
}

// Columns is a vertical column chart: one column per category, stacked by
// series, with optional reference marks. A histogram is a column chart
// whose categories are bins.
type Columns struct {
	Chart
	Marks  []Mark
	Height int    // plot height in pixels; 0 means 200
	YLabel string // drawn above the axis
}

// Render writes the chart as one <svg> element.
func (c *Columns) Render(out io.Writer) error {
	w := &writer{w: out}
	ch := &c.Chart
	width := ch.width()
	plotH := c.Height
	if plotH <= 0 {
		plotH = 200
	}
	top := pad
	if ch.Caption {
		top += fontSize + pad
	}
	legendTop := top
	if len(ch.Series) >= 2 {
		top += legendH
	}
	if c.YLabel != "" || len(c.Marks) > 0 {
		top += fontSize + 4
	}
	left, right := 48, pad
	height := top + plotH + 2*fontSize + 2*pad
	maxV := ch.Max
	for _, cat := range ch.Categories {
		maxV = max(maxV, cat.Total())
	}
	if maxV <= 0 {
		maxV = 1
	}
	n := max(len(ch.Categories), 1)
	colW := float64(width-left-right) / float64(n)
	scale := float64(plotH) / maxV
	base := float64(top + plotH)
	ch.open(w, width, height, "columns", ch.total())
	if ch.Caption {
		w.printf(`<text class="caption" x="%d" y="%d" font-weight="bold">%s</text>`, pad, pad+fontSize, esc(ch.Title))
	}
	ch.legend(w, left, legendTop)
	if c.YLabel != "" {
		w.printf(`<text x="%d" y="%d" fill="#555">%s</text>`, pad, top-4, esc(c.YLabel))
	}
	w.printf(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#999"/>`, left, px(base), width-right, px(base))
	w.printf(`<text x="%d" y="%s" text-anchor="end" fill="#555">%s</text><text x="%d" y="%s" text-anchor="end" fill="#555">0</text>`,
		left-4, px(base-float64(plotH)+fontSize), esc(ch.format(maxV)), left-4, px(base))
	for ci, cat := range ch.Categories {
		x := float64(left) + float64(ci)*colW
		w.printf(`<g class="column" data-category="%s" data-count="%s">`, esc(cat.Key), num(cat.Total()))
		y := base
		for si := range ch.Series {
			v := ch.value(ci, si)
			if v <= 0 {
				continue
			}
			h := v * scale
			y -= h
			w.printf(`<rect data-series="%s" data-count="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s %s：%s</title></rect>`,
				esc(ch.Series[si].Key), num(v), px(x+2), px(y), px(max(colW-4, 1)), px(h), esc(ch.color(si)),
				esc(cat.Label), esc(ch.Series[si].Label), esc(ch.format(v)))
		}
		if t := cat.Total(); t > 0 {
			w.printf(`<text class="value" x="%s" y="%s" text-anchor="middle" font-size="10">%s</text>`, px(x+colW/2), px(y-3), esc(ch.format(t)))
		}
		w.printf(`<text x="%s" y="%s" text-anchor="middle" font-size="10">%s</text></g>`, px(x+colW/2), px(base+fontSize+2), esc(cat.Label))
	}
	for _, m := range c.Marks {
		x := float64(left) + m.At*colW
		color := m.Color
		if color == "" {
			color = "#a93226"
		}
		w.printf(`<g class="mark" data-at="%s"><line x1="%s" y1="%d" x2="%s" y2="%s" stroke="%s" stroke-width="2" stroke-dasharray="5,3"/><text x="%s" y="%d" fill="%s" text-anchor="middle">%s</text></g>`,
			num(m.At), px(x), top-2, px(x), px(base), esc(color), px(x), top-4, esc(color), esc(m.Label))
	}
	w.printf(`</svg>`)
	return w.err
}
