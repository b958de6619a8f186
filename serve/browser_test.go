package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hedui/hedui/internal/browsertest"
)

// TestBrowserIntake logs in, types a household with a planted vehicle
// case (seeing an ID rejected as it is typed), submits, sees the finding,
// opens the 核对报告 and saves screenshots.
func TestBrowserIntake(t *testing.T) {
	bin := browsertest.Chromium(t)
	e := newEnv(t)
	h := e.r.vehicleHousehold(t)
	out := browsertest.Artifacts(t, "serve")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1100), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, name), buf, 0o644)
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	row := func(i int) string { return "#members tbody tr:nth-child(" + itoa(i+1) + ") " }
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	attr := func(sel, name string) string {
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(css(sel), name))
		if err != nil {
			t.Fatalf("attribute %s of %s: %v", name, sel, err)
		}
		return v.Value
	}
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('"+sel+"').length"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// setValue sets a field's value as a person choosing an option would.
	setValue := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var el=document.querySelector(%q); el.value=%q; el.dispatchEvent(new Event('change')); return el.value===%q})()`, sel, v, v))(ctx, tg)
			return err
		})
	}
	bad := []byte(h.members[0].PersonID)
	bad[17] = map[bool]byte{true: '1', false: '0'}[bad[17] == '0']

	err := chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#name"), "intake1"),
		chromedp.SendKeys(css("#password"), testPassword),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#check-form")),
		// A wrong check character is explained as it is typed.
		chromedp.SendKeys(css(row(0)+".pid"), string(bad)),
		chromedp.WaitVisible(css(row(0)+".idmsg.bad")),
		shot("01-id-rejected.png"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg, reason := text(row(0)+".idmsg"), attr(row(0)+".idmsg", "data-reason"); reason != "checksum" || !strings.Contains(msg, "校验位") {
		t.Fatalf("ID message %q reason %q; want the checksum explained", msg, reason)
	}
	steps := []chromedp.Action[chromedp.Void]{setValue(row(0)+".pid", ""), chromedp.SendKeys(css(row(0)+".pid"), h.members[0].PersonID),
		chromedp.WaitVisible(css(row(0) + ".idmsg.ok"))}
	for i, m := range h.members {
		if i > 0 {
			steps = append(steps, chromedp.Click(css("#add-member")), chromedp.WaitVisible(css(row(i)+".pid")),
				chromedp.SendKeys(css(row(i)+".pid"), m.PersonID), chromedp.WaitVisible(css(row(i)+".idmsg.ok")))
		}
		steps = append(steps, chromedp.SendKeys(css(row(i)+".pname"), m.Name), setValue(row(i)+".prel", m.Relation))
	}
	// Add a row and remove it again.
	steps = append(steps, chromedp.Click(css("#add-member")), chromedp.Click(css(row(len(h.members))+".remove")),
		setValue("#region_code", h.region), setValue("#area", h.area),
		setValue("#assistance", h.assistance), setValue("#application_date", "2026-10-20"),
		chromedp.SendKeys(css("#authorization_ref"), "SQ-2026-BROWSER"), shot("02-form.png"),
		chromedp.Click(css("#submit-check")), chromedp.WaitVisible(css("#verdict")), shot("03-result.png"))
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			chromedp.Do(ctx, shot("failed.png"))
			t.Fatalf("form step %d: %v (screenshot failed.png in %s)", i, err, out)
		}
	}
	if n := count("#members tbody tr"); n != 0 {
		t.Fatalf("result page still shows the form (%d member rows)", n)
	}
	verdict, checkID := attr("#verdict", "data-verdict"), text("#check-id")
	if verdict != "ineligible" || count(`#findings [data-rule="vehicle.owned"]`) == 0 {
		t.Fatalf("result: verdict %q; want ineligible with the vehicle finding", verdict)
	}
	href := attr("#open-report", "href")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+href), chromedp.WaitVisible(css("#report-number")), shot("04-report.png")); err != nil {
		t.Fatal(err)
	}
	if number := text("#report-number"); !strings.HasSuffix(number, checkID) || count(`[data-rule="vehicle.owned"]`) == 0 {
		t.Fatalf("report %q; want the check's number %s and the vehicle finding", number, checkID)
	}
	t.Logf("screenshots in %s", out)
}
