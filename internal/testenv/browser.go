package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Chromium is the path of Debian's chromium for the browser tests; its
// absence fails the test (make test installs it).
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium not found (/usr/bin/chromium or on PATH): the end-to-end browser tests need Debian's chromium; " +
		"run `bash scripts/chromium.sh` (make test does) or `apt-get install chromium`")
	return ""
}

// Artifacts is the directory a test keeps its screenshots in, created:
// sub under $HALLPASS_ARTIFACTS, or under .data/artifacts at the module
// root.
func Artifacts(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("HALLPASS_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("go.mod not found above the test directory")
			}
			root = parent
		}
		dir = filepath.Join(root, ".data", "artifacts")
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
