package serve

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/synth"
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

// TestRosterUpdateReachesChecks: a roster snapshot that puts somebody on a
// new applicant household, applied through the admin API, reaches the
// next intake check of that person (逢进必核: already on a roster
// household), and the roster was applied in place, as a delta of one row.
func TestRosterUpdateReachesChecks(t *testing.T) {
	e := newEnv(t)
	dir := copyRegion(t, e.r.dir)
	rosterPath := filepath.Join(dir, "roster.parquet")
	roster, err := parquet.ReadFile[synth.RosterRow](rosterPath)
	if err != nil {
		t.Fatal(err)
	}
	onRoster := map[personid.Key]bool{} // by key: the roster writes some IDs in other forms
	for _, r := range roster {
		onRoster[personid.Parse(r.PersonID).Key] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "sources", "police-*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no police file: %v", err)
	}
	police, err := parquet.ReadFile[synth.PoliceRow](files[0])
	if err != nil {
		t.Fatal(err)
	}
	var p synth.PoliceRow
	for _, row := range police {
		if id := personid.Parse(row.PersonID); id.Reason == personid.ReasonNone && !onRoster[id.Key] && row.Status == "normal" {
			p = row
			break
		}
	}
	if p.PersonID == "" {
		t.Fatal("no living person off the roster in the police register")
	}
	h := household{region: e.r.households[0].region, area: "urban", assistance: "dibao",
		members: []Member{{PersonID: p.PersonID, Name: p.Name, Relation: "head"}}}
	if c := e.create("intake1", request(h, "SQ-before")); hasRule(c, "roster.duplicate") {
		t.Fatalf("before the update %s is on a roster household: %+v", personid.Parse(p.PersonID).Key.Mask(), c.Flags)
	}
	app := int32(asOf.Unix()/86400) - 20
	roster = append(roster, synth.RosterRow{HouseholdID: "NEW-APPLICANT-1", PersonID: p.PersonID, Name: p.Name, Relation: "head",
		RegionCode: h.region, Area: h.area, Assistance: h.assistance, Status: "applicant", ApplicationDate: &app, AuthorizationRef: "SQ-R1"})
	if err := parquet.WriteFile(rosterPath, roster); err != nil {
		t.Fatal(err)
	}
	resp, b := e.do("POST", "/api/v1/index/update", "admin", map[string]string{"manifest": filepath.Join(dir, "sources.yaml")})
	if resp.StatusCode != 200 {
		t.Fatalf("update: %s %s", resp.Status, b)
	}
	var res UpdateResult
	if err := jsonUnmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Sources {
		switch {
		case u.Kind == "roster" && (!u.InPlace || u.Delta != 1):
			t.Fatalf("roster %+v; want a delta of the one added row", u)
		case u.Kind != "roster" && u.Action != "unchanged":
			t.Fatalf("%s %s %s; only the roster changed", u.Kind, u.Path, u.Action)
		}
	}
	c := e.create("intake1", request(h, "SQ-after"))
	if !hasRule(c, "roster.duplicate") {
		t.Fatalf("after the update the check does not find the person on household NEW-APPLICANT-1: %+v", c.Flags)
	}
}

// copyRegion copies a region folder, keeping its files' modification times
// so that an index built from the original sees the copy's files unchanged.
func copyRegion(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "region")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		return os.Chtimes(filepath.Join(dst, rel), info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestFailedUpdateRetried: an update that fails on a damaged file answers
// with the error and leaves checks answering from the index as it was; once
// the file is mended, the next update through the API succeeds without a
// restart of the service.
func TestFailedUpdateRetried(t *testing.T) {
	e := newEnv(t)
	dir := copyRegion(t, e.r.dir)
	manifest := map[string]string{"manifest": filepath.Join(dir, "sources.yaml")}
	pension := filepath.Join(dir, "sources", "pension.parquet")
	good, err := os.ReadFile(pension)
	if err != nil {
		t.Fatal(err)
	}
	h := e.r.households[3]
	before := signature(e.create("intake1", request(h, "SQ-1")))
	if err := os.WriteFile(pension, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	resp, b := e.do("POST", "/api/v1/index/update", "admin", manifest)
	if resp.StatusCode != 500 || !strings.Contains(string(b), "pension.parquet") {
		t.Fatalf("update of a truncated file: %s %s; want 500 naming the file", resp.Status, b)
	}
	if got := signature(e.create("intake1", request(h, "SQ-2"))); got != before {
		t.Fatalf("a check after the failed update differs:\n%s\nwant:\n%s", got, before)
	}
	if err := os.WriteFile(pension, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if resp, b := e.do("POST", "/api/v1/index/update", "admin", manifest); resp.StatusCode != 200 {
		t.Fatalf("update of the mended file: %s %s", resp.Status, b)
	}
	if got := signature(e.create("intake1", request(h, "SQ-3"))); got != before {
		t.Fatalf("a check after the mended update differs:\n%s\nwant:\n%s", got, before)
	}
}
