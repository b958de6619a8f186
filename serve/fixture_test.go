package serve

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/store"
	"github.com/hedui/hedui/synth"
)

var fixtureRoot string

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// testRegion is a synthetic county and its index, built once per test
// binary; each server works on its own copy of the index.
type testRegion struct {
	dir, manifest, index string
	asOf                 time.Time
	households           []household // roster households whose members all have valid IDs
	vehicle              []string    // household IDs truth.csv plants vehicle.owned on
}

type household struct {
	id                       string
	region, area, assistance string
	members                  []Member
}

var asOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

var fixture = sync.OnceValues(func() (*testRegion, error) {
	root, err := os.MkdirTemp("", "hedui-serve-test-")
	if err != nil {
		return nil, err
	}
	fixtureRoot = root
	r := &testRegion{dir: filepath.Join(root, "region"), index: filepath.Join(root, "index"), asOf: asOf}
	if _, err := synth.Generate(context.Background(), synth.Config{Out: r.dir, Seed: 1, Residents: 12000, Households: 900, AsOf: asOf}); err != nil {
		return nil, err
	}
	r.manifest = filepath.Join(r.dir, "sources.yaml")
	m, err := sources.LoadManifest(r.manifest)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(r.index, store.Options{Logger: quiet()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Update(context.Background(), m, store.UpdateOptions{CacheDir: filepath.Join(root, "cache")}); err != nil {
		return nil, err
	}
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	err = v.Households(func(rows []*sources.RosterMember) error {
		h := household{id: rows[0].HouseholdID, region: rows[0].Region, area: rows[0].Area, assistance: rows[0].Assistance}
		for _, row := range rows {
			if personid.Parse(row.PersonID).Reason != personid.ReasonNone {
				return nil
			}
			h.members = append(h.members, Member{PersonID: row.PersonID, Name: row.Name, Relation: row.Relation})
		}
		r.households = append(r.households, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(r.dir, "truth.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	for _, rec := range recs[1:] {
		if rec[2] == "vehicle.owned" && rec[0] != "" && rec[3] == "ineligible" {
			r.vehicle = append(r.vehicle, rec[0])
		}
	}
	return r, nil
})

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func region(t testing.TB) *testRegion {
	t.Helper()
	r, err := fixture()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// find returns the valid-ID household with this ID.
func (r *testRegion) find(t testing.TB, id string) household {
	for _, h := range r.households {
		if h.id == id {
			return h
		}
	}
	t.Fatalf("no household %s with valid IDs", id)
	return household{}
}

// vehicleHousehold returns a planted vehicle case whose members all have valid IDs.
func (r *testRegion) vehicleHousehold(t testing.TB) household {
	for _, id := range r.vehicle {
		for _, h := range r.households {
			if h.id == id {
				return h
			}
		}
	}
	t.Fatal("no planted vehicle.owned household with valid IDs")
	return household{}
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one running service on loopback with a user of every role.
type env struct {
	t        testing.TB
	r        *testRegion
	srv      *Server
	ts       *httptest.Server
	db       *store.DB
	data     string
	users    string
	tokens   map[string]string
	log      *syncBuffer
	county   string
	password string
}

const testPassword = "correct horse battery"

func newEnv(t testing.TB) *env {
	t.Helper()
	r := region(t)
	e := &env{t: t, r: r, data: t.TempDir(), tokens: map[string]string{}, log: &syncBuffer{}, password: testPassword}
	idx := filepath.Join(t.TempDir(), "index")
	if err := os.CopyFS(idx, os.DirFS(r.index)); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(idx, store.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.county = r.households[0].region
	e.users = filepath.Join(e.data, "users.json")
	for _, u := range []struct {
		name   string
		role   users.Role
		region string
	}{{"intake1", users.Intake, ""}, {"intake2", users.Intake, ""}, {"reviewer", users.Reviewer, e.county},
		{"reviewer2", users.Reviewer, "5399"}, {"analyst", users.Analyst, ""}, {"admin", users.Admin, ""}} {
		tok, err := users.Add(e.users, u.name, u.role, u.region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name] = tok
	}
	if err := users.SetPassword(e.users, "intake1", testPassword); err != nil {
		t.Fatal(err)
	}
	e.start()
	t.Cleanup(func() {
		if e.srv != nil { // nil when a restart failed
			e.ts.Close()
			e.srv.Close()
		}
		db.Close()
	})
	return e
}

// start starts the service on e's data folder and index.
func (e *env) start() {
	e.t.Helper()
	set, err := rules.Default()
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := New(Config{DB: e.db, Rules: set, UsersPath: e.users, DataDir: e.data,
		Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return time.Date(2026, 11, 1, 10, 0, 0, 0, chinaTime) }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
}

// restart stops the service and starts it again on the same folders;
// between the two, damage (if not nil) alters the files as a crash would.
func (e *env) restart(damage func()) {
	e.t.Helper()
	e.ts.Close()
	err := e.srv.Close()
	e.srv = nil
	if err != nil {
		e.t.Fatal(err)
	}
	if damage != nil {
		damage()
	}
	e.start()
}

// request is one API call: method, path, the user whose token to send
// ("" for none) and a body (a value to marshal, or a string sent as is).
func (e *env) do(method, path, user string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		tok := e.tokens[user]
		if tok == "" {
			tok = user // a literal (wrong) token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// request builds a check request for household h.
func request(h household, auth string) CheckRequest {
	return CheckRequest{Members: append([]Member(nil), h.members...), RegionCode: h.region, Area: h.area,
		Assistance: h.assistance, ApplicationDate: "2026-10-20", AuthorizationRef: auth}
}

// create runs a check as user and returns it.
func (e *env) create(user string, req CheckRequest) *Check {
	e.t.Helper()
	resp, b := e.do("POST", "/api/v1/checks", user, req)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("POST /api/v1/checks as %s: %s %s", user, resp.Status, b)
	}
	var c Check
	if err := json.Unmarshal(b, &c); err != nil {
		e.t.Fatal(err)
	}
	return &c
}

func hasRule(c *Check, rule string) bool {
	for _, f := range c.Flags {
		if f.RuleID == rule {
			return true
		}
	}
	return false
}

var _ = fmt.Sprint

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
