package serve

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/serve/audit"
)

// Member is one member of a household as the applicant gives it.
type Member struct {
	PersonID string `json:"person_id"`
	Name     string `json:"name"`
	Relation string `json:"relation"`
}

// Finding is one flag of a check.
type Finding struct {
	RuleID      string         `json:"rule_id"`
	RuleVersion int            `json:"rule_version"`
	Outcome     string         `json:"outcome"`
	PersonID    string         `json:"person_id,omitempty"`
	Message     string         `json:"message"`
	Basis       string         `json:"basis"`
	Evidence    rules.Evidence `json:"evidence"`
}

// Check is one intake check as kept and as the API returns it.
type Check struct {
	ID               string            `json:"id"`
	Created          time.Time         `json:"created"`
	User             string            `json:"user"`
	RegionCode       string            `json:"region_code"`
	Area             string            `json:"area"`
	Assistance       string            `json:"assistance"`
	ApplicationDate  string            `json:"application_date"`
	AuthorizationRef string            `json:"authorization_ref"`
	Members          []Member          `json:"members"`
	Verdict          string            `json:"verdict"` // eligible, ineligible or review
	AsOf             string            `json:"as_of"`
	RuleSetDigest    string            `json:"rule_set_digest"`
	Snapshots        map[string]string `json:"snapshots"` // source kind → snapshot date used
	Flags            []Finding         `json:"flags"`
	Micros           int64             `json:"micros"` // time spent checking
	// Facts is everything found, for the 核对报告; the API leaves it out.
	Facts *facts.Household `json:"facts,omitempty"`
}

// storedCheck is one line of checks.jsonl: the check with its facts in
// the binary encoding of package facts (base64 in JSON, a tenth of the
// cost of their JSON; lines of earlier versions hold them as JSON in the
// check's "facts", which still reads), the audit entry of its creation
// exactly as the audit log holds it, and the seq of the last audit entry
// known durable when the line was written.
//
// The check file is the write-ahead copy of those audit entries: a check
// is answered once its line is on disk, and the audit log is synced a
// moment later, so a crash in between may cost the audit log entries the
// check file still has; the next start appends them again (see
// Server.recoverAudit).
type storedCheck struct {
	Check
	FactsBin    []byte          `json:"facts_bin,omitempty"`
	Audit       json.RawMessage `json:"audit,omitempty"`
	AuditSynced int64           `json:"audit_synced,omitempty"`
}

func decodeStored(b []byte) (*storedCheck, error) {
	sc := &storedCheck{}
	if err := json.Unmarshal(b, sc); err != nil {
		return nil, err
	}
	if len(sc.FactsBin) > 0 {
		h, err := facts.DecodeBinary(sc.FactsBin)
		if err != nil {
			return nil, err
		}
		sc.Facts, sc.FactsBin = h, nil
	}
	return sc, nil
}

// checkMeta is what the store keeps in memory of a check: enough to list
// and authorize, and where to read the rest.
type checkMeta struct {
	id, user, region, verdict string
	created                   time.Time
	members                   int
	off                       int64
	n                         int
}

// checkStore keeps checks in one JSON-lines file (checks.jsonl) in the
// service's data folder, with group commit; in memory only their metadata
// and file offsets. The file holds full ID numbers and is readable by its
// owner only.
//
// Lines are written in order at the end of the data, into zeros written
// and synced ahead of them (preallocChunk at a time, in the background):
// then a group commit is one fdatasync that writes data blocks only, with
// no journal commit for a new file size, several times faster on ext4
// than an fsync after an append. Reading stops at the first line holding
// a zero byte, and Close cuts the zeros off.
type checkStore struct {
	path string
	mu   sync.RWMutex
	more *sync.Cond // signalled when an extension ends; uses mu
	f    *os.File
	size int64 // end of the last line: where the next one goes
	// alloc is where the zeros written ahead end; while extending, the
	// zeros from alloc on are being written and lines wait for them.
	alloc     int64
	extending bool
	byID      map[string]int // index into list
	list      []checkMeta    // in creation order

	gs audit.GroupSync

	// auditSynced is the highest audit_synced of the lines read at open;
	// pending holds the audit entries of those lines above it.
	auditSynced int64
	pending     []audit.Entry
}

