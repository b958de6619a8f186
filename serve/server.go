package serve

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/store"
)

// Config configures a Server.
type Config struct {
	// DB is the open index; the server reads it and applies updates to it.
	DB *store.DB
	// Rules is the rule set checks apply.
	Rules *rules.Set
	// UsersPath is the users file (package serve/users).
	UsersPath string
	// DataDir is the service's own folder: checks.jsonl, audit.jsonl (and
	// audit.jsonl.head), household.key, the CSV cache of updates. It must
	// not be the index folder, which the store owns.
	DataDir string
	// Logger receives one line per request and the service's events; ID
	// numbers never appear in it. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; the check date is its day in China (UTC+8). Nil
	// means time.Now.
	Now func() time.Time
	// Views is the number of index views checks share, hence the number of
	// checks evaluated at once; 0 means 16.
	Views int
	// SecureCookies sets the Secure attribute of cookies: set it whenever
	// the service is reached over HTTPS.
	SecureCookies bool
	// MaxBodyBytes bounds a request body; 0 means 64 KiB.
	MaxBodyBytes int64
}

// Server is the intake service. Create it with New, serve it with Serve
// (or mount Handler), and Close it after.
type Server struct {
	cfg    Config
	log    *slog.Logger
	snap   atomic.Pointer[snapshot]
	checks *checkStore
	audit  *audit.Log
	// auditSynced is the seq of the last audit entry known durable;
	// auditKick wakes syncAudit, which ends by closing auditDone;
	// auditErr holds the error that stopped it.
	auditSynced atomic.Int64
	auditKick   chan struct{}
	auditDone   chan struct{}
	auditErr    atomic.Pointer[error]
	key         []byte // HMAC key of household digests
	users       *userCache
	sessions    *sessions
	metrics     *metrics
	handler     http.Handler
	updateMu    sync.Mutex // one index update at a time
	base        context.Context
	stop        context.CancelFunc
}

// New opens the service's data folder and the index views.
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil || cfg.Rules == nil || cfg.UsersPath == "" || cfg.DataDir == "" {
		return nil, errors.New("serve: Config needs DB, Rules, UsersPath and DataDir")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Views <= 0 {
		cfg.Views = 16
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if same, _ := sameDir(cfg.DataDir, cfg.DB.Dir()); same {
		return nil, fmt.Errorf("serve: the data folder %s is the index folder; give the service a folder of its own", cfg.DataDir)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	srv := &Server{cfg: cfg, log: cfg.Logger, sessions: newSessions()}
	srv.base, srv.stop = context.WithCancel(context.Background())
	var err error
	if srv.key, err = loadKey(filepath.Join(cfg.DataDir, "household.key")); err != nil {
		return nil, err
	}
	if srv.users, err = newUserCache(cfg.UsersPath); err != nil {
		return nil, err
	}
	if srv.checks, err = openChecks(filepath.Join(cfg.DataDir, "checks.jsonl")); err != nil {
		return nil, err
	}
	if srv.audit, err = audit.OpenLogged(filepath.Join(cfg.DataDir, "audit.jsonl"), srv.log); err != nil {
		srv.checks.close()
		return nil, err
	}
	s, err := openSnapshot(cfg.DB, cfg.Views)
	if err != nil {
		srv.checks.close()
		srv.audit.Close()
		return nil, err
	}
	if s.cat.Roster() == nil {
		s.retire()
		srv.checks.close()
		srv.audit.Close()
		return nil, fmt.Errorf("index %s has no roster: build it with hedui index build", cfg.DB.Dir())
	}
	srv.snap.Store(s)
	srv.metrics = newMetrics(srv)
	srv.checks.gs.Observe = srv.metrics.observeCommit
	if err := srv.recoverAudit(); err != nil {
		s.retire()
		srv.checks.close()
		srv.audit.Close()
		return nil, err
	}
	srv.auditKick, srv.auditDone = make(chan struct{}, 1), make(chan struct{})
	go srv.syncAudit()
	srv.handler = srv.routes()
	return srv, nil
}

func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// loadKey reads the household-digest key, creating it on first start.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(string(trimNL(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("%s: want 64 hex digits", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Handler is the service's HTTP handler.
func (srv *Server) Handler() http.Handler { return srv.handler }

// Close releases the index views and closes the data files; the index
// itself belongs to the caller.
func (srv *Server) Close() error {
	srv.stop()
	<-srv.auditDone
	srv.updateMu.Lock()
	defer srv.updateMu.Unlock()
	if s := srv.snap.Load(); s != nil {
		s.retire()
	}
	seq, hash := srv.audit.Head()
	srv.log.Info("audit log head at close", "seq", seq, "hash", hash)
	return errors.Join(srv.checks.close(), srv.audit.Close())
}

// Serve answers on ln until ctx is cancelled (SIGTERM), then stops
// accepting, lets requests in flight finish (up to 20 s) and returns. With
// certFile and keyFile it serves HTTPS.
func (srv *Server) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	hs := &http.Server{
		Handler:           srv.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second, // an index update answers when done
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return srv.base },
	}
	if certFile != "" {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	seq, hash := srv.audit.Head()
	srv.log.Info("serving", "addr", ln.Addr().String(), "tls", certFile != "", "audit_head_seq", seq, "audit_head", hash)
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- hs.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && e != nil {
		err = errors.Join(err, e)
	}
	return err
}

// routes is the router: every path, its method and the roles it admits
// (checked in the handlers, see doc.go).
func (srv *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, h) }
	handle("GET /healthz", srv.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(srv.metrics.reg, promhttp.HandlerOpts{}))
	handle("GET /static/{file}", srv.static)
	handle("GET /login", srv.loginPage)
	handle("POST /login", srv.login)
	handle("POST /logout", srv.logout)
	handle("GET /{$}", srv.home)
	handle("POST /checks", srv.submitForm)
	handle("GET /checks/{id}", srv.checkPage)
	handle("GET /checks/{id}/report", srv.checkReport)
	handle("POST /api/v1/checks", srv.apiCreateCheck)
	handle("GET /api/v1/checks", srv.apiListChecks)
	handle("GET /api/v1/checks/{id}", srv.apiGetCheck)
	handle("GET /api/v1/checks/{id}/report", srv.checkReport)
	handle("POST /api/v1/personid", srv.apiPersonID)
	handle("GET /api/v1/stats", srv.apiStats)
	handle("GET /api/v1/users", srv.apiListUsers)
	handle("POST /api/v1/users", srv.apiAddUser)
	handle("POST /api/v1/index/update", srv.apiIndexUpdate)
	return srv.logged(mux)
}

func (srv *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s := srv.snap.Load()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "snapshots": snapshotDates(s.snapshots)})
}

// statusWriter remembers the status code for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
	user string
	role string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logged writes the access log line (no query string, no body: neither
// holds an ID number in this API, and the log never does), counts the
// request and sets the headers every answer carries.
func (srv *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, srv.cfg.MaxBodyBytes)
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		srv.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		srv.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.code), slog.Duration("took", time.Since(start)), slog.String("user", sw.user),
			slog.String("role", sw.role), slog.String("remote", r.RemoteAddr))
	})
}
