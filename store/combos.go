package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hedui/hedui/sources"
)

// comboCounts counts roster rows by (region, area, assistance): the
// catalog's Combos and ComboRows as a map, which a roster delta adjusts by
// its removed and added rows.
type comboCounts map[[3]string]int64

func (c comboCounts) add(rm *sources.RosterMember, n int64) {
	c.addKey([3]string{rm.Region, rm.Area, rm.Assistance}, n)
}

func (c comboCounts) addKey(k [3]string, n int64) {
	if c[k] += n; c[k] == 0 {
		delete(c, k)
	}
}

func (c comboCounts) merge(o comboCounts) {
	for k, n := range o {
		c.addKey(k, n)
	}
}

// sorted returns the triples in order with their row counts, as the
// catalog keeps them; both nil when there are none.
func (c comboCounts) sorted() ([][3]string, []int64) {
	if len(c) == 0 {
		return nil, nil
	}
	keys := make([][3]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	rows := make([]int64, len(keys))
	for i, k := range keys {
		rows[i] = c[k]
	}
	return keys, rows
}

// combosAfter is s's combo counts with a delta's changes applied; an error
// when s has no counts (a catalog of an older version) or a count would go
// below zero (the delta does not match the live rows).
func combosAfter(s *Source, change comboCounts) (comboCounts, error) {
	if len(s.ComboRows) != len(s.Combos) {
		return nil, fmt.Errorf("%w: the catalog has no row counts of the roster's (region, area, assistance) triples", errRewrite)
	}
	c := comboCounts{}
	for i, k := range s.Combos {
		c.addKey(k, s.ComboRows[i])
	}
	c.merge(change)
	for k, n := range c {
		if n < 0 {
			return nil, fmt.Errorf("roster delta removes more rows of %v than the index holds", k)
		}
	}
	return c, nil
}
