package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/internal/browsertest"
)

// headless runs chromium on url with extra arguments and returns stdout.
func headless(t *testing.T, url string, extra ...string) string {
	t.Helper()
	bin := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, lastLines(stderr.String(), 10))
	}
	return stdout.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func screenshot(t *testing.T, url, name string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(browsertest.Artifacts(t, ""), name))
	if err != nil {
		t.Fatal(err)
	}
	headless(t, url, "--screenshot="+path, "--window-size=1280,2000", "--hide-scrollbars")
	if st, err := os.Stat(path); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s not written or empty (%v)", path, err)
	}
	t.Logf("screenshot: %s", path)
}

func fileURL(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + abs
}

// attrCount returns the data-count of the first element matching the
// opening-tag pattern pre (which must end just before data-count).
func attrCount(t *testing.T, dom, pre string) int {
	t.Helper()
	m := regexp.MustCompile(pre + `[^>]*?data-count="([0-9.]+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no element matching %s with data-count in the page", pre)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// chart returns the <svg> element with data-chart id.
func chart(t *testing.T, dom, id string) string {
	t.Helper()
	i := strings.Index(dom, `data-chart="`+id+`"`)
	if i < 0 {
		t.Fatalf("chart %s not in the page", id)
	}
	start := strings.LastIndex(dom[:i], "<svg")
	end := strings.Index(dom[i:], "</svg>")
	return dom[start : i+end+len("</svg>")]
}

var categoryRe = regexp.MustCompile(`<g class="(?:bar|column)" data-category="([^"]*)" data-count="([0-9.]+)"`)

func categories(svg string) map[string]int {
	out := map[string]int{}
	for _, m := range categoryRe.FindAllStringSubmatch(svg, -1) {
		n, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = int(n)
	}
	return out
}

func TestReportHTMLInChromium(t *testing.T) {
	browsertest.Chromium(t)
	dir := runCopy(t)
	writeAll(t, dir, Options{})
	flags := readFlags(t, dir)
	summary, quality := readSummary(t, dir)
	byRule, byCounty := map[string]int{}, map[string]int{}
	for _, f := range flags {
		byRule[f.RuleID]++
		byCounty[f.RegionCode]++
	}
	// The filter in the address must leave exactly the matching rows.
	const rule, outcome = "vehicle.owned", "ineligible"
	wantShown := 0
	for _, f := range flags {
		if f.RuleID == rule && f.Outcome == outcome {
			wantShown++
		}
	}
	if wantShown == 0 {
		t.Fatalf("no %s/%s flag to filter on", rule, outcome)
	}
	url := fileURL(t, filepath.Join(dir, "report.html"))
	dom := headless(t, url+"#rule="+rule+"&outcome="+outcome, "--dump-dom")

	if got := attrCount(t, dom, `<svg[^>]*data-chart="flags-by-rule"`); got != len(flags) {
		t.Errorf("flags-by-rule chart total %d, flags.parquet has %d", got, len(flags))
	}
	if got := categories(chart(t, dom, "flags-by-rule")); !equalCounts(got, byRule) {
		t.Errorf("flags-by-rule bars %v, flags.parquet %v", got, byRule)
	}
	if got := categories(chart(t, dom, "flags-by-county")); !equalCounts(got, byCounty) {
		t.Errorf("flags-by-county bars %v, flags.parquet %v", got, byCounty)
	}
	if got := len(categories(chart(t, dom, "rates-by-source"))); got != 1+len(quality.Sources) {
		t.Errorf("rates chart has %d sources, quality.json %d (+ roster)", got, len(quality.Sources))
	}
	incomeN, above := householdsAgainstStandard(t, dir)
	if got := attrCount(t, dom, `<svg[^>]*data-chart="income-distribution"`); got != incomeN {
		t.Errorf("income chart counts %d households, households.parquet has %d with a standard", got, incomeN)
	}
	if got := textOf(t, dom, "income-above"); got != strconv.Itoa(above) {
		t.Errorf("income chart: %s households above the standard, households.parquet %d", got, above)
	}
	for id, want := range map[string]int{"households": summary.Households, "members": summary.Members,
		"candidates": summary.Candidates, "flags": summary.Flags, "flagged-households": summary.FlaggedHouseholds} {
		if got := attrCount(t, dom, `id="card-`+id+`"`); got != want {
			t.Errorf("headline %s = %d, summary.json %d", id, got, want)
		}
	}
	table := tableBody(t, dom, "flags")
	rows := strings.Count(table, "<tr ")
	visible := rows - strings.Count(table, " hidden=")
	if rows != len(flags) {
		t.Errorf("flag table has %d rows, flags.parquet %d", rows, len(flags))
	}
	if visible != wantShown || textOf(t, dom, "shown") != strconv.Itoa(wantShown) || !strings.Contains(dom, `data-shown="`+strconv.Itoa(wantShown)+`"`) {
		t.Errorf("filter %s/%s: %d rows visible, counter %q; want %d", rule, outcome, visible, textOf(t, dom, "shown"), wantShown)
	}
	if got := strings.Count(tableBody(t, dom, "quality"), "<tr>"); got != 1+len(quality.Sources) {
		t.Errorf("quality table has %d rows, want %d", got, 1+len(quality.Sources))
	}
	if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).FindString(dom); m != "" {
		t.Errorf("the page loads something from the network: %s", m)
	}
	screenshot(t, url, "report.png")
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func householdsAgainstStandard(t *testing.T, dir string) (n, above int) {
	t.Helper()
	rows, err := parquet.ReadFile[householdLite](filepath.Join(dir, "households.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rows {
		if h.Candidate || h.MonthlyStandard <= 0 {
			continue
		}
		n++
		if h.PerCapitaIncome > h.MonthlyStandard+1e-9*h.MonthlyStandard {
			above++
		}
	}
	if n == 0 || above == 0 {
		t.Fatalf("households.parquet: %d households with a standard, %d above: nothing to check", n, above)
	}
	return n, above
}

func textOf(t *testing.T, dom, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no element #%s", id)
	}
	return m[1]
}

