package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/badger/v4"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// UpdateOptions tune Update.
type UpdateOptions struct {
	Workers  int    // row groups decoded at once; 0 means every core
	CacheDir string // CSV conversions; empty means a temporary folder
	// Progress, if set, is called as rows of an entry are written.
	Progress func(e *sources.Entry, doneRows, totalRows int64)
	// Now stamps the generations built; zero means time.Now().
	Now time.Time
	// Rewrite writes every changed source whole, as the first build does,
	// instead of applying the change in place (tests compare the two).
	Rewrite bool
	// maxDeltaRows caps the changed rows of a delta applied in one
	// transaction (tests); 0 means what one badger transaction holds. A
	// larger delta is staged.
	maxDeltaRows int64
	// maxStagedRows and maxStagedBytes cap a staged delta (tests); 0 means
	// a fifth of the source's rows and maxStagedBytes. A larger one writes
	// the source whole.
	maxStagedRows, maxStagedBytes int64
	// decoded, if set, counts the rows a delta decoded (tests).
	decoded *atomic.Int64
	// afterFlip, if set, is called once a staged delta is live and before
	// its logged writes are applied (the crash test kills there).
	afterFlip func()
	// applyGate, if set, is called before the background apply of a staged
	// delta starts (tests hold it there).
	applyGate func()
}

// SourceUpdate says what Update did with one manifest entry.
type SourceUpdate struct {
	Kind     sources.Kind `json:"kind"`
	Path     string       `json:"path"`
	Action   string       `json:"action"` // built, updated, unchanged, removed
	Gen      uint32       `json:"gen"`
	Snapshot string       `json:"snapshot"`
	Rows     int64        `json:"rows"`
	Changed  int64        `json:"changed"` // groups in the change set (persons, hashes, households)
	// Delta counts the rows rewritten in place when the update was applied
	// as a delta (InPlace); 0 when the source was written whole.
	Delta   int64 `json:"delta_rows"`
	InPlace bool  `json:"in_place,omitempty"`
	// Staged tells a delta too large for one transaction, applied in steps
	// (see staged.go).
	Staged  bool    `json:"staged,omitempty"`
	Seconds float64 `json:"seconds"`
}

// Update brings the index in line with the manifest: every entry (the
// roster included) whose snapshot, settings or files differ from the indexed
// generation is compared with it by key and digest and made live atomically:
// as a delta applied in place, in one transaction when the change fits one
// (see delta) or staged over several (see staged.go), else read whole into a
// new generation flipped in by one small transaction; entries no longer in
// the manifest are emptied. On an empty index this is the build.
//
// A kill at any moment leaves each source at its old or its new generation:
// the next Open drops what the dead writer left.
//
// The writes of staged deltas are applied in the background after Update
// returns; Views read through them meanwhile (stagedread.go). Close, the
// next Update and anything that drops prefixes wait for them.
func (db *DB) Update(ctx context.Context, m *sources.Manifest, opts UpdateOptions) ([]SourceUpdate, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	entries := append([]*sources.Entry{m.Roster}, m.Sources...)
	seen := map[[2]string]bool{}
	for _, e := range entries {
		k := [2]string{string(e.Kind), e.Path}
		if seen[k] {
			return nil, fmt.Errorf("%s: entry %s %q appears twice; the index names a source by kind and path", m.Path, e.Kind, e.Path)
		}
		seen[k] = true
	}
	var out []SourceUpdate
	// A delta reads the rows it replaces: the last update's background
	// applies must be done, and what failed of them finished from their logs.
	if err := db.waitApplies(); err != nil {
		db.log.Warn("index: finishing what a background apply left", "err", err)
	}
	defer db.startApplies()
	// The catalog is read again only after an entry changed it: decoding it
	// for each of the unchanged entries was most of a quiet update's work.
	cat, err := db.Catalog()
	if err != nil {
		return out, err
	}
	if err := db.recoverStaged(cat); err != nil {
		return out, err
	}
	for pos, e := range entries {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		u, err := db.updateEntry(ctx, m, e, pos, opts, cat)
		if err != nil {
			return out, fmt.Errorf("index %s %s: %w", e.Kind, e.Path, err)
		}
		out = append(out, u)
		if u.Action != "unchanged" {
			if cat, err = db.Catalog(); err != nil {
				return out, err
			}
		}
	}
	if !inOrder(cat, m) {
		if err := db.editCatalog(func(c *Catalog) error { reorder(c, m); return nil }); err != nil {
			return out, err
		}
	}
	for _, s := range cat.Sources {
		if s.Gen == 0 || seen[[2]string{string(s.Kind), s.Path}] {
			continue
		}
		now, err := db.Catalog()
		if err != nil {
			return out, err
		}
		u, err := db.updateEntry(ctx, m, &sources.Entry{Kind: s.Kind, Path: s.Path}, -1, opts, now)
		if err != nil {
			return out, fmt.Errorf("remove %s %s from the index: %w", s.Kind, s.Path, err)
		}
		out = append(out, u)
	}
	if err := db.collect(false); err != nil {
		return out, err
	}
	return out, db.bdb.Sync()
}

