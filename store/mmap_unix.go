//go:build unix

package store

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// mapFile maps a whole file read-only: its pages come from the page cache
// as they are touched, with no copy and no fresh memory to fault in. unmap
// releases the mapping; nothing may read the bytes after it.
func mapFile(path string) (b []byte, unmap func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() <= 0 || st.Size() > 1<<40 {
		return nil, nil, fmt.Errorf("%s: %d bytes", path, st.Size())
	}
	b, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { syscall.Munmap(b) }, nil
}

// warmFile reads the file at path into the page cache through a mapping
// marked for huge pages (see Warm). Where the kernel lacks
// MADV_POPULATE_READ (before Linux 5.14) or MADV_HUGEPAGE, the mapping is
// read a page at a time instead.
func warmFile(path string) error {
	b, unmap, err := mapFile(path)
	if err != nil {
		return err
	}
	defer unmap()
	adviseHuge(b)
	if populate(b) == nil {
		return nil
	}
	var sum byte
	for i := 0; i < len(b); i += 4096 {
		sum += b[i]
	}
	runtime.KeepAlive(sum)
	return nil
}
