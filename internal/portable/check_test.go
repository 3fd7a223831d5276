package portable_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// Every kind of bad row is refused with a reason naming the field, and
// never echoing a password hash.
func TestCheckRefusesBadRows(t *testing.T) {
	settings, err := tenants.ParseSettings([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ok := func() portable.User {
		return portable.User{SourceID: "s:1", Username: "ann", DateJoined: time.Now(), PasswordHash: "!"}
	}
	if err := portable.Check(&[]portable.User{ok()}[0], settings); err != nil {
		t.Fatalf("a good row: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(u *portable.User)
		want string
	}{
		{"no source id", func(u *portable.User) { u.SourceID = "" }, "source_id"},
		{"NUL in source id", func(u *portable.User) { u.SourceID = "a\x00b" }, "source_id"},
		{"bad username", func(u *portable.User) { u.Username = "a\x00" }, "username"},
		{"unknown hash", func(u *portable.User) { u.PasswordHash = "crypt$$secretsecret" }, `algorithm "crypt"`},
		{"bare unknown hash", func(u *portable.User) { u.PasswordHash = "secretsecret" }, "no algorithm prefix"},
		{"bad pbkdf2", func(u *portable.User) { u.PasswordHash = "pbkdf2_sha256$x$salt$hash" }, "pbkdf2"},
		{"bad email", func(u *portable.User) { u.Emails = []portable.Email{{Email: "nope"}} }, `email "nope"`},
		{"email twice", func(u *portable.User) {
			u.Emails = []portable.Email{{Email: "a@example.com"}, {Email: "A@Example.com"}}
		}, "listed twice"},
		{"two primaries", func(u *portable.User) {
			u.Emails = []portable.Email{{Email: "a@example.com", Primary: true}, {Email: "b@example.com", Primary: true}}
		}, "more than one primary"},
		{"profile not an object", func(u *portable.User) { u.Profile = json.RawMessage(`[1]`) }, "profile"},
		{"metadata too big", func(u *portable.User) {
			u.PrivateMetadata = json.RawMessage(`{"a":"` + strings.Repeat("x", 9000) + `"}`)
		}, "private_metadata"},
		{"social without uid", func(u *portable.User) { u.Socials = []portable.Social{{Provider: "google"}} }, "social account"},
		{"social twice", func(u *portable.User) {
			u.Socials = []portable.Social{{Provider: "google", UID: "1"}, {Provider: "google", UID: "1"}}
		}, "listed twice"},
		{"social extra data", func(u *portable.User) {
			u.Socials = []portable.Social{{Provider: "google", UID: "1", ExtraData: json.RawMessage(`"x"`)}}
		}, "extra_data"},
		{"unknown authenticator", func(u *portable.User) {
			u.Authenticators = []portable.Authenticator{{Type: "sms", Data: json.RawMessage(`{}`)}}
		}, `unknown authenticator type "sms"`},
		{"encrypted TOTP secret", func(u *portable.User) {
			u.Authenticators = []portable.Authenticator{{Type: "totp", Data: json.RawMessage(`{"secret":"gAAAAABl-encrypted=="}`)}}
		}, "not base32"},
		{"two TOTPs", func(u *portable.User) {
			d := json.RawMessage(`{"secret":"JBSWY3DPEHPK3PXP"}`)
			u.Authenticators = []portable.Authenticator{{Type: "totp", Data: d}, {Type: "totp", Data: d}}
		}, "two totp"},
		{"recovery codes without seed", func(u *portable.User) {
			u.Authenticators = []portable.Authenticator{{Type: "recovery_codes", Data: json.RawMessage(`{"used_mask":0}`)}}
		}, "no seed"},
		{"webauthn garbage", func(u *portable.User) {
			u.Authenticators = []portable.Authenticator{{Type: "webauthn", Data: json.RawMessage(`{"name":"k","credential":{"response":{}}}`)}}
		}, "webauthn"},
	} {
		u := ok()
		tc.edit(&u)
		err := portable.Check(&u, settings)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretsecret") {
			t.Errorf("%s: the reason shows the hash: %v", tc.name, err)
		}
	}
}