const (
	preallocChunk = 8 << 20 // zeros written ahead at a time
	preallocLow   = 4 << 20 // extend when fewer zeros than this remain
)

// openChecks opens the store and takes an exclusive lock on it for the
// life of the process: one service per data folder.
func openChecks(path string) (*checkStore, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another hedui serve (%w)", path, err)
	}
	s := &checkStore{path: path, f: f, byID: map[string]int{}}
	s.more = sync.NewCond(&s.mu)
	fd := int(f.Fd())
	s.gs.Sync = func() error { return syscall.Fdatasync(fd) }
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	// Zeros and a line cut by a crash past the data go: nothing there was
	// acknowledged.
	if err := f.Truncate(s.size); err != nil {
		f.Close()
		return nil, err
	}
	s.alloc = s.size
	return s, nil
}

func (s *checkStore) load() error {
	r := bufio.NewReaderSize(s.f, 1<<20)
	var off int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		// The end of the data: the end of the file, the zeros written
		// ahead, or a line a crash cut or left with zeros (JSON never holds
		// a zero byte). Lines are acknowledged in file order, so nothing
		// past it was.
		if len(b) == 0 || b[len(b)-1] != '\n' || bytes.IndexByte(b, 0) >= 0 {
			break
		}
		// The metadata and the audit copy only: the facts are decoded
		// when the check is read.
		var sc storedCheck
		if err := json.Unmarshal(b, &sc); err != nil {
			return fmt.Errorf("%s line %d: %w", s.path, line, err)
		}
		if err := s.keepAudit(&sc); err != nil {
			return fmt.Errorf("%s line %d: audit entry: %w", s.path, line, err)
		}
		s.add(metaOf(&sc.Check, off, len(b)))
		off += int64(len(b))
	}
	s.size = off
	return nil
}

// keepAudit notes the audit entry of a line read at open if it may not
// have reached the audit log.
func (s *checkStore) keepAudit(sc *storedCheck) error {
	if sc.AuditSynced > s.auditSynced {
		s.auditSynced = sc.AuditSynced
		s.pending = slices.DeleteFunc(s.pending, func(e audit.Entry) bool { return e.Seq <= s.auditSynced })
	}
	if len(sc.Audit) == 0 {
		return nil
	}
	var e audit.Entry
	if err := json.Unmarshal(sc.Audit, &e); err != nil {
		return err
	}
	if e.Seq > s.auditSynced {
		s.pending = append(s.pending, e)
	}
	return nil
}

// encodeCheck returns the check as the API answers it (without its
// facts), ending in a newline.
func encodeCheck(c *Check) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(8 << 10) // most answers fit: no regrowing
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(apiView(c)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// storedLine returns the line checks.jsonl keeps of c: its answer with the
// facts, the audit entry of its creation (auditLine, as the audit log
// holds it) and the last audit entry known durable added at its end, so
// that the flags and their evidence are encoded once.
func storedLine(c *Check, answer, auditLine []byte, auditSynced int64) []byte {
	var fb []byte
	if c.Facts != nil {
		fb = facts.AppendBinary(nil, c.Facts)
	}
	line := make([]byte, 0, len(answer)+base64.StdEncoding.EncodedLen(len(fb))+len(auditLine)+64)
	line = append(line, answer[:len(answer)-2]...) // without "}\n"
	if fb != nil {
		line = append(line, `,"facts_bin":"`...)
		line = base64.StdEncoding.AppendEncode(line, fb)
		line = append(line, '"')
	}
	if len(auditLine) > 0 {
		line = append(line, `,"audit":`...)
		line = append(line, auditLine...)
	}
	if auditSynced > 0 {
		line = append(line, `,"audit_synced":`...)
		line = strconv.AppendInt(line, auditSynced, 10)
	}
	return append(line, '}', '\n')
}

func metaOf(c *Check, off int64, n int) checkMeta {
	return checkMeta{id: c.ID, user: c.User, region: c.RegionCode, verdict: c.Verdict, created: c.Created,
		members: len(c.Members), off: off, n: n}
}

func (s *checkStore) add(m checkMeta) {
	s.byID[m.id] = len(s.list)
	s.list = append(s.list, m)
}

// write writes line, the stored JSON of c ending in a newline, without
// waiting for the disk, and returns the ticket sync waits for.
func (s *checkStore) write(c *Check, line []byte) (int64, error) {
	s.mu.Lock()
	end := s.size + int64(len(line))
	for s.extending && end > s.alloc {
		s.more.Wait() // past alloc the zeros are being written
	}
	if !s.extending && end+preallocLow > s.alloc {
		s.extending = true
		go s.extend(max(s.alloc, end))
	}
	if _, err := s.f.WriteAt(line, s.size); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("write to %s: %w", s.path, err)
	}
	s.add(metaOf(c, s.size, len(line)))
	s.size = end
	s.mu.Unlock()
	return s.gs.Written(), nil
}

