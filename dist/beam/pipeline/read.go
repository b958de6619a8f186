package pipeline

import (
	"context"
	"fmt"

	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// listFn turns the job into one element per (entry, row group), and one
// zero count per entry so that every entry reaches quality.json even when
// it has no rows.
type listFn struct {
	Job Job
}

// ProcessElement lists the chunks of the roster and of every source entry.
func (f *listFn) ProcessElement(ctx context.Context, _ []byte, chunk func(ChunkRef), counts func(int, Counts)) error {
	w, err := f.Job.load()
	if err != nil {
		return err
	}
	defer w.close()
	for i := -1; i < len(w.m.Sources); i++ {
		rd, err := w.reader(ctx, i)
		if err != nil {
			return err
		}
		var base uint32
		for _, c := range rd.Chunks() {
			chunk(ChunkRef{Entry: i, Chunk: c.Index, Base: base})
			base += uint32(c.Rows)
		}
		counts(i, Counts{})
	}
	return nil
}

// readFn reads one row group with the project's connector and keys every
// row for the joins.
type readFn struct {
	Job Job
	w   *worker
}

// Setup loads the job once per DoFn instance.
func (f *readFn) Setup() error {
	w, err := f.Job.load()
	f.w = w
	return err
}

// Teardown closes the readers.
func (f *readFn) Teardown() error { return f.w.close() }

// ProcessElement emits, for the roster, each row by person key (valid IDs)
// and by household ID (every row); for a source, each row by person key
// (valid IDs) or by name-DOB hash (invalid IDs carrying name, birth date and
// region), police rows also by hukou hash; and the chunk's key counts.
func (f *readFn) ProcessElement(ctx context.Context, ref ChunkRef,
	rosterByKey func(uint64, RosterRow), rosterByHousehold func(string, RosterRow),
	byKey func(uint64, Row), byNameDOB func(uint64, Row), byHukou func(uint64, Row),
	counts func(int, Counts)) error {
	rd, err := f.w.reader(ctx, ref.Entry)
	if err != nil {
		return err
	}
	chunks := rd.Chunks()
	if ref.Chunk < 0 || ref.Chunk >= len(chunks) {
		return fmt.Errorf("entry %d has %d chunks, not %d: did a source change while the job ran?", ref.Entry, len(chunks), ref.Chunk+1)
	}
	c := chunks[ref.Chunk]
	keys, err := rd.Keys(c, nil)
	if err != nil {
		return err
	}
	counts(ref.Entry, keyCounts(keys))
	recs, err := rd.Decode(c, nil)
	if err != nil {
		return err
	}
	var buf []byte
	for i, rec := range recs {
		seq := ref.Base + uint32(i)
		if buf, err = encodeRecord(buf[:0], rec); err != nil {
			return err
		}
		data := append([]byte(nil), buf...)
		o := rec.Base()
		valid := keys[i].Reason == personid.ReasonNone
		if ref.Entry == -1 {
			rr := RosterRow{Seq: seq, Data: data}
			rosterByHousehold(rec.(*sources.RosterMember).HouseholdID, rr)
			if valid {
				rosterByKey(uint64(keys[i].Key), rr)
			}
			continue
		}
		row := Row{Source: ref.Entry, Seq: seq, Data: data}
		if valid {
			byKey(uint64(keys[i].Key), row)
		} else if nd := matcher.NameDOBKey(o.Name, o.BirthDate, o.Region); nd != 0 {
			byNameDOB(nd, row)
		}
		if p, ok := rec.(*sources.Police); ok && p.HukouNo != "" {
			byHukou(matcher.HukouHash(p.HukouNo), row)
		}
	}
	return nil
}

// keyCounts tallies a chunk's keys as Reader.Scan does.
func keyCounts(keys []personid.Parsed) Counts {
	var n Counts
	n.Rows = int64(len(keys))
	for _, k := range keys {
		if k.Reason == personid.ReasonNone {
			n.ValidKeys++
			if k.From15 {
				n.From15++
			}
			continue
		}
		if n.Reasons == nil {
			n.Reasons = make([]int64, 8)
		}
		n.Reasons[k.Reason%8]++
	}
	return n
}
