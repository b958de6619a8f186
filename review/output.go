package review

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/matcher"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// FlagRow is one row of flags.parquet and flags.csv.
type FlagRow struct {
	HouseholdID string `parquet:"household_id" json:"household_id"`
	PersonID    string `parquet:"person_id" json:"person_id"`
	RegionCode  string `parquet:"region_code" json:"region_code"`
	RuleID      string `parquet:"rule_id" json:"rule_id"`
	RuleVersion int32  `parquet:"rule_version" json:"rule_version"`
	Outcome     string `parquet:"outcome" json:"outcome"`
	Message     string `parquet:"message" json:"message"`
	Basis       string `parquet:"basis" json:"basis"`
	Evidence    string `parquet:"evidence" json:"evidence"` // JSON
}

// HouseholdRow is one row of households.parquet: a household's facts, with
// the columns a reader filters on set beside them.
type HouseholdRow struct {
	HouseholdID    string  `parquet:"household_id"`
	PersonID       string  `parquet:"person_id"` // the candidate, for omission candidates
	RegionCode     string  `parquet:"region_code"`
	Area           string  `parquet:"area"`
	Assistance     string  `parquet:"assistance"`
	Status         string  `parquet:"status"`
	Members        int32   `parquet:"members"`
	MonthlyBenefit float64 `parquet:"monthly_benefit"`
	Candidate      bool    `parquet:"candidate"`
	Flags          int32   `parquet:"flags"`
	// PerCapitaIncome is the counted monthly income per member and
	// MonthlyStandard the low-income standard that applies (元/person/month).
	PerCapitaIncome float64 `parquet:"per_capita_income"`
	MonthlyStandard float64 `parquet:"monthly_standard"`
	// FactsBin is the household's facts.Household in the binary encoding of
	// facts.AppendBinary (read it back with facts.DecodeBinary): person keys
	// included, and decoded several times faster than JSON.
	FactsBin []byte `parquet:"facts_bin"`
}

// Summary is summary.json.
type Summary struct {
	AsOf              string                    `json:"as_of"`
	Mode              string                    `json:"mode"`
	Manifest          string                    `json:"manifest"`
	RuleSetDigest     string                    `json:"rule_set_digest"`
	Households        int                       `json:"households"`
	Members           int                       `json:"members"`
	Candidates        int                       `json:"omission_candidates"`
	Flags             int                       `json:"flags"`
	FlaggedHouseholds int                       `json:"flagged_households"`
	ByOutcome         map[string]int            `json:"by_outcome"`
	ByRule            map[string]map[string]int `json:"by_rule"`
	ByCounty          map[string]map[string]int `json:"by_county"`
	RowsRead          int64                     `json:"rows_read"`
	Stages            []matcher.Stage           `json:"stages"`
	MatchSeconds      float64                   `json:"match_seconds"`
	RulesSeconds      float64                   `json:"rules_seconds"`
}

// Quality is quality.json.
type Quality struct {
	Roster  *sources.Quality   `json:"roster"`
	Sources []*sources.Quality `json:"sources"`
}

const invalidMemberRule = "roster.invalid_id"

// invalidMemberFlags marks roster members whose ID could not be validated:
// nothing could be checked for them, which must never read as a pass.
func invalidMemberFlags(ms []matcher.InvalidMember) []rules.Flag {
	out := make([]rules.Flag, 0, len(ms))
	for _, m := range ms {
		out = append(out, rules.Flag{
			HouseholdID: m.HouseholdID, PersonID: m.Raw, RuleID: invalidMemberRule, RuleVersion: 1,
			Outcome: rules.Outcome("insufficient"),
			Message: fmt.Sprintf("成员身份证号码无效（%s，%s 第 %d 行），无法与各部门数据核对，请核实后重新核对", m.Reason, filepath.Base(m.File), m.Row),
			Basis:   "最低生活保障审核确认办法（民发〔2021〕57号）",
		})
	}
	return out
}

// sortFlags orders flags by household (candidates last) keeping the rule and
// member order within each household.
func sortFlags(fs []rules.Flag) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i].HouseholdID, fs[j].HouseholdID
		if (a == "") != (b == "") {
			return b == ""
		}
		if a != b {
			return a < b
		}
		if a == "" {
			return fs[i].PersonID < fs[j].PersonID
		}
		return false
	})
}

