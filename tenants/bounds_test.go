package tenants_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// Issue #16 item 6: every tenant-set lifetime, timeout and count that ends
// up as a Redis TTL or as the size of stored state has a ceiling, refused
// with the key named; allauth's defaults stay valid (TestDefaultsAreAllauths).
func TestSettingsBounds(t *testing.T) {
	tests := []struct {
		key string
		v   any
	}{
		{"ACCOUNT_LOGIN_TIMEOUT", 2_000_000_000},
		{"ACCOUNT_LOGIN_TIMEOUT", 3601},
		{"ACCOUNT_LOGIN_BY_CODE_TIMEOUT", 86400},
		{"ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT", 86400},
		{"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT", 86400},
		{"ACCOUNT_PHONE_VERIFICATION_TIMEOUT", 86400},
		{"ACCOUNT_REAUTHENTICATION_TIMEOUT", 2_000_000_000},
		{"ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS", 100000},
		{"EMAIL_CONFIRMATION_DAYS", 100000},
		{"ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS", 1000},
		{"ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS", 1000},
		{"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS", 1000},
		{"ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS", 1000},
		{"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND", 1000},
		{"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND", 1000},
		{"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE", 1000},
		{"ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND", 1000},
		{"ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE", 1000},
		{"ACCOUNT_MAX_EMAIL_ADDRESSES", 1_000_000},
		{"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN", 2_000_000_000},
		{"HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN", 2_000_000_000},
		{"HALLPASS_SESSION_COOKIE_AGE", 2_000_000_000},
		{"ACCOUNT_SESSION_COOKIE_AGE", 2_000_000_000},
		{"MFA_TRUST_COOKIE_AGE", 2_000_000_000},
		{"MFA_TOTP_PERIOD", 2_000_000_000},
		{"MFA_TOTP_TOLERANCE", 1000},
		{"MFA_RECOVERY_CODE_COUNT", 1_000_000},
		{"MFA_RECOVERY_CODE_DIGITS", 1000},
		{"SOCIALACCOUNT_REQUESTS_TIMEOUT", 3600},
		{"ACCOUNT_LOGIN_ATTEMPTS_LIMIT", 1_000_000},
		{"ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT", 2_000_000_000},
		{"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", 2_000_000_000},
		{"ACCOUNT_RATE_LIMITS", map[string]any{"login": "30/1000d/ip"}},
		{"ACCOUNT_RATE_LIMITS", map[string]any{"login": "100000000/m/ip"}},
		{"HALLPASS_RATE_LIMITS", map[string]any{"provider_redirect": "20/1000d/ip"}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			_, err := tenants.ParseSettings(doc{tc.key: tc.v}.json(t))
			if err == nil {
				t.Fatalf("%s = %v accepted", tc.key, tc.v)
			}
			errs := settingsErrors(t, err)
			if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Reason, "at most") {
				t.Fatalf("%s = %v: %v, want one error on the key saying \"at most\"", tc.key, tc.v, err)
			}
		})
	}
}

// The ceilings are reachable: each bound itself is accepted.
func TestSettingsBoundsInclusive(t *testing.T) {
	for key, v := range tenants.SettingBounds() {
		if _, err := tenants.ParseSettings(doc{key: v}.json(t)); err != nil {
			t.Errorf("%s = %d (the bound) refused: %v", key, v, err)
		}
	}
}

// A settings write through the store (what the console and the CLI call)
// refuses a lifetime beyond its bound, naming the key, and changes nothing.
func TestStoreRefusesUnboundedLifetime(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	slug := testenv.Slug("bounds")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	_, err := store.UpdateSettings(ctx, slug, []byte(`{"ACCOUNT_LOGIN_TIMEOUT": 2000000000}`), "test")
	if err == nil || !strings.Contains(err.Error(), "ACCOUNT_LOGIN_TIMEOUT") {
		t.Fatalf("ACCOUNT_LOGIN_TIMEOUT 2,000,000,000 s: %v", err)
	}
	tn, err := store.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Settings.LoginTimeout != 900 || tn.SettingsVersion != 1 {
		t.Fatalf("refused update changed the tenant: timeout %d, v%d", tn.Settings.LoginTimeout, tn.SettingsVersion)
	}
}

