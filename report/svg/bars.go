package svg

import "io"

// Bars is a horizontal bar chart: one row per category. With several series
// the bar is split into stacked segments, or, when Grouped, drawn as one
// thin bar per series (for rates that do not add up).
type Bars struct {
	Chart
	Grouped bool
}

// Render writes the chart as one <svg> element.
func (b *Bars) Render(out io.Writer) error {
	w := &writer{w: out}
	c := &b.Chart
	labelW := 0
	for _, cat := range c.Categories {
		labelW = max(labelW, textWidth(cat.Label, fontSize))
	}
	labelW += pad
	valueW := 64
	width := c.width()
	plotW := float64(width - labelW - valueW - 2*pad)
	if plotW < 40 {
		plotW = 40
	}
	per := len(c.Series)
	if per == 0 {
		per = 1
	}
	rowHeight := rowH
	if b.Grouped {
		rowHeight = per*12 + 8
	}
	top := pad
	if c.Caption {
		top += fontSize + pad
	}
	legendTop := top
	if len(c.Series) >= 2 {
		top += legendH
	}
	height := top + rowHeight*len(c.Categories) + pad
	if len(c.Categories) == 0 {
		height += rowH
	}
	maxV := c.Max
	if maxV <= 0 {
		for ci, cat := range c.Categories {
			if b.Grouped {
				for si := range c.Series {
					maxV = max(maxV, c.value(ci, si))
				}
			} else {
				maxV = max(maxV, cat.Total())
			}
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	scale := plotW / maxV
	c.open(w, width, height, "bars", c.total())
	if c.Caption {
		w.printf(`<text class="caption" x="%d" y="%d" font-weight="bold">%s</text>`, pad, pad+fontSize, esc(c.Title))
	}
	c.legend(w, labelW+pad, legendTop)
	x0 := float64(labelW + pad)
	w.printf(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#999"/>`, px(x0), top, px(x0), height-pad)
	if len(c.Categories) == 0 {
		w.printf(`<text x="%s" y="%d" fill="#666">无数据</text>`, px(x0+pad), top+15)
	}
	for ci, cat := range c.Categories {
		y := float64(top + ci*rowHeight)
		w.printf(`<g class="bar" data-category="%s" data-count="%s">`, esc(cat.Key), num(cat.Total()))
		w.printf(`<text x="%d" y="%s" text-anchor="end">%s</text>`, labelW, px(y+float64(rowHeight)/2+4), esc(cat.Label))
		if b.Grouped {
			b.drawGroup(w, ci, x0, y, scale)
		} else {
			b.drawStack(w, ci, x0, y, scale)
		}
		w.printf(`</g>`)
	}
	w.printf(`</svg>`)
	return w.err
}

func (b *Bars) drawStack(w *writer, ci int, x0, y, scale float64) {
	c := &b.Chart
	x := x0
	for si := range c.Series {
		v := c.value(ci, si)
		if v <= 0 {
			continue
		}
		bw := v * scale
		w.printf(`<rect data-series="%s" data-count="%s" x="%s" y="%s" width="%s" height="14" fill="%s"><title>%s：%s</title></rect>`,
			esc(c.Series[si].Key), num(v), px(x), px(y+4), px(bw), esc(c.color(si)), esc(c.Series[si].Label), esc(c.format(v)))
		x += bw
	}
	w.printf(`<text class="value" x="%s" y="%s">%s</text>`, px(x+4), px(y+15), esc(c.format(c.Categories[ci].Total())))
}

func (b *Bars) drawGroup(w *writer, ci int, x0, y, scale float64) {
	c := &b.Chart
	for si := range c.Series {
		v := c.value(ci, si)
		by := y + 4 + float64(si*12)
		bw := v * scale
		w.printf(`<rect data-series="%s" data-count="%s" x="%s" y="%s" width="%s" height="10" fill="%s"><title>%s：%s</title></rect>`,
			esc(c.Series[si].Key), num(v), px(x0), px(by), px(bw), esc(c.color(si)), esc(c.Series[si].Label), esc(c.format(v)))
		w.printf(`<text class="value" x="%s" y="%s" font-size="10">%s</text>`, px(x0+bw+4), px(by+9), esc(c.format(v)))
	}
}