// summarize is the summary of a run whose households, candidates and flags
// are all in res.
func summarize(cfg Config, res *Result, matchTime, rulesTime time.Duration) *Summary {
	s := newSummary(cfg)
	s.add(res)
	s.finish(res.Match, matchTime, rulesTime)
	return s
}

// newSummary starts the summary of a run; add counts each part of it.
func newSummary(cfg Config) *Summary {
	return &Summary{
		AsOf: cfg.Manifest.AsOf.Format(time.DateOnly), Mode: string(cfg.Mode), Manifest: cfg.Manifest.Path,
		RuleSetDigest: cfg.Rules.Digest(), ByOutcome: map[string]int{}, ByRule: map[string]map[string]int{}, ByCounty: map[string]map[string]int{},
	}
}

// add counts the households, candidates and flags of one part of a run
// (a shard: no household is in two parts).
func (s *Summary) add(res *Result) {
	s.Households += len(res.Households)
	s.Candidates += len(res.Candidates)
	s.Flags += len(res.Flags)
	for _, h := range res.Households {
		s.Members += len(h.Members)
	}
	regions := regionIndex(res)
	flagged := map[string]bool{}
	for _, f := range res.Flags {
		o := string(f.Outcome)
		s.ByOutcome[o]++
		if s.ByRule[f.RuleID] == nil {
			s.ByRule[f.RuleID] = map[string]int{}
		}
		s.ByRule[f.RuleID][o]++
		reg := regions.of(f)
		if s.ByCounty[reg] == nil {
			s.ByCounty[reg] = map[string]int{}
		}
		s.ByCounty[reg][o]++
		if f.HouseholdID != "" {
			flagged[f.HouseholdID] = true
		}
	}
	s.FlaggedHouseholds += len(flagged)
}

// finish sets the rows read (roster and sources, each read once for the
// counts) and the timings.
func (s *Summary) finish(m *matcher.Result, matchTime, rulesTime time.Duration) {
	s.Stages, s.MatchSeconds, s.RulesSeconds = m.Stages, matchTime.Seconds(), rulesTime.Seconds()
	s.RowsRead = 0
	if m.Roster != nil {
		s.RowsRead = m.Roster.Rows
	}
	for _, q := range m.Quality {
		s.RowsRead += q.Rows
	}
}

// regions maps a flag to the county it belongs to.
type regions struct{ households, candidates map[string]string }

func regionIndex(res *Result) regions {
	r := regions{households: make(map[string]string, len(res.Households)), candidates: make(map[string]string, len(res.Candidates))}
	for _, h := range res.Households {
		r.households[h.ID] = h.Region
	}
	for _, h := range res.Candidates {
		r.candidates[h.Members[0].PersonID] = h.Region
	}
	return r
}

func (r regions) of(f rules.Flag) string {
	if f.HouseholdID != "" {
		return r.households[f.HouseholdID]
	}
	return r.candidates[f.PersonID]
}

// writeOutputs writes every file of the run folder dir (the quarantine is
// already there) for a run whose results are all in res.
func writeOutputs(dir string, cfg Config, res *Result) error {
	o, err := openOutputs(dir, cfg)
	if err != nil {
		return err
	}
	if err := o.add(res); err != nil {
		o.abort()
		return err
	}
	return o.close(Quality{Roster: res.Match.Roster, Sources: res.Match.Quality}, res.Summary)
}

// outputs writes flags.parquet, flags.csv and households.parquet as a run
// goes, one part (shard) after the other, and the other files at the end.
// Parts come in household order, so the rows are those of one whole run;
// candidates' flags are kept until close, since they are ordered by person
// ID across every part.
type outputs struct {
	dir        string
	cfg        Config
	flagsPQ    *parquetStream[FlagRow]
	flagsCSV   *csvStream
	households *parquetStream[HouseholdRow]
	candFlags  *flagSpill
}

