package matcher

import (
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

func setHouseholdFields(h *facts.Household, rm *sources.RosterMember) {
	h.Region, h.Area, h.Assistance, h.Status = rm.Region, rm.Area, rm.Assistance, rm.Status
	h.MonthlyBenefit, h.Since, h.ApplicationDate, h.AuthorizationRef = rm.MonthlyBenefit, rm.Since, rm.ApplicationDate, rm.AuthorizationRef
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nameDOBKey hashes name + birth date + region for the weak match of rows
// without a valid ID; 0 means the row lacks one of the three.
func nameDOBKey(name string, birth time.Time, region string) uint64 {
	name = normalizeName(name)
	if name == "" || birth.IsZero() || len(region) != 6 {
		return 0
	}
	// name NUL yyyymmdd NUL region, hashed from a buffer on the stack
	// (fmt.Sprintf allocated the same bytes for every roster row and record).
	var buf [64]byte
	b := append(buf[:0], name...)
	b = append(b, 0)
	b = birth.AppendFormat(b, "20060102")
	b = append(b, 0)
	b = append(b, region...)
	return xxhash.Sum64(b)
}

// normalizeName drops half- and full-width spaces, which exports scatter
// inside Chinese names.
func normalizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u3000' || r == '\t' {
			return -1
		}
		return r
	}, s)
}
