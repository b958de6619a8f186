package serve

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestWebLogin covers the page's session: login (failed too), CSRF on
// every form, the check form and the result page.
func TestWebLogin(t *testing.T) {
	e := newEnv(t)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(path string, v url.Values) (*http.Response, string) {
		resp, err := cl.PostForm(e.ts.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("home without a session: %s; want a redirect to /login", resp.Status)
	}
	_, page := get("/login")
	tok := csrfField.FindStringSubmatch(page)[1]
	if resp, _ := post("/login", url.Values{"name": {"intake1"}, "password": {"wrong password"}, "csrf": {tok}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	_, page = get("/login")
	tok = csrfField.FindStringSubmatch(page)[1]
	if resp, _ := post("/login", url.Values{"name": {"intake1"}, "password": {testPassword}, "csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login with a forged CSRF token: %s", resp.Status)
	}
	_, page = get("/login")
	tok = csrfField.FindStringSubmatch(page)[1]
	resp, _ := post("/login", url.Values{"name": {"intake1"}, "password": {testPassword}, "csrf": {tok}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && (!c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", c)
		}
	}
	resp, page = get("/")
	if resp.StatusCode != 200 || !strings.Contains(page, `id="check-form"`) {
		t.Fatalf("home: %s", resp.Status)
	}
	tok = csrfField.FindStringSubmatch(page)[1]
	h := e.r.vehicleHousehold(t)
	form := url.Values{"region_code": {h.region}, "area": {h.area}, "assistance": {h.assistance}, "application_date": {"2026-10-20"},
		"authorization_ref": {"SQ-web"}}
	for _, m := range h.members {
		form.Add("person_id", m.PersonID)
		form.Add("name", m.Name)
		form.Add("relation", m.Relation)
	}
	if resp, _ := post("/checks", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form without CSRF: %s; want 403", resp.Status)
	}
	// Cookies alone do not make an API call either.
	if resp, _ := post("/api/v1/personid", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("session POST to the API without CSRF: %s; want 403", resp.Status)
	}
	noAuth := url.Values{}
	for k, v := range form {
		noAuth[k] = v
	}
	noAuth.Set("authorization_ref", "")
	noAuth.Set("csrf", tok)
	if resp, page := post("/checks", noAuth); resp.StatusCode != 400 || !strings.Contains(page, `data-field="authorization_ref"`) {
		t.Fatalf("form without authorization: %s; want 400 naming the field", resp.Status)
	}
	form.Set("csrf", tok)
	resp, _ = post("/checks", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/checks/ck") {
		t.Fatalf("form: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	resp, page = get(resp.Header.Get("Location"))
	if resp.StatusCode != 200 || !strings.Contains(page, `data-rule="vehicle.owned"`) || !strings.Contains(page, h.members[0].PersonID) {
		t.Fatalf("result page: %s, vehicle finding or full ID missing", resp.Status)
	}
	if resp, _ := post("/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp, _ := get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("home after logout: %s; want a redirect", resp.Status)
	}
}
