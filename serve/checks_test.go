package serve

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
)

// TestEncodeCheck: the answer is what writeJSON gives for the API view,
// and the stored line decodes to the whole check, facts included.
func TestEncodeCheck(t *testing.T) {
	base := Check{ID: "ck01", Created: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), User: "intake1", RegionCode: "530102",
		Area: "urban", Assistance: "dibao", ApplicationDate: "2026-10-20", AuthorizationRef: `SQ-<1>&"2"`,
		Members: []Member{{PersonID: "11010519491231002X", Name: "张三", Relation: "head"}}, Verdict: "review",
		AsOf: "2026-11-01", RuleSetDigest: "abc", Snapshots: map[string]string{"vehicle": "2026-10-28"},
		Flags: []Finding{{RuleID: "vehicle", RuleVersion: 1, Outcome: "review", Message: "车辆 <2>",
			Evidence: rules.Evidence{RuleID: "vehicle", Values: map[string]any{"n": 2.0}}}}, Micros: 12}
	withFacts := base
	withFacts.Facts = &facts.Household{ID: "ck01", Region: "530102", Area: "urban",
		Members: []*facts.Member{{PersonID: "11010519491231002X", Name: "张三", Relation: "head"}}}
	auditLine := []byte(`{"seq":7,"action":"check.create","prev":"00","hash":"ab"}`)
	for _, c := range []*Check{&base, &withFacts} {
		answer, err := encodeCheck(c)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 201, apiView(c))
		if !bytes.Equal(answer, rec.Body.Bytes()) {
			t.Errorf("answer:\n got %s\nwant %s", answer, rec.Body.Bytes())
		}
		line := storedLine(c, answer, auditLine, 5)
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("line is not one JSON line: %q", line)
		}
		back, err := decodeStored(line)
		if err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		want, _ := json.Marshal(c)
		got, _ := json.Marshal(&back.Check)
		if !bytes.Equal(got, want) {
			t.Errorf("stored check decodes to\n%s\nwant\n%s", got, want)
		}
		if (back.Facts != nil) != (c.Facts != nil) {
			t.Errorf("facts kept: %v, want %v", back.Facts != nil, c.Facts != nil)
		}
		if !bytes.Equal(back.Audit, auditLine) || back.AuditSynced != 5 {
			t.Errorf("audit entry %s, synced %d; want %s, 5", back.Audit, back.AuditSynced, auditLine)
		}
	}
}
