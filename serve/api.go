package serve

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/report"
	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// CheckRequest is the body of POST /api/v1/checks.
type CheckRequest struct {
	Members          []Member `json:"members"`
	RegionCode       string   `json:"region_code"`
	Area             string   `json:"area"`       // urban or rural
	Assistance       string   `json:"assistance"` // dibao (default), tekun or edge
	ApplicationDate  string   `json:"application_date"`
	AuthorizationRef string   `json:"authorization_ref"`
}

// apiError is the JSON body of every error answer: what went wrong, and for
// a 400 which field (members[2].person_id) and a reason word.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func badField(field, reason, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, e apiError) { writeJSON(w, code, e) }

// MaxMembers bounds the members of one household.
const MaxMembers = 30

var relations = []string{"head", "spouse", "child", "parent", "other"}

// decodeCheck reads and validates a check request. regions are the
// counties the index covers.
func decodeCheck(r *http.Request) (*CheckRequest, *apiError) {
	var req CheckRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, bodyError(err)
	}
	if dec.More() {
		return nil, badField("body", "syntax", "the body holds more than one JSON value")
	}
	return &req, nil
}

// bodyError names what is wrong with an unreadable body.
func bodyError(err error) *apiError {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return badField("body", "too_large", "request body larger than %d bytes", mbe.Limit)
	case errors.As(err, &ute):
		return badField(ute.Field, "type", "field %s: want a JSON %s", ute.Field, ute.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badField(f, "unknown_field", "unknown field %q; allowed: members, region_code, area, assistance, application_date, authorization_ref", f)
	case errors.Is(err, io.EOF):
		return badField("body", "empty", "empty body: want a JSON object")
	}
	return badField("body", "syntax", "body is not valid JSON: %v", err)
}

var regionPattern = regexp.MustCompile(`^[0-9]{6}$`)

// validate checks the request against what the service knows and turns it
// into roster rows; day is the check date.
func (req *CheckRequest) validate(regions map[string]bool, day time.Time) (applied time.Time, keys []personid.Key, e *apiError) {
	req.AuthorizationRef = strings.TrimSpace(req.AuthorizationRef)
	switch {
	case req.AuthorizationRef == "":
		return applied, nil, badField("authorization_ref", "missing", "authorization_ref is required: the reference of the applicant's signed authorization (授权书)")
	case len(req.AuthorizationRef) > 100:
		return applied, nil, badField("authorization_ref", "too_long", "authorization_ref longer than 100 bytes")
	}
	if len(req.Members) == 0 {
		return applied, nil, badField("members", "missing", "members is required: at least one member, the head first")
	}
	if len(req.Members) > MaxMembers {
		return applied, nil, badField("members", "too_many", "%d members; at most %d", len(req.Members), MaxMembers)
	}
	for i := range req.Members {
		m := &req.Members[i]
		field := fmt.Sprintf("members[%d]", i)
		p := personid.Parse(m.PersonID)
		if p.Reason != personid.ReasonNone {
			return applied, nil, badField(field+".person_id", p.Reason.String(), "%s.person_id %s is not a valid ID number: %s",
				field, personid.MaskString(strings.TrimSpace(m.PersonID)), p.Reason)
		}
		if slices.Contains(keys, p.Key) {
			return applied, nil, badField(field+".person_id", "duplicate", "%s.person_id %s appears twice in the household", field, p.Key.Mask())
		}
		keys = append(keys, p.Key)
		m.PersonID = p.Key.String()
		m.Name = strings.TrimSpace(m.Name)
		if len(m.Name) > 100 {
			return applied, nil, badField(field+".name", "too_long", "%s.name longer than 100 bytes", field)
		}
		if m.Relation == "" {
			m.Relation = "other"
			if i == 0 {
				m.Relation = "head"
			}
		}
		if !slices.Contains(relations, m.Relation) {
			return applied, nil, badField(field+".relation", "unknown", "%s.relation %q; allowed: head, spouse, child, parent, other", field, m.Relation)
		}
	}
	if !regionPattern.MatchString(req.RegionCode) {
		return applied, nil, badField("region_code", "format", "region_code %q: want a 6-digit county code", req.RegionCode)
	}
	if !regions[req.RegionCode] {
		return applied, nil, badField("region_code", "unknown", "region_code %s is not a county of this index", req.RegionCode)
	}
	if req.Area != "urban" && req.Area != "rural" {
		return applied, nil, badField("area", "unknown", "area %q; allowed: urban, rural", req.Area)
	}
	if req.Assistance == "" {
		req.Assistance = "dibao"
	}
	if !slices.Contains([]string{"dibao", "tekun", "edge"}, req.Assistance) {
		return applied, nil, badField("assistance", "unknown", "assistance %q; allowed: dibao, tekun, edge", req.Assistance)
	}
	applied = day
	if req.ApplicationDate != "" {
		t, err := time.Parse(time.DateOnly, req.ApplicationDate)
		if err != nil {
			return applied, nil, badField("application_date", "format", "application_date %q: want YYYY-MM-DD", req.ApplicationDate)
		}
		if t.After(day) {
			return applied, nil, badField("application_date", "future", "application_date %s is after today (%s)", req.ApplicationDate, day.Format(time.DateOnly))
		}
		applied = t
	}
	req.ApplicationDate = applied.Format(time.DateOnly)
	return applied, keys, nil
}

