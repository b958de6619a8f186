package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws one bar per stage on a terminal and prints nothing
// otherwise (log lines then tell the story). It is safe for concurrent use.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	label string
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && term.IsTerminal(int(f.Fd()))}
}

// update redraws the bar for label at most ten times a second, and always
// when the stage finishes.
func (p *progress) update(label string, done, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	finished := done >= total
	if label == p.label && !finished && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	if label != p.label && p.label != "" {
		fmt.Fprintln(p.w)
	}
	p.label, p.last = label, now
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < n {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r%-40.40s [%s] %5.1f%% %d/%d rows", label, bar, 100*frac, done, total)
}

// close ends the current line.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.label != "" {
		fmt.Fprintln(p.w)
		p.label = ""
	}
}
