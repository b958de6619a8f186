package review

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// flagSpill keeps flag rows in a temporary file, with only each row's
// person ID and place in memory: the candidates' flags of a province run
// (hundreds of thousands, each with its evidence) wait there until every
// candidate is evaluated, to be written in person-ID order.
type flagSpill struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	off   int64
	index []spillRef
	buf   []byte
}

// spillRef is one spilled row: its sort key and where its bytes are.
type spillRef struct {
	personID string
	off      int64
	n        int32
}

func createSpill(path string) (*flagSpill, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &flagSpill{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// add appends rows, in order.
func (s *flagSpill) add(rows []FlagRow) error {
	for i := range rows {
		r := &rows[i]
		b := s.buf[:0]
		for _, v := range []string{r.HouseholdID, r.PersonID, r.RegionCode, r.RuleID, r.Outcome, r.Message, r.Basis, r.Evidence} {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
		b = binary.AppendVarint(b, int64(r.RuleVersion))
		if _, err := s.w.Write(b); err != nil {
			return err
		}
		s.index = append(s.index, spillRef{personID: strings.Clone(r.PersonID), off: s.off, n: int32(len(b))})
		s.off += int64(len(b))
		s.buf = b
	}
	return nil
}

// sorted calls fn with the rows in person-ID order (rows of one person in
// the order they were added), a row group at a time, then removes the file.
func (s *flagSpill) sorted(fn func(rows []FlagRow) error) error {
	defer s.remove()
	if err := s.w.Flush(); err != nil {
		return err
	}
	sort.SliceStable(s.index, func(i, j int) bool { return s.index[i].personID < s.index[j].personID })
	batch := make([]FlagRow, 0, min(len(s.index), rowGroupRows))
	for i, ref := range s.index {
		buf := make([]byte, ref.n)
		if _, err := s.f.ReadAt(buf, ref.off); err != nil {
			return fmt.Errorf("read back a candidate's flag: %w", err)
		}
		r, err := decodeSpilled(buf)
		if err != nil {
			return err
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == len(s.index)-1 {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

func decodeSpilled(b []byte) (FlagRow, error) {
	var f [8]string
	for i := range f {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return FlagRow{}, fmt.Errorf("read back a candidate's flag: %w", io.ErrUnexpectedEOF)
		}
		f[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	v, k := binary.Varint(b)
	if k <= 0 {
		return FlagRow{}, fmt.Errorf("read back a candidate's flag: %w", io.ErrUnexpectedEOF)
	}
	return FlagRow{HouseholdID: f[0], PersonID: f[1], RegionCode: f[2], RuleID: f[3], Outcome: f[4], Message: f[5],
		Basis: f[6], Evidence: f[7], RuleVersion: int32(v)}, nil
}

// remove closes and deletes the file; it is safe to call twice.
func (s *flagSpill) remove() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.path)
		s.f = nil
	}
}