// updateEntry rebuilds one source if it changed. pos is the entry's place in
// the manifest (the roster 0); -1 means the entry left the manifest.
func (db *DB) updateEntry(ctx context.Context, m *sources.Manifest, e *sources.Entry, pos int, opts UpdateOptions, cat *Catalog) (u SourceUpdate, err error) {
	start := time.Now()
	u = SourceUpdate{Kind: e.Kind, Path: e.Path, Snapshot: e.Snapshot.Format(time.DateOnly)}
	fp := ""
	if pos >= 0 {
		var err error
		if fp, err = fingerprint(m, e); err != nil {
			return u, err
		}
	}
	old := cat.source(e.Kind, e.Path)
	if old != nil && old.Gen != 0 {
		if pos >= 0 && (old.Fingerprint == fp || old.Fingerprint == mustLegacy(e)) {
			u.Action, u.Gen = "unchanged", old.Gen
			return u, nil // Update puts the catalog in manifest order
		}
		if pos >= 0 && e.Snapshot.Before(old.Snapshot) {
			return u, fmt.Errorf("snapshot %s is older than the indexed one (%s); an index only moves forward",
				e.Snapshot.Format(time.DateOnly), old.Snapshot.Format(time.DateOnly))
		}
		if pos < 0 && old.Fingerprint == "" {
			u.Action, u.Gen = "unchanged", old.Gen
			return u, nil
		}
	}
	var src uint16
	var gen, oldGen, oldData uint32
	err = db.editCatalog(func(c *Catalog) error {
		s := c.source(e.Kind, e.Path)
		if s == nil {
			c.Sources = append(c.Sources, Source{ID: c.NextSrc, Kind: e.Kind, Path: e.Path})
			c.NextSrc++
			s = &c.Sources[len(c.Sources)-1]
		}
		if s.Pending != 0 {
			// Open drops what a dead writer left, and a failed update its
			// own (dropPending): only a failure of that leaves one here.
			return fmt.Errorf("generation %d of this source was left pending by an update that failed; reopen the index to drop it", s.Pending)
		}
		src, gen, oldGen, oldData = s.ID, c.NextGen, s.Gen, s.dataGen()
		s.Pending = gen
		c.NextGen++
		return nil
	})
	if err != nil {
		return u, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, db.dropPending(src, gen))
		}
	}()
	if pos >= 0 && oldGen != 0 && !opts.Rewrite {
		d := &delta{db: db, m: m, e: e, src: src, gen: gen, oldGen: oldGen, data: oldData, fp: fp, opts: opts}
		err := d.apply(ctx)
		if err == nil {
			u.Action, u.Gen, u.Rows, u.Changed, u.Delta, u.Staged, u.InPlace = "updated", gen, d.qual.Rows, d.changed, d.rows, d.staged, true
			u.Seconds = time.Since(start).Seconds()
			return u, nil
		}
		if !errors.Is(err, errRewrite) {
			return u, err
		}
		db.log.Info("index: rewriting the whole source", "kind", e.Kind, "path", e.Path, "why", err.Error())
	}
	w := &genWriter{db: db, m: m, e: e, src: src, gen: gen, opts: opts}
	if pos >= 0 {
		if err := w.write(ctx); err != nil {
			if w.table != nil {
				w.table.abort()
			}
			return u, err
		}
	} else {
		w.qual = &sources.Quality{Kind: e.Kind, Path: e.Path, Quarantined: map[string]int64{}}
	}
	info := GenInfo{Gen: gen, Snapshot: e.Snapshot, Full: oldGen == 0, Built: opts.Now.UTC()}
	if oldGen != 0 {
		if info.Changed, err = db.diff(ctx, src, oldData, gen); err != nil {
			return u, err
		}
	}
	if err := db.bdb.Sync(); err != nil {
		return u, err
	}
	if w.table != nil {
		if err := w.table.commit(); err != nil {
			return u, err
		}
	}
	// The flip: one small transaction makes the new generation live.
	err = db.editCatalog(func(c *Catalog) error {
		s := c.byID(src)
		if s == nil || s.Pending != gen {
			return fmt.Errorf("catalog lost the pending generation %d", gen)
		}
		s.Pending, s.Gen, s.Data, s.Snapshot, s.Fingerprint = 0, gen, gen, e.Snapshot, fp
		s.Files, s.Quality = w.files, w.qual
		s.Combos, s.ComboRows = w.combos.sorted()
		s.ShortKeys = w.rep != nil
		s.Entry = EntryInfo{Columns: e.Columns, Formats: e.Formats, Units: e.Units, Values: e.Values, Encoding: e.Encoding}
		if oldGen != 0 {
			s.Garbage = append(s.Garbage, oldData)
		}
		s.Chain = append(s.Chain, info)
		reorder(c, m)
		return nil
	})
	if err != nil {
		return u, err
	}
	if oldGen != 0 {
		db.removeTable(src, oldGen)
	}
	u.Action, u.Gen, u.Rows, u.Changed = "updated", gen, w.qual.Rows, info.Changed
	switch {
	case oldGen == 0:
		u.Action = "built"
	case pos < 0:
		u.Action = "removed"
	}
	u.Seconds = time.Since(start).Seconds()
	return u, nil
}

