package mfa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

const (
	testOrigin = "https://acme.example"
	testRPID   = "acme.example"
)

func (f *fixture) webauthnConfig(t *testing.T) *webauthn.Config {
	t.Helper()
	cfg, err := f.settings.WebAuthnConfig("Acme Corp", testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RPID != testRPID {
		t.Fatalf("rp id %q", cfg.RPID)
	}
	return cfg
}

func (f *fixture) webauthnUser(t *testing.T, user int64) *WebAuthnUser {
	t.Helper()
	u, err := f.store.WebAuthnUser(context.Background(), f.tenantID, user, "user"+strconv.FormatInt(user, 10)+"@example.com", "User")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// register runs a full registration ceremony with the authenticator.
func (f *fixture) register(t *testing.T, cfg *webauthn.Config, auth *webauthntest.Authenticator, user int64, passwordless bool, name string) *Authenticator {
	t.Helper()
	opts, state, err := BeginRegistration(cfg, f.webauthnUser(t, user), passwordless)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := auth.Create(opts, passwordless, passwordless)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.store.FinishRegistration(context.Background(), f.tenantID, cfg, f.webauthnUser(t, user), state, cred, name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// beginLogin starts a login for user (0: passkey login).
func (f *fixture) beginLogin(t *testing.T, cfg *webauthn.Config, user int64) (opts, state []byte) {
	t.Helper()
	var u *WebAuthnUser
	if user != 0 {
		u = f.webauthnUser(t, user)
	}
	opts, state, err := BeginLogin(cfg, u)
	if err != nil {
		t.Fatal(err)
	}
	return opts, state
}

func TestWebAuthnRegisterAndLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"]}`)
	cfg := f.webauthnConfig(t)
	user := f.newUser(t)
	key := webauthntest.New(testOrigin, testRPID)

	// Creation options as allauth's (not passwordless): resident key and
	// user verification discouraged, credProps requested.
	opts, state, err := BeginRegistration(cfg, f.webauthnUser(t, user), false)
	if err != nil {
		t.Fatal(err)
	}
	var co map[string]any
	if err := json.Unmarshal(opts, &co); err != nil {
		t.Fatal(err)
	}
	sel := co["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "discouraged" || sel["userVerification"] != "discouraged" || sel["requireResidentKey"] != false {
		t.Fatalf("selection %v", sel)
	}
	if co["rp"].(map[string]any)["id"] != testRPID || co["user"].(map[string]any)["id"] != base64.RawURLEncoding.EncodeToString(userHandle(f.tenantID, user)) {
		t.Fatalf("options %s", opts)
	}
	if co["extensions"].(map[string]any)["credProps"] != true {
		t.Fatalf("credProps not requested: %s", opts)
	}
	cred, err := key.Create(opts, false, false)
	if err != nil {
		t.Fatal(err)
	}
	// A state of another user does not finish it.
	other := f.newUser(t)
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, other), state, cred, "")
	wantCode(t, err, CodeIncorrectCode, "")
	// Name too long.
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, cred, strings.Repeat("n", 101))
	wantCode(t, err, CodeMaxLength, "name")

	first, err := f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, cred, "")
	if err != nil {
		t.Fatal(err)
	}
	if first.Type != TypeWebAuthn || first.Name != "Master key" || first.Passwordless == nil || *first.Passwordless ||
		len(first.CredentialID) != 32 || first.Credential.Authenticator.SignCount != 0 {
		t.Fatalf("registered %+v", first)
	}
	if string(first.CredentialID) != string(key.Credentials()[0].ID) {
		t.Fatal("credential id not stored")
	}
	// Replaying the registration does not add it twice.
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, cred, "again")
	wantCode(t, err, CodeIncorrectCode, "")

	// The next registration excludes the first credential: the same
	// authenticator refuses, another one is added as "Backup key".
	opts, state, err = BeginRegistration(cfg, f.webauthnUser(t, user), false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opts), base64.RawURLEncoding.EncodeToString(first.CredentialID)) {
		t.Fatalf("first credential not excluded: %s", opts)
	}
	if _, err := key.Create(opts, false, false); err == nil {
		t.Fatal("excluded authenticator created a credential")
	}
	key2 := webauthntest.New(testOrigin, testRPID)
	key2.Attachment = "cross-platform"
	cred2, err := key2.Create(opts, false, false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, cred2, "")
	if err != nil || second.Name != "Backup key" {
		t.Fatalf("second: %+v %v", second, err)
	}

	// 2FA login with the user's credentials allowed.
	lopts, lstate := f.beginLogin(t, cfg, user)
	var ro map[string]any
	if err := json.Unmarshal(lopts, &ro); err != nil {
		t.Fatal(err)
	}
	if ro["userVerification"] != "preferred" || ro["rpId"] != testRPID || len(ro["allowCredentials"].([]any)) != 2 {
		t.Fatalf("request options %s", lopts)
	}
	assertion, err := key2.Get(lopts, webauthntest.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Bound to its user.
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, other)
	wantCode(t, err, CodeIncorrectCode, "credential")
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, 0)
	wantCode(t, err, CodeIncorrectCode, "credential")
	got, err := f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, user)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != second.ID || got.UserID != user || got.LastUsedAt == nil || got.Credential.Authenticator.SignCount != 1 {
		t.Fatalf("login %+v", got)
	}
	// Replaying the same ceremony fails.
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, user)
	wantCode(t, err, CodeIncorrectCode, "credential")
	// The sign count was stored.
	stored, err := f.store.Get(ctx, f.tenantID, user, second.ID)
	if err != nil || stored.Credential.Authenticator.SignCount != 1 {
		t.Fatalf("stored %+v %v", stored, err)
	}

	// The credential-less user gets options too, which nothing passes.
	nopts, nstate := f.beginLogin(t, cfg, other)
	if a, err := key.Get(nopts, webauthntest.GetOptions{CredentialID: first.CredentialID}); err != nil {
		t.Fatal(err)
	} else if _, err := f.store.FinishLogin(ctx, f.tenantID, cfg, nstate, a, other); !errors.Is(err, ErrIncorrectCode) {
		t.Fatalf("another user's credential passed: %v", err)
	}

	// Adding a key leads to recovery codes (outside passkey signup).
	if rc, err := f.store.EnsureRecoveryCodes(ctx, f.tenantID, user, f.settings); err != nil || rc == nil {
		t.Fatalf("recovery codes: %v %v", rc, err)
	}
	types, err := f.store.Types(ctx, f.tenantID, user)
	if err != nil || strings.Join(types, ",") != "recovery_codes,webauthn" {
		t.Fatalf("types %v %v", types, err)
	}

	// Listing and data shapes.
	list, err := f.store.List(ctx, f.tenantID, user)
	if err != nil || len(list) != 3 {
		t.Fatalf("list %v %v", list, err)
	}
	d := list[1].Data(false)
	if d["type"] != "webauthn" || d["id"] != second.ID || d["name"] != "Backup key" || d["is_passwordless"] != false ||
		d["last_used_at"] == nil || d["created_at"].(float64) < 1e9 {
		t.Fatalf("data %v", d)
	}
	raw, _ := json.Marshal(list[1].Data(false))
	var back map[string]any
	_ = json.Unmarshal(raw, &back)
	if len(back) != 6 {
		t.Fatalf("webauthn data keys %s", raw)
	}
	// The stored rows hold no public key material in clear.
	pub := base64.StdEncoding.EncodeToString(first.Credential.PublicKey)
	for _, r := range f.rawData(t, user) {
		if strings.Contains(r, pub[:20]) || strings.Contains(r, "Master key") {
			t.Fatal("webauthn data stored in clear")
		}
	}
}

func TestWebAuthnPasswordlessLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"], "MFA_PASSKEY_LOGIN_ENABLED": true}`)
	cfg := f.webauthnConfig(t)
	user := f.newUser(t)
	key := webauthntest.New(testOrigin, testRPID)

	opts, state, err := BeginRegistration(cfg, f.webauthnUser(t, user), true)
	if err != nil {
		t.Fatal(err)
	}
	var co map[string]any
	_ = json.Unmarshal(opts, &co)
	sel := co["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" || sel["userVerification"] != "required" || sel["requireResidentKey"] != true {
		t.Fatalf("selection %v", sel)
	}
	// The server itself insists on user verification: a response without
	// UV (options tampered with on the way) is refused.
	tampered := strings.Replace(string(opts), `"userVerification":"required"`, `"userVerification":"discouraged"`, 1)
	noUV, err := webauthntest.New(testOrigin, testRPID).Create([]byte(tampered), false, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, noUV, "Phone")
	wantCode(t, err, CodeIncorrectCode, "")

	cred, err := key.Create(opts, true, true)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, cred, "  Phone  ")
	if err != nil {
		t.Fatal(err)
	}
	if pk.Name != "Phone" || pk.Passwordless == nil || !*pk.Passwordless || pk.Data(false)["is_passwordless"] != true {
		t.Fatalf("passkey %+v", pk)
	}

	// Discoverable login: empty allowCredentials, user found by credential.
	lopts, lstate := f.beginLogin(t, cfg, 0)
	var ro map[string]any
	_ = json.Unmarshal(lopts, &ro)
	if _, ok := ro["allowCredentials"]; ok {
		t.Fatalf("discoverable options list credentials: %s", lopts)
	}
	assertion, err := key.Get(lopts, webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	// A discoverable state does not pass a user-bound check.
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, user)
	wantCode(t, err, CodeIncorrectCode, "credential")
	got, err := f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != user || got.ID != pk.ID {
		t.Fatalf("logged in %+v", got)
	}

	// The user handle must name the credential's owner.
	lopts, lstate = f.beginLogin(t, cfg, 0)
	forged, err := key.Get(lopts, webauthntest.GetOptions{UserVerified: true, UserHandle: []byte(strconv.FormatInt(user+1, 10))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, forged, 0)
	wantCode(t, err, CodeIncorrectCode, "credential")

	// A registration state is no login state, and garbage is refused.
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, state, assertion, 0)
	wantCode(t, err, CodeIncorrectCode, "credential")
	for _, junk := range []string{"", "{}", `{"id":"x"}`, "null", `[1]`} {
		_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, []byte(junk), 0)
		wantCode(t, err, CodeIncorrectCode, "credential")
	}
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), lstate, cred, "")
	wantCode(t, err, CodeIncorrectCode, "")

	// A credential of another tenant (same relying party) is not found.
	g := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"], "MFA_PASSKEY_LOGIN_ENABLED": true}`)
	gopts, gstate := g.beginLogin(t, cfg, 0)
	elsewhere, err := key.Get(gopts, webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.store.FinishLogin(ctx, g.tenantID, cfg, gstate, elsewhere, 0)
	wantCode(t, err, CodeIncorrectCode, "credential")
}

func TestWebAuthnRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"]}`)
	cfg := f.webauthnConfig(t)
	user := f.newUser(t)
	key := webauthntest.New(testOrigin, testRPID)

	// Registration from a wrong origin.
	opts, state, err := BeginRegistration(cfg, f.webauthnUser(t, user), false)
	if err != nil {
		t.Fatal(err)
	}
	evil := webauthntest.New("https://evil.example", testRPID)
	bad, err := evil.Create(opts, false, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishRegistration(ctx, f.tenantID, cfg, f.webauthnUser(t, user), state, bad, "")
	wantCode(t, err, CodeIncorrectCode, "")
	// Registration for another relying party id.
	other := webauthntest.New(testOrigin, "other.example")
	if _, err := other.Create(opts, false, false); err == nil {
		t.Fatal("authenticator accepted options for another RP")
	}
	a := f.register(t, cfg, key, user, false, "Key")

	// Wrong origin at login.
	lopts, lstate := f.beginLogin(t, cfg, user)
	wrong, err := key.Get(lopts, webauthntest.GetOptions{Origin: "https://evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, wrong, user)
	wantCode(t, err, CodeIncorrectCode, "credential")

	// An assertion for an old challenge does not pass a new ceremony.
	var old struct {
		Challenge string `json:"challenge"`
	}
	_ = json.Unmarshal(lopts, &old)
	oldChallenge, _ := base64.RawURLEncoding.DecodeString(old.Challenge)
	lopts2, lstate2 := f.beginLogin(t, cfg, user)
	stale, err := key.Get(lopts2, webauthntest.GetOptions{Challenge: oldChallenge})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate2, stale, user)
	wantCode(t, err, CodeIncorrectCode, "credential")

	// An expired ceremony is refused.
	eopts, estate := f.beginLogin(t, cfg, user)
	var st map[string]any
	_ = json.Unmarshal(estate, &st)
	st["session"].(map[string]any)["expires"] = time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	estate, _ = json.Marshal(st)
	expired, err := key.Get(eopts, webauthntest.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, estate, expired, user)
	wantCode(t, err, CodeIncorrectCode, "credential")

	// Signature over other data: tamper with the signature.
	lopts3, lstate3 := f.beginLogin(t, cfg, user)
	good, err := key.Get(lopts3, webauthntest.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	resp := m["response"].(map[string]any)
	sig, _ := base64.RawURLEncoding.DecodeString(resp["signature"].(string))
	sig[len(sig)-1] ^= 1
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	tampered, _ := json.Marshal(m)
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate3, tampered, user)
	wantCode(t, err, CodeIncorrectCode, "credential")
	// The untampered one passes that ceremony.
	if _, err := f.store.FinishLogin(ctx, f.tenantID, cfg, lstate3, good, user); err != nil {
		t.Fatal(err)
	}

	// Counter: now at the authenticator's count; going back or standing
	// still is refused and not stored; a higher one passes.
	cur, _ := f.store.Get(ctx, f.tenantID, user, a.ID)
	count := cur.Credential.Authenticator.SignCount
	if count == 0 {
		t.Fatal("counter not stored")
	}
	for _, c := range []uint32{count - 1, count, 0} {
		o, s := f.beginLogin(t, cfg, user)
		back, err := key.Get(o, webauthntest.GetOptions{Counter: &c})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, s, back, user)
		wantCode(t, err, CodeIncorrectCode, "credential")
	}
	high := count + 10
	o, s := f.beginLogin(t, cfg, user)
	fwd, _ := key.Get(o, webauthntest.GetOptions{Counter: &high})
	if got, err := f.store.FinishLogin(ctx, f.tenantID, cfg, s, fwd, user); err != nil || got.Credential.Authenticator.SignCount != high {
		t.Fatalf("forward counter: %+v %v", got, err)
	}

	// An authenticator that never counts: replay is still refused.
	zero := webauthntest.New(testOrigin, testRPID)
	zero.ZeroCounter = true
	f.register(t, cfg, zero, user, false, "Zero")
	zo, zs := f.beginLogin(t, cfg, user)
	za, err := zero.Get(zo, webauthntest.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.FinishLogin(ctx, f.tenantID, cfg, zs, za, user); err != nil {
		t.Fatal(err)
	}
	_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, zs, za, user)
	wantCode(t, err, CodeIncorrectCode, "credential")
	zo, zs = f.beginLogin(t, cfg, user)
	za, _ = zero.Get(zo, webauthntest.GetOptions{})
	if _, err := f.store.FinishLogin(ctx, f.tenantID, cfg, zs, za, user); err != nil {
		t.Fatalf("second zero-counter login: %v", err)
	}
}

func TestWebAuthnRenameDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"]}`)
	cfg := f.webauthnConfig(t)
	user, stranger := f.newUser(t), f.newUser(t)
	k1, k2, k3 := webauthntest.New(testOrigin, testRPID), webauthntest.New(testOrigin, testRPID), webauthntest.New(testOrigin, testRPID)
	a1 := f.register(t, cfg, k1, user, false, "One")
	a2 := f.register(t, cfg, k2, user, false, "Two")
	s1 := f.register(t, cfg, k3, stranger, false, "Stranger's")
	if _, err := f.store.EnsureRecoveryCodes(ctx, f.tenantID, user, f.settings); err != nil {
		t.Fatal(err)
	}

	r, err := f.store.RenameWebAuthn(ctx, f.tenantID, user, a1.ID, " Laptop ")
	if err != nil || r.Name != "Laptop" {
		t.Fatalf("rename %+v %v", r, err)
	}
	if g, _ := f.store.Get(ctx, f.tenantID, user, a1.ID); g.Name != "Laptop" {
		t.Fatalf("name not stored: %q", g.Name)
	}
	_, err = f.store.RenameWebAuthn(ctx, f.tenantID, user, a1.ID, strings.Repeat("é", 101))
	wantCode(t, err, CodeMaxLength, "name")
	if _, err := f.store.RenameWebAuthn(ctx, f.tenantID, user, a1.ID, strings.Repeat("é", 100)); err != nil {
		t.Fatal(err)
	}
	_, err = f.store.RenameWebAuthn(ctx, f.tenantID, user, a1.ID, "  ")
	wantCode(t, err, CodeRequired, "name")
	_, err = f.store.RenameWebAuthn(ctx, f.tenantID, user, s1.ID, "Mine now")
	wantCode(t, err, CodeInvalidChoice, "id")
	rc, _ := f.store.ByType(ctx, f.tenantID, user, TypeRecoveryCodes)
	_, err = f.store.RenameWebAuthn(ctx, f.tenantID, user, rc.ID, "Codes")
	wantCode(t, err, CodeInvalidChoice, "id")

	// Delete: only the user's own WebAuthn credentials, all or nothing.
	_, err = f.store.DeleteWebAuthn(ctx, f.tenantID, user, []int64{a1.ID, s1.ID})
	wantCode(t, err, CodeInvalidChoice, "authenticators")
	_, err = f.store.DeleteWebAuthn(ctx, f.tenantID, user, nil)
	wantCode(t, err, CodeRequired, "authenticators")
	if list, _ := f.store.List(ctx, f.tenantID, user); len(list) != 3 {
		t.Fatalf("refused delete removed something: %d left", len(list))
	}
	removed, err := f.store.DeleteWebAuthn(ctx, f.tenantID, user, []int64{a1.ID})
	if err != nil || len(removed) != 1 || removed[0].ID != a1.ID {
		t.Fatalf("delete %v %v", removed, err)
	}
	// Generic Delete ignores other users' ids.
	if removed, err := f.store.Delete(ctx, f.tenantID, user, s1.ID); err != nil || len(removed) != 0 {
		t.Fatalf("deleted a stranger's key: %v %v", removed, err)
	}
	// The last one takes the recovery codes with it.
	removed, err = f.store.DeleteWebAuthn(ctx, f.tenantID, user, []int64{a2.ID})
	if err != nil || len(removed) != 2 || removed[1].Type != TypeRecoveryCodes {
		t.Fatalf("delete last %v %v", removed, err)
	}
	if list, _ := f.store.List(ctx, f.tenantID, user); len(list) != 0 {
		t.Fatalf("left %v", list)
	}
	if list, _ := f.store.List(ctx, f.tenantID, stranger); len(list) != 1 {
		t.Fatalf("stranger's keys %v", list)
	}
	// A deleted credential no longer logs in.
	o, s := f.beginLogin(t, cfg, 0)
	if asr, err := k1.Get(o, webauthntest.GetOptions{CredentialID: a1.CredentialID}); err == nil {
		_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, s, asr, 0)
		wantCode(t, err, CodeIncorrectCode, "credential")
	}
}
