package sources

import (
	"path/filepath"
	"strings"
	"time"
)

// Manifest is a parsed sources.yaml: what a run reads.
type Manifest struct {
	Path   string    // the manifest file as given
	Dir    string    // its folder; entry paths are relative to it
	AsOf   time.Time // as_of: the date the review is as of
	Roster *Entry    // roster: the households under review (Kind == KindRoster)
	// Sources holds the source entries in manifest order. A kind may appear
	// more than once (e.g. one entry per county export).
	Sources []*Entry
}

// Entry is one `sources:` item (or the roster).
type Entry struct {
	Kind     Kind
	Path     string    // path or glob as written, relative to Manifest.Dir
	Files    []string  // resolved files, sorted; at least one
	Snapshot time.Time // snapshot: the date the department extracted the data
	// Columns maps canonical column name → raw column name in the file.
	// Canonical columns not listed are looked up under their own name.
	Columns map[string]string
	// Formats maps canonical column → strftime date layout, e.g. "%Y%m%d".
	Formats map[string]string
	// Units maps canonical amount column → unit of the raw value: fen, yuan or wan.
	Units map[string]string
	// Values maps canonical column → raw value → canonical value.
	Values map[string]map[string]string
	// Encoding of CSV files: "utf-8" (default) or "gb18030".
	Encoding string
	// Line is the manifest line where the entry starts, for error messages.
	Line int
}

// RelPath names a file of the manifest relative to the manifest's folder, so
// that evidence and quarantine rows read the same wherever the run is started
// from; a file outside that folder keeps its path.
func (m *Manifest) RelPath(path string) string {
	if m == nil || m.Dir == "" {
		return path
	}
	rel, err := filepath.Rel(m.Dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return filepath.ToSlash(rel)
}
