package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/sources/personid"
)

// userCache holds the users file, re-read when it changes on disk (at most
// once a second), so that `hedui user add` takes effect without a restart.
type userCache struct {
	path    string
	mu      sync.Mutex
	file    atomic.Pointer[users.File]
	mod     time.Time
	size    int64
	checked atomic.Int64 // unix nanoseconds of the last stat
}

func newUserCache(path string) (*userCache, error) {
	c := &userCache{path: path}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *userCache) reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err == nil && c.file.Load() != nil && st.ModTime().Equal(c.mod) && st.Size() == c.size {
		return nil
	}
	f, err := users.Load(c.path)
	if err != nil {
		return err
	}
	if st != nil {
		c.mod, c.size = st.ModTime(), st.Size()
	}
	c.file.Store(f)
	return nil
}

// get returns the current users file.
func (c *userCache) get() *users.File {
	now := time.Now().UnixNano()
	if last := c.checked.Load(); now-last > int64(time.Second) && c.checked.CompareAndSwap(last, now) {
		c.reload() // on error keep the last good file
	}
	return c.file.Load()
}

// principal is who makes a request.
type principal struct {
	user    users.User
	session *session // nil for API tokens
}

// session is a web login.
type session struct {
	user    string
	csrf    string
	created time.Time
	seen    atomic.Int64 // unix nanoseconds
}

const (
	sessionCookie  = "hedui_session"
	loginCookie    = "hedui_login"
	sessionIdle    = 30 * time.Minute
	sessionMaxLife = 12 * time.Hour
)

// sessions are kept in memory: a restart logs everyone out.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	fails map[string]*loginFails
}

type loginFails struct {
	n     int
	until time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, fails: map[string]*loginFails{}}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(user string) (string, *session) {
	id := randomString(32)
	ss := &session{user: user, csrf: randomString(32), created: time.Now()}
	ss.seen.Store(time.Now().UnixNano())
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID { // drop expired sessions as new ones come
		if v.expired() {
			delete(s.byID, k)
		}
	}
	s.byID[id] = ss
	return id, ss
}

func (ss *session) expired() bool {
	now := time.Now()
	return now.Sub(ss.created) > sessionMaxLife || now.Sub(time.Unix(0, ss.seen.Load())) > sessionIdle
}

func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	if ss.expired() {
		delete(s.byID, id)
		return nil
	}
	ss.seen.Store(time.Now().UnixNano())
	return ss
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// throttled reports whether logins as name are refused for now: after 5
// failures in a row, for 5 minutes.
func (s *sessions) throttled(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fails[name]
	return f != nil && f.n >= 5 && time.Now().Before(f.until)
}

func (s *sessions) failed(name string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		delete(s.fails, name)
		return
	}
	f := s.fails[name]
	if f == nil || (f.n >= 5 && time.Now().After(f.until)) {
		f = &loginFails{}
		s.fails[name] = f
	}
	f.n++
	f.until = time.Now().Add(5 * time.Minute)
}

// who identifies the request: a Bearer token, or a session cookie. A
// request that tries a token and fails is not looked up by cookie.
func (srv *Server) who(r *http.Request) (*principal, bool) {
	f := srv.users.get()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, false
		}
		u := f.ByToken(strings.TrimSpace(tok))
		if u == nil {
			return nil, false
		}
		return &principal{user: *u}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	ss := srv.sessions.get(c.Value)
	if ss == nil {
		return nil, false
	}
	u := f.Find(ss.user)
	if u == nil { // removed since login
		srv.sessions.drop(c.Value)
		return nil, false
	}
	return &principal{user: *u, session: ss}, true
}

// authorize answers 401 without a valid token or session, 403 (and an audit
// line) when the role is not among allowed, and for a session's unsafe
// request without the right CSRF token (form field csrf or header
// X-CSRF-Token) 403 as well. It returns nil when it answered.
func (srv *Server) authorize(w http.ResponseWriter, r *http.Request, action string, allowed ...users.Role) *principal {
	p, ok := srv.who(r)
	if !ok {
		if wantsHTML(r) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return nil
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="hedui"`)
		writeError(w, http.StatusUnauthorized, apiError{Message: "authentication required: send Authorization: Bearer TOKEN, or log in"})
		return nil
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.user, sw.role = p.user.Name, string(p.user.Role)
	}
	if p.session != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(p.session.csrf)) != 1 {
			srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "denied", Status: http.StatusForbidden,
				Detail: action + ": missing or wrong CSRF token"})
			writeError(w, http.StatusForbidden, apiError{Message: "missing or wrong CSRF token; reload the page"})
			return nil
		}
	}
	for _, a := range allowed {
		if p.user.Role == a {
			return p
		}
	}
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "denied", Status: http.StatusForbidden,
		Detail: action + ": role not allowed"})
	writeError(w, http.StatusForbidden, apiError{Message: "role " + string(p.user.Role) + " may not " + action})
	return nil
}

// wantsHTML tells page requests (which get redirects) from API calls.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (srv *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: srv.cfg.SecureCookies, SameSite: http.SameSiteStrictMode}
}

func (srv *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	srv.renderLogin(w, r, "", http.StatusOK)
}

// renderLogin shows the login form with a fresh login CSRF token, sent both
// as a cookie and as a form field (double submit).
func (srv *Server) renderLogin(w http.ResponseWriter, r *http.Request, msg string, code int) {
	tok := randomString(24)
	http.SetCookie(w, srv.cookie(loginCookie, tok, 600))
	d := &pageData{Title: "登录", LoginCSRF: tok}
	if msg != "" {
		d.Error = msg
	}
	srv.render(w, code, "login", d)
}

func (srv *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 || c.Value == "" {
		srv.renderLogin(w, r, "登录页面已过期，请重新登录。", http.StatusForbidden)
		return
	}
	shown := maskedName(name)
	if srv.sessions.throttled(name) {
		srv.appendAudit(audit.Entry{User: shown, Action: "login.failed", Status: http.StatusTooManyRequests, Detail: "throttled after 5 failures"})
		srv.renderLogin(w, r, "失败次数过多，请 5 分钟后再试。", http.StatusTooManyRequests)
		return
	}
	u, ok := srv.users.get().CheckPassword(name, pw)
	srv.sessions.failed(name, ok)
	if !ok {
		srv.appendAudit(audit.Entry{User: shown, Action: "login.failed", Status: http.StatusUnauthorized})
		srv.renderLogin(w, r, "用户名或密码错误。", http.StatusUnauthorized)
		return
	}
	id, _ := srv.sessions.create(u.Name)
	http.SetCookie(w, srv.cookie(sessionCookie, id, int(sessionMaxLife.Seconds())))
	http.SetCookie(w, srv.cookie(loginCookie, "", -1))
	if sw, ok := w.(*statusWriter); ok {
		sw.user, sw.role = u.Name, string(u.Role)
	}
	srv.appendAudit(audit.Entry{User: u.Name, Role: string(u.Role), Action: "login", Status: http.StatusSeeOther})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (srv *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "log out", users.Roles...)
	if p == nil {
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		srv.sessions.drop(c.Value)
	}
	http.SetCookie(w, srv.cookie(sessionCookie, "", -1))
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "logout", Status: http.StatusSeeOther})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// maskedName is a login name as the audit log keeps it: someone typing an
// ID number into the name field must not leave it there.
func maskedName(name string) string {
	if len(name) > 64 {
		name = name[:64]
	}
	if p := personid.Parse(name); p.Reason == personid.ReasonNone || len(name) >= 15 && strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return personid.MaskString(name)
	}
	return name
}
