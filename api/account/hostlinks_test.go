package account_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// Issue #16 item 2: the links a tenant mails (password reset, email
// verification, the signup link of an "unknown account" mail, relative
// HEADLESS_FRONTEND_URLS) and the JWT issuer come from configuration
// (HALLPASS_PUBLIC_URL, HALLPASS_BASE_DOMAIN), never from the request's Host
// or X-Forwarded-* headers; Hosts the platform does not answer on are
// refused and nothing is sent.

// hostLinksPublic is the platform's public URL in these tests: https and a
// port, so a link that kept the request's scheme or port would show.
const (
	hostLinksPublic = "https://auth.hallpass.test:8443"
	hostLinksBase   = "hallpass.test"
)

// mailURL finds the http(s) URLs in a mail's text.
var mailURL = regexp.MustCompile(`https?://[^\s"'<>]+`)

func hostLinksEnv(t *testing.T) *apitest.Env {
	return apitest.NewAt(t, with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION": "optional",
		"HEADLESS_TOKEN_STRATEGY":    "jwt",
		// Relative frontend URLs are made absolute on the tenant's origin.
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_reset_password_from_key": "/reset/{key}",
			"account_signup":                  "/signup",
		},
	}), hostLinksPublic, hostLinksBase)
}

// issuer reads an access token's iss claim (the signature is checked by
// the tokens tests).
func issuer(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Iss
}

// A request that reaches the tenant with a hostile Host or forwarded
// headers gets every link and the issuer on the tenant's configured base.
func TestMailedLinksIgnoreTheRequestHost(t *testing.T) {
	env := hostLinksEnv(t)
	slug := env.Tenant.Slug
	pathBase := hostLinksPublic + "/t/" + slug
	hostBase := "https://" + slug + "." + hostLinksBase + ":8443"
	forged := []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "X-Forwarded-Port", "6666",
		"Forwarded", "host=evil.example;proto=http"}
	cases := []struct {
		name    string
		byHost  bool // addressed by Host (path without /t/{slug})
		headers []string
		base    string // the tenant's base URL every link must be on
		origin  string // where relative frontend URLs land
	}{
		{"public host", false, nil, pathBase, hostLinksPublic},
		{"public host, other port", false, []string{"Host", "auth.hallpass.test:6666"}, pathBase, hostLinksPublic},
		{"public host, odd spelling", false, []string{"Host", "AUTH.Hallpass.Test."}, pathBase, hostLinksPublic},
		{"public host, forwarded headers", false, forged, pathBase, hostLinksPublic},
		{"tenant host", true, []string{"Host", slug + "." + hostLinksBase}, hostBase, hostBase},
		{"tenant host, other port and case", true, []string{"Host", strings.ToUpper(slug) + ".Hallpass.test:6666"}, hostBase, hostBase},
		{"tenant host, forwarded headers", true, append([]string{"Host", slug + "." + hostLinksBase}, forged...), hostBase, hostBase},
	}
	// No subtests: env's responses report failures on t.
	for i, tc := range cases {
		do := func(path, body string) *apitest.Response {
			target := "/t/" + slug + "/_allauth/app/v1/" + path
			if tc.byHost {
				target = "/_allauth/app/v1/" + path
			}
			return env.Raw("POST", target, body, tc.headers...)
		}
		sent := len(env.Mails())
		links := func(n int, to string) []string {
			t.Helper()
			msg := env.WaitMail(t, sent+n)
			if msg.To[0] != to {
				t.Fatalf("%s: mail %d to %v, want %s", tc.name, n, msg.To, to)
			}
			for _, bad := range []string{"evil", "6666", "Hallpass", "AUTH", "10.0.0.66", "www."} {
				if strings.Contains(msg.Text, bad) {
					t.Fatalf("%s: the request's headers (%s) reached the mail:\n%s", tc.name, bad, msg.Text)
				}
			}
			return mailURL.FindAllString(msg.Text, -1)
		}
		email := fmt.Sprintf("u%d@example.com", i)
		// Signup: a verification mail, and a JWT.
		res := do("auth/signup", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
		got := links(1, email)
		if len(got) == 0 || !strings.HasPrefix(got[0], tc.base+"/accounts/confirm-email/") {
			t.Fatalf("%s: verification link %q, want one on %s", tc.name, got, tc.base)
		}
		access, _ := res.Path("meta.access_token").(string)
		if iss := issuer(t, access); iss != tc.base {
			t.Fatalf("%s: iss %q, want %q", tc.name, iss, tc.base)
		}
		// Password reset: the relative frontend URL on the tenant's origin.
		do("auth/password/request", `{"email":"`+email+`"}`).Status(200)
		got = links(2, email)
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.origin+"/reset/") {
			t.Fatalf("%s: reset link %q, want one on %s", tc.name, got, tc.origin)
		}
		// An unknown address: the "unknown account" mail's signup link.
		stranger := fmt.Sprintf("stranger%d@example.com", i)
		do("auth/password/request", `{"email":"`+stranger+`"}`).Status(200)
		got = links(3, stranger)
		if len(got) != 1 || got[0] != tc.origin+"/signup" {
			t.Fatalf("%s: signup link %q, want %s", tc.name, got, tc.origin+"/signup")
		}
	}
}

