package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fiberBody matches a call of Fiber's Ctx.Body, which inflates a body sent
// with Content-Encoding without any bound (a decompression bomb): request
// bodies are read with api.RawBody, as they arrived.
var fiberBody = regexp.MustCompile(`\bc\.Body\(\)`)

func TestNoInflatedBodies(t *testing.T) {
	for _, dir := range []string{"api", "console", "web", "internal", "tenants"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(src), "\n") {
				if fiberBody.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
					t.Errorf("%s:%d calls c.Body(), which inflates compressed bodies without bound: use api.RawBody", path, i+1)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
