package matcher

import (
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// TestNameDOBKey: the key hashes "name NUL yyyymmdd NUL region" with the
// spaces of the name dropped (indexes built earlier hold these values), and
// is 0 when a part is missing.
func TestNameDOBKey(t *testing.T) {
	birth := time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)
	long := strings.Repeat("欧阳", 20) // longer than the stack buffer
	cases := []struct {
		name, region string
		birth        time.Time
		want         uint64
	}{
		{"张 三\u3000", "530102", birth, xxhash.Sum64String("张三\x0019800102\x00530102")},
		{long, "530102", birth, xxhash.Sum64String(long + "\x0019800102\x00530102")},
		{"", "530102", birth, 0},
		{"张三", "530102", time.Time{}, 0},
		{"张三", "5301", birth, 0},
	}
	for _, c := range cases {
		if got := nameDOBKey(c.name, c.birth, c.region); got != c.want {
			t.Errorf("nameDOBKey(%q, %s, %q) = %x, want %x", c.name, c.birth.Format(time.DateOnly), c.region, got, c.want)
		}
	}
}