// Settings stored before the bounds existed still load (the tenant keeps
// working) with every out-of-bounds value clamped to its bound, the trust
// cookie's name, domain and path reset to safe values, and each clamp
// reported on the tenant.
func TestStoredSettingsClampedOnLoad(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	slug := testenv.Slug("clamped")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	// As written by an older version, which accepted all of it.
	if _, err := testenv.Pool(t).Exec(ctx, `UPDATE tenants SET settings = $2 WHERE slug = $1`, slug,
		`{"ACCOUNT_LOGIN_TIMEOUT": 2000000000, "MFA_TRUST_COOKIE_NAME": "hp_console", "MFA_TRUST_COOKIE_DOMAIN": ".localhost",
		  "MFA_TRUST_COOKIE_PATH": "/console/", "ACCOUNT_RATE_LIMITS": {"login": "30/1000d/ip"}}`); err != nil {
		t.Fatal(err)
	}
	tn, err := store.Get(ctx, slug)
	if err != nil {
		t.Fatalf("stored settings beyond today's bounds must still load: %v", err)
	}
	s := tn.Settings
	if s.LoginTimeout != tenants.MaxLoginTimeout {
		t.Errorf("ACCOUNT_LOGIN_TIMEOUT loaded as %d, want the bound %d", s.LoginTimeout, tenants.MaxLoginTimeout)
	}
	if s.MFATrustCookieName != "mfa_trusted" || s.MFATrustCookieDomain != "" || s.MFATrustCookiePath != "/" {
		t.Errorf("trust cookie loaded as %q domain %q path %q", s.MFATrustCookieName, s.MFATrustCookieDomain, s.MFATrustCookiePath)
	}
	if got := s.RateLimits["login"]; len(got) != 1 || got[0].Period > tenants.MaxRateLimitPeriod {
		t.Errorf("login rate limit loaded as %v", got)
	}
	var keys []string
	for _, e := range tn.SettingsClamped {
		keys = append(keys, e.Key)
	}
	if strings.Join(keys, ",") != "ACCOUNT_LOGIN_TIMEOUT,ACCOUNT_RATE_LIMITS,MFA_TRUST_COOKIE_DOMAIN,MFA_TRUST_COOKIE_NAME,MFA_TRUST_COOKIE_PATH" {
		t.Errorf("clamps reported: %v", tn.SettingsClamped)
	}
}

