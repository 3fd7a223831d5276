package account_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/testenv"
)

var verifyOrReset = regexp.MustCompile(`https://app\.example\.com/(?:verify|reset)/(\S+)`)

// TestSecurityEventsAudited walks one user through the security-relevant
// flows over HTTP, in order; after each step the audit trail must hold
// the step's events (and the failed sign-in of an unknown account must name
// no identifier). At the end, no event holds any secret the flows handled.
func TestSecurityEventsAudited(t *testing.T) {
	const origin = "http://" + apitest.PlatformHost
	env := apitest.New(t, with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION":         "optional",
		"ACCOUNT_RATE_LIMITS":                false,
		"MFA_SUPPORTED_TYPES":                []string{"totp", "recovery_codes", "webauthn"},
		"MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true,
		"HALLPASS_WEBAUTHN_RP_ID":            apitest.PlatformHost,
		"HALLPASS_WEBAUTHN_ORIGINS":          []string{origin},
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/verify/{key}",
			"account_reset_password_from_key": "https://app.example.com/reset/{key}",
		},
	}))
	ctx := context.Background()
	const first, second = "ivy@example.com", "ivy.new@example.com"
	pw1, pw2, pw3 := "ivy horse battery one", "ivy horse battery two", "ivy horse battery three"
	secrets := []string{pw1, pw2, pw3, "wrong horse battery", "mistyped as identifier"}
	fe := env.Client("app")
	keep := func(r *apitest.Response) *apitest.Response {
		if tok, ok := r.Path("meta.session_token").(string); ok {
			secrets = append(secrets, tok)
		}
		return r
	}
	mails := 0
	mailKey := func() string {
		mails++
		key := verifyOrReset.FindStringSubmatch(env.WaitMail(t, mails).Text)[1]
		secrets = append(secrets, key)
		return key
	}
	var webauthnID float64
	auth := webauthntest.New(origin, apitest.PlatformHost)

	type want struct {
		action, target string
		details        map[string]any // a subset of the event's details
	}
	steps := []struct {
		name string
		run  func()
		want []want
	}{
		{"signup", func() {
			keep(fe.Do("POST", "auth/signup", `{"email":"`+first+`","password":"`+pw1+`"}`).Status(200))
			mailKey() // the verification of the first address, not used
		}, []want{{"user.login", first, map[string]any{"method": "signup", "signup": true, "client": "app"}}}},
		{"sign-in failure", func() {
			env.Client("app").Do("POST", "auth/login", `{"email":"`+first+`","password":"wrong horse battery"}`).Status(400)
		}, []want{{"user.login.failed", first, map[string]any{"reason": "email_password_mismatch", "method": "email"}}}},
		{"sign-in failure, unknown account", func() {
			env.Client("app").Do("POST", "auth/login", `{"email":"nobody@example.com","password":"mistyped as identifier"}`).Status(400)
		}, []want{{"user.login.failed", "", map[string]any{"reason": "unknown_account"}}}},
		{"sign-in", func() {
			fe = env.Client("browser")
			keep(fe.Do("POST", "auth/login", `{"email":"`+first+`","password":"`+pw1+`"}`).Status(200))
		}, []want{{"user.login", first, map[string]any{"method": "password", "signup": false, "client": "browser"}}}},
		{"email added", func() {
			fe.Do("POST", "account/email", `{"email":"`+second+`"}`).Status(200)
		}, []want{{"user.email.add", second, map[string]any{"primary": false}}}},
		{"email verified", func() {
			key := mailKey()
			fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
		}, []want{{"user.email.verify", second, map[string]any{"by_code": false}}}},
		{"primary address changed", func() {
			fe.Do("PATCH", "account/email", `{"email":"`+second+`","primary":true}`).Status(200)
		}, []want{{"user.email.primary", second, map[string]any{"previous": first}}}},
		{"email removed", func() {
			fe.Do("DELETE", "account/email", `{"email":"`+first+`"}`).Status(200)
		}, []want{{"user.email.remove", first, nil}}},
		{"password changed", func() {
			fe.Do("POST", "account/password/change", `{"current_password":"`+pw1+`","new_password":"`+pw2+`"}`).Status(200)
		}, []want{{"user.password.change", second, nil}}},
		{"TOTP added (and recovery codes with it)", func() {
			res := fe.Do("GET", "account/authenticators/totp", "").Status(404)
			secret := res.Path("meta.secret").(string)
			code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
			secrets = append(secrets, secret, code)
			fe.Do("POST", "account/authenticators/totp", `{"code":"`+code+`"}`).Status(200)
		}, []want{{"mfa.authenticator.add", "", map[string]any{"type": "totp"}}, {"mfa.authenticator.add", "", map[string]any{"type": "recovery_codes"}}}},
		{"recovery codes regenerated", func() {
			res := fe.Do("POST", "account/authenticators/recovery-codes", "").Status(200)
			for _, c := range res.Path("data.unused_codes").([]any) {
				secrets = append(secrets, c.(string))
			}
		}, []want{{"mfa.recovery_codes.regenerate", "", map[string]any{"type": "recovery_codes"}}}},
		{"wrong second factor", func() {
			fe.Do("POST", "auth/2fa/reauthenticate", `{"code":"000000"}`).Status(400)
		}, []want{{"user.mfa.failed", "", map[string]any{"kind": "code", "purpose": "reauthentication", "client": "browser"}}}},
		{"WebAuthn key added", func() {
			res := fe.Do("GET", "account/authenticators/webauthn", "").Status(200)
			opts, _ := json.Marshal(res.Path("data.creation_options"))
			cred, err := auth.Create(opts, true, false)
			if err != nil {
				t.Fatal(err)
			}
			res = fe.Do("POST", "account/authenticators/webauthn", `{"name":"Key","credential":`+string(cred)+`}`).Status(200)
			webauthnID = res.Path("data.id").(float64)
		}, []want{{"mfa.authenticator.add", "", map[string]any{"type": "webauthn"}}}},
		{"WebAuthn key removed", func() {
			fe.Do("DELETE", "account/authenticators/webauthn", fmt.Sprintf(`{"authenticators":[%d]}`, int64(webauthnID))).Status(200)
		}, []want{{"mfa.authenticator.remove", "", map[string]any{"type": "webauthn"}}}},
		{"TOTP removed (and the recovery codes, now alone)", func() {
			fe.Do("DELETE", "account/authenticators/totp", "").Status(200)
		}, []want{{"mfa.authenticator.remove", "", map[string]any{"type": "totp"}}, {"mfa.authenticator.remove", "", map[string]any{"type": "recovery_codes"}}}},
		{"logout", func() {
			fe.Do("DELETE", "auth/session", "").Status(401)
		}, []want{{"user.logout", "", map[string]any{"client": "browser"}}}},
		{"password reset", func() {
			anon := env.Client("app")
			anon.Do("POST", "auth/password/request", `{"email":"`+second+`"}`).Status(200)
			key := mailKey()
			anon.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"`+pw3+`"}`).Status(401)
		}, []want{{"user.password.reset", second, map[string]any{"by_code": false}}}},
		{"signing key rotated", func() {
			if _, err := env.Keys.Rotate(ctx, env.Tenant, "", 0, "cli"); err != nil {
				t.Fatal(err)
			}
		}, []want{{"signing_key.rotate", "", nil}}},
	}

	seen := map[int64]bool{}
	var all []audit.Event
	for _, step := range steps {
		step.run()
		events, err := audit.List(ctx, testenv.Pool(t), env.Tenant.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var fresh []audit.Event
		for _, e := range events {
			if !seen[e.ID] {
				seen[e.ID] = true
				fresh = append(fresh, e)
				all = append(all, e)
			}
		}
		for _, w := range step.want {
			if !hasEvent(fresh, w.action, w.target, w.details) {
				t.Errorf("%s: no %s event (target %q, details ⊇ %v) among %s", step.name, w.action, w.target, w.details, describe(fresh))
			}
		}
	}

	// Who, from where: user events name the user as actor, with the address.
	for _, e := range all {
		if strings.HasPrefix(e.Action, "user.") && e.Actor != "anonymous" {
			if !strings.HasPrefix(e.Actor, "user:") || e.Details["user_id"] == nil || e.IP == "" {
				t.Errorf("%s: actor %q, ip %q, details %v", e.Action, e.Actor, e.IP, e.Details)
			}
		}
		if e.Action == "user.login.failed" && e.Actor == "anonymous" && (e.Target != "" || strings.Contains(fmt.Sprint(e.Details), "nobody@")) {
			t.Errorf("a failed sign-in of an unknown account records what was typed: %+v", e)
		}
	}
	raw, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("the audit trail holds a secret: %q", s)
		}
	}
}

func hasEvent(events []audit.Event, action, target string, details map[string]any) bool {
	for _, e := range events {
		if e.Action != action || (target != "" && e.Target != target) {
			continue
		}
		ok := true
		for k, v := range details {
			if fmt.Sprint(e.Details[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func describe(events []audit.Event) string {
	var parts []string
	for _, e := range events {
		parts = append(parts, fmt.Sprintf("%s(%s %q %v)", e.Action, e.Actor, e.Target, e.Details))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// A wrong emailed login code is a failed sign-in in the trail: for the
// user it was sent to, anonymously for an unknown address (both recorded,
// so both cost the same); the code itself is never kept.
func TestLoginCodeFailuresAudited(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true, "ACCOUNT_RATE_LIMITS": false,
		"ACCOUNT_EMAIL_VERIFICATION": "none"}))
	env.Client("app").Do("POST", "auth/signup", `{"email":"kai@example.com","password":"kai horse battery"}`).Status(200)
	count := func(where string, args ...any) int {
		t.Helper()
		var n int
		q := `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'user.login.failed' AND details->>'method' = 'code' AND ` + where
		if err := env.Accounts.Store.Pool().QueryRow(context.Background(), q, append([]any{env.Tenant.ID}, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	known := env.Client("app")
	known.Do("POST", "auth/code/request", `{"email":"kai@example.com"}`).Status(401)
	known.Do("POST", "auth/code/confirm", `{"code":"WRONG-CODE"}`).Status(400).Error("code", "incorrect_code")
	unknown := env.Client("app")
	unknown.Do("POST", "auth/code/request", `{"email":"nobody@example.com"}`).Status(401)
	unknown.Do("POST", "auth/code/confirm", `{"code":"WRONG-CODE"}`).Status(400).Error("code", "incorrect_code")
	if n := count(`actor LIKE 'user:%' AND target = $2`, "kai@example.com"); n != 1 {
		t.Errorf("%d failed-code events for the user, want 1", n)
	}
	if n := count(`actor = 'anonymous'`); n != 1 {
		t.Errorf("%d anonymous failed-code events, want 1", n)
	}
	if n := count(`details::text LIKE '%WRONG-CODE%'`); n != 0 {
		t.Error("the code reached the trail")
	}
}
