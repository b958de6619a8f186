package store

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// The index's own files (digest-table overlays, presence and repeat
// filters, column chunk directories, staged logs) end with the xxhash64 of
// everything before it, little-endian: a torn or damaged file never reads
// as a good one.

// sealed appends to b the checksum of b.
func sealed(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
}

// unsealed returns b without its checksum, and whether b ends with the
// checksum of the rest.
func unsealed(b []byte) (body []byte, ok bool) {
	if len(b) < 8 {
		return nil, false
	}
	body = b[:len(b)-8]
	return body, xxhash.Sum64(body) == binary.LittleEndian.Uint64(b[len(body):])
}
