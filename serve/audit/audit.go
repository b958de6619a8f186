// Package audit is the service's append-only audit log: one JSON object per
// line, each carrying the SHA-256 hash of the line before it (prev) and its
// own hash over its content and prev, so that editing or removing a line
// breaks the chain at that line.
//
// # Format
//
//	{"seq":1,"time":"2026-11-01T08:00:00.123Z","user":"wang","role":"intake",
//	 "action":"check.create","status":201,"check":"c7f3…","household":"hk:4be1…",
//	 "authorization_ref":"SQ-2026-0001","rule_set":"9f2c…","snapshots":{"vehicle":"2026-10-28"},
//	 "verdict":"ineligible","prev":"<64 hex>","hash":"<64 hex>"}
//
// hash = hex SHA-256 of the line's JSON with "hash" left out (prev
// included); the first line's prev is 64 zeros. The household is a keyed
// digest of its members' ID numbers (HMAC-SHA256 with the service's key),
// never the numbers themselves; no names are written.
//
// Removing the last lines leaves a valid shorter chain, so every sync also
// writes FILE.head (the last seq and hash): Verify checks the log reaches
// it. Someone able to rewrite both files from the edited line on can only
// be caught by a head recorded elsewhere: Verify prints the head, and the
// service logs it at start and shutdown, for inspectors to compare.
//
// A crash while appending may leave a torn tail after the last complete
// entry (a line cut short, zeros): Open cuts it off, keeping its bytes in a
// side file, and the service appends again the entries of checks it held
// from its check file (see OpenLogged). Damage followed by a complete entry
// is never repaired: Verify names its line.
//
// Several processes may append (the service, `hedui user`): each append
// holds an flock on the log and re-reads the last line when another
// process wrote since.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Entry is one line of the log.
type Entry struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	User string    `json:"user"` // as typed, for failed logins
	Role string    `json:"role,omitempty"`
	// Action is check.create, check.view, report.view, checks.list,
	// stats.view, login, login.failed, logout, user.add, user.passwd,
	// index.update or denied.
	Action           string            `json:"action"`
	Status           int               `json:"status,omitempty"` // HTTP status answered
	Check            string            `json:"check,omitempty"`  // check ID
	Household        string            `json:"household,omitempty"`
	AuthorizationRef string            `json:"authorization_ref,omitempty"`
	RuleSet          string            `json:"rule_set,omitempty"` // rule-set digest
	Snapshots        map[string]string `json:"snapshots,omitempty"`
	Verdict          string            `json:"verdict,omitempty"`
	Detail           string            `json:"detail,omitempty"` // never an ID number or a name
	Prev             string            `json:"prev"`
	Hash             string            `json:"hash,omitempty"`
}

var zeroHash = strings.Repeat("0", 64)

