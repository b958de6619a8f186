package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// View is a consistent read of the index at one moment: the catalog and
// every lookup see the same generations. It implements matcher.Index. A View
// is not safe for concurrent use; open one per goroutine.
type View struct {
	txn    *badger.Txn
	its    map[uint32]*badger.Iterator // by key kind and source (iter)
	cat    *Catalog
	live   []liveSource // sources in manifest order, roster excluded
	roster *liveSource
	buf    []byte
	// rosterRows remembers the last persons' roster rows: assembling a
	// household asks for each member's rows once per member and again per
	// other member (matcher's weak-match ambiguity test).
	rosterRows map[personid.Key][]*sources.RosterMember
	fork       bool     // shares its parent's transaction and filters
	release    []func() // the presence filters' references
}

// rosterCacheSize bounds View.rosterRows; a household has a few members.
const rosterCacheSize = 64

// liveSource is a source with a live generation and its codec.
type liveSource struct {
	pos   int // position among the live sources (matcher.Indexed.Source)
	src   *Source
	codec *codec
	// nameDOB tells whether the generation holds any row without a valid
	// ID; most do not, and a check then skips their weak-match lookups.
	nameDOB bool
	// present, when the generation has a presence filter, tells person keys
	// without records in this source apart without a seek.
	present *presence
	// repeat, when the generation has a repeat filter (the roster's and
	// police's, and a short-keyed source's), tells the person keys that may
	// have more than one row.
	repeat *presence
	// short: the person keys repeat does not hold have at most one row by
	// ID, under shortKey (Source.ShortKeys).
	short bool
	// staged, while a staged delta of the generation is being applied, is
	// its writes, which every read of the source goes through.
	staged *stagedWrites
}

// View opens a read view; Close releases it.
func (db *DB) View() (*View, error) {
	// Taken before the transaction: a staged delta's writes are dropped
	// from db.staged only after the catalog's mark is cleared, so a
	// transaction that still sees the mark sees them here.
	db.applying.RLock()
	staged := db.staged
	txn := db.bdb.NewTransaction(false)
	db.applying.RUnlock()
	cat, err := readCatalog(txn)
	if err != nil {
		txn.Discard()
		return nil, err
	}
	v := &View{txn: txn, cat: cat}
	for i := range cat.Sources {
		s := &cat.Sources[i]
		if !s.Live() {
			continue
		}
		var ws *stagedWrites
		if s.Staged != 0 {
			if ws = staged[s.ID]; ws == nil || ws.gen != s.Staged {
				// A staged delta of an earlier process that died: its rows
				// are partly old. Open finishes it.
				v.Close()
				return nil, fmt.Errorf("index source %s %s: a delta was not fully applied; reopen the index to finish it", s.Kind, s.Path)
			}
		}
		schema, err := sources.SchemaOf(s.Kind)
		if err != nil {
			v.Close()
			return nil, err
		}
		ls := &liveSource{src: s, codec: &codec{schema: schema, kind: s.Kind, files: s.Files, snapshot: s.Snapshot}, staged: ws}
		var release func()
		ls.present, release = db.filter(s.ID, s.Gen)
		v.release = append(v.release, release)
		if keepsRepeats(s.Kind) || s.ShortKeys {
			ls.repeat, release = db.repeats(s.ID, s.Gen)
			v.release = append(v.release, release)
			ls.short = s.ShortKeys && ls.repeat != nil
		}
		if s.Kind == sources.KindRoster {
			v.roster = ls
			continue
		}
		ls.pos = len(v.live)
		v.live = append(v.live, *ls)
	}
	for i := range v.live {
		ls := &v.live[i]
		p := genPrefix(kindNameDOB, ls.src.ID, ls.src.dataGen())
		ls.nameDOB = anyMerged(v.iter(kindNameDOB, ls), p, ls.staged.under(p))
	}
	return v, nil
}