func openOutputs(dir string, cfg Config) (*outputs, error) {
	o := &outputs{dir: dir, cfg: cfg}
	var err error
	if o.flagsPQ, err = createParquet[FlagRow](filepath.Join(dir, "flags.parquet")); err != nil {
		return nil, err
	}
	if o.households, err = createParquet[HouseholdRow](filepath.Join(dir, "households.parquet")); err != nil {
		o.abort()
		return nil, err
	}
	if o.flagsCSV, err = createCSV(filepath.Join(dir, "flags.csv"), flagsHeader); err != nil {
		o.abort()
		return nil, err
	}
	if o.candFlags, err = createSpill(filepath.Join(dir, ".candidate-flags.tmp")); err != nil {
		o.abort()
		return nil, err
	}
	return o, nil
}

// add writes one part's rows; the three files are written side by side.
func (o *outputs) add(res *Result) error {
	rows, err := flagRows(res, o.cfg.Workers)
	if err != nil {
		return err
	}
	first := len(rows)
	for i, r := range rows {
		if r.HouseholdID == "" { // sorted: candidates last
			first = i
			break
		}
	}
	if err := o.candFlags.add(rows[first:]); err != nil {
		return fmt.Errorf("keep the candidates' flags: %w", err)
	}
	rows = rows[:first]
	hrows, err := householdRows(res, o.cfg.Workers)
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.Go(func() error { return named("flags.parquet", o.flagsPQ.write(rows)) })
	g.Go(func() error {
		return named("flags.csv", o.flagsCSV.write(len(rows), func(i int) []string { return flagRecord(&rows[i]) }))
	})
	g.Go(func() error { return named("households.parquet", o.households.write(hrows)) })
	return g.Wait()
}

// close writes the candidates' flags (ordered by person ID, as sortFlags
// orders them within a part) and every remaining file.
func (o *outputs) close(q Quality, s *Summary) error {
	err := o.candFlags.sorted(func(rows []FlagRow) error {
		var g errgroup.Group
		g.Go(func() error { return named("flags.parquet", o.flagsPQ.write(rows)) })
		g.Go(func() error {
			return named("flags.csv", o.flagsCSV.write(len(rows), func(i int) []string { return flagRecord(&rows[i]) }))
		})
		return g.Wait()
	})
	if err != nil {
		o.abort()
		return err
	}
	steps := []struct {
		name  string
		write func(string) error
	}{
		{"flags.parquet", func(string) error { return o.flagsPQ.close() }},
		{"flags.csv", func(string) error { return o.flagsCSV.close() }},
		{"households.parquet", func(string) error { return o.households.close() }},
		{"quality.json", func(p string) error { return writeJSON(p, q) }},
		{"summary.json", func(p string) error { return writeJSON(p, s) }},
	}
	if src := o.cfg.Rules.Source(); src != nil {
		// The rule set's own text, so that what-if runs and later readers
		// re-evaluate with exactly the set this run used (summary.json has its digest).
		steps = append(steps, struct {
			name  string
			write func(string) error
		}{"rules.yaml", func(p string) error { return os.WriteFile(p, src, 0o644) }})
	}
	var g errgroup.Group
	g.SetLimit(max(o.cfg.Workers, 1))
	for _, s := range steps {
		g.Go(func() error { return named(s.name, s.write(filepath.Join(o.dir, s.name))) })
	}
	return g.Wait()
}

// abort closes the files of a failed run (its folder is removed whole).
func (o *outputs) abort() {
	if o.flagsPQ != nil {
		o.flagsPQ.abort()
	}
	if o.households != nil {
		o.households.abort()
	}
	if o.flagsCSV != nil {
		o.flagsCSV.abort()
	}
	if o.candFlags != nil {
		o.candFlags.remove()
	}
}

