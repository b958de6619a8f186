package review

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
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

func summarize(cfg Config, res *Result, matchTime, rulesTime time.Duration) *Summary {
	s := &Summary{
		AsOf: cfg.Manifest.AsOf.Format(time.DateOnly), Mode: string(cfg.Mode), Manifest: cfg.Manifest.Path,
		RuleSetDigest: cfg.Rules.Digest(), Households: len(res.Households), Candidates: len(res.Candidates),
		Flags: len(res.Flags), ByOutcome: map[string]int{}, ByRule: map[string]map[string]int{}, ByCounty: map[string]map[string]int{},
		Stages: res.Match.Stages, MatchSeconds: matchTime.Seconds(), RulesSeconds: rulesTime.Seconds(),
	}
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
	s.FlaggedHouseholds = len(flagged)
	if res.Match.Roster != nil {
		s.RowsRead = res.Match.Roster.Rows
	}
	for _, q := range res.Match.Quality {
		s.RowsRead += q.Rows
	}
	return s
}

// regions maps a flag to the county it belongs to.
type regions struct{ households, candidates map[string]string }

func regionIndex(res *Result) regions {
	r := regions{households: map[string]string{}, candidates: map[string]string{}}
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
// already there).
func writeOutputs(dir string, cfg Config, res *Result) error {
	rows, err := flagRows(res, cfg.Workers)
	if err != nil {
		return err
	}
	steps := []struct {
		name  string
		write func(string) error
	}{
		{"flags.parquet", func(p string) error { return writeParquet(p, rows) }},
		{"flags.csv", func(p string) error { return writeFlagsCSV(p, rows) }},
		{"households.parquet", func(p string) error { return writeHouseholds(p, res, cfg.Workers) }},
		{"quality.json", func(p string) error {
			return writeJSON(p, Quality{Roster: res.Match.Roster, Sources: res.Match.Quality})
		}},
		{"summary.json", func(p string) error { return writeJSON(p, res.Summary) }},
	}
	if src := cfg.Rules.Source(); src != nil {
		// The rule set's own text, so that what-if runs and later readers
		// re-evaluate with exactly the set this run used (summary.json has its digest).
		steps = append(steps, struct {
			name  string
			write func(string) error
		}{"rules.yaml", func(p string) error { return os.WriteFile(p, src, 0o644) }})
	}
	// The files are independent: write them side by side.
	var g errgroup.Group
	g.SetLimit(max(cfg.Workers, 1))
	for _, s := range steps {
		g.Go(func() error {
			if err := s.write(filepath.Join(dir, s.name)); err != nil {
				return fmt.Errorf("write %s: %w", s.name, err)
			}
			return nil
		})
	}
	return g.Wait()
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
		out[i] = FlagRow{HouseholdID: f.HouseholdID, PersonID: f.PersonID, RegionCode: regions.of(*f),
			RuleID: f.RuleID, RuleVersion: int32(f.RuleVersion), Outcome: string(f.Outcome),
			Message: f.Message, Basis: f.Basis, Evidence: string(ev)}
		return nil
	})
	return out, err
}

// parallelFor calls fn for 0..n-1 on up to workers goroutines, in blocks;
// fn writes only its own index, so results do not depend on scheduling.
func parallelFor(n, workers int, fn func(i int) error) error {
	const block = 512
	var g errgroup.Group
	g.SetLimit(max(workers, 1))
	for lo := 0; lo < n; lo += block {
		g.Go(func() error {
			for i := lo; i < min(lo+block, n); i++ {
				if err := fn(i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func writeHouseholds(path string, res *Result, workers int) error {
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
	err := parallelFor(len(all), workers, func(i int) error {
		h, ms := all[i], res.Measures[i]
		row := HouseholdRow{HouseholdID: h.ID, RegionCode: h.Region, Area: h.Area, Assistance: h.Assistance,
			Status: h.Status, Members: int32(len(h.Members)), MonthlyBenefit: h.MonthlyBenefit,
			Candidate: h.Candidate, PerCapitaIncome: ms.PerCapita, MonthlyStandard: ms.MonthlyStandard, FactsBin: facts.AppendBinary(nil, h)}
		row.Flags = byHousehold[h.ID]
		if h.Candidate {
			row.PersonID = h.Members[0].PersonID
			row.Flags = byCandidate[row.PersonID]
		}
		rows[i] = row
		return nil
	})
	if err != nil {
		return err
	}
	return writeParquet(path, rows)
}

// writeParquet writes rows as one Parquet file, Zstd-compressed, in row
// groups of at most 64k rows.
func writeParquet[T any](path string, rows []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(65536))
	if _, err := w.Write(rows); err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFlagsCSV writes flags.csv.
func writeFlagsCSV(path string, rows []FlagRow) error {
	header := []string{"household_id", "person_id", "region_code", "rule_id", "rule_version", "outcome", "message", "basis", "evidence"}
	return WriteCSV(path, header, len(rows), func(i int) []string {
		r := &rows[i]
		return []string{r.HouseholdID, r.PersonID, r.RegionCode, r.RuleID, strconv.Itoa(int(r.RuleVersion)),
			r.Outcome, r.Message, r.Basis, r.Evidence}
	})
}

// WriteCSV writes a header and n rows as UTF-8 CSV with a byte-order mark,
// so that Excel opens the Chinese text intact.
func WriteCSV(path string, header []string, n int, row func(i int) []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	bw.WriteString("\ufeff")
	w := csv.NewWriter(bw)
	w.Write(header)
	for i := 0; i < n; i++ {
		w.Write(row(i))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
