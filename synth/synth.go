// Package synth generates a deterministic synthetic region for hedui: a
// roster of households under review, the sources a verification centre
// receives (police, vehicles, real estate, …) in the messy shapes real
// exports have, the sources.yaml manifest that maps them, and truth.csv:
// exactly the flags a correct engine raises on this data with the default
// rule set in full mode.
//
// Cases for every rule and outcome of docs/default-rules.md are planted,
// with the traps that must not flag. Truth is not what the plants meant to
// do: it is computed from the generated records, rule by rule. Generation
// streams block by block, so memory stays bounded at province scale, and
// the same seed and config give byte-identical files.
package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hedui/hedui/sources"
)

// Config says what to generate.
type Config struct {
	Out  string // output folder (created)
	Seed int64
	// Scale is "county" (≈50k residents, one county), "city" (≈1M, the
	// counties of 昆明市), "province" (≈47M residents, 4.3M roster members,
	// streamed) or "" to use Residents and Households.
	Scale      string
	Residents  int       // everyone with a police row, roster members included
	Households int       // roster households
	AsOf       time.Time // default 2026-11-01
	// Progress, if set, is called after each block.
	Progress func(stage string, done, total int64)
}

// Summary describes what was generated; it is also written as planted.json.
type Summary struct {
	Residents     int                    `json:"residents"`
	Households    int                    `json:"households"`
	RosterMembers int                    `json:"roster_members"`
	Rows          map[sources.Kind]int64 `json:"rows"` // data rows per kind, roster included
	// Dirty counts the invalid IDs planted per kind and quarantine reason
	// word (empty, length, characters, address, birth_date, checksum).
	Dirty map[sources.Kind]map[string]int64 `json:"dirty"`
	// Planted counts the flags of truth.csv per rule id.
	Planted map[string]int `json:"planted"`
	// PlantedCases counts planted households or candidates per plant label.
	PlantedCases map[string]int `json:"planted_cases"`
	Files        []string       `json:"files"` // written files, relative to Out, sorted
}

// DefaultAsOf is the as-of date when Config.AsOf is zero.
var DefaultAsOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// blockHouseholds is the number of roster households generated (and held
// in memory) at a time.
const blockHouseholds = 2000

// residentsPerCounty bounds the residents an explicit-count region puts in
// one county: IDs carry the county code, birth date and a sequence of 500
// per sex and day, and a county much larger than a real one would run out
// of sequences for its most common birth dates.
const residentsPerCounty = 500_000

type scale struct {
	residents, households int
	counties              []county
}

func resolve(cfg Config) (scale, error) {
	switch cfg.Scale {
	case "county":
		return scale{50_000, 1_800, kunming[:1]}, nil
	case "city":
		return scale{1_000_000, 36_000, kunming}, nil
	case "province":
		return scale{47_000_000, 1_700_000, append(slices.Clip(kunming), yunnanOthers...)}, nil
	case "":
		if cfg.Households <= 0 || cfg.Residents < cfg.Households {
			return scale{}, fmt.Errorf("explicit counts need Households > 0 and Residents ≥ Households; got residents %d, households %d", cfg.Residents, cfg.Households)
		}
		all := append(slices.Clip(kunming), yunnanOthers...)
		n := (cfg.Residents + residentsPerCounty - 1) / residentsPerCounty
		if n > len(all) {
			return scale{}, fmt.Errorf("%d residents are too many: at most %d (%d counties of %d)", cfg.Residents, len(all)*residentsPerCounty, len(all), residentsPerCounty)
		}
		if cfg.Households < n {
			return scale{}, fmt.Errorf("%d residents need %d counties and at least as many households; got %d households", cfg.Residents, n, cfg.Households)
		}
		return scale{cfg.Residents, cfg.Households, all[:n]}, nil
	}
	return scale{}, fmt.Errorf("unknown scale %q; supported scales: county, city, province, or empty with explicit counts", cfg.Scale)
}

