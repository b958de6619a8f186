package serve

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hedui/hedui/serve/audit"
)

// TestAPI drives every route of the API on a real loopback server: each
// status code, each role's limits, the planted vehicle finding, the
// report, and that neither the log nor the audit log holds an ID number.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	h := e.r.vehicleHousehold(t)
	ok := request(h, "SQ-2026-0001")

	// 201 with the finding, the verdict and the snapshot dates.
	c := e.create("intake1", ok)
	if !hasRule(c, "vehicle.owned") || c.Verdict != "ineligible" {
		t.Fatalf("planted vehicle household %s: verdict %s, flags %+v; want vehicle.owned, ineligible", h.id, c.Verdict, c.Flags)
	}
	if c.Snapshots["vehicle"] == "" || c.RuleSetDigest == "" || c.AsOf != "2026-11-01" || c.Facts != nil {
		t.Fatalf("check %+v: want snapshot dates, digest, as-of and no facts", c)
	}
	for _, f := range c.Flags {
		if f.RuleID == "vehicle.owned" && (len(f.Evidence.Facts) == 0 || f.Message == "" || f.Basis == "") {
			t.Fatalf("vehicle flag without evidence, message or basis: %+v", f)
		}
	}
	other := e.create("intake2", request(e.r.households[1], "SQ-2026-0002"))

	bad := func(mut func(*CheckRequest)) CheckRequest {
		r := request(h, "SQ-1")
		mut(&r)
		return r
	}
	wrongCheck := []byte(h.members[0].PersonID)
	if wrongCheck[17] == '0' {
		wrongCheck[17] = '1'
	} else {
		wrongCheck[17] = '0'
	}
	tests := []struct {
		name, method, path, user string
		body                     any
		code                     int
		field, reason            string
	}{
		{"healthz", "GET", "/healthz", "", nil, 200, "", ""},
		{"no token", "POST", "/api/v1/checks", "", ok, 401, "", ""},
		{"wrong token", "POST", "/api/v1/checks", "hd_not-a-token", ok, 401, "", ""},
		{"reviewer may not check", "POST", "/api/v1/checks", "reviewer", ok, 403, "", ""},
		{"analyst may not check", "POST", "/api/v1/checks", "analyst", ok, 403, "", ""},
		{"admin may not check", "POST", "/api/v1/checks", "admin", ok, 403, "", ""},
		{"missing authorization", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.AuthorizationRef = " " }), 400, "authorization_ref", "missing"},
		{"checksum", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members[0].PersonID = string(wrongCheck) }), 400, "members[0].person_id", "checksum"},
		{"length", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members[len(r.Members)-1].PersonID = "53010219900101" }), 400, "members[" + itoa(len(h.members)-1) + "].person_id", "length"},
		{"birth date", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members[0].PersonID = "530102199002301234" }), 400, "members[0].person_id", ""},
		{"no members", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members = nil }), 400, "members", "missing"},
		{"duplicate member", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members = append(r.Members, r.Members[0]) }), 400, "members[" + itoa(len(h.members)) + "].person_id", "duplicate"},
		{"unknown region", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.RegionCode = "110101" }), 400, "region_code", "unknown"},
		{"region format", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.RegionCode = "5301" }), 400, "region_code", "format"},
		{"area", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Area = "suburb" }), 400, "area", "unknown"},
		{"relation", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.Members[0].Relation = "cousin" }), 400, "members[0].relation", "unknown"},
		{"future application", "POST", "/api/v1/checks", "intake1", bad(func(r *CheckRequest) { r.ApplicationDate = "2026-12-01" }), 400, "application_date", "future"},
		{"oversized body", "POST", "/api/v1/checks", "intake1", `{"authorization_ref":"` + strings.Repeat("x", 70<<10) + `"}`, 400, "body", "too_large"},
		{"not JSON", "POST", "/api/v1/checks", "intake1", `{"members":`, 400, "body", "syntax"},
		{"unknown field", "POST", "/api/v1/checks", "intake1", `{"member":[]}`, 400, "member", "unknown_field"},
		{"get own", "GET", "/api/v1/checks/" + c.ID, "intake1", nil, 200, "", ""},
		{"get other's", "GET", "/api/v1/checks/" + c.ID, "intake2", nil, 403, "", ""},
		{"reviewer of the county", "GET", "/api/v1/checks/" + c.ID, "reviewer", nil, 200, "", ""},
		{"reviewer of another county", "GET", "/api/v1/checks/" + c.ID, "reviewer2", nil, 403, "", ""},
		{"analyst sees no check", "GET", "/api/v1/checks/" + c.ID, "analyst", nil, 403, "", ""},
		{"admin sees no check", "GET", "/api/v1/checks/" + c.ID, "admin", nil, 403, "", ""},
		{"get without token", "GET", "/api/v1/checks/" + c.ID, "", nil, 401, "", ""},
		{"no such check", "GET", "/api/v1/checks/ck0000", "intake1", nil, 404, "", ""},
		{"report own", "GET", "/api/v1/checks/" + c.ID + "/report", "intake1", nil, 200, "", ""},
		{"report reviewer", "GET", "/api/v1/checks/" + c.ID + "/report", "reviewer", nil, 200, "", ""},
		{"report other's", "GET", "/api/v1/checks/" + c.ID + "/report", "intake2", nil, 403, "", ""},
		{"report analyst", "GET", "/api/v1/checks/" + c.ID + "/report", "analyst", nil, 403, "", ""},
		{"report without token", "GET", "/api/v1/checks/" + c.ID + "/report", "", nil, 401, "", ""},
		{"list intake", "GET", "/api/v1/checks", "intake2", nil, 200, "", ""},
		{"list analyst", "GET", "/api/v1/checks", "analyst", nil, 403, "", ""},
		{"stats analyst", "GET", "/api/v1/stats", "analyst", nil, 200, "", ""},
		{"stats intake", "GET", "/api/v1/stats", "intake1", nil, 403, "", ""},
		{"stats reviewer", "GET", "/api/v1/stats", "reviewer", nil, 403, "", ""},
		{"stats admin", "GET", "/api/v1/stats", "admin", nil, 403, "", ""},
		{"users admin", "GET", "/api/v1/users", "admin", nil, 200, "", ""},
		{"users intake", "GET", "/api/v1/users", "intake1", nil, 403, "", ""},
		{"users analyst", "GET", "/api/v1/users", "analyst", nil, 403, "", ""},
		{"add user intake", "POST", "/api/v1/users", "intake1", map[string]string{"name": "x", "role": "admin"}, 403, "", ""},
		{"add user bad role", "POST", "/api/v1/users", "admin", map[string]string{"name": "x", "role": "boss"}, 400, "role", "unknown"},
		{"update intake", "POST", "/api/v1/index/update", "intake1", map[string]string{"manifest": e.r.manifest}, 403, "", ""},
		{"update relative path", "POST", "/api/v1/index/update", "admin", map[string]string{"manifest": "sources.yaml"}, 400, "manifest", "missing"},
		{"update missing manifest", "POST", "/api/v1/index/update", "admin", map[string]string{"manifest": "/nonexistent/sources.yaml"}, 400, "manifest", "invalid"},
		{"wrong method", "DELETE", "/api/v1/checks/" + c.ID, "intake1", nil, 405, "", ""},
		{"personid intake", "POST", "/api/v1/personid", "intake1", map[string]string{"person_id": "530102199002301234"}, 200, "", ""},
		{"personid analyst", "POST", "/api/v1/personid", "analyst", map[string]string{"person_id": "530102199002301234"}, 403, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, tc.user, tc.body)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s as %q: %s %s; want %d", tc.method, tc.path, tc.user, resp.Status, b, tc.code)
			}
			if tc.code >= 400 && tc.code != 405 {
				var ae apiError
				if err := json.Unmarshal(b, &ae); err != nil || ae.Message == "" {
					t.Fatalf("error body %s: want JSON with an error message", b)
				}
				if ae.Field != tc.field || (tc.reason != "" && ae.Reason != tc.reason) {
					t.Fatalf("error %+v; want field %q reason %q", ae, tc.field, tc.reason)
				}
				if tc.code == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}

	// The report is the 核对报告 with the vehicle finding and full IDs for intake.
	_, rep := e.do("GET", "/api/v1/checks/"+c.ID+"/report", "intake1", nil)
	if !strings.Contains(string(rep), "核对报告") || !strings.Contains(string(rep), `data-rule="vehicle.owned"`) ||
		!strings.Contains(string(rep), h.members[0].PersonID) || !strings.Contains(string(rep), "HD-20261101-"+c.ID) {
		t.Fatalf("report lacks the title, the vehicle finding, the full ID or the number:\n%.2000s", rep)
	}
	// Lists: intake2 sees only their own; the reviewer sees both of the county.
	var list struct{ Checks []checkSummary }
	_, b := e.do("GET", "/api/v1/checks", "intake2", nil)
	json.Unmarshal(b, &list)
	if len(list.Checks) != 1 || list.Checks[0].ID != other.ID {
		t.Fatalf("intake2's list %+v; want only %s", list.Checks, other.ID)
	}
	_, b = e.do("GET", "/api/v1/checks", "reviewer", nil)
	json.Unmarshal(b, &list)
	if len(list.Checks) != 2 {
		t.Fatalf("reviewer's list %+v; want both checks", list.Checks)
	}
	// Analysts get counts, never a person.
	_, b = e.do("GET", "/api/v1/stats", "analyst", nil)
	var st Stats
	json.Unmarshal(b, &st)
	if st.Checks != 2 || st.ByVerdict["ineligible"] < 1 || strings.Contains(string(b), h.members[0].PersonID) || strings.Contains(string(b), "person") {
		t.Fatalf("stats %s: want 2 checks and no person", b)
	}
	// Admin creates a user whose token works at once; the list has no secret.
	resp, b := e.do("POST", "/api/v1/users", "admin", map[string]string{"name": "intake3", "role": "intake"})
	var nu struct{ Token string }
	json.Unmarshal(b, &nu)
	if resp.StatusCode != 201 || !strings.HasPrefix(nu.Token, "hd_") {
		t.Fatalf("add user: %s %s", resp.Status, b)
	}
	e.tokens["intake3"] = nu.Token
	e.create("intake3", request(e.r.households[2], "SQ-3"))
	_, b = e.do("GET", "/api/v1/users", "admin", nil)
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), nu.Token) || !strings.Contains(string(b), "intake3") {
		t.Fatalf("user list %s: want names without secrets", b)
	}
	// Metrics count checks by verdict and show the index age.
	_, b = e.do("GET", "/metrics", "", nil)
	for _, want := range []string{`hedui_checks_total{verdict="ineligible"}`, "hedui_check_duration_seconds_bucket", `hedui_index_snapshot_age_seconds{kind="vehicle"}`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}

	// No ID number in the service log or the audit log.
	logs := e.log.String()
	auditText, err := os.ReadFile(filepath.Join(e.data, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.members {
		if strings.Contains(logs, m.PersonID) || strings.Contains(string(auditText), m.PersonID) {
			t.Fatalf("an ID number is in the log or the audit log")
		}
		if m.Name != "" && strings.Contains(string(auditText), m.Name) {
			t.Fatalf("a name is in the audit log")
		}
	}
	if !strings.Contains(logs, "route=\"POST /api/v1/checks\"") {
		t.Fatalf("no access log line for the checks route:\n%.1000s", logs)
	}
	// The audit log records the checks, views, denials, with a household digest.
	res, err := audit.Verify(filepath.Join(e.data, "audit.jsonl"))
	if err != nil || res.Problem != nil {
		t.Fatalf("audit verify: %v %v", err, res.Problem)
	}
	var sawCreate, sawReport, sawDenied bool
	for _, line := range strings.Split(strings.TrimSpace(string(auditText)), "\n") {
		var en audit.Entry
		json.Unmarshal([]byte(line), &en)
		switch {
		case en.Action == "check.create" && en.Check == c.ID:
			sawCreate = strings.HasPrefix(en.Household, "hk:") && en.AuthorizationRef == "SQ-2026-0001" && en.RuleSet != "" && en.Snapshots["vehicle"] != ""
		case en.Action == "report.view" && en.Check == c.ID:
			sawReport = true
		case en.Action == "denied" && en.User == "intake2":
			sawDenied = true
		}
	}
	if !sawCreate || !sawReport || !sawDenied {
		t.Fatalf("audit log lacks check.create (with digest, authorization, rule set, snapshots) %v, report.view %v or denied %v", sawCreate, sawReport, sawDenied)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
