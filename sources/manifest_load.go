package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Encodings of CSV files, as written in a manifest's `encoding:`.
const (
	EncodingUTF8    = "utf-8"
	EncodingGB18030 = "gb18030"
)

// ManifestError is one problem found in a manifest, with its position.
// LoadManifest and ParseManifest return every problem they find, joined
// with errors.Join, in document order.
type ManifestError struct {
	File   string // the manifest path as given
	Line   int    // 1-based; 0 when the YAML parser gave none
	Column int    // 1-based; 0 when unknown
	Msg    string
}

// Error formats the problem as file:line:column: message.
func (e *ManifestError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// LoadManifest reads and checks the sources manifest at path. Entry paths
// are resolved relative to the manifest's folder.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return ParseManifest(data, path, filepath.Dir(path))
}

// ParseManifest checks a sources manifest held in data. path names the
// manifest in error messages; dir is the folder entry paths are relative to.
// Every file or glob must match at least one .parquet or .csv file. The
// roster entry gets Kind KindRoster and Snapshot = as_of; Encoding defaults
// to utf-8.
//
// A `values:` target replaces the raw text before conversion: for a column
// with an enum it must be one of the enum's values; otherwise it must be
// text the column's conversion accepts (a date in the entry's layout, an
// amount in the entry's unit, an integer, true/false). An empty target (or
// ~) makes the value missing, e.g. {"00000000": ""} for a null date.
func ParseManifest(data []byte, path, dir string) (*Manifest, error) {
	p := &manifestParser{path: path, dir: dir}
	m := p.parse(data)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return m, nil
}

type manifestParser struct {
	path, dir string
	errs      []error
	// files maps each resolved file to the line of the entry that reads it,
	// so that overlapping globs cannot count a file twice.
	files map[string]int
}

func (p *manifestParser) errorf(n *yaml.Node, format string, args ...any) {
	e := &ManifestError{File: p.path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// yamlLine matches the position prefix of go.yaml.in/yaml parser errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (p *manifestParser) yamlError(err error) {
	msg := err.Error()
	e := &ManifestError{File: p.path}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	e.Msg = "invalid YAML: " + msg
	p.errs = append(p.errs, e)
}

var (
	topKeys    = []string{"as_of", "roster", "sources"}
	entryKeys  = []string{"kind", "path", "snapshot", "columns", "formats", "units", "values", "encoding"}
	rosterKeys = []string{"path", "columns", "formats", "units", "values", "encoding"}
)

func (p *manifestParser) parse(data []byte) *Manifest {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errs = append(p.errs, &ManifestError{File: p.path, Line: 1, Msg: "empty manifest; want keys as_of, roster and sources"})
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a manifest is one YAML document; found a second one")
	} else if err != io.EOF {
		p.yamlError(err)
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = deref(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "the manifest must be a mapping with keys %s; got %s", strings.Join(topKeys, ", "), kindName(root))
		return nil
	}
	m := &Manifest{Path: p.path, Dir: p.dir}
	var asOfNode, rosterNode, sourcesNode *yaml.Node
	for _, kv := range p.pairs(root, "manifest", topKeys) {
		switch kv.key {
		case "as_of":
			asOfNode = kv.val
		case "roster":
			rosterNode = kv.val
		case "sources":
			sourcesNode = kv.val
		}
	}
	asOfOK := false
	if asOfNode == nil {
		p.errorf(root, "missing as_of: the date the review is as of, e.g. as_of: 2026-11-01")
	} else {
		m.AsOf, asOfOK = p.isoDate(asOfNode, "as_of")
	}
	if rosterNode == nil {
		p.errorf(root, "missing roster: the roster file, e.g. roster: roster.parquet")
	} else {
		m.Roster = p.roster(rosterNode)
		if m.Roster != nil {
			m.Roster.Snapshot = m.AsOf
		}
	}
	if sourcesNode == nil {
		p.errorf(root, "missing sources: a list of entries with kind, path and snapshot")
	} else {
		m.Sources = p.sources(sourcesNode, m.AsOf, asOfOK)
	}
	return m
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

type keyVal struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// pairs returns the entries of mapping n, reporting keys that are not
// strings, are repeated or (when allowed is not nil) are not allowed.
func (p *manifestParser) pairs(n *yaml.Node, where string, allowed []string) []keyVal {
	var out []keyVal
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: a key must be a string; got %s", where, kindName(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "duplicate key %q in %s; first given at line %d", k.Value, where, line)
			continue
		}
		seen[k.Value] = k.Line
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			p.errorf(k, "unknown key %q in %s; allowed keys: %s", k.Value, where, strings.Join(allowed, ", "))
			continue
		}
		out = append(out, keyVal{key: k.Value, keyNode: k, val: v})
	}
	return out
}