// Generate writes a synthetic region into cfg.Out.
func Generate(ctx context.Context, cfg Config) (*Summary, error) {
	sc, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.AsOf.IsZero() {
		cfg.AsOf = DefaultAsOf
	}
	plan, err := makePlan(cfg.Seed, sc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Out, "sources"), 0o755); err != nil {
		return nil, err
	}
	w, err := newWriters(cfg.Out, cfg.AsOf)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			w.discard()
		}
	}()
	sum := &Summary{
		Rows: map[sources.Kind]int64{}, Dirty: map[sources.Kind]map[string]int64{},
		Planted: map[string]int{}, PlantedCases: map[string]int{},
	}
	w.sum = sum
	var cands []flag
	start := 0
	blockNo := 0
	for ci, c := range sc.counties {
		hc := sc.households / len(sc.counties)
		rc := sc.residents / len(sc.counties)
		if ci < sc.households%len(sc.counties) {
			hc++
		}
		cs := &countyState{c: c, slots: newIDSlots()}
		if err := w.openCounty(c); err != nil {
			return nil, err
		}
		made := 0 // residents of this county so far
		for lo := start; lo < start+hc; lo += blockHouseholds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hi := min(lo+blockHouseholds, start+hc)
			target := int(math.Round(float64(rc) * float64(hi-start) / float64(hc)))
			b := generateBlock(cfg, plan, cs, blockNo, lo, hi, target-made)
			made += len(b.people)
			e := newEvaluator(cfg.AsOf, b)
			hhFlags, candFlags := e.evaluate(b)
			cands = append(cands, candFlags...)
			for _, l := range b.labels {
				sum.PlantedCases[l.label]++
			}
			for _, f := range hhFlags {
				sum.Planted[f.rule]++
			}
			if err := w.block(cfg.Seed, b, hhFlags); err != nil {
				return nil, err
			}
			blockNo++
			if cfg.Progress != nil {
				cfg.Progress("households", int64(hi), int64(sc.households))
			}
		}
		start += hc
	}
	slices.SortFunc(cands, flagLess)
	for _, f := range cands {
		sum.Planted[f.rule]++
	}
	if err := w.finish(cands); err != nil {
		return nil, err
	}
	sum.Files = w.files()
	if err := writeJSON(filepath.Join(cfg.Out, "planted.json"), sum); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, "planted.json")
	slices.Sort(sum.Files)
	done = true
	return sum, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// partnerSlot marks a household generated as the partner of the one before.
const partnerSlot = 255

// makePlan decides which roster household gets which plant: plan[i] is 0
// (clean), 1+index into plants, or partnerSlot. Every plant gets
// max(5, rate × households) cases.
func makePlan(seed int64, sc scale) ([]uint8, error) {
	n := sc.households
	need := 0
	counts := make([]int, len(plants))
	for i, p := range plants {
		counts[i] = max(5, int(math.Round(p.rate*float64(n))))
		need += counts[i]
		if p.pair {
			need += counts[i]
		}
	}
	if need > n*2/3 {
		return nil, fmt.Errorf("%d households are too few to plant every case: need at least %d", n, need*3/2+1)
	}
	// Block boundaries: a pair must not straddle one.
	blockEnd := make([]int, 0)
	per := n / len(sc.counties)
	start := 0
	for ci := range sc.counties {
		hc := per
		if ci < n%len(sc.counties) {
			hc++
		}
		for lo := start; lo < start+hc; lo += blockHouseholds {
			blockEnd = append(blockEnd, min(lo+blockHouseholds, start+hc))
		}
		start += hc
	}
	lastOfBlock := func(i int) bool {
		j, _ := slices.BinarySearch(blockEnd, i+1)
		return j < len(blockEnd) && blockEnd[j] == i+1
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x706c616e))
	plan := make([]uint8, n)
	for t, p := range plants {
		for k := 0; k < counts[t]; {
			i := r.IntN(n)
			if plan[i] != 0 {
				continue
			}
			if p.pair {
				if lastOfBlock(i) || plan[i+1] != 0 {
					continue
				}
				plan[i+1] = partnerSlot
			}
			plan[i] = uint8(t + 1)
			k++
		}
	}
	return plan, nil
}

// generateBlock makes roster households lo..hi-1 of the plan and bg
// further residents of the wider population.
func generateBlock(cfg Config, plan []uint8, cs *countyState, blockNo, lo, hi, bg int) *block {
	b := &block{county: cs.c, index: blockNo}
	g := &gen{asOf: cfg.AsOf, cs: cs, b: b, r: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(blockNo)<<1))}
	seeded := map[*person]bool{}
	hid := func(i int) string { return fmt.Sprintf("%s%08d", cs.c.Code, i+1) }
	for i := lo; i < hi; i++ {
		t := plan[i]
		if t == partnerSlot {
			continue
		}
		var sp plant
		if t != 0 {
			sp = plants[t-1]
		}
		h := g.rosterHousehold(hid(i), sp)
		var partner *household
		if sp.pair {
			partner = g.rosterHousehold(hid(i+1), plant{})
		}
		if sp.apply != nil {
			nl := len(b.labels)
			sp.apply(g, h, partner)
			for k := nl; k < len(b.labels); k++ {
				b.labels[k].label = sp.name
			}
			if nl == len(b.labels) {
				b.labels = append(b.labels, label{household: h.id, label: sp.name})
			}
		}
		for _, hh := range []*household{h, partner} {
			if hh == nil {
				continue
			}
			skip := kindMask(0)
			if hh == h {
				skip = sp.controls
			}
			for _, m := range hh.members {
				if !seeded[m.p] {
					seeded[m.p] = true
					g.benign(m, skip)
				}
			}
		}
	}
	// The wider population: families on their own hukou.
	bg -= len(b.people)
	urbanShare := 0.25
	if cs.c.urban() {
		urbanShare = 0.8
	}
	for made := 0; made < bg; {
		n := 1 + g.r.IntN(5)
		if n > bg-made {
			n = bg - made
		}
		urban := g.chance(urbanShare)
		people, _ := g.family(n, 24+g.r.IntN(60))
		for _, p := range people {
			g.background(p, urban)
		}
		made += n
	}
	return b
}
