package review

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/store"
	"github.com/hedui/hedui/synth"
)

// countingView counts the lookups that the repeat filters may spare.
type countingView struct {
	*store.View
	rosterRows, records, except int
}

func (c *countingView) RosterRows(key personid.Key) ([]*sources.RosterMember, error) {
	c.rosterRows++
	return c.View.RosterRows(key)
}

func (c *countingView) Records(key personid.Key, kind sources.Kind) ([]matcher.Indexed, error) {
	c.records++
	return c.View.Records(key, kind)
}

func (c *countingView) RecordsExcept(key personid.Key, kind sources.Kind) ([]matcher.Indexed, error) {
	c.except++
	return c.View.RecordsExcept(key, kind)
}

// TestRowRepeatsGiveTheSameFacts: assembling from the index with its repeat
// filters (a member's only roster row kept as the household gives it, a
// member's only police row taken from a housemate's hukou rows) gives every
// household the facts of an assembly that asks for every row, with fewer
// lookups. The traps: the roster's duplicates (planted), and a member whose
// police row sits on the head's hukou but who has a second one on another
// hukou, so that the rows read with the head's hukou are not all of theirs.
func TestRowRepeatsGiveTheSameFacts(t *testing.T) {
	dir := copyRegion(t)
	m := mustManifest(t, dir)
	var roster []synth.RosterRow
	rewrite(t, filepath.Join(dir, "roster.parquet"), func(rows []synth.RosterRow) []synth.RosterRow {
		roster = rows
		return rows
	})
	// The second member of the first household of two or more with valid IDs.
	var twice string
	for i := 1; i < len(roster) && twice == ""; i++ {
		if r := roster[i]; r.HouseholdID == roster[i-1].HouseholdID && personid.Parse(r.PersonID).Reason == personid.ReasonNone &&
			personid.Parse(roster[i-1].PersonID).Reason == personid.ReasonNone {
			twice = r.PersonID
		}
	}
	polices, err := filepath.Glob(filepath.Join(dir, "sources", "police-*.parquet"))
	if err != nil || len(polices) == 0 || twice == "" {
		t.Fatalf("no police file (%v) or no household of two", err)
	}
	added := false
	for _, p := range polices {
		rewrite(t, p, func(rows []synth.PoliceRow) []synth.PoliceRow {
			for _, r := range rows {
				if r.PersonID == twice && !added {
					again := r
					again.HukouNo = rows[len(rows)/2].HukouNo
					if again.HukouNo == r.HukouNo {
						again.HukouNo = "H-ANOTHER"
					}
					added = true
					return append(rows, again)
				}
			}
			return rows
		})
	}
	if !added {
		t.Fatalf("%s has no police row", personid.MaskString(twice))
	}
	db := openIndex(t, filepath.Join(t.TempDir(), "index"))
	if _, err := db.Update(context.Background(), m, store.UpdateOptions{Workers: 2, CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c := &countingView{View: v}
	plain := struct{ matcher.Index }{v} // asks for every row
	members, others, policeTwice := 0, 0, 0
	err = v.Households(func(rows []*sources.RosterMember) error {
		want, wantInvalid, err := matcher.AssembleHousehold(plain, rows)
		if err != nil {
			return err
		}
		roster, rosterInvalid, err := matcher.AssembleRosterHousehold(c, rows)
		if err != nil {
			return err
		}
		intake, intakeInvalid, err := matcher.AssembleHousehold(c, rows)
		if err != nil {
			return err
		}
		wb := facts.AppendBinary(nil, want)
		for name, got := range map[string]*facts.Household{"roster": roster, "intake": intake} {
			if !bytes.Equal(facts.AppendBinary(nil, got), wb) {
				t.Fatalf("household %s (%s): facts differ from an assembly that asks for every row", want.ID, name)
			}
		}
		if len(rosterInvalid) != len(wantInvalid) || len(intakeInvalid) != len(wantInvalid) {
			t.Fatalf("household %s: invalid members differ", want.ID)
		}
		for _, mb := range want.Members {
			if mb.Key != 0 {
				members++
			}
			if len(mb.OtherHouseholds) > 0 {
				others++
			}
			if mb.PersonID == twice {
				policeTwice = len(mb.Police)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if others == 0 || policeTwice != 2 {
		t.Fatalf("traps not met: %d members on two households, %d police rows of the member given a second", others, policeTwice)
	}
	// Two assemblies with the filters per household: the intake one asks
	// for every member's roster rows, the roster one only for the few
	// that repeat; both take most later members' police rows from the
	// hukou rows.
	if c.rosterRows > members+members/10 || c.except < members/2 {
		t.Fatalf("%d members: %d roster lookups and %d police rows taken from hukou rows; the filters spared little",
			members, c.rosterRows, c.except)
	}
}
