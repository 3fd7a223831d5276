package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readsBody matches the calls that read a request's body.
var readsBody = regexp.MustCompile(`\b(ParseBody|RawBody)\(`)

// TestSlicesAreUniform: every headless slice (a folder of api/ whose
// Handlers declare Routes) has handlers.go, responses.go, and reads request
// bodies only in inputs.go (issue #17, point 3).
func TestSlicesAreUniform(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	slices := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		handlers, err := os.ReadFile(filepath.Join(d.Name(), "handlers.go"))
		if err != nil || !strings.Contains(string(handlers), "func (h *Handlers) Routes()") {
			continue
		}
		slices++
		if _, err := os.Stat(filepath.Join(d.Name(), "responses.go")); err != nil {
			t.Errorf("api/%s: a slice without responses.go", d.Name())
		}
		files, _ := filepath.Glob(filepath.Join(d.Name(), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "inputs.go" {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if readsBody.Match(src) {
				t.Errorf("%s reads a request body: parsing and validation belong in inputs.go", f)
			}
		}
	}
	if slices < 6 {
		t.Fatalf("found %d slices (account, base, mfa, social, tokens, usersessions at least)", slices)
	}
}
