package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/testenv"
)

// `hallpass import django` refuses a bad command line (exit 2), an unknown
// tenant and a source that is not a Django database (exit 1, saying why),
// and writes nothing; the progress goes to stderr, never stdout.
func TestImportDjangoCommand(t *testing.T) {
	slug := testenv.Slug("cli-import")
	if code, _, errOut := hallpass(t, `{}`, nil, "tenant", "create", slug, "--settings", "-"); code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import"}, 2, "import: want django"},
		{[]string{"import", "auth0"}, 2, `unknown source "auth0"`},
		{[]string{"import", "django", "--tenant", slug}, 2, "--source DSN are required"},
		{[]string{"import", "django", "--tenant", slug, "--source", "x", "--batch", "0"}, 2, "--batch must be 1 to 100000"},
		{[]string{"import", "django", "--tenant", "no-such-tenant", "--source", testenv.DatabaseURL(t)}, 1, `tenant "no-such-tenant" not found`},
		{[]string{"import", "django", "--tenant", slug, "--source", testenv.DatabaseURL(t)}, 1, "not a Django project's database"},
		{[]string{"import", "django", "--tenant", slug, "--source", testenv.DatabaseURL(t), "--user-table", "auth-user"}, 1, "not a plain table name"},
	} {
		code, out, errOut := hallpass(t, "", nil, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

// `hallpass tenant create --from-django-settings` keeps allauth's settings
// of a settings.py dump, names what it drops (other apps' settings,
// adapters, Python objects), and the tenant's parser refuses the rest by
// name.
func TestTenantFromDjangoSettings(t *testing.T) {
	dump := `{"ACCOUNT_LOGIN_METHODS": ["email"], "ACCOUNT_EMAIL_VERIFICATION": "optional",
		"ACCOUNT_ADAPTER": "myproject.adapters.Adapter", "MFA_SUPPORTED_TYPES": ["totp", "recovery_codes"],
		"SOCIALACCOUNT_FORMS": {"signup": "x.Form"}, "DEBUG": false, "SECRET_KEY": "s3cret",
		"HEADLESS_FRONTEND_URLS": {"account_confirm_email": "https://app.example/verify/{key}"},
		"ACCOUNT_RATE_LIMITS_FN": "<function f at 0x7f>"}`
	slug := testenv.Slug("cli-django")
	code, out, errOut := hallpass(t, dump, nil, "tenant", "create", slug, "--from-django-settings", "-")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	for _, k := range []string{"ACCOUNT_ADAPTER", "ACCOUNT_RATE_LIMITS_FN", "DEBUG", "SECRET_KEY", "SOCIALACCOUNT_FORMS"} {
		if !strings.Contains(errOut, k) {
			t.Errorf("stderr does not name %s: %s", k, errOut)
		}
	}
	var created struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if created.Settings["ACCOUNT_EMAIL_VERIFICATION"] != "optional" || created.Settings["ACCOUNT_ADAPTER"] != nil || strings.Contains(out, "s3cret") {
		t.Fatalf("settings: %s", out)
	}
	code, _, errOut = hallpass(t, `{"ACCOUNT_NOT_A_SETTING": 1}`, nil, "tenant", "create", testenv.Slug("cli-django"), "--from-django-settings", "-")
	if code != 1 || !strings.Contains(errOut, "ACCOUNT_NOT_A_SETTING") {
		t.Fatalf("unknown key: exit %d, %s", code, errOut)
	}
	if code, _, errOut := hallpass(t, `[]`, nil, "tenant", "create", testenv.Slug("cli-django"), "--from-django-settings", "-"); code != 1 || !strings.Contains(errOut, "one JSON object") {
		t.Fatalf("not an object: exit %d, %s", code, errOut)
	}
}
