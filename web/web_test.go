package web

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestHandlerServesEmbeddedAssets(t *testing.T) {
	app := fiber.New()
	app.Get("/static/*", Handler())
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/static/hallpass.css", 200, "text/css"},
		{"/static/missing.css", 404, ""},
		{"/static/../web.go", 404, ""},
		{"/static/", 404, ""},
	} {
		res, err := app.Test(httptest.NewRequest("GET", tc.path, nil), 5000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if tc.status == 200 && (!strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), "--hp-accent")) {
			t.Errorf("%s: %s %q", tc.path, res.Header.Get("Content-Type"), body)
		}
	}
}
