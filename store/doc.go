// Package store is hedui's on-disk index of every source (badger): each
// person's canonical records per source, so that an applicant is checked
// in milliseconds (逢进必核) and, after a department ships a new snapshot,
// only the households it touches are re-evaluated.
//
// # Sources and generations
//
// A source is one manifest entry (the roster included), named by kind and
// path as written. Its rows live under a generation number; the catalog (one
// small JSON value under key "Mcat") says which generation of each source is
// live, with its snapshot date, manifest settings, file list, fingerprint
// (settings + file names, sizes, modification times) and data-quality counts.
//
// # Key layout
//
// Every key starts with a kind byte, then the source ID (2 bytes) and the
// generation (4 bytes), big-endian, so that one generation of one source is
// one key prefix:
//
//	R src gen personKey(8) seq(4)      → value       rows with a valid ID
//	R src gen personKey(8)             → seq(4) value  a person's only row (short key; see below)
//	N src gen nameDOBHash(8) seq(4)    → value       rows without one (hash 0: no name/DOB/region)
//	H src gen hukouHash(8) seq(4)      → key(8) value  police rows by hukou (the housemate index)
//	D src gen householdID 0x00 seq(4)  → key(8) value  roster rows by household
//	A src gen nameDOBHash(8) key(8)    → seq(4)      roster persons by their first row's name+DOB+region
//	X src gen 'B' block(4)             → entries     change set: groups that differ from the previous generation,
//	                                                 each uvarint(len) sub group (older indexes: X src gen sub group → empty)
//	F scope                            → flags       run history (scope H<household> or C<person>)
//	G run(4) scope                     → flags       a run's history not yet copied into F
//	Mcat, Mrun                         → JSON        catalog, last run record
//
// seq is the row's ordinal within the entry (files sorted, rows in file
// order), so a prefix scan returns records in the order the matcher attaches
// them. The person key is personid.Key (the 17 digits as a uint64).
//
// # Short keys
//
// A lookup by prefix seeks in every LSM level that overlaps the source; a
// point Get skips, through each table's bloom filter, the levels that lack
// the key. So a person's only row in a source other than the roster and
// police is stored under the short key, without seq (which its value then
// starts with), where one Get finds it. A full write first makes the
// generation's repeat filter from the key column (the persons met twice,
// tables/<src>-<gen>.rpt) and files every row of a person it names under
// the long key. A delta keeps a short-keyed row there when it changes in
// place, files every other row it writes under the long key, and adds those
// persons to the new generation's repeat filter. A reader therefore Gets
// the short key of a person the filter does not name (nothing found means
// no row), and seeks the prefix, which covers both keys, for the others
// (Source.ShortKeys; catalog version 2).
//
// # Values
//
// A record value is a hand-written encoding driven by sources.SchemaOf(kind):
// an 8-byte xxhash digest of the person key and body, the file index and
// row number as uvarints, then the body: the person ID (implied by the key,
// or raw when invalid) and every schema column in order (strings and dates
// as uvarints, floats as 8 bytes, ints zigzag, bools one byte). The digest
// covers content, not position: a row that only moved keeps its digest.
//
// # Atomic update
//
// An entry whose fingerprint changed is applied as a delta when it can: the
// new snapshot is scanned in parallel by row group, each row encoded as a
// build would, and compared by row ordinal with the live generation's
// digest table (tables/<src>-<gen>.tbl: per row its group, content digest
// and value hash; see table.go). Only the rows that differ are deleted and
// rewritten, under the live key prefix, together with the change set and
// the catalog (new logical generation, snapshot, fingerprint) in ONE badger
// transaction, which badger applies whole or not at all. Source.Gen is then
// the logical generation (what runs and change sets name) and Source.Data
// the generation whose key prefix holds the rows.
//
// Police and roster rows also have a second key (hukou, household), which
// the delta moves with the row; a roster person's A key follows the
// person's first row (rosterdelta.go), and the catalog's per-triple row
// counts (Source.ComboRows) follow the rows.
//
// A delta too large for one transaction is staged (staged.go): its writes
// are logged to tables/<src>-<gen>.stg and synced, the catalog flipped with
// the generation marked staged; once Update returns, the writes are applied
// under the live prefix in the background and synced, the mark cleared and
// the log deleted. Views opened meanwhile read the source through the
// writes, sorted in memory (stagedread.go), so an incremental run evaluates
// while badger's writer works. A kill after the flip leaves the log for
// Open to replay (writes replay idempotently).
//
// A first build, a changed file list and a change beyond the staged budget (a
// fifth of the rows; rows inserted or removed mid-file move every later row's
// ordinal) are written whole instead: the entry is read into a new generation
// (WriteBatch, bounded memory), the change set written by merging the old and
// new generations prefix by prefix (per person, name+DOB hash, hukou,
// household: a group changed when its multiset of digests differs), synced,
// and the catalog flipped in one small transaction (live = new, old listed as
// garbage). The catalog marks the new generation pending before writing. A
// kill at any moment therefore leaves the old generation live (and Open drops
// the pending one and its digest table) or the new one live (and Open drops
// the old one); readers only ever read the live generation. Sources are
// swapped one at a time: after a kill some sources may be new and others old,
// each whole.
//
// # Files beside badger
//
// tables/<src>-<gen>.tbl is the digest table of a live generation: per row
// ordinal its key kind, group, content digest and value hash, what a delta
// update compares the next snapshot with. A delta's generation mostly
// shares an older generation's table file (a hard link) and writes only
// the entries that differ, tables/<src>-<gen>.tbo (overlay.go).
// tables/<src>-<gen>.cd and .c<n> are its column digests (columns.go): per
// chunk a fingerprint of each raw column's stored bytes and the key counts,
// per raw column the value hash of every row, so that the next update hashes
// only the columns whose bytes changed and parses only the changed rows'
// keys; a delta writes them (a full build does not: the first update after
// it compares whole rows).
// tables/<src>-<gen>.flt is its presence filter: a
// blocked Bloom filter of the generation's person keys and name+DOB hashes,
// so that a lookup skips sources without the person's records without a
// badger seek. tables/<src>-<gen>.rpt, for the roster and police, is its
// repeat filter: the person keys that may have more than one row there, so
// that assembling a household takes a member's only roster or police row
// from the rows it already holds (Open makes a missing one from the
// table). All are written and synced before the catalog names the
// generation, deleted with it, and Open deletes those of generations that
// are not live; a missing one costs a full rewrite or a seek, never a wrong
// answer.
//
// # Run history
//
// RecordRun writes a run's flags per scope under G, commits the run record
// (Mrun: as-of, rule-set digest, the generation of each source it read,
// snapshots) in one transaction, then copies G into F; Open finishes a copy
// a kill interrupted. An incremental run reads the change sets of every
// generation after the recorded one, so its cost follows the change.
// Change sets a recorded run has read are dropped.
//
// One process at a time may open an index (badger locks the folder).
package store
