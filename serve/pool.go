package serve

import (
	"context"
	"slices"
	"time"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
)

// snapshot is one consistent state of the index as checks read it: a fixed
// set of read views, all opened while no update was running, so that every
// one sees the same generation of every source.
//
// Why a pool and not a view per check: store.Update swaps sources one at a
// time (each atomically), so a view opened in the middle of a multi-source
// update would see some sources new and others old. Views opened before
// the update keep reading their badger transaction (its read timestamp and
// the tables its iterator holds) unchanged while the update writes, flips
// the catalog and drops the old generations; the next snapshot is opened
// only after Update returned. Between updates nothing writes the index, so
// views opened at different moments still agree.
type snapshot struct {
	views   chan *store.View
	n       int
	retired chan struct{} // closed when a newer snapshot replaced this one
	cat     *store.Catalog
	opened  time.Time
	// regions are the county codes of the index's roster households: the
	// counties this service checks.
	regions map[string]bool
	// snapshots gives the snapshot date of each source kind (the oldest of
	// its live sources), as the rules see it.
	snapshots map[sources.Kind]time.Time
}

// openSnapshot opens n views of db.
func openSnapshot(db *store.DB, n int) (*snapshot, error) {
	s := &snapshot{views: make(chan *store.View, n), retired: make(chan struct{}), opened: time.Now()}
	for range n {
		v, err := db.View()
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.views <- v
		s.n++
	}
	v := <-s.views
	s.cat = v.Catalog()
	s.views <- v
	s.snapshots = s.cat.Snapshots()
	s.regions = map[string]bool{}
	if r := s.cat.Roster(); r != nil {
		for _, c := range r.Combos {
			s.regions[c[0]] = true
		}
	}
	return s, nil
}

// closeAll closes the views opened so far; none may be in use.
func (s *snapshot) closeAll() {
	for range s.n {
		(<-s.views).Close()
	}
	s.n = 0
}

// retire waits for every view to come back and closes them.
func (s *snapshot) retire() {
	close(s.retired)
	s.closeAll()
}

// regionList returns the known county codes, sorted.
func (s *snapshot) regionList() []string {
	out := make([]string, 0, len(s.regions))
	for r := range s.regions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// borrow takes a view of the current snapshot, waiting for one to be free;
// the caller gives it back with put. If the snapshot is replaced while
// waiting, it borrows from the new one.
func (srv *Server) borrow(ctx context.Context) (*snapshot, *store.View, error) {
	for {
		s := srv.snap.Load()
		select {
		case v := <-s.views:
			return s, v, nil
		case <-s.retired:
			continue
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func (s *snapshot) put(v *store.View) { s.views <- v }