// chinaTime is the zone whose calendar day a check is made on.
var chinaTime = time.FixedZone("CST", 8*3600)

// today is the check date: the day in China, as a UTC midnight (the form
// dates of the rules take).
func (srv *Server) today() time.Time {
	y, m, d := srv.cfg.Now().In(chinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func newCheckID() string {
	var b [10]byte
	rand.Read(b[:])
	return "ck" + hex.EncodeToString(b[:])
}

// householdDigest is the audit log's name for a household: a keyed digest
// of its members' ID numbers, sorted, so the same household always gets the
// same digest and the digest reveals no number.
func (srv *Server) householdDigest(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	m := hmac.New(sha256.New, srv.key)
	m.Write([]byte(strings.Join(s, ",")))
	return "hk:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// verdictOf sums up the flags: ineligible when any is; review when any
// flag needs a person (review, insufficient, adjust, omission); eligible
// when there is none or only info.
func verdictOf(fs []rules.Flag) string {
	v := "eligible"
	for _, f := range fs {
		switch f.Outcome {
		case "ineligible":
			return "ineligible"
		case "info":
		default:
			v = "review"
		}
	}
	return v
}

func snapshotDates(m map[sources.Kind]time.Time) map[string]string {
	out := make(map[string]string, len(m))
	for k, t := range m {
		out[string(k)] = t.Format(time.DateOnly)
	}
	return out
}

// runCheck validates req and checks it against one consistent view.
func (srv *Server) runCheck(r *http.Request, p *principal, req *CheckRequest) (*Check, *apiError) {
	start := time.Now()
	snap, v, err := srv.borrow(r.Context())
	if err != nil {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Message: "request cancelled while waiting for the index"}
	}
	defer snap.put(v)
	day := srv.today()
	applied, keys, e := req.validate(snap.regions, day)
	if e != nil {
		return nil, e
	}
	if p.user.Region != "" && !strings.HasPrefix(req.RegionCode, p.user.Region) {
		return nil, &apiError{Status: http.StatusForbidden, Field: "region_code", Reason: "not_yours",
			Message: fmt.Sprintf("user %s checks households of %s only", p.user.Name, p.user.Region)}
	}
	id := newCheckID()
	rows := make([]*sources.RosterMember, len(req.Members))
	for i, m := range req.Members {
		rm := &sources.RosterMember{HouseholdID: id, Relation: m.Relation, Area: req.Area, Assistance: req.Assistance,
			Status: "applicant", ApplicationDate: applied, AuthorizationRef: req.AuthorizationRef}
		rm.Origin = sources.Origin{Key: keys[i], PersonID: m.PersonID, Name: m.Name, Region: req.RegionCode,
			Kind: sources.KindRoster, File: "intake", Row: int64(i + 1)}
		rows[i] = rm
	}
	h, flags, err := review.CheckHousehold(v, srv.cfg.Rules, day, rows)
	if err != nil {
		srv.log.Error("check failed", "check", id, "err", maskedErr(err))
		return nil, &apiError{Status: http.StatusInternalServerError, Message: "the check failed; the error is in the service log (check " + id + ")"}
	}
	c := &Check{ID: id, Created: srv.cfg.Now().UTC(), User: p.user.Name, RegionCode: req.RegionCode, Area: req.Area,
		Assistance: req.Assistance, ApplicationDate: req.ApplicationDate, AuthorizationRef: req.AuthorizationRef,
		Members: req.Members, Verdict: verdictOf(flags), AsOf: day.Format(time.DateOnly), RuleSetDigest: srv.cfg.Rules.Digest(),
		Snapshots: snapshotDates(snap.snapshots), Flags: make([]Finding, len(flags)), Facts: h}
	for i, f := range flags {
		c.Flags[i] = Finding{RuleID: f.RuleID, RuleVersion: f.RuleVersion, Outcome: string(f.Outcome), PersonID: f.PersonID,
			Message: f.Message, Basis: f.Basis, Evidence: f.Evidence}
	}
	c.Micros = time.Since(start).Microseconds()
	return c, nil
}

// maskedErr is an error's text with every ID-like run of characters masked.
func maskedErr(err error) string { return report.MaskText(err.Error()) }

func (srv *Server) apiCreateCheck(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	p := srv.authorize(w, r, "run checks", users.Intake)
	if p == nil {
		return
	}
	req, e := decodeCheck(r)
	if e != nil {
		writeError(w, e.Status, *e)
		return
	}
	c, answer, e := srv.createCheck(r, p, req)
	if e != nil {
		writeError(w, e.Status, *e)
		return
	}
	h := w.Header()
	h.Set("Location", "/api/v1/checks/"+c.ID)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(answer))) // one write, not chunks
	w.WriteHeader(http.StatusCreated)
	w.Write(answer)
	srv.metrics.latency.Observe(time.Since(start).Seconds())
}

