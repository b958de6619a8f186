package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// A machine crash while appending can leave the log with a torn tail: the
// bytes after its last complete entry, which were written but not synced,
// may end in a line cut short (no newline), a last line that is not an
// entry, or zeros (blocks the file system had sized the file for but not
// written). Synced entries are never part of it. Open cuts such a tail off
// (repairTail) so that appends continue the chain from the last complete
// entry; the service then appends again, from its check file, the entry of
// any check the tail held.
//
// Damage with a complete entry after it is not a torn tail: it is left for
// Verify to name.

// tail is where the log's data ends, as findTail reads it.
type tail struct {
	keep int64 // end of the last complete entry: the log is cut there
	// seq and hash are that entry's (0 and zeroHash when there is none).
	seq  int64
	hash string
	// whole is set when the bytes after keep are one entry lacking only
	// its newline, and following the kept chain; wholeHash is its hash.
	whole     bool
	wholeHash string
}

// end returns the seq and hash of the last entry the log keeps.
func (t tail) end() (int64, string) {
	if t.whole {
		return t.seq + 1, t.wholeHash
	}
	return t.seq, t.hash
}

// headError reports a log that lacks entries its head file records as
// synced: no crash does that, and appending would rewrite the head and
// hide the loss, so the log is refused until an inspector has seen it.
type headError struct {
	path      string
	seq       int64 // the last entry the log keeps
	headSeq   int64
	rewritten bool // the log has entry headSeq, with another hash
}

func (e *headError) Error() string {
	what := fmt.Sprintf("its last complete entry is %d but its head file records entry %d as synced", e.seq, e.headSeq)
	if e.rewritten {
		what = fmt.Sprintf("its entry %d differs from the one its head file records as synced", e.seq)
	}
	return fmt.Sprintf("%s: %s: synced entries were removed or rewritten, which no crash does; nothing is appended "+
		"until it is inspected: run hedui audit verify (moving %s.head aside accepts the log as it is)", e.path, what, e.path)
}

// checkHead refuses the log at path, whose last entry is seq with hash,
// when its head file records a later or another entry.
func checkHead(path string, seq int64, hash string) error {
	hd, ok := readHead(path)
	switch {
	case !ok:
		return nil
	case hd.Seq > seq:
		return &headError{path: path, seq: seq, headSeq: hd.Seq}
	case hd.Seq == seq && seq > 0 && hd.Hash != hash:
		return &headError{path: path, seq: seq, headSeq: hd.Seq, rewritten: true}
	}
	return nil
}

// notTornError reports lines after the last complete entry that are not
// what a crash leaves: Open refuses such a log rather than cut them.
type notTornError struct {
	off  int64 // where the first of them starts
	line int64 // its 1-based line number
}

func (e *notTornError) Error() string {
	return fmt.Sprintf("line %d (byte %d) is not an audit entry and more lines that are not entries follow it "+
		"up to the end: not a torn tail a crash leaves, so it is not cut off; run hedui audit verify",
		e.line, e.off)
}

