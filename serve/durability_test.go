package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/serve/users"
)

// TestAuditRecoveredFromCheckFile: a crash that keeps the last audit
// entries of answered checks from the disk (their lines in checks.jsonl
// made it, the audit log's sync did not) loses no entry: the next start
// appends them again, the chain verifies, and a further start does not
// append them twice.
func TestAuditRecoveredFromCheckFile(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create("intake1", request(e.r.households[i], "SQ-crash")).ID)
	}
	auditPath := filepath.Join(e.data, "audit.jsonl")
	checksPath := filepath.Join(e.data, "checks.jsonl")
	lost := ids[3:]
	e.restart(func() {
		// The audit log loses the entries of the last two checks, and
		// their lines say the audit log was synced before them only.
		b, err := os.ReadFile(auditPath)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" && !strings.Contains(l, lost[0]) && !strings.Contains(l, lost[1]) {
				keep = append(keep, l)
			}
		}
		writeFile(t, auditPath, strings.Join(keep, ""))
		os.Remove(auditPath + ".head")
		c, err := os.ReadFile(checksPath)
		if err != nil {
			t.Fatal(err)
		}
		c = regexp.MustCompile(`,"audit_synced":\d+`).ReplaceAll(c, nil)
		writeFile(t, checksPath, string(c))
	})
	countCreates := func() map[string]int {
		t.Helper()
		res, err := audit.Verify(auditPath)
		if err != nil || res.Problem != nil {
			t.Fatalf("verify: %v %v", err, res.Problem)
		}
		n := map[string]int{}
		b, _ := os.ReadFile(auditPath)
		for l := range strings.Lines(string(b)) {
			var en audit.Entry
			if err := json.Unmarshal([]byte(l), &en); err != nil {
				t.Fatal(err)
			}
			if en.Action == "check.create" {
				n[en.Check]++
				if strings.HasPrefix(en.Detail, "recovered") != (en.Check == lost[0] || en.Check == lost[1]) {
					t.Errorf("check %s: detail %q", en.Check, en.Detail)
				}
			}
		}
		return n
	}
	n := countCreates()
	for _, id := range ids {
		if n[id] != 1 {
			t.Errorf("check %s: %d check.create entries after the crash, want 1", id, n[id])
		}
	}
	e.restart(nil)
	n = countCreates()
	for _, id := range ids {
		if n[id] != 1 {
			t.Errorf("check %s: %d check.create entries after a second start, want 1", id, n[id])
		}
	}
	if resp, _ := e.do("GET", "/api/v1/checks/"+ids[4], "intake1", nil); resp.StatusCode != 200 {
		t.Errorf("GET a check after the restarts: %s", resp.Status)
	}
}

// TestCheckFileTail: zeros written ahead, a line cut by a crash and a line
// with zeros in it end the data (none of them was acknowledged); the file
// is cut to its data at start and at close; lines of the earlier format
// (facts as JSON, no audit copy) still read.
func TestCheckFileTail(t *testing.T) {
	e := newEnv(t)
	c := e.create("intake1", request(e.r.vehicleHousehold(t), "SQ-tail"))
	path := filepath.Join(e.data, "checks.jsonl")
	old, err := e.srv.checks.get(e.srv.checks.list[0])
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	e.restart(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		good = b
		if bytes.IndexByte(b, 0) >= 0 {
			t.Fatal("Close left zeros in checks.jsonl")
		}
		// An earlier version's line: the same check with its facts as JSON.
		old.ID = "ckold"
		j, _ := json.Marshal(old)
		good = append(good, append(j, '\n')...)
		torn := append([]byte(nil), good...)
		torn = append(torn, `{"id":"ckcut","created":"2026-11-01T02:00:00Z","user":"int`...) // cut line
		torn = append(torn, make([]byte, 3000)...)
		torn = append(torn, `"x":1}`+"\n"...) // the end of a later line, past zeros
		writeFile(t, path, string(torn))
	})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, good) {
		t.Errorf("checks.jsonl after start: %d bytes, want the %d of its lines", len(b), len(good))
	}
	for _, id := range []string{c.ID, "ckold"} {
		resp, body := e.do("GET", "/api/v1/checks/"+id+"/report", "intake1", nil)
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("vehicle")) {
			t.Errorf("report of %s: %s", id, resp.Status)
		}
	}
	if _, ok := e.srv.checks.meta("ckcut"); ok {
		t.Error("the cut line was read as a check")
	}
	// New checks go after the old data; the zeros ahead are cut at close.
	c2 := e.create("intake1", request(e.r.households[0], "SQ-tail2"))
	e.restart(nil)
	if resp, _ := e.do("GET", "/api/v1/checks/"+c2.ID, "intake1", nil); resp.StatusCode != 200 {
		t.Errorf("GET the check made after the cut: %s", resp.Status)
	}
	b, _ = os.ReadFile(path)
	if bytes.IndexByte(b, 0) >= 0 || !bytes.HasPrefix(b, good) {
		t.Error("checks.jsonl after close: zeros left, or the earlier lines changed")
	}
}

