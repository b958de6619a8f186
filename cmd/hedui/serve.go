package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/hedui/hedui/serve"
	"github.com/hedui/hedui/serve/users"
	"github.com/hedui/hedui/store"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	dir := fs.String("index", "", "the index folder (this process holds it while serving)")
	usersFile := fs.String("users", "", "the users file (hedui user add)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	rulesFile := fs.String("rules", "", "a rule set YAML file (default: the embedded default rule set)")
	data := fs.String("data", "", "the service's own folder: checks, audit log, household key (default: the users file's folder)")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS")
	key := fs.String("tls-key", "", "TLS private key (PEM)")
	plain := fs.Bool("allow-plain-http", false, "serve plain HTTP on an address other than loopback (only behind a TLS proxy)")
	views := fs.Int("views", 0, "index views shared by checks (checks evaluated at once; default 16)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *usersFile == "" {
		fmt.Fprintln(stderr, "hedui serve needs --index and --users")
		return errUsage
	}
	if (*cert == "") != (*key == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if *data == "" {
		*data = filepath.Dir(*usersFile)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && *cert == "" && !*plain {
		return fmt.Errorf("--addr %s is not a loopback address: give --tls-cert and --tls-key (ID numbers must not cross the network in clear), or --allow-plain-http behind a TLS proxy", *addr)
	}
	set, err := loadRules(*rulesFile)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := store.Open(*dir, store.Options{Logger: indexLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	go users.WarmUp() // the first login with an unknown name must not answer faster
	srv, err := serve.New(serve.Config{DB: db, Rules: set, UsersPath: *usersFile, DataDir: *data, Logger: logger,
		Views: *views, SecureCookies: *cert != "" || *plain})
	if err != nil {
		return err
	}
	defer srv.Close()
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "hedui serve: %s://%s (index %s, data %s)\n", scheme, ln.Addr(), *dir, *data)
	return srv.Serve(ctx, ln, *cert, *key)
}
