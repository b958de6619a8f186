//go:build !unix

package store

import "os"

// mapFile reads a whole file where mapping it is not supported.
func mapFile(path string) (b []byte, unmap func(), err error) {
	b, err = os.ReadFile(path)
	return b, func() {}, err
}