// iter returns the view's iterator over one key kind of one source's live
// generation, made on first use. Bound to that prefix, it merges only the
// LSM tables whose key range overlaps it: a lookup in a source that recent
// updates did not touch skips the small tables they left in the upper
// levels, which an iterator over the whole key space seeks in every time.
func (v *View) iter(kind byte, ls *liveSource) *badger.Iterator {
	id := uint32(kind)<<16 | uint32(ls.src.ID)
	if it, ok := v.its[id]; ok {
		return it
	}
	if v.its == nil {
		v.its = make(map[uint32]*badger.Iterator, 2*len(v.live))
	}
	it := v.txn.NewIterator(badger.IteratorOptions{Prefix: genPrefix(kind, ls.src.ID, ls.src.dataGen())})
	v.its[id] = it
	return it
}

// Close releases the view. A fork is closed before its parent.
func (v *View) Close() {
	for _, it := range v.its {
		it.Close()
	}
	for _, r := range v.release {
		r()
	}
	if !v.fork {
		v.txn.Discard()
	}
}

// Fork returns a view of the same moment for another goroutine: it shares
// the read transaction (badger allows concurrent reads and iterators on a
// read-only one) and has its own iterator. Close it before v.
func (v *View) Fork() *View {
	return &View{txn: v.txn, cat: v.cat, live: v.live, roster: v.roster, fork: true}
}

// Catalog is the catalog the view reads.
func (v *View) Catalog() *Catalog { return v.cat }

// scan calls fn with the suffix and value of every key under prefix, a key
// of the given kind in source ls.
func (v *View) scan(kind byte, ls *liveSource, prefix []byte, fn func(k, val []byte) error) error {
	return eachMerged(v.iter(kind, ls), prefix, ls.staged.under(prefix), len(prefix), true, fn)
}

func seqOf(k []byte) uint32 { return binary.BigEndian.Uint32(k[len(k)-4:]) }

// Records implements matcher.Index.
func (v *View) Records(key personid.Key, kind sources.Kind) ([]matcher.Indexed, error) {
	return v.group(kindRecord, uint64(key),
		func(ls *liveSource) bool { return kind == "" || ls.src.Kind == kind },
		func(ls *liveSource, val []byte) (sources.Record, error) { return ls.codec.decode(key, val) })
}

// RecordsExcept implements matcher.RowRepeats.
func (v *View) RecordsExcept(key personid.Key, kind sources.Kind) ([]matcher.Indexed, error) {
	return v.group(kindRecord, uint64(key),
		func(ls *liveSource) bool { return ls.src.Kind != kind },
		func(ls *liveSource, val []byte) (sources.Record, error) { return ls.codec.decode(key, val) })
}

// MayRepeat implements matcher.RowRepeats: false when the repeat filter of
// the live roster or police generation says key has at most one row there
// by ID. Without a filter (a generation written before repeat filters, or
// another kind), or with two sources of the kind (one row in each is two),
// the answer is true.
func (v *View) MayRepeat(key personid.Key, kind sources.Kind) bool {
	ls := v.roster
	if kind != sources.KindRoster {
		ls = nil
		for i := range v.live {
			if v.live[i].src.Kind != kind {
				continue
			}
			if ls != nil {
				return true
			}
			ls = &v.live[i]
		}
	}
	return ls == nil || ls.repeat == nil || ls.repeat.has(uint64(key))
}

// NameDOBRecords implements matcher.Index.
func (v *View) NameDOBRecords(h uint64) ([]matcher.Indexed, error) {
	return v.group(kindNameDOB, h,
		func(ls *liveSource) bool { return ls.nameDOB },
		func(ls *liveSource, val []byte) (sources.Record, error) { return ls.codec.decode(0, val) })
}

// HukouRows implements matcher.Index.
func (v *View) HukouRows(h uint64) ([]matcher.Indexed, error) {
	return v.group(kindHukou, h,
		func(ls *liveSource) bool { return ls.src.Kind == sources.KindPolice },
		func(ls *liveSource, val []byte) (sources.Record, error) { return decodeKeyed(ls.codec, val) })
}

