package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hedui/hedui/report"
)

// cmdReport writes the reports of an earlier run: report.html and
// report.xlsx by default, one 核对报告 with --household, or one per flagged
// household with --all.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	dir := fs.String("run", "", "the run folder (written by hedui run)")
	household := fs.String("household", "", "write the 核对报告 of this household ID (or an omission candidate's ID number)")
	all := fs.Bool("all", false, "write households/<id>.html for every flagged household")
	out := fs.String("out", "", "with --household: write to this file instead of standard output")
	unmasked := fs.Bool("unmasked", false, "show full ID numbers and names (only for roles allowed to see them)")
	rulesFile := fs.String("rules", "", "the rule set YAML for rule titles (default: the embedded default rule set)")
	date := fs.String("date", "", "the date printed on 核对报告 (YYYY-MM-DD; default: the run's as-of date)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "hedui report needs --run")
		return errUsage
	}
	if *household != "" && *all {
		fmt.Fprintln(stderr, "hedui report: give --household or --all, not both")
		return errUsage
	}
	opts := report.Options{Unmasked: *unmasked}
	if *rulesFile != "" {
		set, err := loadRules(*rulesFile)
		if err != nil {
			return err
		}
		opts.Rules = set
	}
	if *date != "" {
		t, err := time.Parse(time.DateOnly, *date)
		if err != nil {
			return fmt.Errorf("--date %q: want a date as YYYY-MM-DD", *date)
		}
		opts.Date = t
	}
	switch {
	case *household != "":
		return writeHouseholdReport(ctx, *dir, *household, *out, stdout, opts)
	case *all:
		if err := report.AllHouseholds(ctx, *dir, opts); err != nil {
			return err
		}
		opts.LinkHouseholds = true
		if err := report.Write(ctx, *dir, opts); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "核对报告 in %s\n", filepath.Join(*dir, "households"))
	default:
		if err := report.Write(ctx, *dir, opts); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "report.html: %s\nreport.xlsx: %s\n", filepath.Join(*dir, "report.html"), filepath.Join(*dir, "report.xlsx"))
	return nil
}

func writeHouseholdReport(ctx context.Context, dir, id, out string, stdout io.Writer, opts report.Options) error {
	if out == "" {
		return report.Household(ctx, dir, id, stdout, opts)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := report.Household(ctx, dir, id, f, opts); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "核对报告: %s\n", out)
	return nil
}