// createCheck runs, stores and audits a check; it returns the check and
// its API answer (JSON, without the facts).
func (srv *Server) createCheck(r *http.Request, p *principal, req *CheckRequest) (*Check, []byte, *apiError) {
	c, e := srv.runCheck(r, p, req)
	if e != nil {
		if e.Status == http.StatusForbidden {
			srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "denied", Status: e.Status,
				AuthorizationRef: req.AuthorizationRef, Detail: "check outside the user's region " + req.RegionCode})
		}
		return nil, nil, e
	}
	answer, err := encodeCheck(c)
	if err != nil {
		srv.log.Error("encode check", "check", c.ID, "err", maskedErr(err))
		return nil, nil, &apiError{Status: http.StatusInternalServerError, Message: "the check could not be stored"}
	}
	// The audit entry goes to the audit log without waiting for its disk,
	// and into the check's line: one fdatasync of the check file makes both
	// durable (the audit log is synced a moment later, see syncAudit).
	if err := srv.auditFailed(); err != nil {
		return nil, nil, &apiError{Status: http.StatusInternalServerError, Message: "the audit log could not be written"}
	}
	entry := srv.checkEntry(p, "check.create", http.StatusCreated, c)
	entry.Time = srv.cfg.Now()
	auditLine, _, err := srv.audit.WriteLine(entry)
	if err != nil {
		srv.log.Error("audit log", "action", entry.Action, "err", err)
		return nil, nil, &apiError{Status: http.StatusInternalServerError, Message: "the audit log could not be written"}
	}
	srv.kickAudit()
	n, err := srv.checks.write(c, storedLine(c, answer, auditLine, srv.auditSynced.Load()))
	if err == nil {
		err = srv.checks.sync(n)
	}
	if err != nil {
		srv.log.Error("store check", "check", c.ID, "err", err)
		return nil, nil, &apiError{Status: http.StatusInternalServerError, Message: "the check could not be stored"}
	}
	srv.metrics.checks.WithLabelValues(c.Verdict).Inc()
	return c, answer, nil
}

