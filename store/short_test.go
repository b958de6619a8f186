package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/synth"
)

// TestShortKeysThroughDeltas: pension rows start under short keys; a delta
// that changes rows in place keeps them there, one that gives a person a
// second row files it under the other key and names the person in the
// repeat filter. A repeat filter lost, or full, is made again from the
// digest table, and every index compares with a full rewrite.
func TestShortKeysThroughDeltas(t *testing.T) {
	dir, manifest, db, full := twinIndexes(t)
	const path = "sources/pension.parquet"
	pension := filepath.Join(dir, path)
	counts := func() (short, other int) {
		tr := liveTable(t, db, path)
		defer tr.close()
		ents, err := tr.read(0, int(tr.rows), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(ents); i += entryLen {
			switch ents[i] {
			case kindShort:
				short++
			case kindRecord:
				other++
			}
		}
		return short, other
	}
	short0, other0 := counts()
	if short0 < 100 || other0 > short0/100 {
		t.Fatalf("first build: %d rows under short keys, %d under others; want nearly all short", short0, other0)
	}
	var twice, newcomer string
	rounds := []struct {
		name  string
		edit  func(rs []synth.PensionRow) []synth.PensionRow
		lose  func(s *Source) // before the round's update
		other int             // rows under other keys after it, beyond the build's
	}{
		{"in place", func(rs []synth.PensionRow) []synth.PensionRow {
			for i := 0; i < len(rs); i += 10 {
				rs[i].MonthlyAmount = "1234.50"
			}
			return rs
		}, nil, 0},
		{"a second row", func(rs []synth.PensionRow) []synth.PensionRow {
			i := 3
			for personid.Parse(rs[i].PersonID).Reason != personid.ReasonNone {
				i++
			}
			twice = rs[i].PersonID
			extra := rs[i]
			extra.MonthlyAmount = "1.00"
			return append(rs, extra)
		}, nil, 1},
		{"a new person", func(rs []synth.PensionRow) []synth.PensionRow {
			// A fund member without pension: the person's only row is
			// filed under the other key, which a filter made again from
			// the table must name too.
			have := map[string]bool{}
			for _, r := range rs {
				have[r.PersonID] = true
			}
			fund, err := parquet.ReadFile[synth.FundRow](filepath.Join(dir, "sources/fund.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fund {
				if !have[f.PersonID] && personid.Parse(f.PersonID).Reason == personid.ReasonNone {
					newcomer = f.PersonID
					extra := rs[0]
					extra.PersonID = newcomer
					return append(rs, extra)
				}
			}
			t.Fatal("every fund member has pension")
			return nil
		}, nil, 2},
		{"filter lost", func(rs []synth.PensionRow) []synth.PensionRow {
			rs[5].MonthlyAmount = "99.00"
			return rs
		}, func(s *Source) {
			db.Close()
			if err := os.Remove(db.repeatPath(s.ID, s.Gen)); err != nil {
				t.Fatal(err)
			}
			db = openQuiet(t, db.dir) // made again at Open
			if rep, release := db.repeats(s.ID, s.Gen); rep == nil {
				t.Fatal("Open did not make the lost repeat filter again")
			} else {
				release()
			}
		}, 2},
		{"filter full", func(rs []synth.PensionRow) []synth.PensionRow {
			rs[7].MonthlyAmount = "98.00"
			return rs
		}, func(s *Source) {
			p := newPresence(64)
			for i := range p.words {
				p.words[i] = ^uint64(0)
			}
			db.Close()
			if err := writeFilterFile(db.repeatPath(s.ID, s.Gen), p); err != nil {
				t.Fatal(err)
			}
			db = openQuiet(t, db.dir) // made again by the delta
		}, 2},
	}
	for i, r := range rounds {
		editFile(t, pension, r.edit)
		setSnapshot(t, manifest, path, fmt.Sprintf("2026-10-%02d", 20+i))
		if r.lose != nil {
			r.lose(sourceAt(t, db, path))
		}
		got := updateWith(t, db, manifest, UpdateOptions{})
		updateWith(t, full, manifest, UpdateOptions{Rewrite: true})
		if u := got[path]; u.Delta == 0 {
			t.Fatalf("%s: %+v; want a delta", r.name, u)
		}
		sameIndex(t, r.name, dump(t, db), dump(t, full))
		sameViews(t, r.name, db, full)
		checkConsistent(t, db)
		if short, other := counts(); short != short0 || other != other0+r.other {
			t.Fatalf("%s: %d rows under short keys, %d under others; want %d and %d", r.name, short, other, short0, other0+r.other)
		}
		s := sourceAt(t, db, path)
		rep, release := db.repeats(s.ID, s.Gen)
		if rep == nil || rep.fill() > maxReusedFill {
			t.Fatalf("%s: repeat filter %v", r.name, rep)
		}
		release()
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for id, n := range map[string]int{twice: 2, newcomer: 1} {
		if recs, err := v.Records(personid.Parse(id).Key, sources.KindPension); err != nil || len(recs) != n {
			t.Fatalf("%s: %d pension records, %v; want %d", personid.MaskString(id), len(recs), err, n)
		}
	}
}
