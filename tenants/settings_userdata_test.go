package tenants_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// The expression settings are compiled when parsed: every save path
// (console, CLI, management API) refuses a bad one naming the setting, the
// key and the position.
func TestUserDataSettingsCheckedWhenParsed(t *testing.T) {
	fields := `"HALLPASS_USER_FIELDS": [{"name": "first_name", "type": "string"}]`
	cases := []struct{ name, doc, key, want string }{
		{"syntax", `{"HALLPASS_USER_SERIALIZER": {"full_name": "user.email +"}}`, "HALLPASS_USER_SERIALIZER", `"full_name": line 1, column 13`},
		{"unknown variable", `{"HALLPASS_JWT_CLAIMS": {"role": "usr.email"}}`, "HALLPASS_JWT_CLAIMS", `"role": line 1, column 1: undeclared reference to 'usr'`},
		{"undeclared field", `{` + fields + `, "HALLPASS_USER_SERIALIZER": {"n": "user.profile.last_name"}}`, "HALLPASS_USER_SERIALIZER", `"n": line 1, column 13: user.profile.last_name: no such field`},
		{"reserved claim", `{"HALLPASS_JWT_CLAIMS": {"sub": "user.email"}}`, "HALLPASS_JWT_CLAIMS", `"sub": reserved`},
		{"reserved user key", `{"HALLPASS_USER_SERIALIZER": {"display": "user.email"}}`, "HALLPASS_USER_SERIALIZER", `"display": reserved`},
		{"not a string", `{"HALLPASS_USER_SERIALIZER": {"n": 1}}`, "HALLPASS_USER_SERIALIZER", `"n": must be a string`},
		{"nested loops", `{"HALLPASS_JWT_CLAIMS": {"x": "user.public_metadata.a.all(i, user.public_metadata.a.all(j, i == j))"}}`, "HALLPASS_JWT_CLAIMS", "too costly"},
		{"bad field", `{"HALLPASS_USER_FIELDS": [{"name": "email", "type": "string"}]}`, "HALLPASS_USER_FIELDS", "reserved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tenants.ParseSettings([]byte(c.doc))
			var se *tenants.SettingsError
			if !errors.As(err, &se) || se.Key != c.key || !strings.Contains(se.Reason, c.want) {
				t.Fatalf("err = %v, want %s: …%s…", err, c.key, c.want)
			}
		})
	}
	s, err := tenants.ParseSettings([]byte(`{` + fields + `, "HALLPASS_USER_SERIALIZER": {"full_name": "user.profile.?first_name.orValue('')"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.UserSerializer.Empty() || !s.JWTClaims.Empty() || len(s.UserFields) != 1 {
		t.Fatalf("parsed: %+v", s)
	}
	// HEADLESS_ADAPTER points at the hosted equivalent.
	_, err = tenants.ParseSettings([]byte(`{"HEADLESS_ADAPTER": "myapp.adapter.CustomHeadlessAdapter"}`))
	if err == nil || !strings.Contains(err.Error(), "HALLPASS_USER_SERIALIZER") {
		t.Errorf("HEADLESS_ADAPTER: %v", err)
	}
}