// digest computes the entry's hash: its JSON without the hash field.
func (e *Entry) digest() (string, error) {
	c := *e
	c.Hash = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// Log appends entries to one file. Its methods are safe for concurrent use.
type Log struct {
	path string
	mu   sync.Mutex // orders appends and guards the fields below
	f    *os.File
	size int64 // file size after our last write
	seq  int64
	last string

	gs     GroupSync
	headAt time.Time // guarded by gs: only the leader of a round uses it
}

// Open opens (or creates) the log at path for appending, as OpenLogged
// does, logging to slog's default logger.
func Open(path string) (*Log, error) { return OpenLogged(path, slog.Default()) }

// OpenLogged opens (or creates) the log at path for appending. A torn tail
// that a crash while appending left after the last complete entry is cut
// off first, kept in a side file FILE.torn-TIME-N, and logged to logger
// (see repairTail); other damage is left for Verify to name.
func OpenLogged(path string, logger *slog.Logger) (*Log, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, f: f, size: -1, last: zeroHash}
	l.gs.Sync = l.syncRound
	if err := l.repairTail(logger); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// Close syncs the log, records its head and closes the file.
func (l *Log) Close() error {
	werr := l.gs.Wait(l.gs.All())
	l.mu.Lock()
	defer l.mu.Unlock()
	err := errors.Join(werr, l.f.Sync())
	if l.size >= 0 {
		err = errors.Join(err, l.closeHead())
	}
	return errors.Join(err, l.f.Close())
}

// closeHead writes the head of the whole file, which another process may
// have appended to since this one's last write.
func (l *Log) closeHead() error {
	fd := int(l.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != l.size {
		if l.seq, l.last, err = lastEntry(l.f, st.Size()); err != nil {
			return err
		}
	}
	return writeHead(l.path, l.seq, l.last)
}

// Head returns the seq and hash of the last entry this log wrote or read.
func (l *Log) Head() (int64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.last
}

// Append writes e (its Seq, Prev and Hash are set here) and returns once it
// is on disk: concurrent appends share one fsync (group commit).
func (l *Log) Append(e Entry) error {
	n, err := l.Write(e)
	if err != nil {
		return err
	}
	return l.Wait(n)
}

// Write appends e without waiting for the disk and returns the ticket Wait
// takes, so a caller can sync other files meanwhile.
func (l *Log) Write(e Entry) (int64, error) {
	_, n, err := l.WriteLine(e)
	return n, err
}

// WriteLine is Write that also returns the line written (without its
// newline), for a caller that keeps a durable copy of it elsewhere and
// syncs the log later (see Sync).
func (l *Log) WriteLine(e Entry) (line []byte, ticket int64, err error) {
	l.mu.Lock()
	line, err = l.write(&e)
	l.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return line, l.gs.Written(), nil
}

// Sync makes every entry written so far durable and returns the seq of the
// last of them.
func (l *Log) Sync() (int64, error) {
	l.mu.Lock()
	seq := l.seq
	l.mu.Unlock()
	// A ticket of its own: the round that covers it starts after the
	// entry seq was written.
	return seq, l.gs.Wait(l.gs.Written())
}

// Wait returns once the write with ticket n is on disk.
func (l *Log) Wait(n int64) error { return l.gs.Wait(n) }

// Last returns the ticket of the last write so far.
func (l *Log) Last() int64 { return l.gs.All() }

func (l *Log) write(e *Entry) ([]byte, error) {
	fd := int(l.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.path, err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	var st syscall.Stat_t // not f.Stat: no FileInfo to allocate per entry
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", l.path, err)
	}
	if st.Size != l.size {
		// First append, or another process appended: continue its chain.
		seq, hash, err := lastEntry(l.f, st.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.path, err)
		}
		l.seq, l.last = seq, hash
	}
	e.Seq, e.Prev, e.Hash = l.seq+1, l.last, ""
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	// The line is the hashed JSON with the hash added as its last field,
	// as Marshal would write it: one encoding instead of two.
	sum := sha256.Sum256(b)
	e.Hash = hex.EncodeToString(sum[:])
	b = append(append(append(b[:len(b)-1], `,"hash":"`...), e.Hash...), '"', '}', '\n')
	if _, err := l.f.Write(b); err != nil {
		return nil, fmt.Errorf("append to %s: %w", l.path, err)
	}
	l.size = st.Size + int64(len(b))
	l.seq, l.last = e.Seq, e.Hash
	return b[:len(b)-1], nil
}

// syncRound is one group commit: it makes every entry written so far
// durable, then records the head beside the log.
func (l *Log) syncRound() error {
	seq, hash := l.Head()
	if err := l.f.Sync(); err != nil {
		return err
	}
	// The head file trails the log by at most headEvery (and Close writes
	// it): rewriting it at every group commit would double the cost of an
	// append.
	if now := time.Now(); now.Sub(l.headAt) >= headEvery {
		l.headAt = now
		return writeHead(l.path, seq, hash)
	}
	return nil
}

// headEvery is how often the head file is rewritten while appending.
const headEvery = 200 * time.Millisecond

// head is FILE.head: the last entry synced.
type head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func writeHead(path string, seq int64, hash string) error {
	b, _ := json.Marshal(head{seq, hash})
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".head-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path+".head")
}

// lastEntry reads the seq and hash of the last line of a file of size bytes.
func lastEntry(f *os.File, size int64) (int64, string, error) {
	if size == 0 {
		return 0, zeroHash, nil
	}
	const chunk = 64 << 10
	from := max(0, size-chunk)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, "", err
	}
	buf = bytes.TrimRight(buf, "\n")
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if from > 0 {
		return 0, "", fmt.Errorf("last line longer than %d bytes", chunk)
	}
	var e Entry
	if err := json.Unmarshal(buf, &e); err != nil {
		return 0, "", fmt.Errorf("last line is not an audit entry (%v): the log was damaged; run hedui audit verify", err)
	}
	return e.Seq, e.Hash, nil
}

