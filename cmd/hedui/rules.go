package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hedui/hedui/rules"
)

func cmdRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hedui rules show [--rules FILE] | lint [--rules FILE] [CASES...] | test [--rules FILE] CASES...")
		return errUsage
	}
	fs := newFlags("rules "+args[0], stderr)
	rulesFile := fs.String("rules", "", "a rule set YAML file (default: the embedded default rule set)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	switch args[0] {
	case "show":
		if *rulesFile == "" {
			_, err := stdout.Write(rules.DefaultYAML())
			return err
		}
		set, err := rules.Load(*rulesFile)
		if err != nil {
			return err
		}
		_, err = stdout.Write(set.Canonical())
		return err
	case "lint":
		set, err := loadRules(*rulesFile)
		if err != nil {
			return err
		}
		problems := rules.Lint(set, fs.Args()...)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		// Not a problem: the outcome is the same, only slower.
		for _, r := range set.Rules() {
			if err := r.Interpreted(); err != nil {
				fmt.Fprintf(stdout, "note: rule %s runs on expr's VM, about twice as slow as compiled rules: %v\n", r.ID, err)
			}
		}
		warnings := 0
		for _, p := range problems {
			if p.Warning {
				warnings++
			}
		}
		if n := len(problems) - warnings; n > 0 {
			return fmt.Errorf("%d problems, %s", n, count(warnings, "warning"))
		}
		fmt.Fprintf(stdout, "rule set %s: %d rules, no problems, %s\n", set.Name(), len(set.Rules()), count(warnings, "warning"))
		return nil
	case "test":
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "hedui rules test needs a cases file")
			return errUsage
		}
		set, err := loadRules(*rulesFile)
		if err != nil {
			return err
		}
		failed := 0
		for _, path := range fs.Args() {
			rep, err := rules.RunCases(set, path)
			if err != nil {
				return err
			}
			fmt.Fprint(stdout, rep.String())
			if !rep.OK() {
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d cases files have failing cases", failed)
		}
		return nil
	}
	fmt.Fprintf(stderr, "unknown rules command %q; supported: show, lint, test\n", args[0])
	return errUsage
}

// count says n things: "1 warning", "2 warnings".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
