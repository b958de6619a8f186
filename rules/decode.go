package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const dateLayout = "2006-01-02"

// pos is a place in a YAML file, for error messages.
type pos struct {
	file      string
	line, col int
}

func (p pos) String() string { return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col) }

func (p pos) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...))
}

// doc is one YAML file being decoded: its name and lines (for block-scalar
// column arithmetic).
type doc struct {
	file  string
	lines []string
}

func newDoc(data []byte, file string) *doc {
	return &doc{file: file, lines: strings.Split(string(data), "\n")}
}

func (d *doc) pos(n *yaml.Node) pos { return pos{d.file, n.Line, n.Column} }

func (d *doc) errorf(n *yaml.Node, format string, args ...any) error {
	return d.pos(n).errorf(format, args...)
}

// root parses data and returns its top-level mapping node.
func (d *doc) root(data []byte) (*yaml.Node, error) {
	var top yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", d.file, err)
	}
	if top.Kind == 0 || len(top.Content) == 0 {
		return nil, fmt.Errorf("%s: empty document", d.file)
	}
	n := top.Content[0]
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, "want a mapping at the top level, got %s", kindName(n))
	}
	return n, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// mapping checks that n is a mapping whose keys are all allowed and unique,
// and returns the value node of each key present.
func (d *doc) mapping(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, "%s: want a mapping, got %s", what, kindName(n))
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, d.errorf(k, "%s: keys must be plain words", what)
		}
		known := false
		for _, a := range allowed {
			if a == k.Value {
				known = true
				break
			}
		}
		if !known {
			return nil, d.errorf(k, "unknown key %q in %s; allowed keys: %s", k.Value, what, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, d.errorf(k, "duplicate key %q in %s", k.Value, what)
		}
		out[k.Value] = v
	}
	return out, nil
}

// pairs returns the key/value nodes of a mapping in file order.
func (d *doc) pairs(n *yaml.Node, what string) ([][2]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, "%s: want a mapping, got %s", what, kindName(n))
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, d.errorf(k, "%s: keys must be plain words", what)
		}
		if seen[k.Value] {
			return nil, d.errorf(k, "duplicate key %q in %s", k.Value, what)
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
	}
	return out, nil
}

func (d *doc) seq(n *yaml.Node, what string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errorf(n, "%s: want a list, got %s", what, kindName(n))
	}
	return n.Content, nil
}

func (d *doc) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", d.errorf(n, "%s: want a text value, got %s", what, kindName(n))
	}
	return n.Value, nil
}

func (d *doc) strs(n *yaml.Node, what string) ([]string, error) {
	items, err := d.seq(n, what)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := d.str(it, what)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *doc) num(n *yaml.Node, what string) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, d.errorf(n, "%s: want a number, got %s", what, kindName(n))
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		return 0, d.errorf(n, "%s: %q is not a number", what, n.Value)
	}
	return f, nil
}

func (d *doc) integer(n *yaml.Node, what string) (int, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, d.errorf(n, "%s: want a whole number, got %s", what, kindName(n))
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil {
		return 0, d.errorf(n, "%s: %q is not a whole number", what, n.Value)
	}
	return i, nil
}

func (d *doc) boolean(n *yaml.Node, what string) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true", "1", "是":
			return true, nil
		case "false", "0", "否":
			return false, nil
		}
	}
	return false, d.errorf(n, "%s: want true or false, got %s", what, kindName(n))
}

// date reads an ISO date (2026-06-30); a month (2026-06) is read as its first day.
func (d *doc) date(n *yaml.Node, what string) (time.Time, error) {
	if n.Kind != yaml.ScalarNode {
		return time.Time{}, d.errorf(n, "%s: want a date, got %s", what, kindName(n))
	}
	return d.parseDate(n, n.Value, what)
}

func (d *doc) parseDate(n *yaml.Node, s, what string) (time.Time, error) {
	for _, layout := range []string{dateLayout, "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, d.errorf(n, "%s: %q is not a date; write it as 2026-06-30", what, s)
}

// oneOf checks that n holds one of the allowed words.
func (d *doc) oneOf(n *yaml.Node, what string, allowed ...string) (string, error) {
	s, err := d.str(n, what)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", d.errorf(n, "%s: unknown value %q; allowed: %s", what, s, strings.Join(allowed, ", "))
}

// exprPos maps a 0-based (line, column) inside the text of scalar n to a
// place in the file. Quoted and block scalars shift the text; escapes and
// folded lines are not tracked (the place is then approximate).
func (d *doc) exprPos(n *yaml.Node, line, col int) pos {
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the indicator, less the block's
		// indentation (that of its first line).
		l := n.Line + 1 + line
		indent := 0
		if n.Line < len(d.lines) {
			s := d.lines[n.Line]
			indent = len(s) - len(strings.TrimLeft(s, " "))
		}
		return pos{d.file, l, indent + col + 1}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 0 {
			return pos{d.file, n.Line, n.Column + 1 + col}
		}
	default:
		if line == 0 {
			return pos{d.file, n.Line, n.Column + col}
		}
	}
	return pos{d.file, n.Line + line, col + 1}
}
