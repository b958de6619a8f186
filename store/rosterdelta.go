package store

import (
	"encoding/binary"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// A roster person is found by name + birth date + region (kindRosterN)
// under the hash of the person's first roster row only, as a full build
// files it (putRosterFirsts). A delta that changes any of a person's rows
// may change which row is first or what it says, so it works the person's
// first row out again from the live rows and the changed ones.

// rosterFirst is a person's first roster row: its ordinal and its name +
// birth date + region hash; nd 0 means the person has no A key (no row
// left, or a first row without a name).
type rosterFirst struct {
	key personid.Key
	seq uint32
	nd  uint64
}

// firstMove is a person's first row before and after a delta.
type firstMove struct {
	key      personid.Key
	old, new rosterFirst
}

// rosterFirsts returns the first rows, before and after the delta, of every
// person with a valid key whose rows rows change; only those whose A key
// changes. rows are in seq order; txn reads the live rows.
func (d *delta) rosterFirsts(txn *badger.Txn, rows []deltaRow, cd *codec) ([]firstMove, error) {
	changed := make(map[uint32]bool, len(rows))
	added := map[personid.Key]*deltaRow{} // each person's first changed row after the delta
	var persons []personid.Key
	for i := range rows {
		r := &rows[i]
		changed[r.seq] = true
		if r.old.flag == kindRecord {
			persons = append(persons, personid.Key(r.old.group))
		}
		if r.new.flag == kindRecord {
			persons = append(persons, r.key)
			if _, ok := added[r.key]; !ok {
				added[r.key] = r
			}
		}
	}
	slices.Sort(persons)
	persons = slices.Compact(persons)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: genPrefix(kindRecord, d.src, d.data)})
	defer it.Close()
	var out []firstMove
	var prefix []byte
	for _, key := range persons {
		m := firstMove{key: key}
		var kept rosterFirst // the first live row the delta leaves as it is
		found := false
		prefix = groupPrefix(prefix, kindRecord, d.src, d.data, uint64(key))
		for it.Seek(prefix); kept.key == 0 && it.ValidForPrefix(prefix); it.Next() {
			item := it.Item() // valid until Next: read here
			seq := seqOf(item.Key())
			if found && changed[seq] {
				continue
			}
			var nd uint64
			err := item.Value(func(v []byte) (err error) { nd, err = ndOf(cd, key, v); return err })
			if err != nil {
				return nil, err
			}
			if !found {
				m.old, found = rosterFirst{key, seq, nd}, true
			}
			if !changed[seq] {
				kept = rosterFirst{key, seq, nd}
			}
		}
		switch a := added[key]; {
		case a != nil && (kept.key == 0 || a.seq < kept.seq):
			nd, err := ndOf(cd, key, a.val)
			if err != nil {
				return nil, err
			}
			m.new = rosterFirst{key, a.seq, nd}
		case kept.key != 0:
			m.new = kept
		}
		if m.old.nd != m.new.nd || m.old.nd != 0 && m.old.seq != m.new.seq {
			out = append(out, m)
		}
	}
	return out, nil
}

// ndOf is the A key hash of the stored roster row value v of person key.
func ndOf(cd *codec, key personid.Key, v []byte) (uint64, error) {
	rec, err := cd.decode(key, v)
	if err != nil {
		return 0, err
	}
	return rosterND(key, rec.(*sources.RosterMember)), nil
}

// moveFirst rewrites a person's A key as m says, and counts the name +
// birth date + region groups it leaves and joins in the change set.
func (d *delta) moveFirst(w writeTarget, diff *groupDiff, m firstMove) error {
	if m.old.nd != 0 && m.old.nd != m.new.nd {
		if err := w.Delete(rosterNKey(d.src, d.data, m.old.nd, m.key)); err != nil {
			return err
		}
		diff.add(changeRosterN, m.old.nd, uint64(m.key), -1)
	}
	if m.new.nd == 0 {
		return nil
	}
	if m.new.nd != m.old.nd {
		diff.add(changeRosterN, m.new.nd, uint64(m.key), 1)
	}
	return w.Set(rosterNKey(d.src, d.data, m.new.nd, m.key), binary.BigEndian.AppendUint32(nil, m.new.seq))
}

// rosterNKey is A | src | gen | nd | person key.
func rosterNKey(src uint16, gen uint32, nd uint64, key personid.Key) []byte {
	return binary.BigEndian.AppendUint64(groupPrefix(nil, kindRosterN, src, gen, nd), uint64(key))
}
