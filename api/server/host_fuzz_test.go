package server_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/tenants"
)

// FuzzHostHeader (issue #16) sends arbitrary Host and X-Forwarded-Host
// values to a tenant's OpenAPI document, whose servers entry is the
// tenant's base URL as the server builds it: never a 5xx; a tenant answers
// only at the public host (by /t/{slug}/) or at its own host, and the base
// it reports is always the configured one.
//
//	go test -run '^$' -fuzz '^FuzzHostHeader$' -fuzztime 60s ./api/server/
func FuzzHostHeader(f *testing.F) {
	env := apitest.New(f, apitest.Settings{"HEADLESS_SERVE_SPECIFICATION": true})
	slug := env.Tenant.Slug
	own := slug + "." + apitest.PlatformHost
	for _, h := range []string{apitest.PlatformHost, apitest.PlatformHost + ":8000", own, strings.ToUpper(own) + ".:1",
		"10.0.0.66", "127.0.0.1:8000", "[::1]", "www." + apitest.PlatformHost, "x." + own, "evil.example",
		own + ".evil.example", "nope-" + own, "bad_host", "", "hallpass.test:0", "[::1", own + ":99999"} {
		f.Add(h, "")
		f.Add(apitest.PlatformHost, h)
	}
	pathBase := apitest.PublicURL + "/t/" + slug
	hostBase := "http://" + own
	f.Fuzz(func(t *testing.T, host, forwarded string) {
		// A Host or header value no HTTP client can send never reaches us.
		if !httpguts.ValidHostHeader(host) || !httpguts.ValidHeaderFieldValue(forwarded) {
			return
		}
		name, herr := tenants.HostName(host)
		for _, path := range []string{"/t/" + slug + "/_allauth/openapi.json", "/_allauth/openapi.json"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = host
			req.Header.Set("X-Forwarded-Host", forwarded)
			req.Header.Set("X-Forwarded-Proto", "https")
			res, err := env.Server.Platform.Test(req, 10000)
			if err != nil {
				continue // refused by the HTTP layer (no Host, unparsable): no request to answer
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Fatalf("Host %q → %d: %s", host, res.StatusCode, body)
			}
			if res.StatusCode != 200 {
				continue
			}
			var want string
			switch {
			case herr == nil && name == apitest.PlatformHost && strings.HasPrefix(path, "/t/"):
				want = pathBase
			case herr == nil && name == own && !strings.HasPrefix(path, "/t/"):
				want = hostBase
			default:
				t.Fatalf("Host %q (%q) reached the tenant at %s", host, name, path)
			}
			var doc struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != want {
				t.Fatalf("Host %q, X-Forwarded-Host %q at %s: servers %+v (%v), want %s", host, forwarded, path, doc.Servers, err, want)
			}
		}
	})
}
