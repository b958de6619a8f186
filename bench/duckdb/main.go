// Command hedui-duckdb is the DuckDB side of hedui's end-to-end benchmark:
// the full-base review's five SQL-expressible rules (vehicle.owned,
// realestate.excess, income.excess, payroll.member, business.owner) as one
// DuckDB query with read_parquet over the files of a manifest, generated
// from the manifest (column mappings, units, value mappings, date formats)
// and the rule set's parameters. It lives in a module of its own so that cgo
// and DuckDB never enter hedui's module.
//
//	hedui-duckdb run  --manifest bench.yaml --out flags.csv [--threads 2]
//	hedui-duckdb scan --manifest bench.yaml [--threads 2]
//	hedui-duckdb sql  --manifest bench.yaml
//
// run writes household_id,person_id,rule_id,outcome of every flag, sorted.
// scan reads only the ID column of the roster and of every source (the scan
// floor) and prints one line per entry. The manifest must name no CSV file
// (DuckDB cannot read GB18030): the harness derives one with benchkit.Prepare.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hedui-duckdb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: hedui-duckdb run|scan|sql --manifest M [--out flags.csv] [--threads N]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet("hedui-duckdb "+cmd, flag.ContinueOnError)
	manifest := fs.String("manifest", "", "the sources manifest (no CSV files)")
	out := fs.String("out", "", "run: the flags CSV to write")
	threads := fs.Int("threads", 2, "DuckDB threads")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *manifest == "" {
		return errors.New("--manifest is required")
	}
	m, err := sources.LoadManifest(*manifest)
	if err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection: temporary macros live in the connection that made them.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", *threads)); err != nil {
		return err
	}
	switch cmd {
	case "run", "sql":
		set, err := rules.Default()
		if err != nil {
			return err
		}
		start := time.Now()
		q, err := buildQuery(ctx, db, m, set)
		if err != nil {
			return err
		}
		if cmd == "sql" {
			fmt.Fprintln(stdout, macroSQL())
			fmt.Fprintln(stdout, q+";")
			return nil
		}
		if *out == "" {
			return errors.New("run needs --out")
		}
		n, err := runQuery(ctx, db, q, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "duckdb: %d flags in %.3fs (cpu %.3fs) -> %s\n", n, time.Since(start).Seconds(), cpuSeconds(), *out)
		return nil
	case "scan":
		return scanFloor(ctx, db, m, stdout)
	}
	return fmt.Errorf("unknown command %q; commands: run, scan, sql", cmd)
}

// buildQuery describes the files DuckDB will read, looks up the parameters
// of the roster's places and renders the job's SQL (macros created).
func buildQuery(ctx context.Context, db *sql.DB, m *sources.Manifest, set *rules.Set) (string, error) {
	for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
		for _, f := range e.Files {
			if strings.EqualFold(f[max(0, len(f)-4):], ".csv") {
				return "", fmt.Errorf("%s entry %q reads CSV file %s; derive a Parquet manifest first (bench/benchkit.Prepare)", e.Kind, e.Path, f)
			}
		}
	}
	if _, err := db.ExecContext(ctx, macroSQL()); err != nil {
		return "", fmt.Errorf("creating macros: %w", err)
	}
	types := map[*sources.Entry]map[string]string{}
	for _, e := range neededEntries(m) {
		t, err := describe(ctx, db, e.Files)
		if err != nil {
			return "", fmt.Errorf("%s entry %q: %w", e.Kind, e.Path, err)
		}
		types[e] = t
	}
	j, err := newJob(m, set, types)
	if err != nil {
		return "", err
	}
	rows, err := db.QueryContext(ctx, j.placesSQL())
	if err != nil {
		return "", fmt.Errorf("roster places: %w", err)
	}
	var pairs [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return "", err
		}
		pairs = append(pairs, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return "", err
	}
	if err := j.lookupPlaces(pairs); err != nil {
		return "", err
	}
	return j.SQL(), nil
}

// describe returns the column names and DuckDB types of files.
func describe(ctx context.Context, db *sql.DB, files []string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(%s, union_by_name = true))", fileList(files)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return nil, err
		}
		out[n] = t
	}
	return out, rows.Err()
}

// runQuery writes the query's result as CSV to path and returns its rows.
func runQuery(ctx context.Context, db *sql.DB, q, path string) (int64, error) {
	res, err := db.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (HEADER, DELIMITER ',')", q, quoteString(path)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// scanFloor reads only the ID column of every entry: DuckDB's floor for a
// full-base review. sum(strlen(id)) makes DuckDB decode every value (a bare
// count(*) is answered from the footers).
func scanFloor(ctx context.Context, db *sql.DB, m *sources.Manifest, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tpath\trows\twall s\tcpu s\trows/s (wall)\t")
	var totalRows int64
	var totalWall, totalCPU float64
	for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
		types, err := describe(ctx, db, e.Files)
		if err != nil {
			return err
		}
		s, err := sources.SchemaOf(e.Kind)
		if err != nil {
			return err
		}
		ec := &entryCols{e: e, schema: s, types: types}
		id, _, ok := ec.raw(s.KeyColumn().Name)
		if !ok {
			return fmt.Errorf("%s entry %q: no key column %s", e.Kind, e.Path, s.KeyColumn().Name)
		}
		cpu0, start := cpuSeconds(), time.Now()
		var rows, chars sql.NullInt64
		err = db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*), sum(strlen(CAST(%s AS VARCHAR))) FROM read_parquet(%s, union_by_name = true)", id, fileList(e.Files))).Scan(&rows, &chars)
		if err != nil {
			return err
		}
		wall, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
		totalRows += rows.Int64
		totalWall += wall
		totalCPU += cpu
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.0f\t\n", e.Kind, e.Path, rows.Int64, wall, cpu, float64(rows.Int64)/wall)
	}
	fmt.Fprintf(tw, "total\t\t%d\t%.3f\t%.3f\t%.0f\t\n", totalRows, totalWall, totalCPU, float64(totalRows)/totalWall)
	return tw.Flush()
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
