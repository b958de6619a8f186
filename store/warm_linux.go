package store

import "syscall"

// Linux madvise advice values that package syscall lacks.
const (
	madvHugepage     = 14
	madvPopulateRead = 22
)

// adviseHuge asks that the pages read through b be kept as huge folios.
// Failure (a kernel without transparent huge pages) leaves 4 KiB pages.
func adviseHuge(b []byte) { _ = syscall.Madvise(b, madvHugepage) }

// populate reads every page of b into the page cache and maps it.
func populate(b []byte) error { return syscall.Madvise(b, madvPopulateRead) }
