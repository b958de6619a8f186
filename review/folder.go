package review

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFolder writes the folder out all or nothing: fill writes into a
// hidden sibling that is renamed into place only when fill succeeds, so an
// interrupted or failed command leaves nothing that looks complete. An
// existing out is replaced only when it holds marker (a file that the same
// command writes, e.g. summary.json), so a mistyped --out never destroys
// someone's other files; what names the folder's kind in that error.
func WriteFolder(out, marker, what string, fill func(dir string) error) error {
	if err := checkOut(out, marker, what); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return fmt.Errorf("create the %s folder: %w", what, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := fill(tmp); err != nil {
		return err
	}
	// MkdirTemp makes the folder private; finished outputs are as readable as any file.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return replaceDir(tmp, out)
}

// checkOut refuses to overwrite a folder that is not one of what (no marker).
func checkOut(out, marker, what string) error {
	if out == "" {
		return fmt.Errorf("no output folder given (--out)")
	}
	entries, err := os.ReadDir(out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder %s: %w", out, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, marker)); err != nil {
		return fmt.Errorf("output folder %s exists and is not a hedui %s (no %s); choose another --out", out, what, marker)
	}
	return nil
}

// replaceDir moves tmp to out, replacing an earlier folder.
func replaceDir(tmp, out string) error {
	if _, err := os.Stat(out); err == nil {
		old := tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("replace %s: %w", out, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("move the output into %s: %w", out, err)
	}
	return nil
}