func (srv *Server) checkEntry(p *principal, action string, status int, c *Check) audit.Entry {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.PersonID
	}
	return audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: action, Status: status, Check: c.ID,
		Household: srv.householdDigest(ids), AuthorizationRef: c.AuthorizationRef, RuleSet: c.RuleSetDigest,
		Snapshots: c.Snapshots, Verdict: c.Verdict}
}

// appendAudit writes an entry; a failure is logged and returned.
func (srv *Server) appendAudit(e audit.Entry) error {
	e.Time = srv.cfg.Now()
	if err := srv.audit.Append(e); err != nil {
		srv.log.Error("audit log", "action", e.Action, "err", err)
		return err
	}
	return nil
}

// apiView is a check as the API returns it: without the facts.
func apiView(c *Check) *Check {
	v := *c
	v.Facts = nil
	return &v
}

// openCheck authorizes an intake user or reviewer to what (e.g. "see
// checks") and loads the check the path names; the check is nil when the
// answer (401, 403, 404, 500) has been written.
func (srv *Server) openCheck(w http.ResponseWriter, r *http.Request, what, action string) (*principal, *Check) {
	p := srv.authorize(w, r, what, users.Intake, users.Reviewer)
	if p == nil {
		return nil, nil
	}
	return p, srv.loadCheck(w, r, p, action)
}

// loadCheck finds a check the principal may see: 404 when there is none,
// 403 when it is someone else's (intake) or another county's (reviewer).
func (srv *Server) loadCheck(w http.ResponseWriter, r *http.Request, p *principal, action string) *Check {
	id := r.PathValue("id")
	m, ok := srv.checks.meta(id)
	if !ok {
		writeError(w, http.StatusNotFound, apiError{Message: "no check " + strings.ToValidUTF8(limit(id, 40), "?")})
		return nil
	}
	if !mayRead(p, &m) {
		srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "denied", Status: http.StatusForbidden,
			Check: m.id, Detail: action + ": not the user's check or county"})
		writeError(w, http.StatusForbidden, apiError{Message: "check " + m.id + " is not yours to see"})
		return nil
	}
	c, err := srv.checks.get(m)
	if err != nil {
		srv.log.Error("read check", "check", m.id, "err", err)
		writeError(w, http.StatusInternalServerError, apiError{Message: "the check could not be read"})
		return nil
	}
	return c
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// mayRead: intake sees their own checks, a reviewer those of their county.
func mayRead(p *principal, m *checkMeta) bool {
	switch p.user.Role {
	case users.Intake:
		return m.user == p.user.Name
	case users.Reviewer:
		return p.user.Region != "" && strings.HasPrefix(m.region, p.user.Region)
	}
	return false
}

func (srv *Server) apiGetCheck(w http.ResponseWriter, r *http.Request) {
	p, c := srv.openCheck(w, r, "see checks", "check.view")
	if c == nil {
		return
	}
	if err := srv.appendAudit(srv.checkEntry(p, "check.view", http.StatusOK, c)); err != nil {
		writeError(w, http.StatusInternalServerError, apiError{Message: "the audit log could not be written"})
		return
	}
	writeJSON(w, http.StatusOK, apiView(c))
}

// checkSummary is one line of a list of checks.
type checkSummary struct {
	ID         string    `json:"id"`
	Created    time.Time `json:"created"`
	User       string    `json:"user"`
	RegionCode string    `json:"region_code"`
	Members    int       `json:"members"`
	Verdict    string    `json:"verdict"`
}