// EntriesAfter returns the entries of the log at path whose seq is above
// after, reading the file from its end: what a caller that kept copies of
// entries (WriteLine) compares them with after a crash. Lines that are not
// entries are skipped (Verify names them).
func EntriesAfter(path string, after int64) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	for back := int64(256 << 10); ; back *= 4 {
		from := max(0, st.Size()-back)
		buf := make([]byte, st.Size()-from)
		if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if from > 0 { // the first line may be cut
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				continue
			}
			buf = buf[i+1:]
		}
		var out []Entry
		reached := from == 0
		for line := range bytes.Lines(buf) {
			var e Entry
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			if e.Seq <= after {
				reached = true
			} else {
				out = append(out, e)
			}
		}
		if reached {
			return out, nil
		}
	}
}

// Problem is the first place where the chain breaks.
type Problem struct {
	Line int   // 1-based line of the file; 0 when the log is too short for its head
	Seq  int64 // the seq expected there
	What string
}

func (p *Problem) Error() string {
	if p.Line == 0 {
		return fmt.Sprintf("entry %d: %s", p.Seq, p.What)
	}
	return fmt.Sprintf("line %d (entry %d): %s", p.Line, p.Seq, p.What)
}

// Result is what Verify found.
type Result struct {
	Entries  int64
	HeadSeq  int64
	HeadHash string
	Problem  *Problem // nil when the chain is whole
}

// Verify reads the log at path and its head file and returns the first
// edited, inserted or removed entry. A missing head file is not a problem
// (a log never synced by this version); a head the log does not reach is.
func Verify(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &Result{HeadHash: zeroHash}
	prev := zeroHash
	hashes := map[int64]string{}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	var off int64 // where the line starts
	for sc.Scan() {
		line++
		want := res.Entries + 1
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			what := fmt.Sprintf("not an audit entry (%v): edited", err)
			if hd, ok := readHead(path); ok && hd.Seq >= want {
				what = fmt.Sprintf("not an audit entry (%v): edited or cut, though the head file records entry %d as synced", err, hd.Seq)
			} else if off+int64(len(sc.Bytes()))+1 >= st.Size() {
				what = fmt.Sprintf("not an audit entry (%v): a torn last line, as a crash while appending leaves "+
					"(the next open for appending, by hedui serve or hedui user, cuts it off into a side file; hedui serve then "+
					"appends a check's entry again from checks.jsonl), or edited", err)
			}
			res.Problem = &Problem{Line: line, Seq: want, What: what}
			return res, nil
		}
		off += int64(len(sc.Bytes())) + 1
		switch {
		case e.Seq > want:
			res.Problem = &Problem{Line: line, Seq: want, What: fmt.Sprintf("removed: the line holds entry %d, so entries %d to %d are missing", e.Seq, want, e.Seq-1)}
			return res, nil
		case e.Seq < want:
			res.Problem = &Problem{Line: line, Seq: want, What: fmt.Sprintf("inserted or repeated: the line holds entry %d", e.Seq)}
			return res, nil
		}
		h, err := e.digest()
		if err != nil {
			return nil, err
		}
		if h != e.Hash {
			res.Problem = &Problem{Line: line, Seq: want, What: "edited: its content does not match its hash"}
			return res, nil
		}
		if e.Prev != prev {
			res.Problem = &Problem{Line: line, Seq: want, What: "the entry before it was removed or rewritten: prev does not match"}
			return res, nil
		}
		prev = e.Hash
		res.Entries, res.HeadSeq, res.HeadHash = e.Seq, e.Seq, e.Hash
		hashes[e.Seq] = e.Hash
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	b, err := os.ReadFile(path + ".head")
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	var hd head
	if err := json.Unmarshal(b, &hd); err != nil {
		return nil, fmt.Errorf("%s.head: %w", path, err)
	}
	if hd.Seq > res.Entries {
		res.Problem = &Problem{Seq: res.Entries + 1, What: fmt.Sprintf("removed: the log ends at entry %d but its head file records entry %d", res.Entries, hd.Seq)}
	} else if hashes[hd.Seq] != hd.Hash && hd.Seq > 0 {
		res.Problem = &Problem{Seq: hd.Seq, What: "rewritten: its hash differs from the one the head file records"}
	}
	return res, nil
}

// Export writes, as CSV, the entries whose time is in [from, to).
func Export(path string, from, to time.Time, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return exportCSV(f, from, to, w)
}
