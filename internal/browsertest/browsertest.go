// Package browsertest finds the browser that the project's page tests drive
// and the folder where they keep screenshots.
package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Chromium returns the path of Debian's chromium. Without one the test is
// skipped, unless HEDUI_REQUIRE_BROWSER=1 (CI) makes that a failure: a
// browser test that skips there would pass without testing anything.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HEDUI_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is not installed and HEDUI_REQUIRE_BROWSER=1 (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed; set HEDUI_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// Artifacts returns the folder for screenshots: $HEDUI_ARTIFACTS/sub, or a
// temporary folder when the variable is unset.
func Artifacts(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("HEDUI_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