// repairTail cuts a torn tail off the log, under the log's lock (another
// process may be opening it too). The bytes cut go first to a side file,
// FILE.torn-TIME-N, for inspectors. A last line that lacks only its
// newline, and whose hash and place in the chain check, gets the newline
// back instead: nothing is lost.
func (l *Log) repairTail(logger *slog.Logger) error {
	fd := int(l.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	t, err := findTail(l.f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	// Read under the lock: every entry the head records is then in what
	// findTail read (heads are written after their entries).
	seq, hash := t.end()
	if err := checkHead(l.path, seq, hash); err != nil {
		return err
	}
	switch {
	case t.keep == st.Size():
		return nil
	case t.whole:
		if _, err := l.f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("complete the last line of %s: %w", l.path, err)
		}
		if err := l.f.Sync(); err != nil {
			return err
		}
		logger.Warn("audit log: the last entry lacked its newline (a crash while appending); newline restored",
			"file", l.path, "seq", t.seq+1)
		return nil
	}
	return l.cutTail(t, st.Size(), logger)
}

// cutTail keeps the bytes of the log past t.keep in a side file, synced,
// then truncates the log to t.keep.
func (l *Log) cutTail(t tail, size int64, logger *slog.Logger) error {
	torn := make([]byte, size-t.keep)
	if _, err := l.f.ReadAt(torn, t.keep); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the torn tail of %s: %w", l.path, err)
	}
	side, err := saveTorn(l.path, torn)
	if err != nil {
		return fmt.Errorf("keep the torn tail of %s: %w", l.path, err)
	}
	if err := l.f.Truncate(t.keep); err != nil {
		return fmt.Errorf("cut the torn tail of %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	logger.Warn("audit log: torn tail cut off (a crash while appending); the entry of a check it held is appended again from checks.jsonl",
		"file", l.path, "cut_at", t.keep, "bytes", len(torn), "kept_in", side, "last_entry", t.seq)
	return nil
}

// saveTorn writes b to a new side file beside the log and syncs it and
// its folder, so that the bytes are kept before the log loses them.
func saveTorn(path string, b []byte) (string, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".torn-"+time.Now().UTC().Format("20060102T150405Z")+"-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return f.Name(), d.Sync()
}

// readHead reads FILE.head; ok is false when there is none to read.
func readHead(path string) (head, bool) {
	var hd head
	b, err := os.ReadFile(path + ".head")
	if err != nil || json.Unmarshal(b, &hd) != nil {
		return hd, false
	}
	return hd, true
}

// findTail reads the log of size bytes back from its end to its last
// complete entry, reading more of it while the lines it must see start
// before what it read.
func findTail(f *os.File, size int64) (tail, error) {
	for back := int64(64 << 10); ; back *= 4 {
		from := max(0, size-back)
		buf := make([]byte, size-from)
		if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
			return tail{}, err
		}
		t, done, err := scanTail(buf, from)
		if nt, ok := err.(*notTornError); ok {
			nt.line, err = lineAt(f, nt.off)
			if err == nil {
				err = nt
			}
		}
		if err != nil {
			return t, err
		}
		if done {
			return t, nil
		}
	}
}

// scanTail walks buf, the log's bytes from offset from to its end, back
// from the end to the last complete entry: a line ending in a newline that
// is an entry. After it, the last line may be anything a crash leaves; the
// lines before that must hold zeros (data the crash kept from the disk),
// else the log is refused (notTornError). done is false when buf starts
// within a line it must see.
func scanTail(buf []byte, from int64) (t tail, done bool, err error) {
	end := len(buf) // end of the line looked at, its newline included
	var last []byte // the last line when it lacks its newline
	n := 0          // lines looked at
	for ; end > 0; n++ {
		body := buf[:end]
		nl := body[len(body)-1] == '\n'
		if nl {
			body = body[:len(body)-1]
		}
		i := bytes.LastIndexByte(body, '\n')
		if i < 0 && from > 0 {
			return tail{}, false, nil
		}
		line := body[i+1:]
		if e, ok := entryOf(line); ok && nl {
			t = tail{keep: from + int64(end), seq: e.Seq, hash: e.Hash}
			if n == 1 && last != nil {
				t.wholeHash, t.whole = follows(last, e.Seq, e.Hash)
			}
			return t, true, nil
		}
		if n == 0 && !nl {
			last = line
		}
		if n > 0 && bytes.IndexByte(line, 0) < 0 {
			return tail{}, true, &notTornError{off: from + int64(i+1)}
		}
		end = i + 1
	}
	// No complete entry at all: the whole file is the tail.
	t = tail{hash: zeroHash}
	if n == 1 && last != nil {
		t.wholeHash, t.whole = follows(last, 0, zeroHash)
	}
	return t, true, nil
}

// follows reports whether line is a whole entry, its hash matching its
// content, that comes right after the entry seq with hash, and returns its
// hash.
func follows(line []byte, seq int64, hash string) (string, bool) {
	e, ok := entryOf(line)
	if !ok || e.Seq != seq+1 || e.Prev != hash {
		return "", false
	}
	h, err := e.digest()
	return e.Hash, err == nil && h == e.Hash
}

// entryOf parses line as an entry; ok is false when it is not one.
func entryOf(line []byte) (Entry, bool) {
	var e Entry
	if json.Unmarshal(line, &e) != nil || e.Seq <= 0 || len(e.Hash) != 64 {
		return Entry{}, false
	}
	return e, true
}

// lineAt returns the 1-based number of the line starting at byte off.
func lineAt(f *os.File, off int64) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, off), 1<<20)
	line := int64(1)
	for {
		b, err := r.ReadSlice('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			line++
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return line, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
