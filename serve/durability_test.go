package serve

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