// mapping checks that n is a mapping (or empty) and returns its pairs.
func (p *manifestParser) mapping(n *yaml.Node, where string) ([]keyVal, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping; got %s", where, kindName(n))
		return nil, false
	}
	return p.pairs(n, where, nil), true
}

// text returns the value of a non-empty scalar.
func (p *manifestParser) text(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s: want a string; got %s", what, kindName(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.errorf(n, "%s: want a non-empty string", what)
		return "", false
	}
	return n.Value, true
}

var isoLayout = DateLayout{src: "%Y-%m-%d", elems: []layoutElem{
	{dir: 'Y', min: 4, max: 4}, {lit: "-"}, {dir: 'm', min: 2, max: 2}, {lit: "-"}, {dir: 'd', min: 2, max: 2},
}}

func (p *manifestParser) isoDate(n *yaml.Node, what string) (time.Time, bool) {
	s, ok := p.text(n, what)
	if !ok {
		return time.Time{}, false
	}
	t, err := isoLayout.Parse(s)
	if err != nil {
		p.errorf(n, "%s: %v; want an ISO date YYYY-MM-DD", what, err)
		return time.Time{}, false
	}
	return t, true
}

func (p *manifestParser) roster(n *yaml.Node) *Entry {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		path, ok := p.text(n, "roster")
		if !ok {
			return nil
		}
		e := &Entry{Kind: KindRoster, Path: path, Encoding: EncodingUTF8, Line: n.Line}
		p.resolve(e, n, nil, true)
		return e
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "roster: want a path or a mapping with keys %s; got %s", strings.Join(rosterKeys, ", "), kindName(n))
		return nil
	}
	return p.entry(n, true)
}

func (p *manifestParser) sources(n *yaml.Node, asOf time.Time, asOfOK bool) []*Entry {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "sources: want a list of entries with kind, path and snapshot; got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "sources: the list is empty; want at least one entry")
		return nil
	}
	var out []*Entry
	for _, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.errorf(item, "source entry: want a mapping with keys %s; got %s", strings.Join(entryKeys, ", "), kindName(item))
			continue
		}
		e := p.entry(item, false)
		if e == nil {
			continue
		}
		if asOfOK && e.Snapshot.After(asOf) {
			p.errorf(valueOf(item, "snapshot"), "snapshot %s is later than as_of %s", e.Snapshot.Format(time.DateOnly), asOf.Format(time.DateOnly))
		}
		out = append(out, e)
	}
	return out
}

// valueOf returns the value node of key in mapping n, or n itself.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

// entry checks one source entry, or the roster mapping when roster is set.
// It returns nil when the entry is too broken to use.
func (p *manifestParser) entry(n *yaml.Node, roster bool) *Entry {
	where, allowed := "source entry", entryKeys
	if roster {
		where, allowed = "roster", rosterKeys
	}
	kvs := p.pairs(n, where, allowed)
	get := func(key string) *keyVal {
		for i := range kvs {
			if kvs[i].key == key {
				return &kvs[i]
			}
		}
		return nil
	}
	e := &Entry{Encoding: EncodingUTF8, Line: n.Line}
	var schema *Schema
	if roster {
		e.Kind = KindRoster
		schema, _ = SchemaOf(KindRoster)
	} else if kv := get("kind"); kv == nil {
		p.errorf(n, "source entry: missing kind; supported kinds: %s", strings.Join(sourceKindNames(), ", "))
	} else {
		if schema = p.kind(kv.val); schema != nil {
			e.Kind = schema.Kind
		}
	}
	ok := schema != nil
	pathKV := get("path")
	if pathKV == nil {
		p.errorf(n, "%s: missing path: a file or glob relative to the manifest's folder", where)
		ok = false
	} else if e.Path, _ = p.text(pathKV.val, "path"); e.Path == "" {
		ok = false
	}
	if !roster {
		if kv := get("snapshot"); kv == nil {
			p.errorf(n, "source entry: missing snapshot: the date the department extracted the data, e.g. snapshot: 2026-10-28")
			ok = false
		} else if e.Snapshot, _ = p.isoDate(kv.val, "snapshot"); e.Snapshot.IsZero() {
			ok = false
		}
	}
	if kv := get("encoding"); kv != nil {
		e.Encoding = p.encoding(kv.val)
	}
	if kv := get("columns"); kv != nil {
		e.Columns = p.columns(kv.val, schema)
	}
	if kv := get("formats"); kv != nil {
		e.Formats = p.formats(kv.val, schema)
	}
	if kv := get("units"); kv != nil {
		e.Units = p.units(kv.val, schema)
	}
	if kv := get("values"); kv != nil {
		e.Values = p.values(kv.val, schema, e)
	}
	if pathKV != nil && e.Path != "" {
		var encNode *yaml.Node
		if kv := get("encoding"); kv != nil {
			encNode = kv.val
		}
		p.resolve(e, pathKV.val, encNode, ok)
	}
	if !ok {
		return nil
	}
	return e
}

