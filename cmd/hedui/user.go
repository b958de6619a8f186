package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hedui/hedui/serve/audit"
	"github.com/hedui/hedui/serve/users"
)

func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[0] != "add" && args[0] != "passwd") || strings.HasPrefix(args[1], "-") {
		fmt.Fprintln(stderr, "usage: hedui user add NAME --role intake|reviewer|analyst|admin [--region CODE] --users FILE [--audit FILE]\n       hedui user passwd NAME --users FILE [--audit FILE]   (the password is read from the terminal, or stdin)")
		return errUsage
	}
	sub, name := args[0], args[1]
	fs := newFlags("user "+sub, stderr)
	file := fs.String("users", "", "the users file")
	auditFile := fs.String("audit", "", "the service's audit log (DATA/audit.jsonl), to record the change")
	role := fs.String("role", "", "intake, reviewer, analyst or admin (add)")
	region := fs.String("region", "", "county code (or a prefix) whose checks a reviewer sees; limits an intake user's checks (add)")
	if err := parseFlags(fs, args[2:]); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintf(stderr, "hedui user %s needs --users\n", sub)
		return errUsage
	}
	// The audit log is opened before the users file changes: a log that
	// cannot take the entry (locked by a running service, refused as
	// damaged) must stop the change, not leave it unrecorded.
	var log *audit.Log
	if *auditFile != "" {
		l, err := audit.Open(*auditFile)
		if err != nil {
			return fmt.Errorf("--audit %s: %w; the users file was not changed", *auditFile, err)
		}
		defer l.Close()
		log = l
	}
	var detail string
	switch sub {
	case "add":
		r, err := users.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("--role: %w", err)
		}
		tok, err := users.Add(*file, name, r, *region, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added as %s; its API token follows, shown this once (only its hash is kept):\n%s\n", name, r, tok)
		detail = "added " + name + " as " + string(r)
	case "passwd":
		pw, err := readPassword(stderr)
		if err != nil {
			return err
		}
		if err := users.SetPassword(*file, name, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s set\n", name)
		detail = "password of " + name + " set"
	}
	if log == nil {
		return nil
	}
	who := os.Getenv("USER")
	if who == "" {
		who = "cli"
	}
	return log.Append(audit.Entry{User: who, Role: "cli", Action: "user." + sub, Detail: detail})
}

// readPassword reads a password twice from the terminal, or once from a
// line of stdin when it is not one.
func readPassword(stderr io.Writer) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(stderr, "password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", fmt.Errorf("the two passwords differ")
	}
	return string(a), nil
}
