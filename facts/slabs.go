package facts

import "github.com/hedui/hedui/sources"

// slabs hands out the structs and slices a Decoder's households are made
// of from arrays it keeps, and hands them out again after Decoder.Reuse: a
// reader that decodes a page of households, evaluates them and drops them
// allocates for the first pages only. Strings are not reused (see
// strArena): a string may outlive its household as a map key or a copy.
type slabs struct {
	household slab[Household]
	memberPtr slab[*Member]
	member    slab[Member]
	roster    slab[sources.RosterMember]
	str       slab[string]
	mate      slab[Housemate]
	matePtr   slab[*Housemate]
	kinds     [kindCount]reuser // *kindSlab[T, P] of each record kind, made on first use
}

// slab is one array and how much of it is handed out.
type slab[T any] struct {
	items []T
	used  int
}

// take hands out n zeroed elements of s, starting a new array when the
// current one is full (the old one stays with the households using it).
// A nil s (a decoder without slabs) allocates.
func take[T any](s *slab[T], n int) []T {
	if s == nil {
		return make([]T, n)
	}
	if s.used+n > len(s.items) {
		s.items = make([]T, max(2*len(s.items), n, 64))
		s.used = 0
	}
	out := s.items[s.used : s.used+n : s.used+n]
	s.used += n
	clear(out)
	return out
}

func takeOne[T any](s *slab[T]) *T { return &take(s, 1)[0] }

// The slabs of a decoder; nil when it has none.

func (m *slabs) households() *slab[Household] {
	if m == nil {
		return nil
	}
	return &m.household
}

func (m *slabs) memberPtrs() *slab[*Member] {
	if m == nil {
		return nil
	}
	return &m.memberPtr
}

func (m *slabs) members() *slab[Member] {
	if m == nil {
		return nil
	}
	return &m.member
}

func (m *slabs) rosters() *slab[sources.RosterMember] {
	if m == nil {
		return nil
	}
	return &m.roster
}

func (m *slabs) strings() *slab[string] {
	if m == nil {
		return nil
	}
	return &m.str
}

func (m *slabs) housemates() *slab[Housemate] {
	if m == nil {
		return nil
	}
	return &m.mate
}

func (m *slabs) housematePtrs() *slab[*Housemate] {
	if m == nil {
		return nil
	}
	return &m.matePtr
}

type reuser interface{ reuse() }

// kindSlab holds the records of one kind and the pointers of their lists.
type kindSlab[T any, P record[T]] struct {
	recs slab[T]
	ptrs slab[P]
}

func (k *kindSlab[T, P]) reuse() { k.recs.used, k.ptrs.used = 0, 0 }

// kindSlabOf returns m's slab for the records of layout l.
func kindSlabOf[T any, P record[T]](m *slabs, l *layout) *kindSlab[T, P] {
	if k, ok := m.kinds[l.index].(*kindSlab[T, P]); ok {
		return k
	}
	k := &kindSlab[T, P]{}
	m.kinds[l.index] = k
	return k
}

// reuse hands every element out again.
func (m *slabs) reuse() {
	m.household.used, m.memberPtr.used, m.member.used, m.roster.used, m.str.used = 0, 0, 0, 0, 0
	m.mate.used, m.matePtr.used = 0, 0
	for _, k := range m.kinds {
		if k != nil {
			k.reuse()
		}
	}
}
