package apitest

import (
	"errors"
	"net/http"
	"testing"
)

// Bodies below are written by hand from allauth's spec, not taken from the
// server, to prove the validator accepts what the spec (as corrected by §8)
// allows and rejects the rest.
func TestValidateResponse(t *testing.T) {
	const (
		config      = "/_allauth/browser/v1/config"
		login       = "/t/acme/_allauth/app/v1/auth/login"
		session     = "/t/acme/_allauth/app/v1/auth/session"
		user        = `{"id":1,"display":"wizard","email":"a@example.com","has_usable_password":true}`
		authed      = `{"status":200,"data":{"user":` + user + `,"methods":[{"method":"password","at":1711555057.06,"email":"a@example.com"}]},"meta":{"is_authenticated":true}}`
		account     = `"is_open_for_signup":true,"email_verification_by_code_enabled":false,"login_by_code_enabled":false,"password_reset_by_code_enabled":false`
		withMethods = `{"status":200,"data":{"account":{"login_methods":["email"],"authentication_method":"email",` + account + `}}}`
	)
	unauth := func(flows string) string {
		return `{"status":401,"data":{"flows":` + flows + `},"meta":{"is_authenticated":false}}`
	}
	cases := []struct {
		name         string
		method, path string
		status       int
		body         string
		ok           bool
		notInSpec    bool
	}{
		// Configuration.
		{"config", "GET", config, 200, withMethods, true, false},
		{"config under a tenant prefix with a query", "GET", "/t/acme/_allauth/app/v1/config?x=1", 200, withMethods, true, false},
		{"config missing a required account field", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["email"],"email_verification_by_code_enabled":false,"login_by_code_enabled":false}}}`, false, false},
		{"config with an unknown login method", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["nonsense"],` + account + `}}}`, false, false},
		{"config without account", "GET", config, 200, `{"status":200,"data":{}}`, false, false},
		// The spec does not list login_methods as required; requiring it
		// would go beyond spec + §8.
		{"config missing login_methods (not required by the spec)", "GET", config, 200,
			`{"status":200,"data":{"account":{` + account + `}}}`, true, false},
		{"§8 config with mfa.passkey_login_enabled", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["email"],` + account + `},"mfa":{"supported_types":["totp","recovery_codes","webauthn"],"passkey_login_enabled":true}}}`, true, false},
		{"config with a non-boolean passkey_login_enabled", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["email"],` + account + `},"mfa":{"supported_types":["totp"],"passkey_login_enabled":"yes"}}}`, false, false},
		{"§8 config for phone-only login: phone method, no authentication_method", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["phone"],` + account + `}}}`, true, false},
		{"config with an unknown authentication_method", "GET", config, 200,
			`{"status":200,"data":{"account":{"login_methods":["email"],"authentication_method":"phone",` + account + `}}}`, false, false},

		// Flows.
		{"§8 401 with a pending mfa_trust", "POST", login, 401,
			unauth(`[{"id":"login"},{"id":"mfa_trust","is_pending":true}]`), true, false},
		{"401 with an unknown flow id", "POST", login, 401,
			unauth(`[{"id":"login"},{"id":"nonsense","is_pending":true}]`), false, false},
		{"§8 401 with every flow id the code emits", "GET", session, 401,
			unauth(`[{"id":"login"},{"id":"login_by_code"},{"id":"signup"},{"id":"provider_token","providers":["google"]},{"id":"mfa_login_webauthn"},{"id":"mfa_signup_webauthn","is_pending":true},{"id":"verify_phone","is_pending":true},{"id":"mfa_authenticate","is_pending":true,"types":["totp","recovery_codes"]}]`), true, false},
		{"§8 password_reset_by_code not pending", "GET", session, 401,
			unauth(`[{"id":"login"},{"id":"password_reset_by_code","is_pending":false}]`), true, false},
		{"another flow with is_pending false", "GET", session, 401,
			unauth(`[{"id":"login","is_pending":false}]`), false, false},
		{"401 without flows", "GET", session, 401, `{"status":401,"data":{},"meta":{"is_authenticated":false}}`, false, false},
		{"401 with is_authenticated null (only a 410 has that)", "GET", session, 401,
			`{"status":401,"data":{"flows":[{"id":"login"}]},"meta":{"is_authenticated":null}}`, false, false},

		// Errors and statuses.
		{"400 error envelope", "POST", login, 400,
			`{"status":400,"errors":[{"message":"m","code":"invalid","param":"email"}]}`, true, false},
		{"400 error without a code", "POST", login, 400, `{"status":400,"errors":[{"message":"m"}]}`, false, false},
		{"§8 410 with is_authenticated null", "GET", session, 410,
			`{"status":410,"data":{"flows":[{"id":"login"}]},"meta":{"is_authenticated":null}}`, true, false},
		{"410 with is_authenticated a string", "GET", session, 410,
			`{"status":410,"data":{"flows":[{"id":"login"}]},"meta":{"is_authenticated":"no"}}`, false, false},
		{"status the operation does not document", "GET", config, 500, `{"status":500}`, false, false},
		{"envelope status differs from the documented one", "POST", login, 409, `{"status":400}`, false, false},

		// Authenticated responses.
		{"200 auth response", "GET", session, 200, authed, true, false},
		{"§8 refresh_token in auth meta", "POST", login, 200,
			`{"status":200,"data":{"user":` + user + `,"methods":[{"method":"password","at":1.5,"email":"a@example.com"}]},"meta":{"is_authenticated":true,"session_token":"s","access_token":"a","refresh_token":"r"}}`, true, false},
		{"refresh_token not a string", "POST", login, 200,
			`{"status":200,"data":{"user":` + user + `,"methods":[]},"meta":{"is_authenticated":true,"refresh_token":7}}`, false, false},
		{"§8 200 for account/password/change", "POST", "/t/acme/_allauth/browser/v1/account/password/change", 200, authed, true, false},
		{"§8 200 for POST webauthn/signup", "POST", "/_allauth/app/v1/auth/webauthn/signup", 200, authed, true, false},
		{"auth/code/request stays without a 200", "POST", "/_allauth/app/v1/auth/code/request", 200, authed, false, false},

		// MFA and tokens.
		{"§8 200 for POST recovery-codes", "POST", "/_allauth/app/v1/account/authenticators/recovery-codes", 200,
			`{"status":200,"data":{"type":"recovery_codes","created_at":1.5,"last_used_at":null,"total_code_count":10,"unused_code_count":10,"unused_codes":["a","b"]}}`, true, false},
		{"POST recovery-codes 200 without the codes", "POST", "/_allauth/app/v1/account/authenticators/recovery-codes", 200,
			`{"status":200,"data":{"type":"recovery_codes","created_at":1.5,"last_used_at":null,"total_code_count":10,"unused_code_count":10}}`, false, false},
		{"§8 TOTP activation without meta", "POST", "/_allauth/browser/v1/account/authenticators/totp", 200,
			`{"status":200,"data":{"type":"totp","created_at":1.5,"last_used_at":null}}`, true, false},
		{"§8 bare 400 on refresh failure", "POST", "/_allauth/app/v1/tokens/refresh", 400, `{"status":400}`, true, false},
		{"refresh 200", "POST", "/_allauth/app/v1/tokens/refresh", 200, `{"status":200,"data":{"access_token":"a","refresh_token":"r"}}`, true, false},
		{"refresh 200 without access_token", "POST", "/_allauth/app/v1/tokens/refresh", 200, `{"status":200,"data":{"refresh_token":"r"}}`, false, false},
		// Spec defects §8 does not list, so left failing on purpose until it
		// does: a password reauthentication entry matches two oneOf branches
		// of AuthenticationMethod, and the socialaccount branch requires a
		// reauthenticated field the code never sends.
		// Corrected beyond §8 (see openapi.Corrections): both now validate,
		// and an unknown method still fails.
		{"corrected: password reauthentication method", "GET", session, 200,
			`{"status":200,"data":{"user":` + user + `,"methods":[{"method":"password","at":1.5,"reauthenticated":true}]},"meta":{"is_authenticated":true}}`, true, false},
		{"corrected: socialaccount method", "GET", session, 200,
			`{"status":200,"data":{"user":` + user + `,"methods":[{"method":"socialaccount","at":1.5,"provider":"google","uid":"123"}]},"meta":{"is_authenticated":true}}`, true, false},
		{"unknown authentication method", "GET", session, 200,
			`{"status":200,"data":{"user":` + user + `,"methods":[{"method":"telepathy","at":1.5}]},"meta":{"is_authenticated":true}}`, false, false},
		{"§8 provider/redirect for app", "POST", "/_allauth/app/v1/auth/provider/redirect", 302, ``, true, false},

		// Outside the spec.
		{"healthz", "GET", "/healthz", 200, `{"status":"ok"}`, false, true},
		{"jwks", "GET", "/t/acme/.well-known/jwks.json", 200, `{"keys":[]}`, false, true},
		{"unknown client", "GET", "/_allauth/desktop/v1/config", 404, `{"status":404}`, false, true},
		{"undocumented method", "PUT", config, 405, ``, false, true},
		{"browser-only trust on app", "POST", "/_allauth/app/v1/auth/2fa/trust", 404, `{"status":404}`, false, true},
		{"unknown tenant", "GET", "/t/nope/_allauth/app/v1/config", 404,
			`{"status":404,"errors":[{"message":"Unknown tenant.","code":"unknown_tenant"}]}`, false, true},
		{"route absent under the tenant's settings", "POST", "/t/acme/_allauth/app/v1/auth/code/request", 404, `{"status":404}`, false, true},
	}
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateResponse(c.method, c.path, c.status, jsonHeader, []byte(c.body))
			switch {
			case c.notInSpec:
				if !errors.Is(err, ErrNotInSpec) {
					t.Fatalf("want ErrNotInSpec, got %v", err)
				}
			case c.ok && err != nil:
				t.Fatalf("want valid, got %v", err)
			case !c.ok && err == nil:
				t.Fatal("want a validation error, got none")
			case !c.ok && errors.Is(err, ErrNotInSpec):
				t.Fatalf("want a validation error, got %v", err)
			}
		})
	}
}

func TestValidateResponseNeedsJSON(t *testing.T) {
	err := ValidateResponse("GET", "/_allauth/app/v1/config", 200, http.Header{"Content-Type": {"text/html"}}, []byte(`<html>`))
	if err == nil || errors.Is(err, ErrNotInSpec) {
		t.Fatalf("want a content type error, got %v", err)
	}
}
