package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestConfigShapes(t *testing.T) {
	providers := map[string]any{
		"google": map[string]any{"APPS": []any{map[string]any{"client_id": "g-123", "secret": "g-secret"}}},
		"github": map[string]any{"APP": map[string]any{"client_id": "gh-123", "secret": "gh-secret"}},
		"openid_connect": map[string]any{"APPS": []any{map[string]any{
			"provider_id": "corp-sso", "name": "Corp SSO", "client_id": "oidc-1", "secret": "s",
			"settings": map[string]any{"server_url": "https://sso.example.com"},
		}}},
	}
	cases := []struct {
		name     string
		settings apitest.Settings
		client   string
		want     map[string]any // dotted path → expected JSON value
		absent   []string
	}{
		{
			name: "allauth defaults", client: "app",
			want: map[string]any{
				"data.account.login_methods":                      []any{"username"},
				"data.account.is_open_for_signup":                 true,
				"data.account.email_verification_by_code_enabled": false,
				"data.account.login_by_code_enabled":              false,
				"data.account.password_reset_by_code_enabled":     false,
				"data.account.authentication_method":              "username",
				"data.socialaccount.providers":                    []any{},
				"data.mfa.supported_types":                        []any{"recovery_codes", "totp"},
				"data.mfa.passkey_login_enabled":                  false,
				"data.usersessions.track_activity":                false,
			},
			absent: []string{"meta", "errors"},
		},
		{
			name: "email and username, codes on", client: "browser",
			settings: apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":                      []string{"email", "username"},
				"ACCOUNT_SIGNUP_FIELDS":                      []string{"email*", "username*", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
				"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
				"ACCOUNT_LOGIN_BY_CODE_ENABLED":              true,
				"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED":     true,
				"USERSESSIONS_TRACK_ACTIVITY":                true,
				"HALLPASS_SIGNUP_OPEN":                       false,
			},
			want: map[string]any{
				"data.account.login_methods":                      []any{"email", "username"},
				"data.account.authentication_method":              "username_email",
				"data.account.is_open_for_signup":                 false,
				"data.account.email_verification_by_code_enabled": true,
				"data.account.login_by_code_enabled":              true,
				"data.account.password_reset_by_code_enabled":     true,
				"data.usersessions.track_activity":                true,
			},
		},
		{
			name: "email only, passkeys", client: "app",
			settings: apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":     []string{"email"},
				"ACCOUNT_SIGNUP_FIELDS":     []string{"email*", "password1*"},
				"MFA_SUPPORTED_TYPES":       []string{"totp", "webauthn"},
				"MFA_PASSKEY_LOGIN_ENABLED": true,
			},
			want: map[string]any{
				"data.account.login_methods":         []any{"email"},
				"data.account.authentication_method": "email",
				"data.mfa.supported_types":           []any{"totp", "webauthn"},
				"data.mfa.passkey_login_enabled":     true,
			},
		},
		{
			name: "providers for the browser: redirect-capable, by name", client: "browser",
			settings: apitest.Settings{"SOCIALACCOUNT_PROVIDERS": providers},
			want: map[string]any{"data.socialaccount.providers": []any{
				map[string]any{"id": "corp-sso", "name": "Corp SSO", "flows": []any{"provider_redirect", "provider_token"},
					"client_id": "oidc-1", "openid_configuration_url": "https://sso.example.com/.well-known/openid-configuration"},
				map[string]any{"id": "github", "name": "GitHub", "flows": []any{"provider_redirect"}, "client_id": "gh-123"},
				map[string]any{"id": "google", "name": "Google", "flows": []any{"provider_redirect", "provider_token"}, "client_id": "g-123"},
			}},
		},
		{
			name: "providers for the app: token-capable only", client: "app",
			settings: apitest.Settings{"SOCIALACCOUNT_PROVIDERS": providers},
			want: map[string]any{"data.socialaccount.providers": []any{
				map[string]any{"id": "corp-sso", "name": "Corp SSO", "flows": []any{"provider_redirect", "provider_token"},
					"client_id": "oidc-1", "openid_configuration_url": "https://sso.example.com/.well-known/openid-configuration"},
				map[string]any{"id": "google", "name": "Google", "flows": []any{"provider_redirect", "provider_token"}, "client_id": "g-123"},
			}},
		},
		{
			name: "apps not installed", client: "app",
			settings: apitest.Settings{"HALLPASS_APPS": []string{}},
			want:     map[string]any{"data.account.login_methods": []any{"username"}},
			absent:   []string{"data.socialaccount", "data.mfa", "data.usersessions"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := apitest.New(t, tc.settings)
			res := env.Do(tc.client, "GET", "config", "").Status(200)
			for path, want := range tc.want {
				if got := res.Path(path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			for _, path := range tc.absent {
				if got := res.Path(path); got != nil {
					t.Errorf("%s should be absent, got %#v", path, got)
				}
			}
			if strings.Contains(string(res.Body), "secret") {
				t.Errorf("config leaks a secret: %s", res.Body)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "max-age=0, no-cache, no-store, must-revalidate, private" {
				t.Errorf("Cache-Control %q", cc)
			}
			if res.Header.Get("Expires") == "" {
				t.Error("no Expires header")
			}
		})
	}
}

func TestRouting(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"HEADLESS_CLIENTS": []string{"app"}})
	slug := env.Tenant.Slug
	cases := []struct {
		name         string
		method, path string
		headers      []string
		status       int
		code         string // expected errors[0].code, if any
	}{
		{name: "prefix, enabled client", method: "GET", path: "/t/" + slug + "/_allauth/app/v1/config", status: 200},
		{name: "host, enabled client", method: "GET", path: "/_allauth/app/v1/config", headers: []string{"Host", slug + ".hallpass.test"}, status: 200},
		{name: "host with port", method: "GET", path: "/_allauth/app/v1/config", headers: []string{"Host", slug + ".hallpass.test:8443"}, status: 200},
		{name: "client not in HEADLESS_CLIENTS", method: "GET", path: "/t/" + slug + "/_allauth/browser/v1/config", status: 404},
		{name: "unknown client", method: "GET", path: "/t/" + slug + "/_allauth/desktop/v1/config", status: 404},
		{name: "unknown tenant by prefix", method: "GET", path: "/t/nope-" + slug + "/_allauth/app/v1/config", status: 404, code: "unknown_tenant"},
		{name: "invalid slug in prefix", method: "GET", path: "/t/..%2f/_allauth/app/v1/config", status: 404, code: "unknown_tenant"},
		{name: "unknown tenant by host", method: "GET", path: "/_allauth/app/v1/config", headers: []string{"Host", "nope-" + slug + ".hallpass.test"}, status: 404, code: "unknown_tenant"},
		{name: "malformed host", method: "GET", path: "/_allauth/app/v1/config", headers: []string{"Host", "bad_host!.hallpass.test"}, status: 400, code: "invalid_host"},
		{name: "unknown path under tenant", method: "GET", path: "/t/" + slug + "/nothing-here", status: 404},
		{name: "headless path on the platform host", method: "GET", path: "/_allauth/app/v1/config", status: 404},
		{name: "unknown platform path", method: "GET", path: "/nothing-here", status: 404},
		{name: "health", method: "GET", path: "/healthz", status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Raw(tc.method, tc.path, "", tc.headers...).Status(tc.status)
			if res.JSON == nil {
				t.Fatalf("body is not JSON: %q", res.Body)
			}
			if tc.code != "" {
				res.Error("", tc.code)
			}
			if res.Header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers: %v", res.Header)
			}
		})
	}
	res := env.Raw("GET", "/healthz", "", "X-Request-ID", "lb-abc-123")
	if got := res.Header.Get("X-Request-ID"); got != "lb-abc-123" {
		t.Errorf("incoming request id not kept: %q", got)
	}
	res = env.Raw("GET", "/healthz", "", "X-Request-ID", "bad id with spaces")
	if got := res.Header.Get("X-Request-ID"); got == "bad id with spaces" || got == "" {
		t.Errorf("unsafe request id echoed: %q", got)
	}
}