// recentFor lists the checks the principal may see, newest first.
func (srv *Server) recentFor(p *principal, n int) []checkSummary {
	ms := srv.checks.recent(n, func(m *checkMeta) bool { return mayRead(p, m) })
	out := make([]checkSummary, len(ms))
	for i, m := range ms {
		out[i] = checkSummary{ID: m.id, Created: m.created, User: m.user, RegionCode: m.region, Members: m.members, Verdict: m.verdict}
	}
	return out
}

func (srv *Server) apiListChecks(w http.ResponseWriter, r *http.Request) {
	p := srv.authorize(w, r, "list checks", users.Intake, users.Reviewer)
	if p == nil {
		return
	}
	srv.appendAudit(audit.Entry{User: p.user.Name, Role: string(p.user.Role), Action: "checks.list", Status: http.StatusOK})
	writeJSON(w, http.StatusOK, map[string]any{"checks": srv.recentFor(p, 100)})
}

// checkReport answers the printable 核对报告 of a check (the page and the API
// share it).
func (srv *Server) checkReport(w http.ResponseWriter, r *http.Request) {
	p, c := srv.openCheck(w, r, "see reports", "report.view")
	if c == nil {
		return
	}
	var buf bytes.Buffer
	if err := report.Check(&buf, reportData(c), report.Options{Unmasked: p.user.Role.SeesPersons(), Rules: srv.cfg.Rules,
		Date: c.Created.In(chinaTime)}); err != nil {
		srv.log.Error("report", "check", c.ID, "err", maskedErr(err))
		writeError(w, http.StatusInternalServerError, apiError{Message: "the report could not be written"})
		return
	}
	if err := srv.appendAudit(srv.checkEntry(p, "report.view", http.StatusOK, c)); err != nil {
		writeError(w, http.StatusInternalServerError, apiError{Message: "the audit log could not be written"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

func reportData(c *Check) report.CheckData {
	asOf, _ := time.Parse(time.DateOnly, c.AsOf)
	d := report.CheckData{Household: c.Facts, AsOf: asOf, RuleSetDigest: c.RuleSetDigest, Snapshots: map[sources.Kind]time.Time{}}
	for k, s := range c.Snapshots {
		t, _ := time.Parse(time.DateOnly, s)
		d.Snapshots[sources.Kind(k)] = t
	}
	for _, f := range c.Flags {
		d.Flags = append(d.Flags, rules.Flag{HouseholdID: c.ID, PersonID: f.PersonID, RuleID: f.RuleID, RuleVersion: f.RuleVersion,
			Outcome: rules.Outcome(f.Outcome), Message: f.Message, Basis: f.Basis, Evidence: f.Evidence})
	}
	return d
}

// apiPersonID validates one ID number as the form's field is typed:
// {"person_id": "..."} → {"valid": bool, "reason": word, "message": Chinese}.
func (srv *Server) apiPersonID(w http.ResponseWriter, r *http.Request) {
	if p := srv.authorize(w, r, "validate ID numbers", users.Intake); p == nil {
		return
	}
	var req struct {
		PersonID string `json:"person_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		e := bodyError(err)
		writeError(w, e.Status, *e)
		return
	}
	pr := personid.Parse(req.PersonID)
	out := map[string]any{"valid": pr.Reason == personid.ReasonNone, "reason": pr.Reason.String(), "message": reasonText[pr.Reason]}
	if pr.Reason == personid.ReasonNone {
		out["reason"] = ""
		y, m, d := pr.Key.BirthDate()
		out["birth_date"] = fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	}
	writeJSON(w, http.StatusOK, out)
}

// reasonText explains each rejection reason to intake staff.
var reasonText = map[personid.Reason]string{
	personid.ReasonNone:       "号码有效",
	personid.ReasonEmpty:      "请输入公民身份号码",
	personid.ReasonLength:     "长度不对：应为 18 位（或 15 位旧号码）",
	personid.ReasonCharacters: "含有非法字符：只能是数字，最后一位可以是 X",
	personid.ReasonChecksum:   "校验位不符：请逐位核对号码",
	personid.ReasonBirthDate:  "出生日期不存在",
	personid.ReasonAddress:    "地址码不存在（省份代码无效）",
}
