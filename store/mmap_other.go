//go:build !unix

package store

import (
	"io"
	"os"
)

// mapFile reads a whole file where mapping it is not supported.
func mapFile(path string) (b []byte, unmap func(), err error) {
	b, err = os.ReadFile(path)
	return b, func() {}, err
}

// warmFile reads the file at path into the page cache.
func warmFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}
