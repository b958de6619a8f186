package report

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// Sheet names of report.xlsx, in order.
const (
	SheetSummary    = "汇总"
	SheetFlags      = "疑似问题家庭"
	SheetEvidence   = "证据"
	SheetQuality    = "数据质量"
	SheetCandidates = "漏保线索"
)

// table is one sheet: a header row and data rows of strings, numbers or
// excelize.Cell values.
type table struct {
	name    string
	id      string // the Excel table's name: ASCII, unique in the workbook
	headers []string
	rows    [][]any
}

func (r *run) writeXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	styles, err := newStyles(f)
	if err != nil {
		return err
	}
	tables := []*table{r.summarySheet(), r.flagSheet(styles), r.evidenceSheet(), r.qualitySheet(styles), r.candidateSheet()}
	for i, t := range tables {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", t.name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(t.name); err != nil {
			return err
		}
		if err := writeTable(f, t, styles.header); err != nil {
			return fmt.Errorf("sheet %s: %w", t.name, err)
		}
	}
	// The first sheet is already the active one in a new file; setting it
	// again would make excelize parse every streamed sheet back.
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return err
	}
	return sortedZip(w, buf.Bytes())
}

// sortedZip copies a zip archive with its entries in name order. excelize
// writes the parts of a workbook in map order, so the same workbook came out
// as different bytes from run to run; the parts themselves are unchanged
// (copied compressed, as they are).
func sortedZip(w io.Writer, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	files := append([]*zip.File(nil), zr.File...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	zw := zip.NewWriter(w)
	for _, f := range files {
		if err := zw.Copy(f); err != nil {
			return err
		}
	}
	return zw.Close()
}

type styles struct{ header, percent, money int }

func newStyles(f *excelize.File) (styles, error) {
	var s styles
	var err error
	if s.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE8F3"}},
		Alignment: &excelize.Alignment{Vertical: "center"}}); err != nil {
		return s, err
	}
	if s.percent, err = f.NewStyle(&excelize.Style{NumFmt: 10}); err != nil {
		return s, err
	}
	s.money, err = f.NewStyle(&excelize.Style{NumFmt: 4})
	return s, err
}

