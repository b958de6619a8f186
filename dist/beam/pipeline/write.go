package pipeline

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// ShardName is the base name (without extension) of flags shard i of n.
func ShardName(i, n int) string { return fmt.Sprintf("flags-%05d-of-%05d", i, n) }

// compareFlags orders flags as review's sortFlags leaves them: households
// by ID, candidates after them by person ID then candidate key, and within
// one household or candidate in the order they were produced.
func compareFlags(a, b FlagOut) int {
	ah, bh := a.Row.HouseholdID, b.Row.HouseholdID
	if (ah == "") != (bh == "") {
		if ah == "" {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(ah, bh); c != 0 {
		return c
	}
	if ah == "" {
		if c := cmp.Compare(a.Row.PersonID, b.Row.PersonID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Candidate, b.Candidate); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// writeShardFn writes one shard of flags as Parquet and CSV.
type writeShardFn struct {
	Job Job
}

// ProcessElement sorts the shard and writes both files, each to a
// temporary name first: a retried bundle replaces, never half-writes.
func (f *writeShardFn) ProcessElement(shard int, it func(*FlagOut) bool) error {
	all := collect(it)
	slices.SortFunc(all, compareFlags)
	rows := make([]review.FlagRow, len(all))
	for i := range all {
		rows[i] = all[i].Row
	}
	base := filepath.Join(f.Job.Out, ShardName(shard, f.Job.shards()))
	if err := writeAtomic(base+".parquet", func(w *os.File) error { return writeFlagsParquet(w, rows) }); err != nil {
		return err
	}
	return writeAtomic(base+".csv", func(w *os.File) error { return writeFlagsCSV(w, rows) })
}

func writeAtomic(path string, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeFlagsParquet writes as review does: Zstd, row groups of at most 64k rows.
func writeFlagsParquet(f *os.File, rows []review.FlagRow) error {
	w := parquet.NewGenericWriter[review.FlagRow](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(65536))
	if _, err := w.Write(rows); err != nil {
		return err
	}
	return w.Close()
}

// flagsCSVHeader is the header of flags.csv, as `hedui run` writes it.
var flagsCSVHeader = []string{"household_id", "person_id", "region_code", "rule_id", "rule_version", "outcome", "message", "basis", "evidence"}

// writeFlagsCSV writes UTF-8 with a byte-order mark, as review does, so
// that Excel shows the Chinese text.
func writeFlagsCSV(f *os.File, rows []review.FlagRow) error {
	bw := bufio.NewWriter(f)
	bw.WriteString("\ufeff")
	w := csv.NewWriter(bw)
	w.Write(flagsCSVHeader)
	for _, r := range rows {
		w.Write([]string{r.HouseholdID, r.PersonID, r.RegionCode, r.RuleID, strconv.Itoa(int(r.RuleVersion)),
			r.Outcome, r.Message, r.Basis, r.Evidence})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// sumCounts adds two Counts; it is the combiner of the quality counts.
func sumCounts(a, b Counts) Counts {
	a.Rows += b.Rows
	a.ValidKeys += b.ValidKeys
	a.From15 += b.From15
	a.MatchedID += b.MatchedID
	a.MatchedNameDOB += b.MatchedNameDOB
	if len(b.Reasons) > 0 {
		r := make([]int64, max(len(a.Reasons), len(b.Reasons)))
		copy(r, a.Reasons)
		for i, n := range b.Reasons {
			r[i] += n
		}
		a.Reasons = r
	}
	return a
}

// EntryCounts is one entry's summed counts, gathered under a single key
// for the quality writer.
type EntryCounts struct {
	Entry  int
	Counts Counts
}

func toSingleKey(entry int, c Counts) (int, EntryCounts) {
	return 0, EntryCounts{Entry: entry, Counts: c}
}

// writeQualityFn writes quality.json as review.Run does.
type writeQualityFn struct {
	Job Job
}

// ProcessElement fills one sources.Quality per entry from the manifest and
// the summed counts.
func (f *writeQualityFn) ProcessElement(_ int, it func(*EntryCounts) bool) error {
	w, err := f.Job.load()
	if err != nil {
		return err
	}
	defer w.close()
	per := map[int]Counts{}
	for _, ec := range collect(it) {
		per[ec.Entry] = sumCounts(per[ec.Entry], ec.Counts)
	}
	q := review.Quality{Roster: qualityOf(w.m, w.m.Roster, per[-1])}
	q.Roster.MatchedID = q.Roster.ValidKeys
	for i, e := range w.m.Sources {
		sq := qualityOf(w.m, e, per[i])
		sq.Unmatched = sq.ValidKeys - sq.MatchedID
		q.Sources = append(q.Sources, sq)
	}
	b, err := json.MarshalIndent(q, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(f.Job.Out, "quality.json"), func(w *os.File) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// qualityOf is an entry's quality record as Match fills it.
func qualityOf(m *sources.Manifest, e *sources.Entry, c Counts) *sources.Quality {
	q := &sources.Quality{Kind: e.Kind, Path: e.Path, Files: len(e.Files), Snapshot: e.Snapshot.Format(time.DateOnly),
		AgeDays: int(m.AsOf.Sub(e.Snapshot).Hours() / 24), Quarantined: map[string]int64{},
		Rows: c.Rows, ValidKeys: c.ValidKeys, From15: c.From15, MatchedID: c.MatchedID, MatchedNameDOB: c.MatchedNameDOB}
	for reason, n := range c.Reasons {
		if n == 0 {
			continue
		}
		q.Quarantined[personid.Reason(reason).String()] += n
		q.QuarantinedTotal += n
	}
	return q
}