// reorder puts the catalog's sources in manifest order (the roster first);
// sources no longer in the manifest go last.
func reorder(c *Catalog, m *sources.Manifest) {
	pos := map[[2]string]int{{string(m.Roster.Kind), m.Roster.Path}: 0}
	for i, e := range m.Sources {
		pos[[2]string{string(e.Kind), e.Path}] = i + 1
	}
	at := func(s Source) int {
		if p, ok := pos[[2]string{string(s.Kind), s.Path}]; ok {
			return p
		}
		return math.MaxInt32
	}
	sort.SliceStable(c.Sources, func(i, j int) bool { return at(c.Sources[i]) < at(c.Sources[j]) })
}

// inOrder reports whether c's sources are in manifest order already.
func inOrder(c *Catalog, m *sources.Manifest) bool {
	o := &Catalog{Sources: slices.Clone(c.Sources)}
	reorder(o, m)
	for i := range o.Sources {
		if o.Sources[i].ID != c.Sources[i].ID {
			return false
		}
	}
	return true
}

// Live reports whether s is in the manifest the index was last updated with.
func (s *Source) Live() bool { return s.Gen != 0 && s.Fingerprint != "" }

// fingerprint digests what decides an entry's contents: its settings and
// snapshot, and its files' names, sizes and modification times. Files are
// named relative to the manifest, so that the same manifest opened by
// another path (relative or absolute, through a link) is the same entry; a
// rename of the manifest's folder costs no update.
func fingerprint(m *sources.Manifest, e *sources.Entry) (string, error) {
	return fingerprintNamed(e, m.RelPath)
}