// extend writes preallocChunk zeros at from and syncs them, through a file
// of its own: an fsync reports a write error to one open file only, and
// the group commits must see every error of theirs. It writes them to disk
// a step at a time (sync_file_range): a commit's fdatasync writes every
// dirty page of the file, and waits for those being written, so it meets
// one step at most rather than the whole chunk. Failing, it leaves alloc
// unchanged: lines then grow the file, and the commits' fdatasync syncs
// its size too.
func (s *checkStore) extend(from int64) {
	ok := false
	defer func() {
		s.mu.Lock()
		if ok {
			s.alloc = from + preallocChunk
		}
		s.extending = false
		s.more.Broadcast()
		s.mu.Unlock()
	}()
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	const (
		step = 256 << 10
		// SYNC_FILE_RANGE_WAIT_BEFORE | WRITE | WAIT_AFTER
		writeAndWait = 1 | 2 | 4
	)
	zeros := make([]byte, step)
	for off := from; off < from+preallocChunk; off += step {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return
		}
		if err := syscall.SyncFileRange(int(f.Fd()), off, step, writeAndWait); err != nil {
			return
		}
	}
	ok = f.Sync() == nil
}

// sync returns once the write with ticket n is on disk.
func (s *checkStore) sync(n int64) error { return s.gs.Wait(n) }

// meta returns a check's metadata.
func (s *checkStore) meta(id string) (checkMeta, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return checkMeta{}, false
	}
	return s.list[i], true
}

// get reads a whole check.
func (s *checkStore) get(m checkMeta) (*Check, error) {
	b := make([]byte, m.n)
	if _, err := s.f.ReadAt(b, m.off); err != nil {
		return nil, fmt.Errorf("%s: read check %s: %w", s.path, m.id, err)
	}
	sc, err := decodeStored(b)
	if err != nil {
		return nil, fmt.Errorf("%s: check %s: %w", s.path, m.id, err)
	}
	return &sc.Check, nil
}

// recent returns up to n checks that keep selects, newest first.
func (s *checkStore) recent(n int, keep func(*checkMeta) bool) []checkMeta {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []checkMeta
	for i := len(s.list) - 1; i >= 0 && len(out) < n; i-- {
		if keep(&s.list[i]) {
			out = append(out, s.list[i])
		}
	}
	return out
}

// counts returns the number of checks per verdict and per county: the
// only view analysts get.
func (s *checkStore) counts() (total int, byVerdict map[string]int, byRegion map[string]map[string]int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byVerdict, byRegion = map[string]int{}, map[string]map[string]int{}
	for _, m := range s.list {
		byVerdict[m.verdict]++
		if byRegion[m.region] == nil {
			byRegion[m.region] = map[string]int{}
		}
		byRegion[m.region][m.verdict]++
	}
	return len(s.list), byVerdict, byRegion
}

// close cuts the zeros written ahead off, syncs and closes the file.
func (s *checkStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.extending {
		s.more.Wait()
	}
	err := s.f.Truncate(s.size)
	if err == nil {
		err = s.f.Sync()
	}
	return errors.Join(err, s.f.Close())
}
