package store

import (
	"encoding/binary"
)

// changeBlockBytes bounds one change-set block's value: under badger's
// value threshold, so that it stays in the LSM tree.
const changeBlockBytes = 32 << 10

// changeWriter writes a generation's change set in blocks, X src gen 'B'
// block → entries, each uvarint(1+len(group)) | sub | group, in the order
// added (diffKinds order, then group bytes: the order of a full diff).
//
// Why blocks rather than a key per group: a 1 % change of a large source
// is thousands of groups, each a badger entry to write in the delta's
// transaction, to flush and compact, to read back in the incremental run
// and to delete once no run needs it; a block holds about 3,000.
type changeWriter struct {
	src   uint16
	gen   uint32
	put   func(k, v []byte) error
	block uint32
	val   []byte
	n     int64 // groups added
}

func (w *changeWriter) add(sub byte, group []byte) error {
	if len(w.val) > 0 && len(w.val)+binary.MaxVarintLen64+1+len(group) > changeBlockBytes {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.val = binary.AppendUvarint(w.val, uint64(1+len(group)))
	w.val = append(append(w.val, sub), group...)
	w.n++
	return nil
}

// flush writes the block being filled; the value is not reused (badger
// keeps it until the write commits).
func (w *changeWriter) flush() error {
	if len(w.val) == 0 {
		return nil
	}
	err := w.put(changeBlockKey(w.src, w.gen, w.block), w.val)
	w.block++
	w.val = nil
	return err
}

// subRank is sub's place in diffKinds: the order a full diff finds groups in.
func subRank(sub byte) int {
	for i, dk := range diffKinds {
		if dk.sub == sub {
			return i
		}
	}
	return len(diffKinds)
}

// eachChange calls fn with every entry of a change-set block.
func eachChange(val []byte, fn func(sub byte, group []byte) error) error {
	for len(val) > 0 {
		n, w := binary.Uvarint(val)
		if w <= 0 || n == 0 || uint64(len(val)-w) < n {
			return errCorrupt
		}
		e := val[w : w+int(n)]
		val = val[w+int(n):]
		if err := fn(e[0], e[1:]); err != nil {
			return err
		}
	}
	return nil
}
