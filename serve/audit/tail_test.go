package audit

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashState rewrites the head file as a crash while appending the last
// entry leaves it: recording the entry before it (the last one synced).
func crashState(t *testing.T, path string) {
	t.Helper()
	ls := lines(t, path)
	e := mustParse(t, ls[len(ls)-2])
	if err := writeHead(path, e.Seq, e.Hash); err != nil {
		t.Fatal(err)
	}
}

// tornFiles returns the side files Open kept torn tails in.
func tornFiles(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".torn-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOpenCutsTornTail: a last line a crash cut at any byte, or left with
// zeros, or left as a line that is not an entry, is cut off at open, its
// bytes kept in a side file and the cut logged; appends then continue the
// chain and Verify passes. A last line that lacks only its newline gets it
// back: the entry stays, nothing is cut.
func TestOpenCutsTornTail(t *testing.T) {
	src := writeLog(t, 10)
	crashState(t, src)
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(src + ".head")
	if err != nil {
		t.Fatal(err)
	}
	lastStart := bytes.LastIndexByte(orig[:len(orig)-1], '\n') + 1
	lastLen := len(orig) - lastStart // with its newline
	zeros := make([]byte, 5000)
	tests := []struct {
		name  string
		tail  []byte // what follows entry 9
		whole bool   // the entry stays (only its newline was missing)
	}{
		{"cut after 1 byte", orig[lastStart : lastStart+1], false},
		{"cut after 17 bytes", orig[lastStart : lastStart+17], false},
		{"cut in the middle", orig[lastStart : lastStart+lastLen/2], false},
		{"cut within the hash", orig[lastStart : lastStart+lastLen-10], false},
		{"cut before the closing brace", orig[lastStart : lastStart+lastLen-2], false},
		{"only the newline missing", orig[lastStart : lastStart+lastLen-1], true},
		{"zeros only", zeros, false},
		{"cut, then zeros", append(bytes.Clone(orig[lastStart:lastStart+40]), zeros...), false},
		{"zeros, then the end of the line", append(bytes.Clone(zeros[:100]), orig[lastStart+100:]...), false},
		{"zeros, the end of the line, then a cut line", append(append(bytes.Clone(zeros[:100]), orig[lastStart+100:]...), orig[lastStart:lastStart+30]...), false},
		{"a last line that is not an entry", []byte("{\"seq\":10,\"time\"\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			data := append(bytes.Clone(orig[:lastStart]), tc.tail...)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".head", head, 0o600); err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			l, err := OpenLogged(path, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			side := tornFiles(t, path)
			if tc.whole {
				if !bytes.Equal(got, orig) || len(side) != 0 || !strings.Contains(logBuf.String(), "newline restored") {
					t.Fatalf("log after open: %d bytes, side files %v, log %q; want the whole log back, no side file", len(got), side, logBuf.String())
				}
			} else {
				if !bytes.Equal(got, orig[:lastStart]) {
					t.Fatalf("log after open: %d bytes, want the %d up to entry 9", len(got), lastStart)
				}
				if len(side) != 1 {
					t.Fatalf("side files %v, want one", side)
				}
				if kept, _ := os.ReadFile(side[0]); !bytes.Equal(kept, tc.tail) {
					t.Errorf("side file holds %q, want the torn tail %q", kept, tc.tail)
				}
				if s := logBuf.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "torn tail cut off") || !strings.Contains(s, filepath.Base(side[0])) {
					t.Errorf("log %q: want a warning naming the side file", s)
				}
			}
			if err := l.Append(Entry{User: "li", Role: "admin", Action: "user.add", Time: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}); err != nil {
				t.Fatalf("append after open: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			want := int64(10)
			if tc.whole {
				want = 11
			}
			res, err := Verify(path)
			if err != nil || res.Problem != nil || res.Entries != want {
				t.Fatalf("verify: %+v %v; want %d entries, no problem", res, err, want)
			}
		})
	}
}

// TestOpenLeavesMiddleDamage: a damaged line followed by complete entries
// is not a torn tail: Open changes nothing (appends continue), and Verify
// still names the line, also when a torn tail was cut after it. Several
// lines at the end that are not entries (and hold no zeros) are not what a
// crash leaves: Open refuses the log, naming the first of them.
func TestOpenLeavesMiddleDamage(t *testing.T) {
	src := writeLog(t, 10)
	crashState(t, src)
	orig := lines(t, src)
	tests := []struct {
		name    string
		edit    func([]string) string
		line    int
		openErr string // Open fails with this, naming the line
	}{
		{"edited line 4", func(ls []string) string {
			ls[3] = strings.Replace(ls[3], `"user":"wang"`, `"user":"zhao"`, 1)
			return strings.Join(ls, "\n") + "\n"
		}, 4, ""},
		{"garbled line 5", func(ls []string) string {
			ls[4] = ls[4][:30]
			return strings.Join(ls, "\n") + "\n"
		}, 5, ""},
		{"zeros in line 6", func(ls []string) string {
			ls[5] = strings.Repeat("\x00", 50) + ls[5][50:]
			return strings.Join(ls, "\n") + "\n"
		}, 6, ""},
		{"garbled line 3 and a torn tail", func(ls []string) string {
			ls[2] = ls[2][:30]
			return strings.Join(ls[:9], "\n") + "\n" + ls[9][:25]
		}, 3, ""},
		{"two garbled lines at the end", func(ls []string) string {
			ls[8], ls[9] = ls[8][:30], ls[9][:30]
			return strings.Join(ls, "\n") + "\n"
		}, 9, "line 9 (byte "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeFile := tc.edit(append([]string(nil), orig...))
			if err := os.WriteFile(path, []byte(writeFile), 0o600); err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			l, err := OpenLogged(path, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if tc.openErr != "" {
				var nt *notTornError
				if err == nil || !errors.As(err, &nt) || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("open: %v; want a refusal naming %q", err, tc.openErr)
				}
				if got, _ := os.ReadFile(path); string(got) != writeFile {
					t.Error("Open changed a log it refused")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Append(Entry{User: "li", Role: "admin", Action: "user.add"}); err != nil {
					t.Fatalf("append: %v", err)
				}
				l.Close()
			}
			if got, _ := os.ReadFile(path); !strings.HasPrefix(string(got), strings.Join(orig[:tc.line-1], "\n")+"\n") {
				t.Error("the lines before the damage changed")
			}
			res, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if res.Problem == nil || res.Problem.Line != tc.line {
				t.Fatalf("verify: problem %v; want one at line %d", res.Problem, tc.line)
			}
		})
	}
}

// TestVerifyNamesATornLastLine: before a start cuts it, Verify reports a
// torn last line as such, at its line; not so when the head file records
// the entry as synced (a crash cannot cut it then).
func TestVerifyNamesATornLastLine(t *testing.T) {
	path := writeLog(t, 5)
	head, _ := os.ReadFile(path + ".head")
	crashState(t, path)
	ls := lines(t, path)
	ls[4] = ls[4][:40]
	if err := os.WriteFile(path, []byte(strings.Join(ls, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problem; p == nil || p.Line != 5 || !strings.Contains(p.What, "torn last line") {
		t.Fatalf("problem %v; want a torn last line at line 5", p)
	}
	if err := os.WriteFile(path+".head", head, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problem; p == nil || p.Line != 5 || !strings.Contains(p.What, "head file records entry 5") {
		t.Fatalf("problem %v; want line 5, recorded as synced", p)
	}
}

// TestOpenRefusesLostSyncedEntries: a log that lacks, or holds another,
// entry its head file records as synced was damaged, not torn by a crash:
// Open refuses it and changes nothing (appending would rewrite the head and
// hide the loss), and Verify fails. Moving the head file aside accepts it.
func TestOpenRefusesLostSyncedEntries(t *testing.T) {
	src := writeLog(t, 6) // its head records entry 6
	orig, _ := os.ReadFile(src)
	head, _ := os.ReadFile(src + ".head")
	ls := lines(t, src)
	e := mustParse(t, ls[5])
	e.User = "li"
	e.Hash, _ = e.digest()
	rewritten := strings.Join(ls[:5], "\n") + "\n" + mustJSON(t, e) + "\n"
	tests := []struct {
		name, log string
	}{
		{"last synced line cut", string(orig[:len(orig)-20])},
		{"last synced line removed", strings.Join(ls[:5], "\n") + "\n"},
		{"last synced line rewritten", rewritten},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, []byte(tc.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".head", head, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenLogged(path, slog.New(slog.DiscardHandler))
			var he *headError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), "entry 6") {
				t.Fatalf("open: %v; want a refusal naming entry 6", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.log || len(tornFiles(t, path)) != 0 {
				t.Fatal("Open changed the log it refused")
			}
			if res, err := Verify(path); err != nil || res.Problem == nil {
				t.Fatalf("verify: %+v %v; want a problem", res, err)
			}
			if err := os.Rename(path+".head", path+".head.seen"); err != nil {
				t.Fatal(err)
			}
			l, err := OpenLogged(path, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("open without the head file: %v", err)
			}
			l.Close()
		})
	}
}

// TestScanTailLongLines: the tail is found when the lines it must see
// start before the first bytes findTail reads (it reads more).
func TestScanTailLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Append(Entry{User: "wang", Action: "denied", Detail: strings.Repeat("x", 50<<10+i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	b, _ := os.ReadFile(path)
	keep := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	torn := append(bytes.Clone(b[:len(b)-100]), make([]byte, 100<<10)...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl, err := findTail(f, int64(len(torn)))
	if err != nil || tl.keep != int64(keep) || tl.seq != 2 {
		t.Fatalf("findTail: %+v %v; want the end of entry 2 at %d", tl, err, keep)
	}
}

// TestOpenTornFirstEntry: a log whose only line is torn is cut to nothing
// (the next entry is entry 1 again), and one whose only line lacks just its
// newline gets it back.
func TestOpenTornFirstEntry(t *testing.T) {
	src := writeLog(t, 1)
	orig, _ := os.ReadFile(src)
	for _, cut := range []int{1, len(orig) / 2, len(orig) - 1} {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(path, orig[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := OpenLogged(path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		want := orig[:0]
		if cut == len(orig)-1 {
			want = orig
		}
		if !bytes.Equal(got, want) {
			t.Errorf("cut at %d: log after open %q, want %q", cut, got, want)
		}
		if err := l.Append(Entry{User: "li", Action: "login"}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if res, err := Verify(path); err != nil || res.Problem != nil || res.Entries != int64(1+len(want)/len(orig)) {
			t.Errorf("cut at %d: verify %+v %v", cut, res, err)
		}
	}
}
