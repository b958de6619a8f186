// Package benchkit holds what the end-to-end benchmark's two sides share:
// the derived manifest both engines read (CSV sources converted once to UTF-8
// Parquet, because DuckDB cannot read GB18030) and the flag sets they are
// compared on.
package benchkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hedui/hedui/sources"
)

// ConvertedDir is the folder, beside the manifest, that holds the Parquet
// conversions of the manifest's CSV files, under their own relative paths.
const ConvertedDir = "utf8"

// DerivedName is the file name of the derived manifest written beside the
// original, so that every relative path resolves the same.
const DerivedName = "bench.yaml"

// Prepare writes the derived manifest beside the manifest at path and returns
// its path. Every CSV file of the manifest (roster included) is converted once
// to Parquet under ConvertedDir, every column an optional UTF-8 string with
// empty fields null — exactly what hedui's own CSV ingest produces — and the
// entry's path is rewritten to the conversion (".csv" → ".parquet") with its
// `encoding:` removed. Everything else is kept as written. A conversion newer
// than its CSV file is reused.
func Prepare(ctx context.Context, path string) (string, error) {
	m, err := sources.LoadManifest(path)
	if err != nil {
		return "", err
	}
	for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
		for _, f := range e.Files {
			if !isCSV(f) {
				continue
			}
			rel, err := filepath.Rel(m.Dir, f)
			if err != nil || strings.HasPrefix(rel, "..") {
				return "", fmt.Errorf("%s: CSV file %s is outside the manifest's folder; the benchmark converts only files below it", path, f)
			}
			out := filepath.Join(m.Dir, ConvertedDir, csvToParquet(rel))
			if err := convertOnce(ctx, f, out, e.Encoding); err != nil {
				return "", err
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	derived, err := deriveManifest(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	out := filepath.Join(m.Dir, DerivedName)
	if err := os.WriteFile(out, derived, 0o644); err != nil {
		return "", err
	}
	// The derived manifest must load, and name no CSV file any more.
	dm, err := sources.LoadManifest(out)
	if err != nil {
		return "", fmt.Errorf("derived manifest: %w", err)
	}
	for _, e := range append([]*sources.Entry{dm.Roster}, dm.Sources...) {
		for _, f := range e.Files {
			if isCSV(f) {
				return "", fmt.Errorf("derived manifest %s still reads CSV file %s", out, f)
			}
		}
	}
	return out, nil
}

func isCSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".csv") }

// csvToParquet renames a path or glob ending in .csv (any case) to .parquet.
func csvToParquet(p string) string { return p[:len(p)-len(filepath.Ext(p))] + ".parquet" }

// deriveManifest rewrites the YAML text: CSV paths point at their
// conversions and `encoding:` keys are dropped.
func deriveManifest(data []byte) ([]byte, error) {
	doc, root, err := parseManifestYAML(data)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		switch key {
		case "roster":
			if val.Kind == yaml.ScalarNode {
				if isCSV(val.Value) {
					val.Value = filepath.ToSlash(filepath.Join(ConvertedDir, csvToParquet(val.Value)))
				}
				continue
			}
			rewriteEntry(val)
		case "sources":
			for _, e := range val.Content {
				rewriteEntry(e)
			}
		}
	}
	header := "# Derived by bench/benchkit from sources.yaml for the benchmark: CSV files read\n" +
		"# from their UTF-8 Parquet conversions under " + ConvertedDir + "/. Do not edit.\n"
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), out...), nil
}

// parseManifestYAML parses a manifest's text, keeping its layout, and
// returns the document and its top-level mapping.
func parseManifestYAML(data []byte) (doc, root *yaml.Node, err error) {
	doc = new(yaml.Node)
	if err := yaml.Unmarshal(data, doc); err != nil {
		return nil, nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("manifest is not a YAML mapping")
	}
	return doc, doc.Content[0], nil
}

func rewriteEntry(e *yaml.Node) {
	if e.Kind != yaml.MappingNode {
		return
	}
	csvPath := false
	for i := 0; i+1 < len(e.Content); i += 2 {
		if e.Content[i].Value == "path" && isCSV(e.Content[i+1].Value) {
			e.Content[i+1].Value = filepath.ToSlash(filepath.Join(ConvertedDir, csvToParquet(e.Content[i+1].Value)))
			csvPath = true
		}
	}
	if !csvPath {
		return
	}
	kept := e.Content[:0]
	for i := 0; i+1 < len(e.Content); i += 2 {
		if e.Content[i].Value != "encoding" {
			kept = append(kept, e.Content[i], e.Content[i+1])
		}
	}
	e.Content = kept
}

// convertOnce converts src to out unless out is newer than src.
func convertOnce(ctx context.Context, src, out, enc string) error {
	si, err := os.Stat(src)
	if err != nil {
		return err
	}
	if oi, err := os.Stat(out); err == nil && oi.ModTime().After(si.ModTime()) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".convert-*.parquet")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := ConvertCSV(ctx, in, src, enc, w); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return fmt.Errorf("%s: writing the Parquet conversion: %w", src, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// ConvertCSV writes the CSV read from in as Parquet to w with hedui's own
// CSV ingest (sources.ConvertCSV), so that DuckDB reads the very file shape
// hedui reads.
func ConvertCSV(ctx context.Context, in io.Reader, name, enc string, w io.Writer) error {
	_, err := sources.ConvertCSV(ctx, in, name, enc, w)
	return err
}