func tableBody(t *testing.T, dom, id string) string {
	t.Helper()
	i := strings.Index(dom, `<table id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no table #%s", id)
	}
	rest := dom[i:]
	start := strings.Index(rest, "<tbody>")
	end := strings.Index(rest, "</tbody>")
	if start < 0 || end < start {
		t.Fatalf("table #%s has no body", id)
	}
	return rest[start:end]
}

func TestHouseholdReportInChromium(t *testing.T) {
	browsertest.Chromium(t)
	dir := runCopy(t)
	writeAll(t, dir, Options{})
	flags := readFlags(t, dir)
	_, quality := readSummary(t, dir)
	// The household with the most flags, the first one on a tie.
	count := map[string]int{}
	best := ""
	for _, f := range flags {
		if f.HouseholdID == "" {
			continue
		}
		count[f.HouseholdID]++
		if best == "" || count[f.HouseholdID] > count[best] {
			best = f.HouseholdID
		}
	}
	r, err := load(context.Background(), dir, Options{}, func(h *householdLite) bool { return h.HouseholdID == best })
	if err != nil {
		t.Fatal(err)
	}
	h := r.facts[best]
	url := fileURL(t, filepath.Join(dir, "households", best+".html"))
	dom := headless(t, url, "--dump-dom")
	if got := attrCount(t, dom, `<div id="findings"`); got != count[best] {
		t.Errorf("household %s: %d findings shown, flags.parquet has %d", best, got, count[best])
	}
	if got := strings.Count(dom, `<div class="finding"`); got != count[best] {
		t.Errorf("household %s: %d finding blocks, want %d", best, got, count[best])
	}
	if got := strings.Count(tableBody(t, dom, "members"), "<tr>"); got != len(h.Members) {
		t.Errorf("members table has %d rows, household has %d members", got, len(h.Members))
	}
	kinds := map[string]bool{}
	for _, q := range quality.Sources {
		kinds[string(q.Kind)] = true
	}
	src := tableBody(t, dom, "sources")
	if got := strings.Count(src, "<tr "); got != len(kinds) {
		t.Errorf("sources table has %d rows, quality.json has %d kinds", got, len(kinds))
	}
	if !strings.Contains(src, "无记录") || !strings.Contains(src, `data-kind="police" data-found="`+strconv.Itoa(len(h.Members))) {
		t.Errorf("sources table should show the police record of every member and 无记录 for some source")
	}
	for _, want := range []string{"HD-" + strings.ReplaceAll(r.summary.AsOf, "-", "") + "-" + best, "仅用于社会救助审核确认", "5 个工作日", "@page"} {
		if !strings.Contains(dom, want) {
			t.Errorf("household report lacks %q", want)
		}
	}
	screenshot(t, url, "household-"+best+".png")

	// Printed, a household with one finding fits one A4 page.
	one := ""
	for id, n := range count {
		if n == 1 && (one == "" || id < one) {
			one = id
		}
	}
	pdf := filepath.Join(t.TempDir(), "one.pdf")
	headless(t, fileURL(t, filepath.Join(dir, "households", one+".html")), "--print-to-pdf="+pdf, "--no-pdf-header-footer")
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(b, -1)); pages != 1 {
		t.Errorf("household %s with one finding prints on %d pages, want 1", one, pages)
	}
}