// legacyFingerprint is the fingerprint indexes written before session 5
// hold: files named as the manifest was opened. Such a source is unchanged
// when it matches; its next update stores the current fingerprint.
func legacyFingerprint(e *sources.Entry) (string, error) {
	return fingerprintNamed(e, func(path string) string { return path })
}

// mustLegacy is legacyFingerprint, or a value no fingerprint takes when a
// file cannot be read (fingerprint has just read them all).
func mustLegacy(e *sources.Entry) string {
	fp, err := legacyFingerprint(e)
	if err != nil {
		return "unreadable"
	}
	return fp
}

func fingerprintNamed(e *sources.Entry, name func(string) string) (string, error) {
	type file struct {
		Name  string
		Size  int64
		MTime int64
	}
	var fs []file
	for _, f := range e.Files {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fs = append(fs, file{name(f), st.Size(), st.ModTime().UnixNano()})
	}
	b, err := json.Marshal(struct {
		Kind     sources.Kind
		Path     string
		Snapshot time.Time
		Entry    EntryInfo
		Files    []file
	}{e.Kind, e.Path, e.Snapshot, EntryInfo{e.Columns, e.Formats, e.Units, e.Values, e.Encoding}, fs})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// genWriter writes one generation of one source.
type genWriter struct {
	db     *DB
	m      *sources.Manifest
	e      *sources.Entry
	src    uint16
	gen    uint32
	opts   UpdateOptions
	files  []string
	qual   *sources.Quality
	combos comboCounts // the roster's
	table  *tableWriter
	// rep, for a kind shortKeyed tells, is the generation's repeat filter,
	// made before any row is written: the rows of the person keys it does
	// not hold go under shortKey.
	rep *presence
}

func (w *genWriter) write(ctx context.Context) error {
	rd, err := sources.Open(ctx, w.m, w.e, sources.ReadOptions{CacheDir: w.opts.CacheDir})
	if err != nil {
		return err
	}
	defer rd.Close()
	var fileIdx map[string]int
	w.files, fileIdx = entryFiles(w.m, w.e)
	schema, err := sources.SchemaOf(w.e.Kind)
	if err != nil {
		return err
	}
	cd := &codec{schema: schema, kind: w.e.Kind, files: w.files, snapshot: w.e.Snapshot}
	chunks := rd.Chunks()
	base, total, err := chunkBases(chunks)
	if err != nil {
		return err
	}
	roster := w.e.Kind == sources.KindRoster
	var firsts [][]rosterFirst
	if roster {
		firsts = make([][]rosterFirst, len(chunks))
	}
	if w.table, err = w.db.createTable(w.src, w.gen, total); err != nil {
		return err
	}
	w.table.repeats = keepsRepeats(w.e.Kind)
	if shortKeyed(w.e.Kind) {
		if w.rep, err = repeatedKeys(ctx, rd, chunks, total, w.opts.Workers); err != nil {
			return err
		}
		w.table.rep = w.rep
	}
	var mu sync.Mutex
	combos := comboCounts{}
	wb := w.db.bdb.NewWriteBatch()
	defer wb.Cancel()
	var done atomic.Int64
	w.qual = &sources.Quality{Quarantined: map[string]int64{}}
	var skipped atomic.Int64
	err = rd.Scan(ctx, w.opts.Workers, nil, w.qual, func(c sources.Chunk, keys []personid.Parsed) error {
		recs, bad, err := decodeAll(rd, c)
		if err != nil {
			return err
		}
		skipped.Add(int64(bad))
		local := comboCounts{}
		ents := make([]byte, len(recs)*entryLen)
		raws := rowDigests(w.db, rd, c)
		for i, rec := range recs {
			if rec == nil {
				continue
			}
			seq := base[c.Index] + uint32(i)
			o := rec.Base()
			key := personid.Key(0)
			if keys[i].Reason == personid.ReasonNone {
				key = keys[i].Key
			}
			o.Key = key
			fi, ok := fileIdx[o.File]
			if !ok {
				return fmt.Errorf("record of file %q that the entry does not list", o.File)
			}
			val, _ := cd.appendRecord(nil, rec, fi)
			ent, err := w.put(wb, key, seq, rec, val)
			if err != nil {
				return err
			}
			ent.put(ents[i*entryLen:])
			if roster {
				rm := rec.(*sources.RosterMember)
				local.add(rm, 1)
				if key != 0 {
					firsts[c.Index] = append(firsts[c.Index], rosterFirst{key, seq, rosterND(key, rm)})
				}
			}
		}
		putRaws(ents, raws)
		if err := w.table.writeAt(base[c.Index], ents); err != nil {
			return err
		}
		if roster {
			mu.Lock()
			combos.merge(local)
			mu.Unlock()
		}
		if w.opts.Progress != nil {
			w.opts.Progress(w.e, done.Add(int64(c.Rows)), total)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n := skipped.Load(); n > 0 {
		w.qual.Quarantined["value"] += n
		w.db.log.Warn("index: rows skipped for a value that does not convert", "kind", w.e.Kind, "path", w.e.Path, "rows", n)
	}
	if roster {
		if err := w.putRosterFirsts(wb, firsts); err != nil {
			return err
		}
		w.combos = combos
	}
	return wb.Flush()
}

// repeatedKeys makes the repeat filter of a source about to be written whole
// from its key column alone: the person keys met twice in one pass over its
// rows in order, as repeatsOf does over a table. Chunks are parsed a few at a
// time in parallel and fed to the filter in row order.
func repeatedKeys(ctx context.Context, rd *sources.Reader, chunks []sources.Chunk, total int64, workers int) (*presence, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := newRepeatPass(total, max(total/4, 1))
	for i := 0; i < len(chunks); i += workers {
		batch := chunks[i:min(i+workers, len(chunks))]
		keys := make([][]personid.Parsed, len(batch))
		g, gctx := errgroup.WithContext(ctx)
		for j, c := range batch {
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				var err error
				keys[j], err = rd.Keys(c, nil)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, ks := range keys {
			for _, k := range ks {
				if k.Reason == personid.ReasonNone {
					p.meet(uint64(k.Key))
				}
			}
		}
	}
	return p.rep, nil
}

// rosterND is the name + birth date + region hash a roster person is
// found under (kindRosterN) when the person's first row is rm.
func rosterND(key personid.Key, rm *sources.RosterMember) uint64 {
	by, bm, bd := key.BirthDate()
	return matcher.NameDOBKey(rm.Name, time.Date(by, time.Month(bm), bd, 0, 0, 0, 0, time.UTC), rm.Region)
}

// decodeAll decodes every row of c; when a value does not convert, it
// decodes row by row and leaves the bad rows nil (a full run would stop on
// such a row only if it matched somebody).
func decodeAll(rd *sources.Reader, c sources.Chunk) ([]sources.Record, int, error) {
	recs, err := rd.Decode(c, nil)
	if err == nil {
		return recs, 0, nil
	}
	recs = make([]sources.Record, c.Rows)
	bad := 0
	for i := range recs {
		one, err := rd.Decode(c, []int{i})
		if err != nil {
			bad++
			continue
		}
		recs[i] = one[0]
	}
	return recs, bad, nil
}

// rowDigests returns the raw digests of chunk c's rows (sources.Reader.
// RowDigests), or nil when they cannot be computed: the rows then get no raw
// digest, and the next update decodes them all, as without digests.
func rowDigests(db *DB, rd *sources.Reader, c sources.Chunk) []uint64 {
	raws, err := rd.RowDigests(c, nil)
	if err != nil {
		db.log.Warn("index: rows without raw digests", "file", c.File, "row_group", c.RowGroup, "err", err)
		return nil
	}
	return raws
}

// putRaws writes the raw digests into a chunk's table entries (rows that
// did not convert included: their zero entry then says so for the same raw
// row).
func putRaws(ents []byte, raws []uint64) {
	for i, r := range raws {
		if (i+1)*entryLen <= len(ents) {
			binary.LittleEndian.PutUint64(ents[i*entryLen+25:], r)
		}
	}
}

// recordGroup is the key kind and group a record is filed under: its
// person key, or without a valid ID its name + birth date + region hash.
func recordGroup(key personid.Key, rec sources.Record) (byte, uint64) {
	if key != 0 {
		return kindRecord, uint64(key)
	}
	o := rec.Base()
	return kindNameDOB, matcher.NameDOBKey(o.Name, o.BirthDate, o.Region)
}

// withKey is a value prefixed with its person key (hukou and household rows).
func withKey(key personid.Key, val []byte) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(val)), uint64(key))
	return append(v, val...)
}

// put writes one record under its keys and returns its table entry.
func (w *genWriter) put(wb *badger.WriteBatch, key personid.Key, seq uint32, rec sources.Record, val []byte) (rowEntry, error) {
	o := rec.Base()
	flag, group := recordGroup(key, rec)
	if flag == kindRecord && w.rep != nil && !w.rep.has(group) {
		return entryOf(kindShort, group, val), wb.Set(shortKey(nil, w.src, w.gen, group), shortValue(seq, val))
	}
	ent := entryOf(flag, group, val)
	if err := wb.Set(recKey(nil, flag, w.src, w.gen, group, seq), val); err != nil {
		return ent, err
	}
	switch r := rec.(type) {
	case *sources.Police:
		if r.HukouNo != "" {
			return ent, wb.Set(recKey(nil, kindHukou, w.src, w.gen, matcher.HukouHash(r.HukouNo), seq), withKey(key, val))
		}
	case *sources.RosterMember:
		if bytes.IndexByte([]byte(r.HouseholdID), 0) >= 0 {
			return ent, fmt.Errorf("%s row %d: household_id %q holds a NUL byte", o.File, o.Row, r.HouseholdID)
		}
		return ent, wb.Set(houseKey(nil, w.src, w.gen, r.HouseholdID, seq), withKey(key, val))
	}
	return ent, nil
}

// putRosterFirsts writes, for each roster person, the name + birth date +
// region hash of the person's first roster row (Match indexes only that one).
func (w *genWriter) putRosterFirsts(wb *badger.WriteBatch, firsts [][]rosterFirst) error {
	seen := map[personid.Key]bool{}
	for _, fs := range firsts {
		for _, f := range fs {
			if seen[f.key] {
				continue
			}
			seen[f.key] = true
			if f.nd == 0 {
				continue
			}
			if err := wb.Set(rosterNKey(w.src, w.gen, f.nd, f.key), binary.BigEndian.AppendUint32(nil, f.seq)); err != nil {
				return err
			}
		}
	}
	return nil
}

// diffKinds says, per key kind, how a generation's keys group and what of a
// row decides whether it changed.
var diffKinds = []struct {
	kind, sub byte
	group     func(k []byte) []byte // k without the generation prefix
	identity  func(k, v []byte) uint64
}{
	{kindRecord, changePerson, func(k []byte) []byte { return k[:8] }, recordIdentity},
	{kindNameDOB, changeNameDOB, func(k []byte) []byte { return k[:8] }, func(_, v []byte) uint64 { return valueDigest(v) }},
	{kindHukou, changeHukou, func(k []byte) []byte { return k[:8] }, keyedIdentity},
	{kindHouse, changeHousehold, func(k []byte) []byte { return k[:len(k)-4] }, keyedIdentity},
	{kindRosterN, changeRosterN, func(k []byte) []byte { return k[:8] }, func(k, _ []byte) uint64 { return binary.BigEndian.Uint64(k[8:]) }},
}

// recordIdentity is the identity of a kindRecord row, stored under either
// key: its value's digest, as its table entry has it.
func recordIdentity(k, v []byte) uint64 {
	if _, val, err := splitRecord(k[8:], v); err == nil {
		v = val
	}
	return valueDigest(v)
}

// keyedIdentity is the identity of a value that starts with a person key.
func keyedIdentity(_, v []byte) uint64 {
	if len(v) < 16 {
		return 0
	}
	return xxhash.Sum64(v[:16])
}

// diff writes the change set of newGen against oldGen: every group whose
// rows differ as a multiset of identities. It returns the groups changed.
func (db *DB) diff(ctx context.Context, src uint16, oldGen, newGen uint32) (int64, error) {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	cw := &changeWriter{src: src, gen: newGen, put: wb.Set}
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, dk := range diffKinds {
			a := newGroupIter(txn, genPrefix(dk.kind, src, oldGen), dk.group, dk.identity)
			b := newGroupIter(txn, genPrefix(dk.kind, src, newGen), dk.group, dk.identity)
			for a.ok || b.ok {
				if err := ctx.Err(); err != nil {
					a.close()
					b.close()
					return err
				}
				var group []byte
				switch c := cmpGroups(a, b); {
				case c < 0:
					group = a.group
					a.next()
				case c > 0:
					group = b.group
					b.next()
				default:
					same := slices.Equal(a.ids, b.ids)
					group = a.group
					a.next()
					b.next()
					if same {
						continue
					}
				}
				if err := cw.add(dk.sub, group); err != nil {
					return err
				}
			}
			a.close()
			b.close()
		}
		return nil
	})
	if err == nil {
		err = cw.flush()
	}
	if err != nil {
		return 0, err
	}
	return cw.n, wb.Flush()
}

