package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// Kinds are the source kinds the five rules read: what the DuckDB side scans.
var Kinds = []sources.Kind{sources.KindVehicle, sources.KindRealEstate, sources.KindPayroll, sources.KindFund,
	sources.KindPension, sources.KindMedical, sources.KindBusiness}

// File names of the same-job inputs, written beside the derived manifest.
const (
	SameJobManifest = "bench-same.yaml"
	SameJobRules    = "bench-same-rules.yaml"
)

// SameJob writes, beside the derived manifest at path (see Prepare), the
// inputs of hedui doing exactly DuckDB's job: a manifest with the roster
// and the entries of Kinds only, and a rule set that extends the default
// one and disables every rule but Rules. It returns the two paths.
//
// The product job (every source, every rule, reports) is what an agency
// runs; the same job isolates the engines' cost on equal work.
func SameJob(path string) (manifest, ruleSet string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	kept, err := keepKinds(data, Kinds)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	manifest, ruleSet = filepath.Join(dir, SameJobManifest), filepath.Join(dir, SameJobRules)
	if err := os.WriteFile(manifest, kept, 0o644); err != nil {
		return "", "", err
	}
	rs, err := sameJobRules()
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(ruleSet, rs, 0o644); err != nil {
		return "", "", err
	}
	m, err := sources.LoadManifest(manifest)
	if err != nil {
		return "", "", fmt.Errorf("same-job manifest: %w", err)
	}
	for _, e := range m.Sources {
		if !slices.Contains(Kinds, e.Kind) {
			return "", "", fmt.Errorf("same-job manifest %s still names kind %s", manifest, e.Kind)
		}
	}
	return manifest, ruleSet, nil
}

// keepKinds drops the manifest's source entries whose kind is not in kinds.
func keepKinds(data []byte, kinds []sources.Kind) ([]byte, error) {
	doc, root, err := parseManifestYAML(data)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "sources" {
			continue
		}
		list := root.Content[i+1]
		list.Content = slices.DeleteFunc(list.Content, func(e *yaml.Node) bool {
			return !slices.Contains(kinds, sources.Kind(entryKind(e)))
		})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	header := "# Derived by bench/benchkit: the benchmark manifest with only the sources the\n" +
		"# five compared rules read (DuckDB's job). Do not edit.\n"
	return append([]byte(header), out...), nil
}

func entryKind(e *yaml.Node) string {
	for i := 0; e.Kind == yaml.MappingNode && i+1 < len(e.Content); i += 2 {
		if e.Content[i].Value == "kind" {
			return e.Content[i+1].Value
		}
	}
	return ""
}

// sameJobRules renders a rule set that keeps only Rules of the default set.
func sameJobRules() ([]byte, error) {
	set, err := rules.Default()
	if err != nil {
		return nil, err
	}
	var off []string
	for _, r := range set.Rules() {
		if !slices.Contains(Rules, r.ID) {
			off = append(off, r.ID)
		}
	}
	var b bytes.Buffer
	b.WriteString("# Derived by bench/benchkit: the default rule set with only the five rules DuckDB's SQL expresses.\n")
	b.WriteString("name: bench same job\nextends: default\ndisable: [" + strings.Join(off, ", ") + "]\n")
	return b.Bytes(), nil
}
