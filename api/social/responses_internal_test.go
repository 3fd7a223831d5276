package social

import (
	"encoding/json"
	"testing"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// GET auth/provider/signup's user is the one the signup would create: the
// tenant's serializer keys follow allauth's, evaluated over what the
// provider gave; a tenant without a serializer gets allauth's object.
func TestSignupDataSerializerKeys(t *testing.T) {
	p := &sessions.PendingSocialSignup{SocialLogin: sessions.SocialLogin{Provider: "acme", UID: "1",
		Emails: []sessions.SocialEmail{{Address: "ada@example.com", Verified: true}}, Username: "ada"}}
	profiles := &identity.Profiles{Deps: &identity.Deps{}}
	for _, tc := range []struct{ settings, want string }{
		{`{}`, `{"display":"ada","email":"ada@example.com","has_usable_password":false,"username":"ada"}`},
		{`{"HALLPASS_USER_SERIALIZER": {"handle": "'@' + user.username", "verified": "user.emails.exists(e, e.primary && e.verified)",
			"full_name": "user.profile.?first_name.orValue('')", "broken": "user.public_metadata.x + 1"},
			"HALLPASS_USER_FIELDS": [{"name": "first_name", "type": "string"}]}`,
			`{"display":"ada","email":"ada@example.com","has_usable_password":false,"username":"ada","full_name":"","handle":"@ada","verified":true}`},
	} {
		s, err := tenants.ParseSettings([]byte(tc.settings))
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(signupData(profiles, &tenants.Tenant{Slug: "acme", Settings: s}, p)["user"])
		if err != nil || string(out) != tc.want {
			t.Errorf("user = %s (%v)\nwant   %s", out, err, tc.want)
		}
	}
}