// kind checks the kind of a source entry and returns its schema, or nil.
func (p *manifestParser) kind(n *yaml.Node) *Schema {
	s, ok := p.text(n, "kind")
	if !ok {
		return nil
	}
	if Kind(s) == KindRoster {
		p.errorf(n, "kind roster is not a source; give the roster under the top-level roster key")
		return nil
	}
	schema, err := SchemaOf(Kind(s))
	if err != nil {
		p.errorf(n, "%v", err)
		return nil
	}
	return schema
}

func sourceKindNames() []string {
	out := make([]string, len(SourceKinds))
	for i, k := range SourceKinds {
		out[i] = string(k)
	}
	return out
}

func (p *manifestParser) encoding(n *yaml.Node) string {
	s, ok := p.text(n, "encoding")
	if !ok {
		return EncodingUTF8
	}
	// GBK and GB2312 files are read as GB18030, a superset of both.
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "utf8":
		return EncodingUTF8
	case "gb18030", "gbk", "gb2312":
		return EncodingGB18030
	}
	p.errorf(n, "unknown encoding %q; supported encodings: utf-8, gb18030 (also for GBK and GB2312 files)", s)
	return EncodingUTF8
}

// column looks up the canonical column named by key node k, reporting an
// unknown name. A nil schema (unknown kind, reported already) finds nothing
// and reports nothing.
func (p *manifestParser) column(k *yaml.Node, schema *Schema, section string) (Column, bool) {
	if schema == nil {
		return Column{}, false
	}
	c, ok := schema.Column(k.Value)
	if !ok {
		p.errorf(k, "%s: %q is not a column of kind %s; %s columns: %s",
			section, k.Value, schema.Kind, schema.Kind, strings.Join(schema.Names(), ", "))
	}
	return c, ok
}

func (p *manifestParser) columns(n *yaml.Node, schema *Schema) map[string]string {
	kvs, _ := p.mapping(n, "columns")
	out := map[string]string{}
	for _, kv := range kvs {
		if _, ok := p.column(kv.keyNode, schema, "columns"); !ok {
			continue
		}
		if raw, ok := p.text(kv.val, "columns: "+kv.key); ok {
			out[kv.key] = raw
		}
	}
	return out
}

func (p *manifestParser) formats(n *yaml.Node, schema *Schema) map[string]string {
	kvs, _ := p.mapping(n, "formats")
	out := map[string]string{}
	for _, kv := range kvs {
		c, ok := p.column(kv.keyNode, schema, "formats")
		if !ok {
			continue
		}
		if c.Type != TypeDate {
			p.errorf(kv.keyNode, "formats: column %q of kind %s is a %s, not a date; date columns: %s",
				kv.key, schema.Kind, c.Type, strings.Join(namesWhere(schema, func(c Column) bool { return c.Type == TypeDate }), ", "))
			continue
		}
		layout, ok := p.text(kv.val, "formats: "+kv.key)
		if !ok {
			continue
		}
		if _, err := ParseDateLayout(layout); err != nil {
			p.errorf(kv.val, "formats: %s: %v", kv.key, err)
			continue
		}
		out[kv.key] = layout
	}
	return out
}

func (p *manifestParser) units(n *yaml.Node, schema *Schema) map[string]string {
	kvs, _ := p.mapping(n, "units")
	out := map[string]string{}
	for _, kv := range kvs {
		c, ok := p.column(kv.keyNode, schema, "units")
		if !ok {
			continue
		}
		if !c.Amount {
			p.errorf(kv.keyNode, "units: column %q of kind %s is not an amount; amount columns: %s",
				kv.key, schema.Kind, strings.Join(namesWhere(schema, func(c Column) bool { return c.Amount }), ", "))
			continue
		}
		unit, ok := p.text(kv.val, "units: "+kv.key)
		if !ok {
			continue
		}
		if _, err := unitExp(unit); err != nil {
			p.errorf(kv.val, "units: %s: %v", kv.key, err)
			continue
		}
		out[kv.key] = unit
	}
	return out
}