// writeTable streams a sheet with a frozen, filtered header row and column
// widths fitted to the longest value (capped, so messages wrap in view).
func writeTable(f *excelize.File, t *table, headerStyle int) error {
	sw, err := f.NewStreamWriter(t.name)
	if err != nil {
		return err
	}
	for c, width := range fitWidths(t) {
		if err := sw.SetColWidth(c+1, c+1, width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	header := make([]any, len(t.headers))
	for i, h := range t.headers {
		header[i] = h
	}
	if err := sw.SetRow("A1", header, excelize.RowOpts{StyleID: headerStyle}); err != nil {
		return err
	}
	for i, row := range t.rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	// An Excel table gives the header its filter buttons; a sheet-level
	// AutoFilter is lost by the stream writer.
	last, _ := excelize.CoordinatesToCellName(len(t.headers), max(len(t.rows)+1, 2))
	noStripes := false
	if err := sw.AddTable(&excelize.Table{Range: "A1:" + last, Name: t.id, StyleName: "TableStyleLight1", ShowRowStripes: &noStripes}); err != nil {
		return err
	}
	return sw.Flush()
}

// fitWidths sizes each column to its widest value in character cells (CJK
// characters count two), between 8 and 60.
func fitWidths(t *table) []float64 {
	out := make([]float64, len(t.headers))
	measure := func(c int, v any) {
		if e, ok := v.(excelize.Cell); ok {
			v = e.Value
		}
		var s string
		switch x := v.(type) { // what fmt.Sprint gives, without its cost per cell
		case string:
			s = x
		case int:
			s = strconv.Itoa(x)
		case float64:
			s = strconv.FormatFloat(x, 'f', 2, 64)
		default:
			s = fmt.Sprint(v)
		}
		w := 0
		for _, r := range s {
			if utf8.RuneLen(r) > 1 {
				w += 2
			} else {
				w++
			}
		}
		out[c] = max(out[c], float64(w)+2)
	}
	for c, h := range t.headers {
		measure(c, h)
		out[c] += 2 // the filter button
	}
	for _, row := range t.rows {
		for c, v := range row {
			if c < len(out) {
				measure(c, v)
			}
		}
	}
	for c := range out {
		out[c] = min(max(out[c], 8), 60)
	}
	return out
}

func (r *run) summarySheet() *table {
	s := &r.summary
	t := &table{name: SheetSummary, id: "summary", headers: []string{"项目", "内容", "数量"}}
	add := func(item, text string, n any) { t.rows = append(t.rows, []any{item, text, n}) }
	add("核对基准日", s.AsOf, "")
	add("核对模式", map[bool]string{true: "全库比对", false: s.Mode}[s.Mode == "full"], "")
	add("规则集摘要", s.RuleSetDigest, "")
	add("身份证号", map[bool]string{true: "未脱敏（仅限授权人员）", false: "已脱敏"}[r.opts.Unmasked], "")
	add("救助家庭（户）", "", s.Households)
	add("家庭成员（人）", "", s.Members)
	add("漏保候选人（人）", "", s.Candidates)
	add("疑点（条）", "", s.Flags)
	add("涉及家庭（户）", "", s.FlaggedHouseholds)
	for _, o := range outcomes {
		add("结论："+o.Label, o.Key, s.ByOutcome[o.Key])
	}
	for _, id := range sortedKeys(s.ByRule) {
		add("规则："+r.title(id), id+"："+outcomeText(s.ByRule[id]), sum(s.ByRule[id]))
	}
	for _, c := range sortedKeys(s.ByCounty) {
		add("区县："+CountyName(c), c+"："+outcomeText(s.ByCounty[c]), sum(s.ByCounty[c]))
	}
	for _, q := range r.allQuality() {
		add("数据源："+KindLabel(q.Kind), fmt.Sprintf("%s，快照 %s，距基准日 %d 天", trimPath(q.Path), q.Snapshot, q.AgeDays), q.Rows)
	}
	return t
}

// outcomeText lists counts by outcome: "不符合条件 27，需核实 14".
func outcomeText(m map[string]int) string {
	var parts []string
	for _, o := range outcomes {
		if n := m[o.Key]; n > 0 {
			parts = append(parts, o.Label+" "+strconv.Itoa(n))
		}
	}
	for _, k := range sortedKeys(m) {
		if OutcomeLabel(k) == k && m[k] > 0 {
			parts = append(parts, k+" "+strconv.Itoa(m[k]))
		}
	}
	return strings.Join(parts, "，")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// householdIndex maps household IDs to their rows.
func (r *run) householdIndex() map[string]*householdLite {
	out := make(map[string]*householdLite, len(r.households))
	for i := range r.households {
		if h := &r.households[i]; !h.Candidate {
			out[h.HouseholdID] = h
		}
	}
	return out
}

// memberName returns the name of person id in household h, if known.
func memberName(h *facts.Household, id string) string {
	if h == nil || id == "" {
		return ""
	}
	for _, m := range h.Members {
		if m.PersonID == id {
			return m.Name
		}
	}
	return ""
}

func (r *run) flagSheet(st styles) *table {
	t := &table{name: SheetFlags, id: "flags", headers: []string{"家庭编号", "区县", "区划代码", "救助类别", "家庭状态", "家庭人数", "月救助金（元）",
		"成员身份证号", "成员姓名", "规则编号", "规则名称", "规则版本", "核对结论", "情况说明", "政策依据"}}
	idx := r.householdIndex()
	for i := range r.flags {
		f := &r.flags[i]
		if f.HouseholdID == "" {
			continue
		}
		var assistance, status string
		var members any = ""
		var benefit any = ""
		if h := idx[f.HouseholdID]; h != nil {
			assistance, status, members = word(h.Assistance), word(h.Status), int(h.Members)
			benefit = excelize.Cell{StyleID: st.money, Value: h.MonthlyBenefit}
		}
		name := memberName(r.facts[f.HouseholdID], f.PersonID)
		t.rows = append(t.rows, []any{f.HouseholdID, CountyName(f.RegionCode), f.RegionCode, assistance, status, members, benefit,
			r.mask.id(f.PersonID), r.mask.name(name), f.RuleID, r.title(f.RuleID), int(f.RuleVersion), OutcomeLabel(f.Outcome),
			r.text(f, f.Message), f.Basis})
	}
	return t
}

func (r *run) evidenceSheet() *table {
	t := &table{name: SheetEvidence, id: "evidence", headers: []string{"家庭编号", "成员或候选人身份证号", "规则编号", "核对结论", "数据源", "快照日期",
		"文件", "行号", "匹配方式", "记录身份证号", "记录内容"}}
	for i := range r.flags {
		f := &r.flags[i]
		for _, fu := range f.ev.Facts {
			hh := f.HouseholdID
			if hh == "" {
				hh = "漏保线索"
			}
			t.rows = append(t.rows, []any{hh, r.mask.id(f.PersonID), f.RuleID, OutcomeLabel(f.Outcome),
				KindLabel(sources.Kind(fu.Kind)), fu.Snapshot, fu.File, fu.Row, word(fu.Match), r.mask.id(fu.PersonID),
				r.recordText(f, fu)})
		}
	}
	return t
}

// recordText renders a record's values as "列：值；…" in Chinese, with
// personal values masked.
func (r *run) recordText(f *flag, fu rules.FactUse) string {
	keys := make([]string, 0, len(fu.Values))
	for k := range fu.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := valueText(fu.Values[k])
		switch {
		case personNameKeys[k]:
			v = r.mask.name(v)
		case k == "person_id":
			v = r.mask.id(v)
		default:
			if _, isText := fu.Values[k].(string); isText && v != "" {
				v = word(rw(v))
			}
		}
		parts = append(parts, columnLabel(k)+"："+v)
	}
	return r.text(f, strings.Join(parts, "；"))
}

// valueText renders a JSON value of evidence: numbers without exponent,
// lists joined by "、".
func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "是"
		}
		return "否"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = valueText(x)
		}
		return strings.Join(parts, "、")
	}
	return fmt.Sprint(v)
}

