package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newSnapshot writes, next to the region's manifest, a second manifest
// that adds two sources (a vehicle CSV and a business CSV) giving the heads
// of hs a car and a company: an update of two sources, swapped one at a
// time by the store.
func newSnapshot(t *testing.T, r *testRegion, hs []household) string {
	t.Helper()
	var cars, firms strings.Builder
	cars.WriteString("owner_id,plate_no,vehicle_type,status,price\n")
	firms.WriteString("person_id,uscc,entity_name,role,subscribed_capital,status\n")
	for i, h := range hs {
		fmt.Fprintf(&cars, "%s,%s,K33,normal,200000\n", h.members[0].PersonID, plate(i))
		fmt.Fprintf(&firms, "%s,91530102MA%08d,%s,legal_rep,500000,active\n", h.members[0].PersonID, i, firm(i))
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sources/vehicle-new.csv", cars.String())
	write("sources/business-new.csv", firms.String())
	old, err := os.ReadFile(r.manifest)
	if err != nil {
		t.Fatal(err)
	}
	m := string(old) + `  - kind: vehicle
    path: sources/vehicle-new.csv
    snapshot: 2026-10-31
    units: {price: yuan}
  - kind: business
    path: sources/business-new.csv
    snapshot: 2026-10-31
    units: {subscribed_capital: yuan}
`
	path := filepath.Join(r.dir, "sources-new.yaml")
	write("sources-new.yaml", m)
	return path
}

func plate(i int) string { return fmt.Sprintf("云Z%05d", i) }
func firm(i int) string  { return fmt.Sprintf("新设测试公司%d", i) }

// planted tells whether a check shows the new car and the new company of
// household i.
func planted(c *Check, i int) (car, company bool) {
	for _, f := range c.Flags {
		for _, fu := range f.Evidence.Facts {
			car = car || (fu.Kind == "vehicle" && fu.Values["plate_no"] == plate(i))
			company = company || (fu.Kind == "business" && fu.Values["entity_name"] == firm(i))
		}
	}
	return car, company
}

// signature is what must be wholly old or wholly new in an answer.
func signature(c *Check) string {
	var parts []string
	for _, f := range c.Flags {
		var facts []string
		for _, fu := range f.Evidence.Facts {
			facts = append(facts, fmt.Sprintf("%s:%s:%d", fu.Kind, fu.File, fu.Row))
		}
		parts = append(parts, f.RuleID+"|"+f.Outcome+"|"+f.PersonID+"|"+f.Message+"|"+strings.Join(facts, ","))
	}
	slices.Sort(parts)
	return c.Verdict + "\n" + strings.Join(parts, "\n")
}

// TestChecksDuringUpdate applies a two-source snapshot through the admin
// API while clients keep checking: every answer succeeds and is wholly the
// old snapshot's or wholly the new one's.
func TestChecksDuringUpdate(t *testing.T) {
	e := newEnv(t)
	// Households whose head has no car or company finding yet.
	var hs []household
	for _, h := range e.r.households[10:] {
		c := e.create("intake1", request(h, "SQ-old"))
		if !hasRule(c, "vehicle.owned") && !hasRule(c, "business.owner") {
			hs = append(hs, h)
		}
		if len(hs) == 12 {
			break
		}
	}
	manifest := newSnapshot(t, e.r, hs)
	old := make([]string, len(hs))
	for i, h := range hs {
		old[i] = signature(e.create("intake1", request(h, "SQ-old")))
	}

	var stop atomic.Bool
	var during, total atomic.Int64
	var updating atomic.Bool
	var mu sync.Mutex
	answers := make([][]*Check, len(hs))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; !stop.Load(); n++ {
				i := n % len(hs)
				resp, b := e.do("POST", "/api/v1/checks", "intake1", request(hs[i], "SQ-loop"))
				if resp.StatusCode != 201 {
					t.Errorf("check during update: %s %s", resp.Status, b)
					return
				}
				c := &Check{}
				if err := jsonUnmarshal(b, c); err != nil {
					t.Error(err)
					return
				}
				if updating.Load() {
					during.Add(1)
				}
				total.Add(1)
				mu.Lock()
				answers[i] = append(answers[i], c)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	updating.Store(true)
	start := time.Now()
	resp, b := e.do("POST", "/api/v1/index/update", "admin", map[string]string{"manifest": manifest})
	took := time.Since(start)
	updating.Store(false)
	if resp.StatusCode != 200 {
		t.Fatalf("update: %s %s", resp.Status, b)
	}
	time.Sleep(150 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	newSig := make([]string, len(hs))
	for i, h := range hs {
		c := e.create("intake1", request(h, "SQ-new"))
		if car, company := planted(c, i); !car || !company {
			t.Fatalf("after the update household %s shows car %v company %v; want both", h.id, car, company)
		}
		newSig[i] = signature(c)
	}
	var olds, news int
	for i := range hs {
		for _, c := range answers[i] {
			car, company := planted(c, i)
			if car != company {
				t.Fatalf("household %s: an answer shows the new car %v but the new company %v: a half-applied snapshot", hs[i].id, car, company)
			}
			switch signature(c) {
			case old[i]:
				olds++
			case newSig[i]:
				news++
			default:
				t.Fatalf("household %s: an answer is neither the old nor the new one:\n%s\nold:\n%s\nnew:\n%s", hs[i].id, signature(c), old[i], newSig[i])
			}
		}
	}
	t.Logf("update took %v; %d checks answered, %d while it ran; %d old answers, %d new", took, total.Load(), during.Load(), olds, news)
	if during.Load() == 0 || olds == 0 || news == 0 {
		t.Fatalf("%d checks during the update, %d old and %d new answers: the test did not overlap the update", during.Load(), olds, news)
	}
}