func (p *manifestParser) values(n *yaml.Node, schema *Schema, e *Entry) map[string]map[string]string {
	kvs, _ := p.mapping(n, "values")
	out := map[string]map[string]string{}
	for _, kv := range kvs {
		c, ok := p.column(kv.keyNode, schema, "values")
		if !ok {
			continue
		}
		where := "values: " + kv.key
		pairs, ok := p.mapping(kv.val, where)
		if !ok {
			continue
		}
		m := map[string]string{}
		for _, raw := range pairs {
			if raw.val.Kind != yaml.ScalarNode {
				p.errorf(raw.val, "%s: %q: want a canonical value; got %s", where, raw.key, kindName(raw.val))
				continue
			}
			target := raw.val.Value
			if raw.val.Tag == "!!null" {
				target = ""
			}
			if msg := checkTarget(c, e, target); msg != "" {
				p.errorf(raw.val, "%s: %q maps to %q, %s", where, raw.key, target, msg)
				continue
			}
			m[raw.key] = target
		}
		out[kv.key] = m
	}
	return out
}

// checkTarget says what is wrong with v as the target of a values mapping
// of column c, or returns "" when v is fine. The reader converts a mapped
// value like a raw one, so dates are read with the entry's layout and
// amounts in the entry's unit; the empty string stands for a missing value.
func checkTarget(c Column, e *Entry, v string) string {
	if v == "" {
		return ""
	}
	if len(c.Enum) > 0 {
		if slices.Contains(c.Enum, v) {
			return ""
		}
		return fmt.Sprintf("not one of the allowed %s values: %s", c.Name, strings.Join(c.Enum, ", "))
	}
	var err error
	switch {
	case c.Type == TypeDate:
		layout := c.Format
		if f, ok := e.Formats[c.Name]; ok {
			layout = f
		}
		// Without a layout, a strict ISO date passes whichever default
		// the reader applies.
		l := isoLayout
		if layout != "" {
			l, err = ParseDateLayout(layout)
		}
		if err == nil {
			_, err = l.Parse(v)
		}
	case c.Amount:
		_, err = ParseAmount(v, e.Units[c.Name])
	case c.Type == TypeFloat:
		_, err = ParseFloat(v)
	case c.Type == TypeInt:
		_, err = ParseInt(v)
	case c.Type == TypeBool:
		_, err = ParseBool(v)
	}
	if err != nil {
		return fmt.Sprintf("which the reader cannot convert: %v", err)
	}
	return ""
}

func namesWhere(s *Schema, keep func(Column) bool) []string {
	var out []string
	for _, c := range s.Columns {
		if keep(c) {
			out = append(out, c.Name)
		}
	}
	return out
}

// resolve fills e.Files from e.Path, reporting at n when nothing matches.
// encNode is the entry's encoding value, if given. Only a valid entry
// (register) claims its files, so that a broken entry does not also make
// the next one report a duplicate.
func (p *manifestParser) resolve(e *Entry, n, encNode *yaml.Node, register bool) {
	pattern := e.Path
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.dir, pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		p.errorf(n, "path %q is not a valid glob: %v", e.Path, err)
		return
	}
	var files []string
	for _, f := range matches {
		st, err := os.Stat(f)
		if err != nil {
			p.errorf(n, "path %q: %v", e.Path, err)
			return
		}
		if st.IsDir() {
			if len(matches) == 1 && f == pattern {
				p.errorf(n, "path %q is a folder; want a file or a glob such as %q", e.Path, filepath.Join(e.Path, "*.parquet"))
				return
			}
			continue // a glob may match folders next to the files
		}
		switch strings.ToLower(filepath.Ext(f)) {
		case ".parquet", ".csv":
		default:
			p.errorf(n, "path %q matches %q, which is neither .parquet nor .csv", e.Path, f)
			return
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		p.errorf(n, "no file matches %q (relative to %s)", e.Path, p.absDir())
		return
	}
	slices.Sort(files)
	if encNode != nil && !slices.ContainsFunc(files, func(f string) bool { return strings.EqualFold(filepath.Ext(f), ".csv") }) {
		p.errorf(encNode, "encoding applies to CSV files only; %q matches no .csv file", e.Path)
	}
	e.Files = files
	if !register {
		return
	}
	if p.files == nil {
		p.files = map[string]int{}
	}
	for _, f := range files {
		if line, dup := p.files[f]; dup {
			p.errorf(n, "file %q is already read by the entry at line %d; a file may be listed once", f, line)
			return
		}
		p.files[f] = e.Line
	}
}

func (p *manifestParser) absDir() string {
	if abs, err := filepath.Abs(p.dir); err == nil {
		return abs
	}
	return p.dir
}
