// Command hedui cross-checks the economic status of households under review
// for social assistance against the data other departments share.
//
// Usage:
//
//	hedui gen      --scale county --seed 1 --out DIR
//	hedui validate --manifest DIR/sources.yaml [--json]
//	hedui run      --manifest FILE --out DIR [--rules FILE] [--as-of DATE] [--mode full] [--workers N]
//	hedui demo     [--dir demo]
//	hedui rules    show | lint | test FILE
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: its name, one line of help and its body.
type command struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"gen", "generate a synthetic region (roster, every source, sources.yaml, truth.csv)", cmdGen},
		{"validate", "read every source of a manifest and print its data-quality report", cmdValidate},
		{"run", "full-base review: match every source to the roster and apply the rules", cmdRun},
		{"demo", "generate a county under ./demo and review it", cmdDemo},
		{"rules", "show, lint or test a rule set", cmdRules},
		{"report", "write report.html and report.xlsx of a run, or a household's 核对报告", cmdReport},
		{"whatif", "re-evaluate a run under changed parameters (--set, --sweep): changes, eligibility, benefits", cmdWhatif},
		{"index", "build, update or warm the index of every source (for incremental runs and checks)", cmdIndex},
		{"check", "check one household from the index (intake, 逢进必核)", cmdCheck},
		{"serve", "intake service: web page and JSON API with users, roles and an audit log", cmdServe},
		{"user", "add a user of the intake service or set its password", cmdUser},
		{"audit", "verify the intake service's audit log, or export a date range to CSV", cmdAudit},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// runMain dispatches to a subcommand and returns the exit code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, context.Canceled):
			fmt.Fprintln(stderr, "hedui: interrupted; nothing was written")
			return 130
		default:
			fmt.Fprintf(stderr, "hedui %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "hedui: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage marks an error already explained by the flag package.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "hedui (核对): household economic-status cross-check for social assistance")
	fmt.Fprintln(w, "\nUsage: hedui COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nRun 'hedui COMMAND -h' for the flags of a command.")
}

// newFlags returns a flag set that reports errors to stderr without exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hedui "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, mapping flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}