func (r *run) qualitySheet(st styles) *table {
	t := &table{name: SheetQuality, id: "quality", headers: []string{"数据源", "类型", "路径", "文件数", "快照日期", "距基准日（天）", "行数", "有效身份证号",
		"15位转18位", "隔离行数", "隔离原因", "重复行", "按身份证号匹配", "按姓名+出生日期匹配", "未匹配", "匹配率", "隔离率"}}
	for _, q := range r.allQuality() {
		t.rows = append(t.rows, []any{KindLabel(q.Kind), string(q.Kind), trimPath(q.Path), q.Files, q.Snapshot, q.AgeDays, q.Rows,
			q.ValidKeys, q.From15, q.QuarantinedTotal, reasons(q), q.DuplicateRows, q.MatchedID, q.MatchedNameDOB, q.Unmatched,
			excelize.Cell{StyleID: st.percent, Value: matchRate(q)}, excelize.Cell{StyleID: st.percent, Value: quarantineRate(q)}})
	}
	return t
}

func (r *run) candidateSheet() *table {
	t := &table{name: SheetCandidates, id: "candidates", headers: []string{"身份证号", "姓名", "区县", "区划代码", "规则编号", "规则名称", "核对结论", "情况说明",
		"政策依据", "依据数据"}}
	for i := range r.flags {
		f := &r.flags[i]
		if f.HouseholdID != "" {
			continue
		}
		name := memberName(r.facts[unitKey("", f.PersonID)], f.PersonID)
		var kinds []string
		seen := map[string]bool{}
		for _, fu := range f.ev.Facts {
			if !seen[fu.Kind] {
				seen[fu.Kind] = true
				kinds = append(kinds, KindLabel(sources.Kind(fu.Kind))+"（"+fu.Snapshot+"）")
			}
		}
		t.rows = append(t.rows, []any{r.mask.id(f.PersonID), r.mask.name(name), CountyName(f.RegionCode), f.RegionCode, f.RuleID,
			r.title(f.RuleID), OutcomeLabel(f.Outcome), r.text(f, f.Message), f.Basis, strings.Join(kinds, "、")})
	}
	return t
}