func TestReadiness(t *testing.T) {
	pool, rdb := testenv.Pool(t), testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer dead.Close()
	for _, tc := range []struct {
		name   string
		redis  *redis.Client
		status int
	}{
		{"all up", rdb, 200},
		{"redis down", dead, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server.New(server.Config{
				Log:      quiet,
				Resolver: tenants.NewResolver(tenants.NewCache(tenants.NewStore(pool, testenv.Sealer(t), nil), time.Minute), tenants.MustAddressing("http://hallpass.test", "hallpass.test")),
				Ready: []server.Check{
					{Name: "postgres", Ping: pool.Ping},
					{Name: "redis", Ping: func(ctx context.Context) error { return tc.redis.Ping(ctx).Err() }},
				},
			})
			srv.Finish()
			res, err := srv.Platform.Test(httptestRequest("GET", "/readyz"), 10000)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), `"postgres":"ok"`) {
				t.Fatalf("postgres check missing: %s", body)
			}
		})
	}
}

// A second server instance (own cache, own subscription) sees a settings
// change made through the first within a second.
func TestSettingsChangeReachesSecondInstance(t *testing.T) {
	a := apitest.New(t, nil)
	b := apitest.New(t, nil) // another node: its own cache and bus
	path := "/t/" + a.Tenant.Slug + "/_allauth/app/v1/config"
	if got := b.Raw("GET", path, "").Status(200).Path("data.account.login_by_code_enabled"); got != false {
		t.Fatalf("before: %v", got)
	}
	if _, err := a.Store.UpdateSettings(context.Background(), a.Tenant.Slug, []byte(`{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}`), "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if b.Raw("GET", path, "").Status(200).Path("data.account.login_by_code_enabled") == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("second instance did not see the change within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM handling: once shutdown starts, a request in flight still
// completes and new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	pool := testenv.Pool(t)
	srv := server.New(server.Config{Log: quiet, Resolver: tenants.NewResolver(tenants.NewCache(tenants.NewStore(pool, testenv.Sealer(t), nil), time.Minute), tenants.MustAddressing("http://hallpass.test", "hallpass.test"))})
	started := make(chan struct{})
	srv.Platform.Get("/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(400 * time.Millisecond)
		return c.SendString("finished")
	})
	srv.Finish()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	url := fmt.Sprintf("http://%s/slow", ln.Addr())
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = "hallpass.test" // the public URL's host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- result{body: string(b)}
	}()
	<-started
	cancel()
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	client := &http.Client{Timeout: time.Second}
	if _, err := client.Get(fmt.Sprintf("http://%s/healthz", ln.Addr())); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func httptestRequest(method, target string) *http.Request {
	req, _ := http.NewRequest(method, "http://hallpass.test"+target, nil)
	return req
}

var quiet = slog.New(slog.DiscardHandler)

// With Postgres unreachable, a tenant request is answered 503 in allauth's
// envelope (and the process keeps serving).
func TestDatabaseDownIs503(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://x:y@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	srv := server.New(server.Config{Log: quiet, Resolver: tenants.NewResolver(tenants.NewCache(tenants.NewStore(pool, testenv.Sealer(t), nil), time.Minute), tenants.MustAddressing("http://hallpass.test", "hallpass.test"))})
	srv.Finish()
	for i := 0; i < 2; i++ {
		res, err := srv.Platform.Test(httptestRequest("GET", "/t/acme/_allauth/app/v1/config"), 10000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 503 || !strings.Contains(string(body), `"status":503`) || !strings.Contains(string(body), `"code":"unavailable"`) {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	}
}
