package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/xuri/excelize/v2"

	"github.com/hedui/hedui/internal/testregion"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources/personid"
)

// genRun generates one small region and reviews it, once per test binary;
// tests copy the run folder's inputs before writing reports into it.
var genRun = sync.OnceValues(func() (string, error) {
	root, err := os.MkdirTemp("", "hedui-report-test-")
	if err != nil {
		return "", err
	}
	return testregion.Run(context.Background(), root)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := genRun(); err == nil {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

// runCopy returns a fresh copy of the run folder's files that reports read.
func runCopy(t *testing.T) string {
	t.Helper()
	src, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, name := range []string{"flags.parquet", "households.parquet", "summary.json", "quality.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// writeAll writes report.html, report.xlsx and every household report.
func writeAll(t *testing.T, dir string, opts Options) {
	t.Helper()
	ctx := context.Background()
	if err := AllHouseholds(ctx, dir, opts); err != nil {
		t.Fatal(err)
	}
	opts.LinkHouseholds = true
	if err := Write(ctx, dir, opts); err != nil {
		t.Fatal(err)
	}
}

func readFlags(t *testing.T, dir string) []review.FlagRow {
	t.Helper()
	rows, err := parquet.ReadFile[review.FlagRow](filepath.Join(dir, "flags.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("the run has no flags: nothing to report on")
	}
	return rows
}

func readSummary(t *testing.T, dir string) (review.Summary, review.Quality) {
	t.Helper()
	var s review.Summary
	var q review.Quality
	if err := readJSON(filepath.Join(dir, "summary.json"), &s); err != nil {
		t.Fatal(err)
	}
	if err := readJSON(filepath.Join(dir, "quality.json"), &q); err != nil {
		t.Fatal(err)
	}
	return s, q
}

func TestWorkbookSheetsAndRowsMatchFlags(t *testing.T) {
	dir := runCopy(t)
	writeAll(t, dir, Options{})
	flags := readFlags(t, dir)
	_, quality := readSummary(t, dir)
	var household, candidate, evidence int
	householdRules := map[string]int{}
	for _, f := range flags {
		var ev rules.Evidence
		if err := json.Unmarshal([]byte(f.Evidence), &ev); err != nil {
			t.Fatal(err)
		}
		evidence += len(ev.Facts)
		if f.HouseholdID == "" {
			candidate++
		} else {
			household++
			householdRules[f.RuleID]++
		}
	}
	x, err := excelize.OpenFile(filepath.Join(dir, "report.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := []string{SheetSummary, SheetFlags, SheetEvidence, SheetQuality, SheetCandidates}
	if got := x.GetSheetList(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sheets %v, want %v", got, want)
	}
	rowsWant := map[string]int{SheetFlags: household, SheetCandidates: candidate, SheetEvidence: evidence,
		SheetQuality: 1 + len(quality.Sources)}
	for sheet, n := range rowsWant {
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows)-1 != n {
			t.Errorf("sheet %s has %d data rows, want %d (from flags.parquet / quality.json)", sheet, len(rows)-1, n)
		}
		if len(rows) == 0 || !hasHan(rows[0][0]) {
			t.Errorf("sheet %s header %v is not Chinese", sheet, rows[:min(1, len(rows))])
		}
		panes, err := x.GetPanes(sheet)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("sheet %s: header row not frozen: %+v %v", sheet, panes, err)
		}
		w, err := x.GetColWidth(sheet, "A")
		if err != nil || w < 8 || w > 60 {
			t.Errorf("sheet %s column A width %v (err %v), want fitted between 8 and 60", sheet, w, err)
		}
	}
	// The rule column of 疑似问题家庭 holds exactly the household flags.
	rows, _ := x.GetRows(SheetFlags)
	col := indexOf(rows[0], "规则编号")
	got := map[string]int{}
	for _, r := range rows[1:] {
		got[r[col]]++
	}
	for id, n := range householdRules {
		if got[id] != n {
			t.Errorf("%s: %d rows for rule %s, flags.parquet has %d", SheetFlags, got[id], id, n)
		}
	}
	assertAutoFilters(t, filepath.Join(dir, "report.xlsx"), len(want))
}

// assertAutoFilters checks that every sheet has a table with filters.
func assertAutoFilters(t *testing.T, path string, sheets int) {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	found := 0
	for _, f := range z.File {
		if !strings.HasPrefix(f.Name, "xl/tables/table") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(`ref="A1:`)) && bytes.Contains(b, []byte("<autoFilter ")) {
			found++
		} else {
			t.Errorf("%s has no autoFilter from A1", f.Name)
		}
	}
	if found != sheets {
		t.Errorf("%d sheets with filters, want %d", found, sheets)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func hasHan(s string) bool { return regexp.MustCompile(`\p{Han}`).MatchString(s) }

// idRun finds what could be a citizen ID number in text.
var idRun = regexp.MustCompile(`\d{17}[\dXx]|\d{15}`)

// validIDs returns the valid ID numbers in s.
func validIDs(s string) []string {
	var out []string
	for _, m := range idRun.FindAllString(s, -1) {
		if personid.Parse(m).Reason == personid.ReasonNone {
			out = append(out, m)
		}
	}
	return out
}

// everyText returns the text of report.html, every household report and
// every xlsx cell, by where it came from.
func everyText(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	out["report.html"] = string(html)
	pages, _ := filepath.Glob(filepath.Join(dir, "households", "*.html"))
	if len(pages) == 0 {
		t.Fatal("no household reports written")
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out["households/"+filepath.Base(p)] = string(b)
	}
	x, err := excelize.OpenFile(filepath.Join(dir, "report.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, sheet := range x.GetSheetList() {
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(strings.Join(r, "\t"))
			b.WriteByte('\n')
		}
		out["report.xlsx/"+sheet] = b.String()
	}
	return out
}

// personNames returns the full names of the members of flagged households.
func personNames(t *testing.T, dir string) []string {
	t.Helper()
	r, err := load(context.Background(), dir, Options{}, flaggedOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range r.facts {
		for _, m := range h.Members {
			if len([]rune(m.Name)) >= 2 {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

func TestNoUnmaskedIDNumbersOrNames(t *testing.T) {
	masked := runCopy(t)
	writeAll(t, masked, Options{})
	names := personNames(t, masked)
	if len(names) == 0 {
		t.Fatal("no member names to look for")
	}
	for where, text := range everyText(t, masked) {
		if ids := validIDs(text); len(ids) > 0 {
			t.Errorf("%s shows %d unmasked ID numbers, e.g. %s", where, len(ids), personid.MaskString(ids[0]))
		}
		for _, n := range names {
			if strings.Contains(text, n) {
				t.Errorf("%s shows the full name %s*", where, string([]rune(n)[:1]))
				break
			}
		}
	}

	// With Unmasked the same reports show them: the check above can fail.
	open := runCopy(t)
	writeAll(t, open, Options{Unmasked: true})
	texts := everyText(t, open)
	for _, where := range []string{"report.html", "report.xlsx/" + SheetFlags, "report.xlsx/" + SheetEvidence, "report.xlsx/" + SheetCandidates} {
		if len(validIDs(texts[where])) == 0 {
			t.Errorf("%s shows no ID number with Unmasked", where)
		}
	}
	shown := 0
	for _, n := range names {
		if strings.Contains(texts["report.xlsx/"+SheetFlags], n) {
			shown++
		}
	}
	if shown == 0 {
		t.Error("no member name shown in full with Unmasked")
	}
}

func TestReportsAreDeterministic(t *testing.T) {
	a, b := runCopy(t), runCopy(t)
	writeAll(t, a, Options{})
	writeAll(t, b, Options{})
	for _, name := range []string{"report.html", "report.xlsx", "households/" + firstHousehold(t, a) + ".html"} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two writes of the same run", name)
		}
	}
}

func firstHousehold(t *testing.T, dir string) string {
	t.Helper()
	for _, f := range readFlags(t, dir) {
		if f.HouseholdID != "" {
			return f.HouseholdID
		}
	}
	t.Fatal("no household flag")
	return ""
}

func TestHouseholdReportOfCandidateAndUnknownID(t *testing.T) {
	dir := runCopy(t)
	var candidate string
	for _, f := range readFlags(t, dir) {
		if f.HouseholdID == "" && f.RuleID == "omission.candidate" {
			candidate = f.PersonID
			break
		}
	}
	if candidate == "" {
		t.Fatal("no omission candidate flagged")
	}
	var b bytes.Buffer
	if err := Household(context.Background(), dir, candidate, &b, Options{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"疑似漏保人员", "疑似漏保", personid.Parse(candidate).Key.Mask(), "5 个工作日"} {
		if !strings.Contains(page, want) {
			t.Errorf("candidate report lacks %q", want)
		}
	}
	if strings.Contains(page, candidate) {
		t.Error("candidate report shows the ID number unmasked")
	}
	err := Household(context.Background(), dir, "530102199001011234", io.Discard, Options{})
	if err == nil || !strings.Contains(err.Error(), "no household") || strings.Contains(err.Error(), "530102199001011234") {
		t.Errorf("unknown ID: err = %v; want a 'no household' error that masks the ID", err)
	}
}

func TestAddWorkingDays(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, c := range []struct{ from, want string }{
		{"2026-11-02", "2026-11-09"}, // Monday → next Monday
		{"2026-11-06", "2026-11-13"}, // Friday → next Friday
		{"2026-11-07", "2026-11-13"}, // Saturday → Friday
		{"2026-11-01", "2026-11-06"}, // Sunday → Friday
	} {
		if got := addWorkingDays(day(c.from), 5).Format(time.DateOnly); got != c.want {
			t.Errorf("5 working days after %s = %s, want %s", c.from, got, c.want)
		}
	}
}

// TestReportCarriesItsChineseFont: report.html inlines the GB 2312 subset of
// Noto Sans CJK SC and names it first, so Chinese shows on a machine without
// CJK fonts and without network.
func TestReportCarriesItsChineseFont(t *testing.T) {
	dir := runCopy(t)
	writeAll(t, dir, Options{})
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	font, err := os.ReadFile("fonts/NotoSansSC-GB2312.woff2")
	if err != nil {
		t.Fatal(err)
	}
	want := "url(data:font/woff2;base64," + base64.StdEncoding.EncodeToString(font) + ")"
	if !bytes.Contains(page, []byte(want)) {
		t.Error("report.html does not inline the font file")
	}
	if !bytes.Contains(page, []byte(`font-family: "hedui CJK"`)) {
		t.Error("report.html does not use the inlined font")
	}
	if loads := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|@import`).Find(page); loads != nil {
		t.Errorf("report.html loads something from the network: %q", loads)
	}
}
