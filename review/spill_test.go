package review

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFlagSpillReadsBackInPersonOrder: rows come back whole, ordered by
// person ID, rows of one person in the order they were added, a row group
// at a time, and the file is gone afterwards.
func TestFlagSpillReadsBackInPersonOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill")
	s, err := createSpill(path)
	if err != nil {
		t.Fatal(err)
	}
	var in []FlagRow
	ids := []string{"530102199001010012", "５３０１０２１９８０", "530102-1985", "", "530102199001010012"}
	for i := range rowGroupRows + 10 {
		in = append(in, FlagRow{PersonID: ids[i%len(ids)], RuleID: "rule", RuleVersion: int32(i), Outcome: "omission",
			Message: "核对：第" + string(rune('0'+i%10)), Evidence: `{"n":` + string(rune('0'+i%10)) + `}`, RegionCode: "530102"})
	}
	if err := s.add(in[:7]); err != nil {
		t.Fatal(err)
	}
	if err := s.add(in[7:]); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b FlagRow) int {
		switch {
		case a.PersonID < b.PersonID:
			return -1
		case a.PersonID > b.PersonID:
			return 1
		}
		return 0
	})
	var got []FlagRow
	batches := 0
	err = s.sorted(func(rows []FlagRow) error {
		batches++
		got = append(got, rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read back %d rows, not the %d added in person order", len(got), len(want))
	}
	if batches != 2 {
		t.Errorf("%d batches for %d rows, want 2", batches, len(in))
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the spill file is still there (%v)", err)
	}
}