func cmpGroups(a, b *groupIter) int {
	switch {
	case !a.ok:
		return 1
	case !b.ok:
		return -1
	}
	return bytes.Compare(a.group, b.group)
}

// groupIter walks one generation prefix a group at a time, collecting the
// sorted identities of the group's rows.
type groupIter struct {
	it       *badger.Iterator
	prefix   []byte
	groupOf  func([]byte) []byte
	identity func(k, v []byte) uint64
	ok       bool
	group    []byte
	ids      []uint64
}

func newGroupIter(txn *badger.Txn, prefix []byte, groupOf func([]byte) []byte, identity func(k, v []byte) uint64) *groupIter {
	g := &groupIter{it: txn.NewIterator(badger.IteratorOptions{Prefix: prefix}), prefix: prefix, groupOf: groupOf, identity: identity}
	g.it.Seek(prefix)
	g.next()
	return g
}

func (g *groupIter) next() {
	g.ok, g.ids = false, g.ids[:0]
	var cur []byte
	for ; g.it.ValidForPrefix(g.prefix); g.it.Next() {
		item := g.it.Item()
		k := item.Key()[len(g.prefix):]
		grp := g.groupOf(k)
		if cur == nil {
			cur = append([]byte(nil), grp...)
		} else if !bytes.Equal(cur, grp) {
			break
		}
		var id uint64
		if err := item.Value(func(v []byte) error { id = g.identity(k, v); return nil }); err != nil {
			id = 0
		}
		g.ids = append(g.ids, id)
	}
	if cur != nil {
		g.ok, g.group = true, cur
		slices.Sort(g.ids)
	}
}

func (g *groupIter) close() { g.it.Close() }
