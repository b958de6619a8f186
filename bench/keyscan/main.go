// Command keyscan measures how fast hedui reads the key column of every
// source of a manifest: the scan floor of a full-base review. It prints one
// line per manifest entry with rows, wall seconds, CPU seconds and rows/s.
//
//	go run ./bench/keyscan --manifest bench/data/city/sources.yaml --repeat 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

func main() {
	manifest := flag.String("manifest", "", "the sources manifest")
	workers := flag.Int("workers", 0, "row groups read at once (default: every core)")
	repeat := flag.Int("repeat", 3, "runs per entry; the best is reported")
	flag.Parse()
	if *manifest == "" {
		fmt.Fprintln(os.Stderr, "keyscan needs --manifest")
		os.Exit(2)
	}
	if err := run(context.Background(), *manifest, *workers, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "keyscan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string, workers, repeat int) error {
	m, err := sources.LoadManifest(path)
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp("", "keyscan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tpath\trows\twall s\tcpu s\trows/s (wall)\t")
	for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
		var best struct {
			rows      int64
			wall, cpu time.Duration
		}
		for i := 0; i < repeat; i++ {
			rows, wall, cpu, err := scanKeys(ctx, m, e, workers, cache)
			if err != nil {
				return err
			}
			if i == 0 || wall < best.wall {
				best.rows, best.wall, best.cpu = rows, wall, cpu
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.0f\t\n", e.Kind, e.Path, best.rows, best.wall.Seconds(), best.cpu.Seconds(),
			float64(best.rows)/best.wall.Seconds())
	}
	return tw.Flush()
}

// scanKeys reads and parses the key column of one entry (CSV conversion,
// cached after the first run, is not timed again).
func scanKeys(ctx context.Context, m *sources.Manifest, e *sources.Entry, workers int, cache string) (int64, time.Duration, time.Duration, error) {
	rd, err := sources.Open(ctx, m, e, sources.ReadOptions{CacheDir: cache})
	if err != nil {
		return 0, 0, 0, err
	}
	defer rd.Close()
	q := &sources.Quality{Quarantined: map[string]int64{}}
	cpu0, start := cpuTime(), time.Now()
	err = rd.Scan(ctx, workers, nil, q, func(sources.Chunk, []personid.Parsed) error { return nil })
	return q.Rows, time.Since(start), cpuTime() - cpu0, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