// TestStoredFactsSameAsJSON: the facts a check keeps (binary encoding)
// come back equal, as JSON, to the facts the check found, for every
// household of the fixture: the 核对报告 reads the same.
func TestStoredFactsSameAsJSON(t *testing.T) {
	e := newEnv(t)
	p := &principal{user: users.User{Name: "intake1", Role: users.Intake}}
	for i, h := range e.r.households {
		if i >= 200 {
			break
		}
		req := request(h, "SQ-facts")
		c, ae := e.srv.runCheck(httptest.NewRequest("POST", "/api/v1/checks", nil), p, &req)
		if ae != nil {
			t.Fatalf("household %s: %v", h.id, ae)
		}
		answer, err := encodeCheck(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeStored(storedLine(c, answer, nil, 0))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c.Facts)
		got, _ := json.Marshal(back.Facts)
		if !bytes.Equal(got, want) {
			t.Fatalf("household %s: stored facts\n%s\nwant\n%s", h.id, got, want)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTornTailRecovered: a machine crash that cuts the audit log's
// last line (the entry of the last check answered; its line in checks.jsonl
// made it) at any byte, or leaves zeros after it, costs nothing: the next
// start cuts the torn tail off into a side file, logs it, and appends the
// entry again from checks.jsonl; the chain verifies, every check has one
// check.create entry, and checks made afterwards are audited.
func TestAuditTornTailRecovered(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, e.create("intake1", request(e.r.households[i], "SQ-torn")).ID)
	}
	auditPath := filepath.Join(e.data, "audit.jsonl")
	// Stop the service and keep its files: each case starts from them.
	e.ts.Close()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e.srv = nil
	saved := map[string][]byte{}
	for _, name := range []string{"audit.jsonl", "audit.jsonl.head", "checks.jsonl"} {
		b, err := os.ReadFile(filepath.Join(e.data, name))
		if err != nil {
			t.Fatal(err)
		}
		saved[name] = b
	}
	orig := saved["audit.jsonl"]
	lastStart := bytes.LastIndexByte(orig[:len(orig)-1], '\n') + 1
	last := orig[lastStart:]
	var lost audit.Entry
	if err := json.Unmarshal(last, &lost); err != nil || lost.Action != "check.create" || lost.Check != ids[2] {
		t.Fatalf("last audit line %q: want the check.create of %s", last, ids[2])
	}
	var before audit.Entry
	json.Unmarshal(orig[bytes.LastIndexByte(orig[:lastStart-1], '\n')+1:lastStart], &before)
	head, _ := json.Marshal(map[string]any{"seq": before.Seq, "hash": before.Hash}) // the last entry synced
	tests := []struct {
		name string
		tail []byte
	}{
		{"cut after 1 byte", last[:1]},
		{"cut after 60 bytes", last[:60]},
		{"cut in the middle", last[:len(last)/2]},
		{"cut before the closing brace", last[:len(last)-2]},
		{"only the newline missing", last[:len(last)-1]},
		{"cut, then zeros", append(bytes.Clone(last[:80]), make([]byte, 4096)...)},
		{"zeros, then the end of the line", append(make([]byte, 70), last[70:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range tornSideFiles(t, auditPath) {
				os.Remove(m)
			}
			writeFile(t, filepath.Join(e.data, "checks.jsonl"), string(saved["checks.jsonl"]))
			writeFile(t, auditPath+".head", string(head)+"\n")
			writeFile(t, auditPath, string(orig[:lastStart])+string(tc.tail))
			parent := e.t
			e.t, e.log = t, &syncBuffer{}
			e.start()
			defer func() {
				e.t = parent
				e.ts.Close()
				if err := e.srv.Close(); err != nil {
					t.Error(err)
				}
				e.srv = nil
			}()
			whole := tc.name == "only the newline missing"
			side := tornSideFiles(t, auditPath)
			if whole != (len(side) == 0) {
				t.Errorf("side files %v", side)
			}
			if !whole && !strings.Contains(e.log.String(), "torn tail cut off") {
				t.Errorf("log %q: want the cut logged", e.log.String())
			}
			ids := append(ids, e.create("intake1", request(e.r.households[3], "SQ-after")).ID)
			for id, n := range checkCreates(t, auditPath) {
				if n.count != 1 {
					t.Errorf("check %s: %d check.create entries, want 1", id, n.count)
				}
				if want := id == lost.Check && !whole; n.recovered != want {
					t.Errorf("check %s: recovered %v, want %v", id, n.recovered, want)
				}
			}
			if n := checkCreates(t, auditPath); len(n) != len(ids) {
				t.Errorf("%d checks in the audit log, want %d", len(n), len(ids))
			}
		})
	}
	e.start() // for the cleanup
}

// createCount is what the audit log holds of one check's creation.
type createCount struct {
	count     int
	recovered bool // appended again from checks.jsonl
}

// checkCreates verifies the audit log and counts its check.create entries
// per check.
func checkCreates(t *testing.T, path string) map[string]createCount {
	t.Helper()
	res, err := audit.Verify(path)
	if err != nil || res.Problem != nil {
		t.Fatalf("verify: %v %v", err, res.Problem)
	}
	n := map[string]createCount{}
	b, _ := os.ReadFile(path)
	for l := range strings.Lines(string(b)) {
		var en audit.Entry
		if err := json.Unmarshal([]byte(l), &en); err != nil {
			t.Fatal(err)
		}
		if en.Action == "check.create" {
			c := n[en.Check]
			c.count++
			c.recovered = c.recovered || strings.HasPrefix(en.Detail, "recovered")
			n[en.Check] = c
		}
	}
	return n
}

func tornSideFiles(t *testing.T, auditPath string) []string {
	t.Helper()
	m, err := filepath.Glob(auditPath + ".torn-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAuditMiddleEditNotRepaired: an edited line in the middle of the
// audit log is no torn tail: the service starts and audits new checks, and
// the chain still fails to verify at that line; nothing is cut.
func TestAuditMiddleEditNotRepaired(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.create("intake1", request(e.r.households[i], "SQ-mid"))
	}
	auditPath := filepath.Join(e.data, "audit.jsonl")
	e.restart(func() {
		b, err := os.ReadFile(auditPath)
		if err != nil {
			t.Fatal(err)
		}
		ls := strings.SplitAfter(string(b), "\n")
		ls[1] = strings.Replace(ls[1], `"authorization_ref":"SQ-mid"`, `"authorization_ref":"SQ-mad"`, 1)
		writeFile(t, auditPath, strings.Join(ls, ""))
	})
	e.create("intake1", request(e.r.households[3], "SQ-mid"))
	if side := tornSideFiles(t, auditPath); len(side) != 0 {
		t.Errorf("side files %v after a middle edit", side)
	}
	res, err := audit.Verify(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problem; p == nil || p.Line != 2 || !strings.Contains(p.What, "edited") {
		t.Fatalf("verify: %v; want line 2 named as edited", p)
	}
}

// TestAuditLostSyncedEntryRefused: an audit log that lacks an entry its
// head file records as synced lost it to something other than a crash:
// the service does not start (it would append over the loss and rewrite
// the head), names the entry, and leaves the log as it was.
func TestAuditLostSyncedEntryRefused(t *testing.T) {
	e := newEnv(t)
	for i := range 2 {
		e.create("intake1", request(e.r.households[i], "SQ-lost"))
	}
	auditPath := filepath.Join(e.data, "audit.jsonl")
	e.ts.Close()
	if err := e.srv.Close(); err != nil { // syncs the log and records its head
		t.Fatal(err)
	}
	e.srv = nil
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	var last audit.Entry
	if err := json.Unmarshal(b[lastStart:], &last); err != nil {
		t.Fatal(err)
	}
	damaged := b[:len(b)-25]
	writeFile(t, auditPath, string(damaged))
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DB: e.db, Rules: set, UsersPath: e.users, DataDir: e.data, Logger: quiet()})
	if err == nil {
		srv.Close()
		t.Fatal("the service started on an audit log that lost a synced entry")
	}
	if want := fmt.Sprintf("head file records entry %d", last.Seq); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q: want %q", err, want)
	}
	if got, _ := os.ReadFile(auditPath); !bytes.Equal(got, damaged) || len(tornSideFiles(t, auditPath)) != 0 {
		t.Error("the refused audit log was changed")
	}
	// An inspector who has seen it accepts the log as it is.
	if err := os.Rename(auditPath+".head", auditPath+".head.seen"); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.create("intake1", request(e.r.households[2], "SQ-lost"))
}