// Issue #16 item 7: the trust cookie can take no name the platform or the
// headless API uses, no Domain (it is host-only: a Domain would reach the
// base domain or other tenants' hosts) and no path outside the tenant's
// own base.
func TestTrustCookieSettings(t *testing.T) {
	refused := []struct {
		name string
		doc  doc
		key  string
	}{
		{"console session", doc{"MFA_TRUST_COOKIE_NAME": "hp_console"}, "MFA_TRUST_COOKIE_NAME"},
		{"console login", doc{"MFA_TRUST_COOKIE_NAME": "hp_console_login"}, "MFA_TRUST_COOKIE_NAME"},
		{"console mfa", doc{"MFA_TRUST_COOKIE_NAME": "hp_console_mfa"}, "MFA_TRUST_COOKIE_NAME"},
		{"platform prefix", doc{"MFA_TRUST_COOKIE_NAME": "HP_anything"}, "MFA_TRUST_COOKIE_NAME"},
		{"session cookie", doc{"MFA_TRUST_COOKIE_NAME": "sessionid"}, "MFA_TRUST_COOKIE_NAME"},
		{"session cookie, other case", doc{"MFA_TRUST_COOKIE_NAME": "SessionID"}, "MFA_TRUST_COOKIE_NAME"},
		{"csrf cookie", doc{"MFA_TRUST_COOKIE_NAME": "csrftoken"}, "MFA_TRUST_COOKIE_NAME"},
		{"__Host- prefix", doc{"MFA_TRUST_COOKIE_NAME": "__Host-trust"}, "MFA_TRUST_COOKIE_NAME"},
		{"__Secure- without Secure", doc{"MFA_TRUST_COOKIE_NAME": "__secure-trust"}, "MFA_TRUST_COOKIE_NAME"},
		{"base domain", doc{"MFA_TRUST_COOKIE_DOMAIN": ".localhost"}, "MFA_TRUST_COOKIE_DOMAIN"},
		{"a parent domain", doc{"MFA_TRUST_COOKIE_DOMAIN": "hallpass.example"}, "MFA_TRUST_COOKIE_DOMAIN"},
		{"console path", doc{"MFA_TRUST_COOKIE_PATH": "/console/"}, "MFA_TRUST_COOKIE_PATH"},
		{"console path, no slash", doc{"MFA_TRUST_COOKIE_PATH": "/console"}, "MFA_TRUST_COOKIE_PATH"},
		{"another tenant's prefix", doc{"MFA_TRUST_COOKIE_PATH": "/t/other/"}, "MFA_TRUST_COOKIE_PATH"},
		{"dot segments", doc{"MFA_TRUST_COOKIE_PATH": "/a/../console/"}, "MFA_TRUST_COOKIE_PATH"},
		{"empty segment", doc{"MFA_TRUST_COOKIE_PATH": "//console/"}, "MFA_TRUST_COOKIE_PATH"},
		{"session cookie domain", doc{"SESSION_COOKIE_DOMAIN": ".localhost"}, "SESSION_COOKIE_DOMAIN"},
		{"session cookie path", doc{"SESSION_COOKIE_PATH": "/console/"}, "SESSION_COOKIE_PATH"},
		{"session cookie name", doc{"SESSION_COOKIE_NAME": "hp_console"}, "SESSION_COOKIE_NAME"},
		{"csrf cookie domain", doc{"CSRF_COOKIE_DOMAIN": ".localhost"}, "CSRF_COOKIE_DOMAIN"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tenants.ParseSettings(tc.doc.json(t))
			if err == nil {
				t.Fatalf("%v accepted", tc.doc)
			}
			if errs := settingsErrors(t, err); len(errs) != 1 || errs[0].Key != tc.key {
				t.Fatalf("%v: %v, want one error on %s", tc.doc, err, tc.key)
			}
		})
	}
	for _, ok := range []doc{
		{"MFA_TRUST_COOKIE_NAME": "trusted_browser"},
		{"MFA_TRUST_COOKIE_NAME": "__Secure-trust", "MFA_TRUST_COOKIE_SECURE": true},
		{"MFA_TRUST_COOKIE_DOMAIN": nil},
		{"MFA_TRUST_COOKIE_DOMAIN": ""},
		{"MFA_TRUST_COOKIE_PATH": "/"},
		{"MFA_TRUST_COOKIE_PATH": "/_allauth/"},
		// Django's defaults of the platform's own cookies ask for nothing.
		{"SESSION_COOKIE_NAME": "sessionid", "SESSION_COOKIE_DOMAIN": nil, "CSRF_COOKIE_PATH": "/"},
	} {
		mustParse(t, ok)
	}
}

// The trust cookie as it is set: a stored platform name falls back to
// allauth's default, and the path always lies inside the tenant's base.
func TestTrustCookieAtUse(t *testing.T) {
	s := tenants.DefaultSettings()
	s.MFATrustCookieName, s.MFATrustCookiePath, s.MFATrustCookieDomain = "hp_console", "/console/", ".localhost"
	if got := s.TrustCookieName(); got != "mfa_trusted" {
		t.Errorf("name %q", got)
	}
	for _, tc := range []struct{ base, path, want string }{
		{"", "/", "/"},
		{"/t/acme", "/", "/t/acme/"},
		{"/t/acme", "/console/", "/t/acme/"},
		{"/t/acme", "/_allauth/", "/t/acme/_allauth/"},
		{"", "/_allauth/", "/_allauth/"},
		{"/t/acme", "/../other/", "/t/acme/"},
		{"/t/acme", "//evil/", "/t/acme/"},
	} {
		s.MFATrustCookiePath = tc.path
		if got := s.TrustCookiePath(tc.base); got != tc.want {
			t.Errorf("base %q path %q: %q, want %q", tc.base, tc.path, got, tc.want)
		}
	}
}