// A Host the platform does not answer on reaches no tenant: the request is
// refused in allauth's envelope and nothing is mailed or issued.
func TestUnknownHostsAreRefused(t *testing.T) {
	env := hostLinksEnv(t)
	other := apitest.NewAt(t, nil, hostLinksPublic, hostLinksBase)
	slug := env.Tenant.Slug
	cases := []struct {
		host   string
		status int
		code   string
	}{
		{"10.0.0.66", 400, "invalid_host"},
		{"10.0.0.66:8443", 400, "invalid_host"},
		{"127.0.0.1", 400, "invalid_host"},
		{"[2001:db8::66]:8443", 400, "invalid_host"},
		{"[::1]", 400, "invalid_host"},
		{hostLinksBase, 400, "invalid_host"},          // the base domain itself
		{"www." + hostLinksBase, 400, "invalid_host"}, // a reserved label
		{"console." + hostLinksBase + ":8443", 400, "invalid_host"},
		{"x." + slug + "." + hostLinksBase, 400, "invalid_host"}, // nested under a tenant's host
		{"bad_host!", 400, "invalid_host"},
		{"evil.example", 404, "unknown_tenant"},
		{"nobody-" + slug + "." + hostLinksBase, 404, "unknown_tenant"},
	}
	for _, tc := range cases {
		for _, path := range []string{"auth/signup", "auth/password/request"} {
			res := env.Raw("POST", "/t/"+slug+"/_allauth/app/v1/"+path, `{"email":"victim@example.com","password":"correct horse battery"}`,
				"Host", tc.host)
			res.Status(tc.status).Error("", tc.code)
		}
		// Nor the platform's own pages.
		env.Raw("GET", "/console/", "", "Host", tc.host).Status(tc.status)
	}
	// Another tenant's host serves that tenant only: /t/{slug}/ there is no
	// way into this one.
	env.Raw("POST", "/t/"+slug+"/_allauth/app/v1/auth/password/request", `{"email":"victim@example.com"}`,
		"Host", other.Tenant.Slug+"."+hostLinksBase).Status(404)
	// Health checks answer on any host (load balancers probe by address).
	env.Raw("GET", "/healthz", "", "Host", "10.0.0.66").Status(200)
	// Mail is queued in the request's transaction: none queued, none sent.
	var queued, users int
	ids := []uuid.UUID{env.Tenant.ID, other.Tenant.ID}
	pool := testenv.Pool(t)
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE tenant_id = ANY($1)`, ids).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = ANY($1)`, ids).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if queued != 0 || users != 0 {
		t.Fatalf("through refused hosts: %d mail(s) queued, %d user(s) created", queued, users)
	}
}
