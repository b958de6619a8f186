package matcher

// keyTable maps person keys to dense indexes with open addressing and
// linear probing over one flat slice. Key 0 (no valid ID) marks an empty slot,
// so lookups touch a single cache line in the common case and never allocate.
type keyTable struct {
	slots []slot
	mask  uint64
	n     int
}

type slot struct {
	key uint64
	idx int32
}

func newKeyTable(capacity int) *keyTable {
	size := 16
	for size < capacity*2 {
		size <<= 1
	}
	return &keyTable{slots: make([]slot, size), mask: uint64(size - 1)}
}

func (t *keyTable) hash(key uint64) uint64 {
	// Fibonacci hashing spreads the structured ID digits over the table.
	return (key * 0x9E3779B97F4A7C15) >> 17
}

// get returns the index stored for key, or -1.
func (t *keyTable) get(key uint64) int32 {
	if key == 0 {
		return -1
	}
	for i := t.hash(key) & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s.key == key {
			return s.idx
		}
		if s.key == 0 {
			return -1
		}
	}
}

// put stores idx for key unless key is present; it returns the stored index
// and whether it was inserted.
func (t *keyTable) put(key uint64, idx int32) (int32, bool) {
	if key == 0 {
		panic("matcher: key 0 is not a person")
	}
	if (t.n+1)*2 > len(t.slots) {
		t.grow()
	}
	for i := t.hash(key) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.key == key {
			return s.idx, false
		}
		if s.key == 0 {
			s.key, s.idx = key, idx
			t.n++
			return idx, true
		}
	}
}

func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]slot, len(old)*2)
	t.mask = uint64(len(t.slots) - 1)
	t.n = 0
	for _, s := range old {
		if s.key != 0 {
			t.put(s.key, s.idx)
		}
	}
}

func (t *keyTable) len() int { return t.n }
