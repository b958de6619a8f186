package audit

import (
	"sync"
	"sync/atomic"
	"time"
)

// GroupSync shares fsyncs among concurrent writers of one file (group
// commit): a writer takes a ticket with Written once its bytes are written,
// and Wait(ticket) returns once a sync that started after that write has
// finished. One writer leads each round; the others wait for the round to
// end on a channel closed for all of them at once, so that a round's
// waiters wake together rather than one after another behind a mutex held
// across the fsync (a convoy that serialized the service).
//
// A failed sync is final: after an fsync error Linux may report later
// fsyncs as successful although the data was lost, so every later Wait
// returns the first error.
type GroupSync struct {
	// Sync makes everything written so far durable; one call at a time.
	Sync func() error
	// Observe, when set, is told after each round how long its Sync took
	// and how many writes it made durable (for metrics); the leader calls
	// it, one round at a time.
	Observe func(took time.Duration, writes int64)

	written atomic.Int64

	mu      sync.Mutex
	synced  int64
	running bool
	done    chan struct{} // closed when the running round ends
	err     error
}

// Written records one finished write and returns its ticket.
func (g *GroupSync) Written() int64 { return g.written.Add(1) }

// Wait returns once the write with ticket n is durable.
func (g *GroupSync) Wait(n int64) error {
	g.mu.Lock()
	for g.synced < n && g.err == nil {
		if g.running {
			ch := g.done
			g.mu.Unlock()
			<-ch
			g.mu.Lock()
			continue
		}
		// Lead a round covering every write finished before it starts.
		target := g.written.Load()
		g.running, g.done = true, make(chan struct{})
		from := g.synced
		g.mu.Unlock()
		start := time.Now()
		err := g.Sync()
		if g.Observe != nil {
			g.Observe(time.Since(start), target-from)
		}
		g.mu.Lock()
		g.running = false
		if err != nil {
			g.err = err
		} else {
			g.synced = target
		}
		close(g.done)
	}
	var err error
	if g.synced < n {
		err = g.err
	}
	g.mu.Unlock()
	return err
}

// All returns the ticket of the last write so far: Wait(All()) syncs
// everything.
func (g *GroupSync) All() int64 { return g.written.Load() }
