package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// WarmStats tells what Warm read.
type WarmStats struct {
	Files   int
	Bytes   int64
	Seconds float64
}

// Warm reads the index in dir (its LSM tables and hedui's digest tables
// and filters: every file lookups read) into the operating system's page
// cache, as pg_prewarm does for a database, so that the first checks
// and incremental runs after a reboot or a cache flush do not wait on the
// disk. On Linux each file is read through a mapping marked for huge pages
// (MADV_HUGEPAGE, then MADV_POPULATE_READ): pages read that way are kept as
// 2 MiB folios, which every process that maps the file later (each run,
// check or service) maps with one page-table entry per 2 MiB instead of
// 512. A lookup touches a few random blocks in each LSM level of a 14 GB
// index; with 4 KiB pages nearly every touch costs a page fault and a TLB
// miss. Pages already cached stay as they are; files written later
// (compactions, updates) are cached as they are written.
//
// Warm does not open the index and may run beside a process that has it
// open. progress, when not nil, is called with bytes read so far and in all.
func Warm(ctx context.Context, dir string, progress func(done, total int64)) (WarmStats, error) {
	began := time.Now()
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return WarmStats{}, fmt.Errorf("warm index %s: not an index folder (no badger MANIFEST): %w", dir, err)
	}
	files, total, err := indexFiles(dir)
	if err != nil {
		return WarmStats{}, fmt.Errorf("warm index %s: %w", dir, err)
	}
	var done atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, f := range files {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := warmFile(f.path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed since listed: a compaction or an update replaced it
				}
				return fmt.Errorf("warm index %s: %w", dir, err)
			}
			if progress != nil {
				progress(done.Add(f.size), total)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return WarmStats{}, err
	}
	return WarmStats{Files: len(files), Bytes: total, Seconds: time.Since(began).Seconds()}, nil
}

type indexFile struct {
	path string
	size int64
}

// indexFiles lists the LSM tables of dir (*.sst) and the files of its
// tables folder, largest first so that the workers finish together. Each is
// written once and never shrinks, so mapping it as listed is safe beside a
// process that has the index open; badger's value log and memtable logs,
// which it truncates, are left out (lookups rarely read them).
func indexFiles(dir string) ([]indexFile, int64, error) {
	var out []indexFile
	var total int64
	for _, d := range []string{dir, filepath.Join(dir, tablesDir)} {
		ents, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) && d != dir {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || d == dir && filepath.Ext(e.Name()) != ".sst" {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			if info.Size() > 0 {
				out = append(out, indexFile{filepath.Join(d, e.Name()), info.Size()})
				total += info.Size()
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].size > out[j].size || out[i].size == out[j].size && out[i].path < out[j].path
	})
	return out, total, nil
}
