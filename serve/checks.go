package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
// service's data folder, append-only, with group commit; in memory only
// their metadata and file offsets. The file holds full ID numbers and is
// readable by its owner only.
type checkStore struct {
	path string
	mu   sync.RWMutex
	f    *os.File
	size int64
	byID map[string]int // index into list
	list []checkMeta    // in creation order

	gs audit.GroupSync
}

// openChecks opens the store and takes an exclusive lock on it for the
// life of the process: one service per data folder.
func openChecks(path string) (*checkStore, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another hedui serve (%w)", path, err)
	}
	s := &checkStore{path: path, f: f, byID: map[string]int{}}
	s.gs.Sync = f.Sync
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *checkStore) load() error {
	r := bufio.NewReaderSize(s.f, 1<<20)
	var off int64
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			line++
			var c Check
			if err := json.Unmarshal(b, &c); err != nil {
				return fmt.Errorf("%s line %d: %w", s.path, line, err)
			}
			s.add(metaOf(&c, off, len(b)))
		} else if len(b) > 0 {
			// A line cut by a crash was never acknowledged: drop it.
			if err := s.f.Truncate(off); err != nil {
				return err
			}
		}
		off += int64(len(b))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
	}
	s.size = off
	return nil
}

// encodeCheck returns the check as the API answers it (without its facts)
// and as the file keeps it (with them), each ending in a newline. The
// facts are the last field of a Check, so the line is the answer with the
// facts added at its end: the flags and their evidence are encoded once.
func encodeCheck(c *Check) (answer, line []byte, err error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(apiView(c)); err != nil {
		return nil, nil, err
	}
	n := buf.Len()
	if c.Facts != nil {
		if err := enc.Encode(c.Facts); err != nil {
			return nil, nil, err
		}
	}
	all := buf.Bytes()
	answer = all[:n]
	if c.Facts == nil {
		return answer, answer, nil
	}
	facts := bytes.TrimSuffix(all[n:], []byte("\n"))
	line = make([]byte, 0, len(all)+16)
	line = append(line, answer[:n-2]...) // without "}\n"
	line = append(line, `,"facts":`...)
	line = append(line, facts...)
	line = append(line, '}', '\n')
	return answer, line, nil
}

func metaOf(c *Check, off int64, n int) checkMeta {
	return checkMeta{id: c.ID, user: c.User, region: c.RegionCode, verdict: c.Verdict, created: c.Created,
		members: len(c.Members), off: off, n: n}
}

func (s *checkStore) add(m checkMeta) {
	s.byID[m.id] = len(s.list)
	s.list = append(s.list, m)
}

// write appends line, the JSON of c ending in a newline, without waiting
// for the disk, and returns the ticket sync waits for. It takes the line
// rather than encoding c so that the caller encodes the check once for the
// file and the answer.
func (s *checkStore) write(c *Check, line []byte) (int64, error) {
	s.mu.Lock()
	if _, err := s.f.Write(line); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("append to %s: %w", s.path, err)
	}
	s.add(metaOf(c, s.size, len(line)))
	s.size += int64(len(line))
	s.mu.Unlock()
	return s.gs.Written(), nil
}

// sync returns once the write with ticket n is on disk.
func (s *checkStore) sync(n int64) error { return s.gs.Wait(n) }

// last returns the ticket of the last write so far.
func (s *checkStore) last() int64 { return s.gs.All() }

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
	c := &Check{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: check %s: %w", s.path, m.id, err)
	}
	return c, nil
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

func (s *checkStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
