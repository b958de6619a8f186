package store

import "encoding/binary"

// Key kinds: the first byte of every badger key.
const (
	kindMeta    = 'M' // M name → JSON: the catalog, the run meta
	kindRecord  = 'R' // R src gen personKey seq → record value (rows with a valid ID)
	kindNameDOB = 'N' // N src gen nameDOBHash seq → record value (rows without a valid ID)
	kindHukou   = 'H' // H src gen hukouHash seq → personKey(8) | record value (police rows)
	kindHouse   = 'D' // D src gen householdID seq → record value (roster rows, by household)
	kindRosterN = 'A' // A src gen nameDOBHash personKey → seq(4): a roster person's first row's name+DOB+region
	kindChange  = 'X' // X src gen 'B' block → entries (sub, group): what generation gen changed against the one before
	kindHistory = 'F' // F scope id → flags of the last run (scope H household, C candidate)
	kindPending = 'G' // G run(4) scope id → flags of a run not yet applied to F; tombstone = 0xff
	kindStaged  = 'Q' // Q src gen block(4) → writes of a delta too large for one transaction (staged.go)
)

// Change subkinds: which group of a generation differs from the previous one.
const (
	changePerson    = 'p' // person key: the person's records of this source
	changeNameDOB   = 'n' // name+DOB hash: records without a valid ID
	changeHukou     = 'h' // hukou hash: the police rows on that hukou
	changeHousehold = 'd' // household ID: the household's roster rows
	changeRosterN   = 'a' // name+DOB hash: the roster persons carrying it
	// changeBlock is not a group: X src gen 'B' block(4) holds many
	// entries (see changeWriter). Older indexes have one key per group.
	changeBlock = 'B'
)

// kindShort is not a key kind but a digest-table flag: the row, filed under
// kindRecord, is its person's only row by ID in the source (the repeat
// filter of the generation that wrote it said so) and is stored under
// shortKey, where a point Get finds it through badger's bloom filters
// rather than a seek through every level. Only sources of Source.ShortKeys
// have such rows.
const kindShort = 'S'

const genPrefixLen = 1 + 2 + 4

// genPrefix is kind | src | gen: everything one generation of one source
// wrote under that kind.
func genPrefix(kind byte, src uint16, gen uint32) []byte {
	b := make([]byte, genPrefixLen, 32)
	b[0] = kind
	binary.BigEndian.PutUint16(b[1:], src)
	binary.BigEndian.PutUint32(b[3:], gen)
	return b
}

// recKey is kind | src | gen | group(8) | seq.
func recKey(dst []byte, kind byte, src uint16, gen uint32, group uint64, seq uint32) []byte {
	dst = append(dst[:0], kind)
	dst = binary.BigEndian.AppendUint16(dst, src)
	dst = binary.BigEndian.AppendUint32(dst, gen)
	dst = binary.BigEndian.AppendUint64(dst, group)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// shortKey is R | src | gen | personKey: the key of a person's only record
// in a source of Source.ShortKeys. Its value is seq(4) | record value. The
// key is the prefix of the person's other keys, so a seek for the prefix
// finds it too.
func shortKey(dst []byte, src uint16, gen uint32, key uint64) []byte {
	return groupPrefix(dst, kindRecord, src, gen, key)
}

// shortValue is the value stored under a shortKey: seq, then val.
func shortValue(seq uint32, val []byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(val)), seq), val...)
}

// splitRecord gives the row ordinal and record value of a kindRecord key
// whose part after the person's prefix is suffix, and its value.
func splitRecord(suffix, val []byte) (uint32, []byte, error) {
	if len(suffix) == 0 { // a shortKey
		if len(val) < 4 {
			return 0, nil, errCorrupt
		}
		return binary.BigEndian.Uint32(val), val[4:], nil
	}
	if len(suffix) < 4 {
		return 0, nil, errCorrupt
	}
	return binary.BigEndian.Uint32(suffix[len(suffix)-4:]), val, nil
}

// entryKey is the key of the row at seq whose table entry is e, a row that
// has one (e.flag not 0), in generation gen of source src.
func entryKey(dst []byte, e rowEntry, src uint16, gen uint32, seq uint32) []byte {
	if e.flag == kindShort {
		return shortKey(dst, src, gen, e.group)
	}
	return recKey(dst, e.flag, src, gen, e.group, seq)
}

// groupPrefix is kind | src | gen | group(8).
func groupPrefix(dst []byte, kind byte, src uint16, gen uint32, group uint64) []byte {
	dst = append(dst[:0], kind)
	dst = binary.BigEndian.AppendUint16(dst, src)
	dst = binary.BigEndian.AppendUint32(dst, gen)
	return binary.BigEndian.AppendUint64(dst, group)
}

// houseKey is D | src | gen | householdID | 0 | seq. The 0 byte ends the ID
// so that one household's prefix never covers another's.
func houseKey(dst []byte, src uint16, gen uint32, id string, seq uint32) []byte {
	dst = housePrefix(dst, src, gen, id)
	return binary.BigEndian.AppendUint32(dst, seq)
}

func housePrefix(dst []byte, src uint16, gen uint32, id string) []byte {
	dst = append(dst[:0], kindHouse)
	dst = binary.BigEndian.AppendUint16(dst, src)
	dst = binary.BigEndian.AppendUint32(dst, gen)
	dst = append(dst, id...)
	return append(dst, 0)
}

// changeBlockKey is X | src | gen | 'B' | block.
func changeBlockKey(src uint16, gen uint32, block uint32) []byte {
	k := append(genPrefix(kindChange, src, gen), changeBlock)
	return binary.BigEndian.AppendUint32(k, block)
}
