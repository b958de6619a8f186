package serve

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hedui/hedui/report"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/sources"
)

//go:embed web
var webFS embed.FS

var pageFuncs = template.FuncMap{
	"fmtTime":       func(t time.Time) string { return t.In(chinaTime).Format("2006-01-02 15:04") },
	"verdictLabel":  verdictLabel,
	"outcomeLabel":  report.OutcomeLabel,
	"kindLabel":     func(k string) string { return report.KindLabel(sources.Kind(k)) },
	"relationLabel": relationLabel,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"values": func(m map[string]any) string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		var b strings.Builder
		for i, k := range ks {
			if i > 0 {
				b.WriteString("；")
			}
			fmt.Fprintf(&b, "%s：%v", k, m[k])
		}
		return b.String()
	},
}

var pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(webFS, "web/layout.html"))

func verdictLabel(v string) string {
	switch v {
	case "eligible":
		return "未发现不符合条件情形"
	case "ineligible":
		return "不符合条件"
	case "review":
		return "需核实"
	}
	return v
}

var relationLabels = map[string]string{"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "other": "其他"}

func relationLabel(r string) string {
	if l, ok := relationLabels[r]; ok {
		return l
	}
	return r
}

type option struct{ Value, Label string }

type regionOption struct{ Code, Name string }

// pageData is what every page template reads.
type pageData struct {
	Title     string
	User      *users.User
	CSRF      string
	LoginCSRF string
	Error     any
	Form      *CheckRequest
	Regions   []regionOption
	Relations []option
	Checks    []checkSummary
	Stats     *Stats
	Users     []userInfo
	Check     *Check
}

// render executes a page into a buffer first, so a template error is a
// clean 500 rather than half a page.
func (srv *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		srv.log.Error("render page", "page", name, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'; form-action 'self'")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (srv *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ctype := map[string]string{"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}[name]
	b, err := webFS.ReadFile("web/" + name)
	if ctype == "" || err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// formError is an error shown above the form.
type formError struct{ Field, Message string }

func (srv *Server) homeData(p *principal, form *CheckRequest) *pageData {
	d := &pageData{Title: "核对", User: &p.user, CSRF: p.session.csrf}
	switch p.user.Role {
	case users.Intake:
		if form == nil {
			form = &CheckRequest{Members: []Member{{Relation: "head"}}, Area: "rural", Assistance: "dibao",
				ApplicationDate: srv.today().Format(time.DateOnly)}
		}
		d.Form = form
		for _, code := range srv.snap.Load().regionList() {
			if p.user.Region == "" || strings.HasPrefix(code, p.user.Region) {
				d.Regions = append(d.Regions, regionOption{code, report.CountyName(code)})
			}
		}
		for _, r := range relations {
			d.Relations = append(d.Relations, option{r, relationLabel(r)})
		}
		d.Checks = srv.recentFor(p, 20)
	case users.Reviewer:
		d.Checks = srv.recentFor(p, 50)
	case users.Analyst:
		s := srv.stats()
		d.Stats = &s
	case users.Admin:
		d.Users = srv.userList()
	}
	return d
}

func (srv *Server) home(w http.ResponseWriter, r *http.Request) {
	p, ok := srv.who(r)
	if !ok || p.session == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.user, sw.role = p.user.Name, string(p.user.Role)
	}
	srv.render(w, http.StatusOK, "home", srv.homeData(p, nil))
}

// submitForm is the form's POST: the same check as the API, then a
// redirect to the result (or the form again, with the error).
func (srv *Server) submitForm(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "run checks", users.Intake)
	if p == nil {
		return
	}
	if p.session == nil {
		writeError(w, http.StatusBadRequest, apiError{Message: "this is the web form; API clients POST /api/v1/checks"})
		return
	}
	req := &CheckRequest{RegionCode: r.PostFormValue("region_code"), Area: r.PostFormValue("area"),
		Assistance: r.PostFormValue("assistance"), ApplicationDate: r.PostFormValue("application_date"),
		AuthorizationRef: r.PostFormValue("authorization_ref")}
	ids, names, rels := r.PostForm["person_id"], r.PostForm["name"], r.PostForm["relation"]
	for i, id := range ids {
		m := Member{PersonID: id}
		if i < len(names) {
			m.Name = names[i]
		}
		if i < len(rels) {
			m.Relation = rels[i]
		}
		req.Members = append(req.Members, m)
	}
	form := *req
	form.Members = slices.Clone(req.Members)
	c, _, e := srv.createCheck(r, p, req)
	if e != nil {
		d := srv.homeData(p, &form)
		if len(d.Form.Members) == 0 {
			d.Form.Members = []Member{{Relation: "head"}}
		}
		d.Error = formError{Field: e.Field, Message: formMessage(e)}
		srv.render(w, e.Status, "home", d)
		return
	}
	http.Redirect(w, r, "/checks/"+c.ID, http.StatusSeeOther)
}

// formMessage is a field error in the words intake staff read.
func formMessage(e *apiError) string {
	field := e.Field
	if strings.HasSuffix(field, ".person_id") {
		var n int
		fmt.Sscanf(field, "members[%d]", &n)
		return fmt.Sprintf("第 %d 位成员的公民身份号码无效（%s）：%s", n+1, e.Reason, e.Message)
	}
	words := map[string]string{"authorization_ref": "请填写授权书编号", "members": "请至少填写一位家庭成员",
		"region_code": "区县不在本系统的核对范围内", "application_date": "申请日期有误"}
	if w, ok := words[field]; ok {
		return w + "（" + e.Message + "）"
	}
	return e.Message
}

func (srv *Server) checkPage(w http.ResponseWriter, r *http.Request) {
	p, c := srv.openCheck(w, r, "see checks", "check.view")
	if c == nil {
		return
	}
	if err := srv.appendAudit(srv.checkEntry(p, "check.view", http.StatusOK, c)); err != nil {
		http.Error(w, "the audit log could not be written", http.StatusInternalServerError)
		return
	}
	d := &pageData{Title: "核对结果 " + c.ID, User: &p.user, Check: c}
	if p.session != nil {
		d.CSRF = p.session.csrf
	}
	srv.render(w, http.StatusOK, "check", d)
}
