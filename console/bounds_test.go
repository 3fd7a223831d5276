package console_test

import (
	"net/url"
	"testing"
)

// Issue #16 items 6 and 7 over the console: a lifetime beyond its bound
// (ACCOUNT_LOGIN_TIMEOUT 2,000,000,000 s was accepted) and a trust cookie
// reaching the console or another tenant are refused with the key named;
// nothing changes.
func TestSettingsBoundsRefusedInConsole(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("bounds")
	b := e.session(e.user("bounds", true))
	path := "/console/t/" + tn.Slug + "/settings/json"
	for doc, want := range map[string]string{
		`{"ACCOUNT_LOGIN_TIMEOUT": 2000000000}`:                 "ACCOUNT_LOGIN_TIMEOUT",
		`{"HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN": 2000000000}`: "HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN",
		`{"ACCOUNT_RATE_LIMITS": {"login": "30/1000d/ip"}}`:     "ACCOUNT_RATE_LIMITS",
		`{"MFA_TRUST_COOKIE_NAME": "hp_console"}`:               "MFA_TRUST_COOKIE_NAME",
		`{"MFA_TRUST_COOKIE_NAME": "sessionid"}`:                "MFA_TRUST_COOKIE_NAME",
		`{"MFA_TRUST_COOKIE_DOMAIN": ".localhost"}`:             "MFA_TRUST_COOKIE_DOMAIN",
		`{"MFA_TRUST_COOKIE_PATH": "/console/"}`:                "MFA_TRUST_COOKIE_PATH",
		`{"MFA_TRUST_COOKIE_PATH": "/t/other/"}`:                "MFA_TRUST_COOKIE_PATH",
	} {
		b.post(path, url.Values{"doc": {doc}, "version": {"1"}, "action": {"save"}}).status(422).
			contains(`data-testid="json-errors"`, want, "nothing was changed")
	}
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("version %d after refused documents", v)
	}
}
