// Package pipeline is hedui's full-base review as an Apache Beam pipeline:
// the same connectors (sources.Reader), the same assembly of a household's
// facts (matcher.AssembleHousehold over an in-memory Index of that
// household's grouped records) and the same compiled rule set, with the
// joins done by the engine's shuffles instead of one process's memory.
//
// Stages and their keys (docs/scale-out.md has the volumes):
//
//  1. list: one element per (manifest entry, row group).
//  2. read: each row group through sources.Reader (Keys, Decode): roster
//     rows by person key and by household ID; source rows with a valid ID
//     by person key, without one by name + birth date + region hash; police
//     rows also by hukou hash; key-quality counts per entry.
//  3. person: CoGroupByKey on person key (roster rows, source rows). A
//     roster person goes to each of its households; a person with poverty
//     or disability records on no household is an omission candidate and is
//     evaluated at once; roster persons also go out by name-DOB hash and by
//     the hukou hashes of their police records; staff records by key.
//  4. weak: CoGroupByKey on name-DOB hash: rows without a valid ID reach the
//     households of the one roster person they name.
//  5. hukou: CoGroupByKey on hukou hash: the police rows of a member's
//     hukou reach the member's households; their people ask for their staff.
//  6. staff: CoGroupByKey on person key (requests, staff records).
//  7. household: CoGroupByKey on household ID of everything above, then
//     AssembleHousehold and rules.Set.Evaluate.
//  8. write: flags by shard (hash of household), sorted as `hedui run`
//     sorts them, to flags-SSSSS-of-NNNNN.parquet and .csv; the quality
//     counts summed per entry to quality.json.
package pipeline

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/hedui/hedui/review"
)

// ChunkRef names one row group of one manifest entry.
type ChunkRef struct {
	Entry int    // index in Manifest.Sources; -1 for the roster
	Chunk int    // index in Reader.Chunks()
	Base  uint32 // rows of the entry's earlier chunks: Seq of the chunk's first row
}

// Row is one source record (roster excluded) with its place in a scan of
// the manifest, the order in which Match attaches records.
type Row struct {
	Source int    // index in Manifest.Sources
	Seq    uint32 // row ordinal within the entry (files sorted, rows in order)
	Data   []byte // encodeRecord
}

// RosterRow is one roster row; Seq orders rows as the roster file does.
type RosterRow struct {
	Seq  uint32
	Data []byte
}

// Person is everything read under one valid person key.
type Person struct {
	Key    uint64
	Roster []RosterRow // sorted by Seq
	Recs   []Row       // sorted by (Source, Seq)
}

// Ref points from a hash (name-DOB or hukou) to a roster person and the
// households that person is on.
type Ref struct {
	Key        uint64
	Households []string
}

// Weak carries the rows without a valid ID that name-DOB hash ND ties to
// the roster person Key, the only one under that hash.
type Weak struct {
	ND   uint64
	Key  uint64
	Rows []Row
}

// Hukou carries the police rows whose hukou number hashes to Hash.
type Hukou struct {
	Hash uint64
	Rows []Row
}

// Staff carries the staff records of one person. Counted tells whether
// the person's rows already count as matched (a roster person or a
// candidate); otherwise they count once somebody's hukou reaches them.
type Staff struct {
	Key     uint64
	Counted bool
	Rows    []Row
}

// Counts are the key-quality and match counts of part of one entry; they
// are summed per entry into a sources.Quality.
type Counts struct {
	Rows, ValidKeys, From15   int64
	MatchedID, MatchedNameDOB int64
	Reasons                   []int64 // by personid.Reason; nil means none
}

// FlagOut is one flags row with what orders it within its shard as
// review's sortFlags orders the flags of `hedui run`.
type FlagOut struct {
	Candidate uint64 // the candidate's person key; 0 for a household
	Seq       int    // position among the flags of its household or candidate
	Row       review.FlagRow
}

func init() {
	for _, t := range []any{ChunkRef{}, Row{}, RosterRow{}, Person{}, Ref{}, Weak{}, Hukou{}, Staff{}, Counts{}, FlagOut{}, review.FlagRow{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
}
