package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hedui/hedui/serve/audit"
)

// errAuditBroken makes `hedui audit verify` exit 1 after naming the entry.
var errAuditBroken = errors.New("the audit log's chain is broken")

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(stderr, "usage: hedui audit verify --audit FILE | --data DIR\n       hedui audit export --audit FILE | --data DIR --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE.csv]")
		return errUsage
	}
	sub := args[0]
	fs := newFlags("audit "+sub, stderr)
	file := fs.String("audit", "", "the service's audit log (its data folder's audit.jsonl)")
	data := fs.String("data", "", "the service's data folder (hedui serve --data): its audit.jsonl")
	from := fs.String("from", "", "first day exported (export; China time)")
	to := fs.String("to", "", "last day exported, included (export)")
	out := fs.String("out", "", "CSV file to write (export; default: stdout)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*file == "") == (*data == "") {
		fmt.Fprintf(stderr, "hedui audit %s needs --audit FILE or --data DIR (one of them)\n", sub)
		return errUsage
	}
	if *data != "" {
		*file = filepath.Join(*data, "audit.jsonl")
	}
	if sub == "verify" {
		res, err := audit.Verify(*file)
		if err != nil {
			return err
		}
		if res.Problem != nil {
			fmt.Fprintf(stdout, "%s: %s\n", *file, res.Problem)
			return errAuditBroken
		}
		fmt.Fprintf(stdout, "%s: %d entries, chain intact; head entry %d hash %s (record it to detect a rewrite of the whole tail)\n",
			*file, res.Entries, res.HeadSeq, res.HeadHash)
		return nil
	}
	cst := time.FixedZone("CST", 8*3600)
	start, err := time.ParseInLocation(time.DateOnly, *from, cst)
	if err != nil {
		return fmt.Errorf("--from %q: want YYYY-MM-DD", *from)
	}
	end, err := time.ParseInLocation(time.DateOnly, *to, cst)
	if err != nil {
		return fmt.Errorf("--to %q: want YYYY-MM-DD", *to)
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return audit.Export(*file, start, end.AddDate(0, 0, 1), w)
}
