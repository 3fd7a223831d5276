package accounts

import (
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// `next` goes only to the tenant's own origin (under its base) and its
// frontend URLs' origins; every open-redirect spelling is refused.
func TestSafeNext(t *testing.T) {
	s := &tenants.Settings{FrontendURLs: map[string]string{"account_signup": "https://app.example.com/signup"}}
	own := "https://auth.example.com"
	for _, tc := range []struct {
		prefix, raw string
		ok          bool
	}{
		{"", "/accounts/email/", true},
		{"", "/dashboard?tab=1#x", true},
		{"", "https://auth.example.com/anything", true},
		{"", "https://app.example.com/after-login", true},
		{"", "HTTPS://APP.EXAMPLE.COM/x", true},
		{"/t/acme", "/t/acme/accounts/email/", true},
		{"/t/acme", "/t/acme", true},
		{"/t/acme", "/t/other/accounts/email/", false},
		{"/t/acme", "/console/", false},
		{"/t/acme", "https://auth.example.com/t/other/", false},
		{"/t/acme", "https://auth.example.com/t/acme/x", true},
		{"", "", false},
		{"", "//evil.example/", false},
		{"", "///evil.example/", false},
		{"", "/\\evil.example/", false},
		{"", "\\\\evil.example", false},
		{"", "https:evil.example", false},
		{"", "https:/evil.example", false},
		{"", "https://evil.example/", false},
		{"", "http://app.example.com/", false}, // another scheme is another origin
		{"", "https://app.example.com:8443/", false},
		{"", "https://app.example.com@evil.example/", false},
		{"", "https://user:pw@app.example.com/", false},
		{"", "javascript:alert(1)", false},
		{"", "data:text/html,x", false},
		{"", "/%2F%2Fevil.example", false},
		{"", "/%2f/evil.example", false},
		{"", "/%5Cevil.example", false},
		{"", "%2F%2Fevil.example", false},
		{"", "/a/%2E%2E/%2E%2E/x", false},
		{"", " /accounts/", false},
		{"", "/accounts/\n", false},
		{"", "/\tevil", false},
		{"", "evil.example", false},
		{"", "https://app.example.com.evil.example/", false},
	} {
		got, ok := SafeNext(s, own, tc.prefix, tc.raw)
		if ok != tc.ok {
			t.Errorf("SafeNext(prefix %q, %q) = %q, %v; want %v", tc.prefix, tc.raw, got, ok, tc.ok)
		}
	}
}
