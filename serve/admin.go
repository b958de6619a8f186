package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"time"

	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
)

// Stats is what analysts see: counts, never a person or a household.
type Stats struct {
	Checks    int                       `json:"checks"`
	ByVerdict map[string]int            `json:"by_verdict"`
	ByRegion  map[string]map[string]int `json:"by_region"` // county → verdict → count
	Snapshots map[string]string         `json:"snapshots"`
}

func (srv *Server) stats() Stats {
	n, bv, br := srv.checks.counts()
	return Stats{Checks: n, ByVerdict: bv, ByRegion: br, Snapshots: snapshotDates(srv.snap.Load().snapshots)}
}

func (srv *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "see statistics", users.Analyst)
	if p == nil {
		return
	}
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "stats.view", Status: http.StatusOK})
	writeJSON(w, http.StatusOK, srv.stats())
}

// userInfo is a user as the admin API lists it: no secret, not even hashed.
type userInfo struct {
	Name        string     `json:"name"`
	Role        users.Role `json:"role"`
	Region      string     `json:"region,omitempty"`
	HasPassword bool       `json:"has_password"`
	Created     time.Time  `json:"created"`
}

func (srv *Server) userList() []userInfo {
	f := srv.users.get()
	out := make([]userInfo, len(f.Users))
	for i, u := range f.Users {
		out[i] = userInfo{Name: u.Name, Role: u.Role, Region: u.Region, HasPassword: u.PasswordHash != "", Created: u.Created}
	}
	return out
}

func (srv *Server) apiListUsers(w http.ResponseWriter, r *http.Request) {
	if p := srv.authorize(w, r, "manage users", users.Admin); p == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": srv.userList()})
}

// apiAddUser creates a user: {"name", "role", "region"} → 201 with the API
// token, shown this once.
func (srv *Server) apiAddUser(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "manage users", users.Admin)
	if p == nil {
		return
	}
	var req struct {
		Name   string `json:"name"`
		Role   string `json:"role"`
		Region string `json:"region"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		e := bodyError(err)
		writeError(w, e.Status, *e)
		return
	}
	role, err := users.ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Field: "role", Reason: "unknown", Message: err.Error()})
		return
	}
	tok, err := users.Add(srv.cfg.UsersPath, req.Name, role, req.Region, srv.cfg.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Field: "name", Reason: "invalid", Message: err.Error()})
		return
	}
	srv.users.reload()
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "user.add", Status: http.StatusCreated,
		Detail: "added " + req.Name + " as " + string(role)})
	writeJSON(w, http.StatusCreated, map[string]any{"name": req.Name, "role": role, "region": req.Region, "token": tok})
}

// UpdateRequest is the body of POST /api/v1/index/update.
type UpdateRequest struct {
	// Manifest is the path of sources.yaml as the server sees it.
	Manifest string `json:"manifest"`
}

// UpdateResult answers an update.
type UpdateResult struct {
	Sources   []store.SourceUpdate `json:"sources"`
	Snapshots map[string]string    `json:"snapshots"`
	Seconds   float64              `json:"seconds"`
	Error     string               `json:"error,omitempty"`
}

// apiIndexUpdate applies a new snapshot inside the running service (the
// index folder is this process's): checks go on reading the views opened
// before; when Update returns, new views are opened and swapped in, and
// the old ones closed as their checks finish. 409 while another update runs.
func (srv *Server) apiIndexUpdate(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "update the index", users.Admin)
	if p == nil {
		return
	}
	var req UpdateRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		e := bodyError(err)
		writeError(w, e.Status, *e)
		return
	}
	if req.Manifest == "" || !filepath.IsAbs(req.Manifest) {
		writeError(w, http.StatusBadRequest, apiError{Field: "manifest", Reason: "missing",
			Message: "manifest: want the absolute path of sources.yaml on the server"})
		return
	}
	m, err := sources.LoadManifest(req.Manifest)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Field: "manifest", Reason: "invalid", Message: err.Error()})
		return
	}
	if !srv.updateMu.TryLock() {
		writeError(w, http.StatusConflict, apiError{Message: "another index update is running; try again when it is done"})
		return
	}
	defer srv.updateMu.Unlock()
	res, err := srv.applyUpdate(m)
	code, result := http.StatusOK, "ok"
	if err != nil {
		res.Error = maskedErr(err)
		code, result = http.StatusInternalServerError, "error"
	}
	srv.metrics.updates.WithLabelValues(result).Inc()
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "index.update", Status: code,
		Snapshots: res.Snapshots, Detail: req.Manifest + " " + result})
	writeJSON(w, code, res)
}

// applyUpdate runs store.Update and swaps in views of the result. The
// update runs on the service's context, not the request's: a client that
// hangs up does not leave the index half-updated. Whatever Update did,
// even when it failed midway, the new views show the index as it is.
func (srv *Server) applyUpdate(m *sources.Manifest) (UpdateResult, error) {
	start := time.Now()
	ups, err := srv.cfg.DB.Update(context.WithoutCancel(srv.base), m, store.UpdateOptions{CacheDir: filepath.Join(srv.cfg.DataDir, "cache")})
	res := UpdateResult{Sources: ups}
	next, oerr := openSnapshot(srv.cfg.DB, srv.cfg.Views)
	if oerr != nil {
		res.Snapshots = snapshotDates(srv.snap.Load().snapshots)
		return res, oerr
	}
	old := srv.snap.Swap(next)
	old.retire()
	res.Snapshots = snapshotDates(next.snapshots)
	res.Seconds = time.Since(start).Seconds()
	srv.log.Info("index updated", "seconds", res.Seconds, "sources", len(ups), "err", err)
	return res, err
}
