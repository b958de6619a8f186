package matcher

import (
	"math/rand/v2"
	"testing"
)

func TestKeyTableAgreesWithMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tab := newKeyTable(4)
	ref := map[uint64]int32{}
	for i := 0; i < 50000; i++ {
		k := r.Uint64N(1<<20) + 1
		got, inserted := tab.put(k, int32(i))
		if want, ok := ref[k]; ok {
			if inserted || got != want {
				t.Fatalf("put(%d) = %d,%v; already stored %d", k, got, inserted, want)
			}
			continue
		}
		ref[k] = int32(i)
	}
	if tab.len() != len(ref) {
		t.Fatalf("len %d, want %d", tab.len(), len(ref))
	}
	for k := uint64(0); k < 1<<20+2; k++ {
		want, ok := ref[k]
		if !ok {
			want = -1
		}
		if got := tab.get(k); got != want {
			t.Fatalf("get(%d) = %d, want %d", k, got, want)
		}
	}
}

func BenchmarkKeyTableGet(b *testing.B) {
	const n = 2_000_000
	tab := newKeyTable(n)
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = r.Uint64N(1<<56) + 1
		tab.put(keys[i], int32(i))
	}
	b.ResetTimer()
	var hits int
	for i := 0; i < b.N; i++ {
		if tab.get(keys[i%n]^uint64(i&1)) >= 0 {
			hits++
		}
	}
	_ = hits
}