func named(name string, err error) error {
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func flagRows(res *Result, workers int) ([]FlagRow, error) {
	regions := regionIndex(res)
	out := make([]FlagRow, len(res.Flags))
	err := parallelFor(len(res.Flags), workers, func(i int) error {
		f := &res.Flags[i]
		ev, err := f.EvidenceJSON()
		if err != nil {
			return fmt.Errorf("evidence of %s for household %q: %w", f.RuleID, f.HouseholdID, err)
		}
		out[i] = flagRow(f, regions.of(*f), string(ev))
		return nil
	})
	return out, err
}

// flagRow is the row of flags.parquet for f, of county region, with its
// evidence JSON.
func flagRow(f *rules.Flag, region, evidence string) FlagRow {
	return FlagRow{HouseholdID: f.HouseholdID, PersonID: f.PersonID, RegionCode: region,
		RuleID: f.RuleID, RuleVersion: int32(f.RuleVersion), Outcome: string(f.Outcome),
		Message: f.Message, Basis: f.Basis, Evidence: evidence}
}

// errSharded is returned by the readers of a whole run held in memory when
// the run had several shards (its Result keeps none of its rows).
var errSharded = errors.New("review: the run had several shards; its rows are only in its files")

// FlagRowsWithoutEvidence returns the rows of flags.parquet of a run held
// whole in res (one shard), in the file's order, with the evidence column
// left empty: for readers that take each flag's evidence from res.Flags[i]
// (the rows are res.Flags in order) and would only decode the JSON again.
func FlagRowsWithoutEvidence(res *Result) ([]FlagRow, error) {
	if res.Shards > 1 {
		return nil, errSharded
	}
	regions := regionIndex(res)
	out := make([]FlagRow, len(res.Flags))
	for i := range res.Flags {
		f := &res.Flags[i]
		out[i] = flagRow(f, regions.of(*f), "")
	}
	return out, nil
}

// HouseholdRowsWithoutFacts returns the rows of households.parquet of a run
// held whole in res (one shard), in the file's order (households, then
// candidates), with the facts column left empty: the facts are
// res.Households then res.Candidates, in the same order.
func HouseholdRowsWithoutFacts(res *Result) ([]HouseholdRow, error) {
	if res.Shards > 1 {
		return nil, errSharded
	}
	return householdRowsOf(res, 1, false)
}

// parallelFor calls fn for 0..n-1 on up to workers goroutines, in blocks;
// fn writes only its own index, so results do not depend on scheduling.
func parallelFor(n, workers int, fn func(i int) error) error {
	return parallelBlocks(n, workers, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// parallelBlocks calls fn for blocks [lo, hi) covering 0..n-1 on up to
// workers goroutines; fn writes only its own indexes.
func parallelBlocks(n, workers int, fn func(lo, hi int) error) error {
	const block = 512
	var g errgroup.Group
	g.SetLimit(max(workers, 1))
	for lo := 0; lo < n; lo += block {
		g.Go(func() error { return fn(lo, min(lo+block, n)) })
	}
	return g.Wait()
}

// householdRows are the rows of households.parquet for res's households
// then candidates.
func householdRows(res *Result, workers int) ([]HouseholdRow, error) {
	return householdRowsOf(res, workers, true)
}

// householdRowsOf makes the rows of households.parquet, with the facts
// column only when withFacts.
func householdRowsOf(res *Result, workers int, withFacts bool) ([]HouseholdRow, error) {
	byHousehold, byCandidate := map[string]int32{}, map[string]int32{}
	for _, f := range res.Flags {
		if f.HouseholdID != "" {
			byHousehold[f.HouseholdID]++
		} else {
			byCandidate[f.PersonID]++
		}
	}
	all := append(append([]*facts.Household(nil), res.Households...), res.Candidates...)
	rows := make([]HouseholdRow, len(all))
	err := parallelBlocks(len(all), workers, func(lo, hi int) error {
		var bins factsArena
		for i := lo; i < hi; i++ {
			h, ms := all[i], res.Measures[i]
			row := HouseholdRow{HouseholdID: h.ID, RegionCode: h.Region, Area: h.Area, Assistance: h.Assistance,
				Status: h.Status, Members: int32(len(h.Members)), MonthlyBenefit: h.MonthlyBenefit,
				Candidate: h.Candidate, PerCapitaIncome: ms.PerCapita, MonthlyStandard: ms.MonthlyStandard}
			if withFacts {
				row.FactsBin = bins.add(h)
			}
			row.Flags = byHousehold[h.ID]
			if h.Candidate {
				row.PersonID = h.Members[0].PersonID
				row.Flags = byCandidate[row.PersonID]
			}
			rows[i] = row
		}
		return nil
	})
	return rows, err
}

// factsArena encodes households' facts (facts.AppendBinary) into a
// scratch buffer and keeps them side by side in large shared blocks: one
// allocation per block instead of a growing slice per household.
type factsArena struct {
	scratch, block []byte
}

const factsBlock = 64 << 10

// add returns h's encoded facts; the slice's capacity ends with it.
func (a *factsArena) add(h *facts.Household) []byte {
	a.scratch = facts.AppendBinary(a.scratch[:0], h)
	n := len(a.scratch)
	if cap(a.block)-len(a.block) < n {
		a.block = make([]byte, 0, max(factsBlock, n))
	}
	start := len(a.block)
	a.block = append(a.block, a.scratch...)
	return a.block[start : start+n : start+n]
}

// rowGroupRows is the row-group size of the run's Parquet files.
const rowGroupRows = 65536

// parquetStream writes one Parquet file, Zstd-compressed, in row groups of
// rowGroupRows, from rows given in any number of calls. parquet-go cuts
// pages where a Write call ends, so rows are handed over a whole row group
// at a time: the bytes then depend only on the rows, not on the calls.
type parquetStream[T any] struct {
	f       *os.File
	w       *parquet.GenericWriter[T]
	pending []T
}

func createParquet[T any](path string) (*parquetStream[T], error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &parquetStream[T]{f: f, w: parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(rowGroupRows))}, nil
}

func (s *parquetStream[T]) write(rows []T) error {
	if len(s.pending) > 0 {
		n := min(rowGroupRows-len(s.pending), len(rows))
		s.pending = append(s.pending, rows[:n]...)
		rows = rows[n:]
		if len(s.pending) < rowGroupRows {
			return nil
		}
		if _, err := s.w.Write(s.pending); err != nil {
			return err
		}
		s.pending = s.pending[:0]
	}
	whole := len(rows) / rowGroupRows * rowGroupRows
	if whole > 0 {
		if _, err := s.w.Write(rows[:whole]); err != nil {
			return err
		}
	}
	// A copy: the caller's rows (and what they hold) can be freed.
	s.pending = append(s.pending, rows[whole:]...)
	return nil
}

func (s *parquetStream[T]) close() error {
	if _, err := s.w.Write(s.pending); err != nil {
		s.f.Close()
		return err
	}
	s.pending = nil
	if err := s.w.Close(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}

func (s *parquetStream[T]) abort() { s.f.Close() }

var flagsHeader = []string{"household_id", "person_id", "region_code", "rule_id", "rule_version", "outcome", "message", "basis", "evidence"}

func flagRecord(r *FlagRow) []string {
	return []string{r.HouseholdID, r.PersonID, r.RegionCode, r.RuleID, strconv.Itoa(int(r.RuleVersion)),
		r.Outcome, r.Message, r.Basis, r.Evidence}
}

// WriteCSV writes a header and n rows as UTF-8 CSV with a byte-order mark,
// so that Excel opens the Chinese text intact.
func WriteCSV(path string, header []string, n int, row func(i int) []string) error {
	c, err := createCSV(path, header)
	if err != nil {
		return err
	}
	if err := c.write(n, row); err != nil {
		c.abort()
		return err
	}
	return c.close()
}

// csvStream writes a CSV file as WriteCSV does, in any number of parts.
type csvStream struct {
	f  *os.File
	bw *bufio.Writer
	w  *csv.Writer
}

func createCSV(path string, header []string) (*csvStream, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(f)
	bw.WriteString("\ufeff")
	c := &csvStream{f: f, bw: bw, w: csv.NewWriter(bw)}
	c.w.Write(header)
	return c, nil
}

func (c *csvStream) write(n int, row func(i int) []string) error {
	for i := 0; i < n; i++ {
		c.w.Write(row(i))
	}
	return c.w.Error()
}

func (c *csvStream) close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		c.f.Close()
		return err
	}
	if err := c.bw.Flush(); err != nil {
		c.f.Close()
		return err
	}
	return c.f.Close()
}

func (c *csvStream) abort() { c.f.Close() }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
