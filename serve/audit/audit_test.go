package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog appends n entries, from two Logs on the same file (as the
// service and `hedui user` do), concurrently.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		l := a
		if i%3 == 0 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Append(Entry{Time: day.Add(time.Duration(i) * time.Hour), User: "wang", Role: "intake", Action: "check.create",
				Check: "ck" + strings.Repeat("0", i%5), Household: "hk:abc", AuthorizationRef: "SQ-1", Verdict: "review"})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	return path
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func writeLines(t *testing.T, path string, ls []string) {
	if err := os.WriteFile(path, []byte(strings.Join(ls, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyNamesTheTamperedEntry(t *testing.T) {
	path := writeLog(t, 40)
	res, err := Verify(path)
	if err != nil || res.Problem != nil || res.Entries != 40 {
		t.Fatalf("fresh log: %+v %v; want 40 entries, no problem", res, err)
	}
	orig := lines(t, path)
	tests := []struct {
		name     string
		edit     func([]string) []string
		line     int
		seq      int64
		contains string
	}{
		{"edited verdict", func(ls []string) []string {
			ls[16] = strings.Replace(ls[16], `"verdict":"review"`, `"verdict":"eligible"`, 1)
			return ls
		}, 17, 17, "edited"},
		{"removed entry", func(ls []string) []string { return append(ls[:9:9], ls[10:]...) }, 10, 10, "removed"},
		{"edited and rehashed", func(ls []string) []string {
			// Rewrite entry 5 with a valid own hash: the next entry's prev no longer matches.
			e := mustParse(t, ls[4])
			e.User = "li"
			e.Hash, _ = e.digest()
			ls[4] = mustJSON(t, e)
			return ls
		}, 6, 6, "prev does not match"},
		{"tail removed", func(ls []string) []string { return ls[:35] }, 0, 36, "head file records entry 40"},
		{"garbled line", func(ls []string) []string { ls[2] = ls[2][:20]; return ls }, 3, 3, "not an audit entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writeLines(t, path, tc.edit(append([]string(nil), orig...)))
			res, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			p := res.Problem
			if p == nil || p.Line != tc.line || p.Seq != tc.seq || !strings.Contains(p.Error(), tc.contains) {
				t.Fatalf("problem %v; want line %d entry %d with %q", p, tc.line, tc.seq, tc.contains)
			}
		})
	}
}

func TestExportDateRange(t *testing.T) {
	path := writeLog(t, 30)
	var buf bytes.Buffer
	from := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)
	if err := Export(path, from, from.Add(10*time.Hour), &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 11 || recs[0][0] != "seq" || recs[0][7] != "household" {
		t.Fatalf("export has %d rows (header %v); want a header and 10 entries", len(recs), recs[0])
	}
	for _, r := range recs[1:] {
		tm, _ := time.Parse(time.RFC3339Nano, r[1])
		if tm.Before(from) || !tm.Before(from.Add(10*time.Hour)) {
			t.Fatalf("entry at %s outside the range", r[1])
		}
	}
}

func mustParse(t *testing.T, s string) Entry {
	var e Entry
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func mustJSON(t *testing.T, e Entry) string {
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
