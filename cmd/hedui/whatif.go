package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/hedui/hedui/whatif"
)

// multiFlag collects a flag given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cmdWhatif re-evaluates a run under changed parameters.
func cmdWhatif(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("whatif", stderr)
	dir := fs.String("run", "", "the run folder (written by hedui run)")
	out := fs.String("out", "", "the what-if folder to write (whatif.csv, whatif.json, whatif.html, sweep.csv)")
	var sets multiFlag
	fs.Var(&sets, "set", "NAME=VALUE, NAME@AREA=VALUE (urban|rural) or NAME@REGION=VALUE (2, 4 or 6 digits); repeatable")
	sweep := fs.String("sweep", "", "NAME[@AREA|@REGION]=FROM:TO:STEP: evaluate a range of values (on top of --set)")
	full := fs.Bool("full", false, "re-evaluate every rule on every household (default: only what a changed parameter reaches)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "households evaluated in parallel")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	budget := fs.String("memory-budget", "", "memory the what-if may use, e.g. 6GiB or 512MiB; the garbage collector runs only as the heap nears it (default: 6GiB)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		fmt.Fprintln(stderr, "hedui whatif needs --run and --out")
		return errUsage
	}
	budgetBytes, err := parseBytes(*budget)
	if err != nil {
		return fmt.Errorf("--memory-budget %q: %w", *budget, err)
	}
	collectNearBudget(budgetBytes)
	stop, err := startProfiles(*cpuprofile, "")
	if err != nil {
		return err
	}
	defer stop()
	var settings []whatif.Setting
	for _, s := range sets {
		st, err := whatif.ParseSetting(s)
		if err != nil {
			return err
		}
		settings = append(settings, st)
	}
	rep := &whatif.Report{}
	if *sweep != "" {
		sw, err := whatif.ParseSweep(*sweep)
		if err != nil {
			return err
		}
		rep.Sweep = &sw
	}
	run, err := whatif.Open(*dir)
	if err != nil {
		return err
	}
	// Check every setting before the facts are read: that takes a while.
	check := settings
	if rep.Sweep != nil {
		if err := rep.Sweep.Check(run.Set); err != nil {
			return err
		}
		check = append(append([]whatif.Setting(nil), settings...), rep.Sweep.At(rep.Sweep.From))
	}
	if _, _, err := whatif.Apply(run.Set, run.Env.AsOf, check); err != nil {
		return err
	}
	if err := run.ReadFacts(ctx); err != nil {
		return err
	}
	rep.Run = run
	opts := whatif.Options{Workers: *workers, Full: *full}
	if rep.Sweep == nil || len(settings) > 0 {
		if rep.Scenario, err = run.Evaluate(ctx, settings, opts); err != nil {
			return err
		}
	}
	if rep.Sweep != nil {
		if rep.Steps, err = run.Sweep(ctx, settings, *rep.Sweep, opts); err != nil {
			return err
		}
	}
	if err := whatif.Write(*out, rep); err != nil {
		return err
	}
	printReport(stdout, rep, *out)
	return nil
}

func printReport(w io.Writer, rep *whatif.Report, out string) {
	if sc := rep.Scenario; sc != nil {
		t := sc.Total
		fmt.Fprintf(w, "re-evaluated         %d of %d households and candidates\n", sc.Evaluated, len(rep.Run.Rows))
		fmt.Fprintf(w, "changes              %d newly flagged, %d cleared, %d changed outcome (%d households)\n",
			t.NewlyFlagged, t.Cleared, t.Changed, t.HouseholdsChanged)
		fmt.Fprintf(w, "eligible dibao       %d → %d households\n", t.EligibleBefore, t.EligibleAfter)
		fmt.Fprintf(w, "monthly benefit      %.2f → %.2f 元\n", t.BenefitBefore, t.BenefitAfter)
	}
	for _, st := range rep.Steps {
		fmt.Fprintf(w, "sweep %-14g eligible %d, benefit %.2f 元\n", st.Value, st.Totals.EligibleAfter, st.Totals.BenefitAfter)
	}
	fmt.Fprintf(w, "outputs in %s\n", out)
}
