package review

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/store"
	"github.com/hedui/hedui/synth"
)

// copyRegion copies the generated region into a folder the test may change.
func copyRegion(t *testing.T) string {
	t.Helper()
	src, err := genRegion()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "region")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustManifest(t *testing.T, dir string) *sources.Manifest {
	t.Helper()
	m, err := sources.LoadManifest(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fullRun(t *testing.T, m *sources.Manifest, set *rules.Set) *Result {
	t.Helper()
	res, err := Run(context.Background(), Config{Manifest: m, Rules: set, Out: filepath.Join(t.TempDir(), "run"),
		Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func openIndex(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir, store.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// flagLines renders flags as comparable lines, evidence included.
func flagLines(t *testing.T, res *Result) []string {
	t.Helper()
	rows, err := flagRows(res, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join([]string{r.HouseholdID, r.PersonID, r.RegionCode, r.RuleID, r.Outcome, r.Message, r.Evidence}, "|")
	}
	return out
}

func TestIndexGivesTheFullRunsFlags(t *testing.T) {
	_, m, set, db := indexed(t)
	want := fullRun(t, m, set)
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	got, err := EvaluateIndex(context.Background(), v, set, rules.Env{AsOf: m.AsOf}, rules.ModeFull)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Flags) == 0 {
		t.Fatal("the full run gave no flags; the comparison would prove nothing")
	}
	wl, gl := flagLines(t, want), flagLines(t, got)
	if !slices.Equal(wl, gl) {
		n := 0
		for i := 0; i < max(len(wl), len(gl)) && n < 5; i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Errorf("flag %d:\nfull:  %.400s\nindex: %.400s", i, w, g)
				n++
			}
		}
		t.Fatalf("%d flags from the full run, %d from the index", len(wl), len(gl))
	}
	if len(got.Households) != len(want.Households) || len(got.Candidates) != len(want.Candidates) {
		t.Fatalf("households %d/%d, candidates %d/%d (index/full)", len(got.Households), len(want.Households), len(got.Candidates), len(want.Candidates))
	}
}

// rewrite reads a Parquet file as T, lets change edit the rows and writes
// it back in place.
func rewrite[T any](t *testing.T, path string, change func([]T) []T) {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, change(rows)); err != nil {
		t.Fatal(err)
	}
}

// bumpSnapshot moves the snapshot of the entry whose path is path to day.
func bumpSnapshot(t *testing.T, manifest, path, day string) {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)(path: ` + regexp.QuoteMeta(path) + `\n\s+snapshot: )\S+`)
	if !re.Match(b) {
		t.Fatalf("no entry %s in %s", path, manifest)
	}
	if err := os.WriteFile(manifest, re.ReplaceAll(b, []byte("${1}"+day)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// change is a changes.csv row without the header.
func readChanges(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "household_id,person_id,rule_id,outcome,change" {
		t.Fatalf("changes.csv header %v", rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

// expectedChanges diffs two full runs' flags.
func expectedChanges(before, after *Result) []string {
	scope := func(res *Result) map[string][]store.FlagID {
		out := map[string][]store.FlagID{}
		for _, f := range res.Flags {
			out[f.HouseholdID+"\x00"+map[bool]string{true: f.PersonID}[f.HouseholdID == ""]] = append(out[f.HouseholdID+"\x00"+map[bool]string{true: f.PersonID}[f.HouseholdID == ""]],
				store.FlagID{PersonID: f.PersonID, RuleID: f.RuleID, Outcome: string(f.Outcome)})
		}
		return out
	}
	b, a := scope(before), scope(after)
	var cs []Change
	for k := range union(a, b) {
		cs = append(cs, diffFlags(strings.SplitN(k, "\x00", 2)[0], b[k], a[k])...)
	}
	sortChanges(cs)
	var out []string
	for _, c := range cs {
		out = append(out, strings.Join([]string{c.HouseholdID, c.PersonID, c.RuleID, c.Outcome, c.Change}, ","))
	}
	return out
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// cleanHouseholds lists recipient households without flags whose members
// all have valid IDs and are on no other household, in ID order.
func cleanHouseholds(res *Result) []string {
	flagged := map[string]bool{}
	for _, f := range res.Flags {
		flagged[f.HouseholdID] = true
	}
	var out []string
	for _, h := range res.Households {
		ok := !flagged[h.ID] && h.Status == "recipient" && len(h.Members) >= 2
		for _, m := range h.Members {
			ok = ok && m.Key != 0 && len(m.OtherHouseholds) == 0 && len(m.Police) == 1
		}
		if ok {
			out = append(out, h.ID)
		}
	}
	return out
}

func TestIncrementalReportsTheChanges(t *testing.T) {
	ctx := context.Background()
	dir, set, db, before := baselined(t)
	manifest := filepath.Join(dir, "sources.yaml")

	clean := cleanHouseholds(before)
	if len(clean) < 2 {
		t.Fatalf("only %d clean households", len(clean))
	}
	byID := map[string]int{}
	for i, h := range before.Households {
		byID[h.ID] = i
	}
	carHH, deadHH := before.Households[byID[clean[0]]], before.Households[byID[clean[1]]]
	carOwner, dead := carHH.Members[0], deadHH.Members[1]
	var bizFlag rules.Flag
	for _, f := range before.Flags {
		if f.RuleID == "business.owner" && f.Outcome == rules.OutcomeIneligible && f.PersonID != "" {
			bizFlag = f
			break
		}
	}
	if bizFlag.RuleID == "" {
		t.Fatal("no business.owner flag to clear")
	}

	// A new car for a clean household.
	rewrite(t, filepath.Join(dir, "sources/vehicle.parquet"), func(rows []synth.VehicleRow) []synth.VehicleRow {
		return append(rows, synth.VehicleRow{OwnerID: carOwner.PersonID, Name: carOwner.Name, PlateNo: "云A·TEST1", VehicleType: "K33",
			UseNature: "A", RegisterDate: "20260301", Status: "A", Price: 12_000_000, Disabled: "否"})
	})
	// A deceased member of another.
	deathDay := int32(time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	policeFileOf := filepath.Join(dir, dead.Police[0].File)
	rewrite(t, policeFileOf, func(rows []synth.PoliceRow) []synth.PoliceRow {
		for i := range rows {
			if rows[i].PersonID == dead.PersonID {
				rows[i].Status, rows[i].StatusDate = "deceased", &deathDay
			}
		}
		return rows
	})
	// An enterprise removed.
	rewrite(t, filepath.Join(dir, "sources/business.parquet"), func(rows []synth.BusinessRow) []synth.BusinessRow {
		return slices.DeleteFunc(rows, func(r synth.BusinessRow) bool { return r.PersonID == bizFlag.PersonID })
	})
	bumpSnapshot(t, manifest, "sources/vehicle.parquet", "2026-10-31")
	bumpSnapshot(t, manifest, "sources/business.parquet", "2026-10-31")
	bumpSnapshot(t, manifest, "sources/police-*.parquet", "2026-10-31")

	m2 := mustManifest(t, dir)
	after := fullRun(t, m2, set)
	want := expectedChanges(before, after)
	for _, w := range []string{
		carHH.ID + "," + carOwner.PersonID + ",vehicle.owned,ineligible,new",
		deadHH.ID + "," + dead.PersonID + ",member.deceased,adjust,new",
		bizFlag.HouseholdID + "," + bizFlag.PersonID + ",business.owner,ineligible,cleared",
	} {
		if !slices.Contains(want, w) {
			t.Errorf("the full runs do not show the planted change %s; they show %v", w, want)
		}
	}

	out := filepath.Join(t.TempDir(), "inc")
	res, err := RunIncremental(ctx, IncrementalConfig{Manifest: m2, Rules: set, Index: db, Out: out, Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	got := readChanges(t, filepath.Join(out, "changes.csv"))
	if !slices.Equal(got, want) {
		t.Fatalf("changes.csv:\n%s\nwant (full run after − full run before):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s := res.Incremental
	t.Logf("changes %v; evaluated %d households, %d candidates; unchanged %d households, %d candidates; %d change-set entries", got, len(res.Households), len(res.Candidates), s.UnchangedHouseholds, s.UnchangedCandidates, s.ChangedGroups)
	if s.EvaluatedAll != "" {
		t.Fatalf("the incremental run evaluated everything: %s", s.EvaluatedAll)
	}
	if s.UnchangedHouseholds == 0 || len(res.Households) == 0 || len(res.Households) > len(before.Households)/5 {
		t.Fatalf("evaluated %d households, %d unchanged: not proportional to the change", len(res.Households), s.UnchangedHouseholds)
	}
	if s.UnchangedHouseholds+len(res.Households) != len(before.Households) {
		t.Fatalf("unchanged %d + evaluated %d != %d households", s.UnchangedHouseholds, len(res.Households), len(before.Households))
	}
	var reread int64
	for _, u := range s.IndexUpdate {
		reread += u.Rows
	}
	if res.Summary.RowsRead != reread || reread == 0 || reread >= before.Summary.RowsRead {
		t.Fatalf("rows_read %d: want the %d rows the index update re-read (a full run reads %d)", res.Summary.RowsRead, reread, before.Summary.RowsRead)
	}
	// The evaluated households' flags equal the full run's on the new data.
	evaluated := map[string]bool{}
	for _, h := range res.Households {
		evaluated[h.ID] = true
	}
	var wantFlags, gotFlags []string
	for _, f := range after.Flags {
		if evaluated[f.HouseholdID] {
			wantFlags = append(wantFlags, f.HouseholdID+"|"+f.PersonID+"|"+f.RuleID+"|"+string(f.Outcome)+"|"+f.Message)
		}
	}
	for _, f := range res.Flags {
		if f.HouseholdID != "" {
			gotFlags = append(gotFlags, f.HouseholdID+"|"+f.PersonID+"|"+f.RuleID+"|"+string(f.Outcome)+"|"+f.Message)
		}
	}
	if !slices.Equal(gotFlags, wantFlags) {
		t.Fatalf("flags of the evaluated households:\n%s\nwant:\n%s", strings.Join(gotFlags, "\n"), strings.Join(wantFlags, "\n"))
	}

	// A second incremental run with nothing new reports nothing.
	out2 := filepath.Join(t.TempDir(), "inc2")
	res2, err := RunIncremental(ctx, IncrementalConfig{Manifest: m2, Rules: set, Index: db, Out: out2, Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if c := readChanges(t, filepath.Join(out2, "changes.csv")); len(c) != 0 || len(res2.Households) != 0 {
		t.Fatalf("second run: %d changes, %d households evaluated", len(c), len(res2.Households))
	}
	// It evaluated nothing, so everything in the history is unchanged: the
	// counts kept in the run record agree with a walk of the history.
	hh, cand := historyScopes(t, db)
	s2 := res2.Incremental
	if s2.UnchangedHouseholds != hh || s2.UnchangedCandidates != cand || hh != len(after.Households) {
		t.Fatalf("second run: unchanged %d households, %d candidates; the history holds %d and %d; the full run %d households",
			s2.UnchangedHouseholds, s2.UnchangedCandidates, hh, cand, len(after.Households))
	}
}

// TestIncrementalUnwrittenOutputsRecordNothing: an incremental run whose
// outputs cannot be written (a file takes the folder's place once the run
// is evaluated) fails and leaves the index's history where it was, so the
// next run reports the same new flag rather than losing it.
func TestIncrementalUnwrittenOutputsRecordNothing(t *testing.T) {
	ctx := context.Background()
	dir, set, db, before := baselined(t)
	clean := cleanHouseholds(before)
	if len(clean) == 0 {
		t.Fatal("no clean household")
	}
	var owner string
	for _, h := range before.Households {
		if h.ID == clean[0] {
			owner = h.Members[0].PersonID
		}
	}
	rewrite(t, filepath.Join(dir, "sources/vehicle.parquet"), func(rows []synth.VehicleRow) []synth.VehicleRow {
		return append(rows, synth.VehicleRow{OwnerID: owner, Name: "测试", PlateNo: "云A·TEST2", VehicleType: "K33",
			UseNature: "A", RegisterDate: "20260301", Status: "A", Price: 12_000_000, Disabled: "否"})
	})
	bumpSnapshot(t, filepath.Join(dir, "sources.yaml"), "sources/vehicle.parquet", "2026-10-31")
	m := mustManifest(t, dir)
	lastSeq := func() uint32 {
		r, err := db.LastRun()
		if err != nil || r == nil {
			t.Fatalf("last run %v: %v", r, err)
		}
		return r.Seq
	}
	seq := lastSeq()
	out := filepath.Join(t.TempDir(), "inc")
	cfg := IncrementalConfig{Manifest: m, Rules: set, Index: db, Out: out, Workers: 2, CacheDir: t.TempDir(), Logger: quiet()}
	blocked := cfg
	blocked.beforeOutputs = func() {
		if err := os.WriteFile(out, []byte("not a folder"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := RunIncremental(ctx, blocked); err == nil {
		t.Fatal("a run whose outputs could not be written succeeded")
	}
	if s := lastSeq(); s != seq {
		t.Fatalf("a run whose outputs were not written was recorded: last run %d, was %d", s, seq)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	if _, err := RunIncremental(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	want := clean[0] + "," + owner + ",vehicle.owned,ineligible,new"
	if got := readChanges(t, filepath.Join(out, "changes.csv")); !slices.Equal(got, []string{want}) {
		t.Fatalf("changes after the failed run: %v, want [%s]", got, want)
	}
	if s := lastSeq(); s != seq+1 {
		t.Fatalf("last run %d after one recorded run, was %d", s, seq)
	}
}

// TestIncrementalKeepsUnchangedHistory: a household re-evaluated because a
// record changed, whose flags stay the same, is not written to the index's
// history again (the run records no scope), and its history still holds its
// flags for the next run.
func TestIncrementalKeepsUnchangedHistory(t *testing.T) {
	ctx := context.Background()
	dir, set, db, before := baselined(t)
	var flag rules.Flag
	for _, f := range before.Flags {
		if f.RuleID == "vehicle.owned" && f.PersonID != "" {
			flag = f
			break
		}
	}
	if flag.RuleID == "" {
		t.Fatal("no vehicle.owned flag")
	}
	scope := store.HouseholdScope(flag.HouseholdID)
	history := func() []store.FlagID {
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		fs, had, err := v.History(scope)
		if err != nil || !had {
			t.Fatalf("history of %s: %v %v", scope, had, err)
		}
		return fs
	}
	was := history()
	n := 0
	rewrite(t, filepath.Join(dir, "sources/vehicle.parquet"), func(rows []synth.VehicleRow) []synth.VehicleRow {
		for i := range rows {
			if rows[i].OwnerID == flag.PersonID {
				rows[i].Price += 100 // one yuan more: still the same flag
				n++
			}
		}
		return rows
	})
	if n == 0 {
		t.Fatalf("no vehicle of %s", flag.PersonID)
	}
	bumpSnapshot(t, filepath.Join(dir, "sources.yaml"), "sources/vehicle.parquet", "2026-10-31")
	m := mustManifest(t, dir)
	res, err := RunIncremental(ctx, IncrementalConfig{Manifest: m, Rules: set, Index: db, Out: filepath.Join(t.TempDir(), "inc"),
		Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	evaluated := slices.ContainsFunc(res.Households, func(h *facts.Household) bool { return h.ID == flag.HouseholdID })
	if !evaluated || len(res.Changes) != 0 {
		t.Fatalf("household %s evaluated %v, changes %v: want it evaluated with no change", flag.HouseholdID, evaluated, res.Changes)
	}
	for _, st := range res.Timings {
		if st.Name == "record" && st.Rows != 0 {
			t.Fatalf("the run recorded %d history scopes; none changed", st.Rows)
		}
	}
	if now := history(); !slices.Equal(now, was) {
		t.Fatalf("history of %s: %v, was %v", scope, now, was)
	}
}

// historyScopes counts the index history's household and candidate scopes
// by walking it.
func historyScopes(t *testing.T, db *store.DB) (households, candidates int) {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.HistoryScopes(func(scope string) error {
		if scope[0] == 'H' {
			households++
		} else {
			candidates++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return households, candidates
}

// TestIndexEvaluationAnyWorkers: households and candidates evaluated from
// the index by 1 or 3 workers (each on its own fork of the view) give the
// same flags, measures and scopes in the same order, each scope with the
// history a baseline run recorded for it.
func TestIndexEvaluationAnyWorkers(t *testing.T) {
	dir, set, db, _ := baselined(t)
	m := mustManifest(t, dir)
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var ids []string
	if err := v.Households(func(rows []*sources.RosterMember) error {
		ids = append(ids, rows[0].HouseholdID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	keys, err := v.CandidateKeys()
	if err != nil {
		t.Fatal(err)
	}
	env := rules.Env{AsOf: m.AsOf, Sources: v.Catalog().Snapshots()}
	render := func(workers int) string {
		every := evalOptions{history: func(scopeResult) bool { return true }}
		ev, err := evaluateFromIndex(context.Background(), v, set, env, ids, keys, modeFor, workers, every)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, s := range ev.scopes {
			old, had, err := v.History(s.name)
			if err != nil {
				t.Fatal(err)
			}
			if had != s.had || !slices.Equal(old, s.old) {
				t.Fatalf("%d workers: scope %s has history %v %v, read on its worker %v %v", workers, s.name, had, old, s.had, s.old)
			}
			fmt.Fprintf(&b, "%s %v %d %v %d\n", s.name, s.absent, len(s.flags), s.had, len(s.old))
		}
		fmt.Fprintf(&b, "%v\n%+v\n", ev.measures, ev.invalid)
		for _, r := range flagLines(t, ev.result(v.Catalog())) {
			b.WriteString(r + "\n")
		}
		return b.String()
	}
	one, three := render(1), render(3)
	if len(ids) < 100 || !strings.Contains(one, "ineligible") || !strings.Contains(one, " true ") {
		t.Fatalf("%d households; the comparison would prove little", len(ids))
	}
	if one != three {
		t.Fatal("1 and 3 workers evaluate differently")
	}
}

// indexed copies the test region, builds its index and returns them with
// the default rule set.
func indexed(t *testing.T) (dir string, m *sources.Manifest, set *rules.Set, db *store.DB) {
	t.Helper()
	dir = copyRegion(t)
	m = mustManifest(t, dir)
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	db = openIndex(t, filepath.Join(t.TempDir(), "index"))
	if _, err := db.Update(context.Background(), m, store.UpdateOptions{Workers: 2, CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return dir, m, set, db
}

// baselined copies the test region, indexes it and records a full run's
// flags in the index as the baseline of the next incremental run.
func baselined(t *testing.T) (dir string, set *rules.Set, db *store.DB, before *Result) {
	t.Helper()
	dir, m, set, db := indexed(t)
	before = fullRun(t, m, set)
	cat, err := db.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordBaseline(db, cat.Gens(), cat, set, m.AsOf, before); err != nil {
		t.Fatal(err)
	}
	return dir, set, db, before
}

// incrementalAsFullRuns runs the incremental review of the changed region
// in dir and requires its changes.csv to be the full run after − the full
// run before, which must clear the flags of the unit whose lines start with
// prefix.
func incrementalAsFullRuns(t *testing.T, dir string, set *rules.Set, db *store.DB, before *Result, prefix, unit string) *IncrementalResult {
	t.Helper()
	m := mustManifest(t, dir)
	want := expectedChanges(before, fullRun(t, m, set))
	if !slices.ContainsFunc(want, func(c string) bool { return strings.HasPrefix(c, prefix) && strings.HasSuffix(c, ",cleared") }) {
		t.Fatalf("the full runs do not clear the %s %q's flags: %v", unit, prefix, want)
	}
	out := filepath.Join(t.TempDir(), "inc")
	res, err := RunIncremental(context.Background(), IncrementalConfig{Manifest: m, Rules: set, Index: db, Out: out, Workers: 2, CacheDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if got := readChanges(t, filepath.Join(out, "changes.csv")); !slices.Equal(got, want) {
		t.Fatalf("changes.csv:\n%s\nwant (full run after − full run before):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return res
}

// TestIncrementalClearsARemovedHousehold: a flagged household that leaves
// the roster has its flags cleared by the next incremental run, as a full
// run after − before says, and is counted as removed.
func TestIncrementalClearsARemovedHousehold(t *testing.T) {
	dir, set, db, before := baselined(t)
	gone := ""
	for _, f := range before.Flags {
		if f.HouseholdID != "" {
			gone = f.HouseholdID
			break
		}
	}
	if gone == "" {
		t.Fatal("no flagged household")
	}
	rewrite(t, mustManifest(t, dir).Roster.Files[0], func(rows []synth.RosterRow) []synth.RosterRow {
		return slices.DeleteFunc(rows, func(r synth.RosterRow) bool { return r.HouseholdID == gone })
	})
	res := incrementalAsFullRuns(t, dir, set, db, before, gone+",", "household")
	if n := res.Incremental.RemovedHouseholds; n != 1 {
		t.Fatalf("%d households removed, want 1", n)
	}
}

// TestIncrementalClearsACandidate: an omission candidate whose poverty and
// disability records are removed has its flags cleared by the next
// incremental run, as a full run after − before says; a person who is no
// candidate and whose other records change gives no candidate change (the
// run spares their history lookup).
func TestIncrementalClearsACandidate(t *testing.T) {
	dir, set, db, before := baselined(t)
	gone := ""
	for _, f := range before.Flags {
		if f.HouseholdID == "" && f.PersonID != "" {
			gone = f.PersonID
			break
		}
	}
	if gone == "" {
		t.Fatal("no flagged omission candidate")
	}
	rewrite(t, filepath.Join(dir, "sources/poverty.parquet"), func(rows []synth.PovertyRow) []synth.PovertyRow {
		return slices.DeleteFunc(rows, func(r synth.PovertyRow) bool { return r.PersonID == gone })
	})
	rewrite(t, filepath.Join(dir, "sources/disability.parquet"), func(rows []synth.DisabilityRow) []synth.DisabilityRow {
		return slices.DeleteFunc(rows, func(r synth.DisabilityRow) bool { return r.PersonID == gone })
	})
	// A car for someone else: a changed person who is no candidate.
	rewrite(t, filepath.Join(dir, "sources/vehicle.parquet"), func(rows []synth.VehicleRow) []synth.VehicleRow {
		r := rows[0]
		r.PlateNo = "云A·TEST2"
		return append(rows, r)
	})
	manifest := filepath.Join(dir, "sources.yaml")
	for _, p := range []string{"sources/poverty.parquet", "sources/disability.parquet", "sources/vehicle.parquet"} {
		bumpSnapshot(t, manifest, p, "2026-10-31")
	}
	res := incrementalAsFullRuns(t, dir, set, db, before, ","+gone+",", "candidate")
	hh, cand := historyScopes(t, db)
	if s := res.Incremental; s.UnchangedCandidates+len(res.Candidates) != cand {
		t.Fatalf("unchanged %d + evaluated %d candidates; the history holds %d (and %d households)", s.UnchangedCandidates, len(res.Candidates), cand, hh)
	}
}
