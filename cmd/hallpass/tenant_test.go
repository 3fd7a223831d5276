package main

import (
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/testenv"
)

// `hallpass tenant update|create --settings` refuses a bad expression
// setting with exit 1 and a message naming the setting, the key and (for
// an error in the source) its line and column; the settings version stays,
// and a refused create leaves no tenant.
func TestTenantSettingsRefuseBadExpressions(t *testing.T) {
	slug := testenv.Slug("cli-expr")
	if code, _, errOut := hallpass(t, `{}`, nil, "tenant", "create", slug, "--settings", "-"); code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"syntax error", `{"HALLPASS_USER_SERIALIZER":{"full_name":"user.email +"}}`,
			`HALLPASS_USER_SERIALIZER: "full_name": line 1, column 13: Syntax error`},
		{"unknown variable", `{"HALLPASS_JWT_CLAIMS":{"role":"usr.public_metadata.role"}}`,
			`HALLPASS_JWT_CLAIMS: "role": line 1, column 1: undeclared reference to 'usr'`},
		{"type error on a later line", `{"HALLPASS_USER_SERIALIZER":{"n":"user.email\n  + 1"}}`,
			`HALLPASS_USER_SERIALIZER: "n": line 2, column 3: found no matching overload`},
		{"undeclared profile field", `{"HALLPASS_USER_FIELDS":[{"name":"first_name","type":"string"}],"HALLPASS_USER_SERIALIZER":{"n":"user.profile.last_name"}}`,
			`HALLPASS_USER_SERIALIZER: "n": line 1, column 13: user.profile.last_name: no such field`},
		{"a claim named sub", `{"HALLPASS_JWT_CLAIMS":{"sub":"user.email"}}`, `HALLPASS_JWT_CLAIMS: "sub": reserved`},
		{"over budget", `{"HALLPASS_JWT_CLAIMS":{"x":"user.public_metadata.a.all(i, user.public_metadata.a.all(j, i == j))"}}`,
			`HALLPASS_JWT_CLAIMS: "x": too costly`},
		{"a serializer key id", `{"HALLPASS_USER_SERIALIZER":{"id":"user.email"}}`, `HALLPASS_USER_SERIALIZER: "id": reserved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := hallpass(t, tc.doc, nil, "tenant", "update", slug, "--settings", "-")
			if code != 1 || !strings.Contains(errOut, "invalid settings") || !strings.Contains(errOut, tc.want) || out != "" {
				t.Fatalf("update: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
			if code, out, _ := hallpass(t, "", nil, "tenant", "get", slug); code != 0 || !strings.Contains(out, `"settings_version": 1`) {
				t.Fatalf("a refused update wrote: %s", out)
			}
			bad := testenv.Slug("cli-expr-bad")
			if code, _, errOut := hallpass(t, tc.doc, nil, "tenant", "create", bad, "--settings", "-"); code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("create: exit %d, stderr %q", code, errOut)
			}
			if code, _, _ := hallpass(t, "", nil, "tenant", "get", bad); code != 1 {
				t.Fatal("a refused create left a tenant")
			}
		})
	}
	// Good expressions are saved.
	code, out, errOut := hallpass(t, `{"HALLPASS_USER_FIELDS":[{"name":"first_name","type":"string"}],"HALLPASS_USER_SERIALIZER":{"full_name":"user.profile.?first_name.orValue('')"}}`,
		nil, "tenant", "update", slug, "--settings", "-")
	if code != 0 || !strings.Contains(out, `"settings_version": 2`) || !strings.Contains(out, "orValue") {
		t.Fatalf("good expressions: %d %s %s", code, out, errOut)
	}
}