// group collects, in manifest order, the records filed under group in every
// live source that want accepts, decoding each value with decode. The presence
// filter holds the groups of kindRecord and kindNameDOB, not of kindHukou.
func (v *View) group(kind byte, group uint64, want func(*liveSource) bool,
	decode func(*liveSource, []byte) (sources.Record, error)) ([]matcher.Indexed, error) {
	var out []matcher.Indexed
	for i := range v.live {
		ls := &v.live[i]
		if !want(ls) || kind != kindHukou && ls.present != nil && !ls.present.has(group) {
			continue
		}
		add := func(k, val []byte) error {
			seq := uint32(0)
			var err error
			if kind == kindRecord {
				seq, val, err = splitRecord(k, val)
			} else {
				seq = seqOf(k)
			}
			var rec sources.Record
			if err == nil {
				rec, err = decode(ls, val)
			}
			if err != nil {
				return v.corrupt(ls, err)
			}
			out = append(out, matcher.Indexed{Source: ls.pos, Seq: seq, Rec: rec})
			return nil
		}
		v.buf = groupPrefix(v.buf, kind, ls.src.ID, ls.src.dataGen(), group)
		var err error
		if kind == kindRecord && ls.short && !ls.repeat.has(group) {
			err = v.get(ls, v.buf, add) // v.buf is the person's shortKey
		} else {
			err = v.scan(kind, ls, v.buf, add)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// get calls fn with the empty suffix and the value of key in source ls, if
// it exists.
func (v *View) get(ls *liveSource, key []byte, fn func(k, val []byte) error) error {
	if w, ok := ls.staged.find(key); ok {
		if w.del {
			return nil
		}
		return fn(nil, w.v)
	}
	item, err := v.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return item.Value(func(val []byte) error { return fn(nil, val) })
}

func (v *View) corrupt(ls *liveSource, err error) error {
	return fmt.Errorf("index source %s %s generation %d: %w", ls.src.Kind, ls.src.Path, ls.src.Gen, err)
}

// MayHave reports whether key may have records by ID in a live source of
// one of kinds; false means certainly none, as the presence filters tell
// without a seek (a source without a filter always answers maybe).
func (v *View) MayHave(key personid.Key, kinds ...sources.Kind) bool {
	for i := range v.live {
		ls := &v.live[i]
		if slices.Contains(kinds, ls.src.Kind) && (ls.present == nil || ls.present.has(uint64(key))) {
			return true
		}
	}
	return false
}

// decodeKeyed decodes a value that starts with its person key.
func decodeKeyed(c *codec, val []byte) (sources.Record, error) {
	if len(val) < 8 {
		return nil, errCorrupt
	}
	return c.decode(personid.Key(binary.BigEndian.Uint64(val)), val[8:])
}

// RosterRows implements matcher.Index. The rows returned may be shared
// with later calls for the same key: callers must not change them.
func (v *View) RosterRows(key personid.Key) ([]*sources.RosterMember, error) {
	ls := v.roster
	if ls == nil || ls.present != nil && !ls.present.has(uint64(key)) {
		return nil, nil
	}
	if rows, ok := v.rosterRows[key]; ok {
		return rows, nil
	}
	rows, err := v.readRosterRows(ls, key)
	if err != nil {
		return nil, err
	}
	if v.rosterRows == nil || len(v.rosterRows) >= rosterCacheSize {
		v.rosterRows = make(map[personid.Key][]*sources.RosterMember, rosterCacheSize)
	}
	v.rosterRows[key] = rows
	return rows, nil
}

func (v *View) readRosterRows(ls *liveSource, key personid.Key) ([]*sources.RosterMember, error) {
	var out []*sources.RosterMember
	v.buf = groupPrefix(v.buf, kindRecord, ls.src.ID, ls.src.dataGen(), uint64(key))
	err := v.scan(kindRecord, ls, v.buf, func(k, val []byte) error {
		_, val, err := splitRecord(k, val)
		if err != nil {
			return v.corrupt(ls, err)
		}
		rec, err := ls.codec.decode(key, val)
		if err != nil {
			return v.corrupt(ls, err)
		}
		out = append(out, rec.(*sources.RosterMember))
		return nil
	})
	return out, err
}

// RosterNameDOB implements matcher.Index.
func (v *View) RosterNameDOB(h uint64) ([]personid.Key, error) {
	ls := v.roster
	if ls == nil {
		return nil, nil
	}
	var out []personid.Key
	v.buf = groupPrefix(v.buf, kindRosterN, ls.src.ID, ls.src.dataGen(), h)
	err := v.scan(kindRosterN, ls, v.buf, func(k, _ []byte) error {
		if len(k) != 8 {
			return v.corrupt(ls, errCorrupt)
		}
		out = append(out, personid.Key(binary.BigEndian.Uint64(k)))
		return nil
	})
	return out, err
}

// Household returns the roster rows of one household, in roster order.
func (v *View) Household(id string) ([]*sources.RosterMember, error) {
	ls := v.roster
	if ls == nil {
		return nil, nil
	}
	var out []*sources.RosterMember
	v.buf = housePrefix(v.buf, ls.src.ID, ls.src.dataGen(), id)
	err := v.scan(kindHouse, ls, v.buf, func(_, val []byte) error {
		rec, err := decodeKeyed(ls.codec, val)
		if err != nil {
			return v.corrupt(ls, err)
		}
		out = append(out, rec.(*sources.RosterMember))
		return nil
	})
	return out, err
}

// Households calls fn with every roster household's rows, in household ID
// order (the order of a full run's output).
func (v *View) Households(fn func(rows []*sources.RosterMember) error) error {
	ls := v.roster
	if ls == nil {
		return nil
	}
	prefix := genPrefix(kindHouse, ls.src.ID, ls.src.dataGen())
	it := v.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	var cur []byte
	var rows []*sources.RosterMember
	err := eachMerged(it, prefix, ls.staged.under(prefix), len(prefix), true, func(k, val []byte) error {
		if id := k[:len(k)-4]; !bytes.Equal(id, cur) {
			if len(rows) > 0 {
				if err := fn(rows); err != nil {
					return err
				}
				rows = nil
			}
			cur = append(cur[:0], id...)
		}
		rec, err := decodeKeyed(ls.codec, val)
		if err != nil {
			return v.corrupt(ls, err)
		}
		rows = append(rows, rec.(*sources.RosterMember))
		return nil
	})
	if err != nil || len(rows) == 0 {
		return err
	}
	return fn(rows)
}

// CandidateKeys returns, sorted, every person key with a poverty or
// disability record by ID; the omission candidates are those of them on no
// roster household (matcher.AssembleCandidate tells).
func (v *View) CandidateKeys() ([]personid.Key, error) {
	var out []personid.Key
	for i := range v.live {
		ls := &v.live[i]
		if ls.src.Kind != sources.KindPoverty && ls.src.Kind != sources.KindDisability {
			continue
		}
		prefix := genPrefix(kindRecord, ls.src.ID, ls.src.dataGen())
		it := v.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		err := eachMerged(it, prefix, ls.staged.under(prefix), len(prefix), false, func(k, _ []byte) error {
			out = append(out, personid.Key(binary.BigEndian.Uint64(k)))
			return nil
		})
		it.Close()
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Changes calls fn with every entry of the change set of generation gen of
// source src: sub is 'p' (person key), 'n' (name+DOB hash), 'h' (hukou
// hash), 'd' (household ID, without the terminator its keys carry) or 'a'
// (roster name+DOB hash).
func (v *View) Changes(src uint16, gen uint32, fn func(sub byte, group []byte) error) error {
	prefix := genPrefix(kindChange, src, gen)
	it := v.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	// The group of a household is its key's: the ID and the 0 byte that
	// ends it (housePrefix); callers get the ID.
	give := func(sub byte, group []byte) error {
		if sub == changeHousehold {
			group = bytes.TrimSuffix(group, []byte{0})
		}
		return fn(sub, group)
	}
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().KeyCopy(nil)[len(prefix):]
		if len(k) < 1 {
			return errCorrupt
		}
		if k[0] != changeBlock {
			if err := give(k[0], k[1:]); err != nil { // one key per group (older indexes)
				return err
			}
			continue
		}
		val, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := eachChange(val, give); err != nil {
			return err
		}
	}
	return nil
}
