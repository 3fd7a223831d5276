package tokens_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/tenants"
)

// FuzzParseToken feeds arbitrary strings to (*Strategy).Parse (issue #11):
//
//	go test -run '^$' -fuzz '^FuzzParseToken$' -fuzztime 60s ./internal/tokens/
//
// No database: the strategy gets fuzzKeys, an in-memory key source holding
// one EdDSA and one HS256 key, and two tenants built in memory. Every key,
// claim and clock value is fixed, so the tokens (and any crasher built from
// them) are the same on every run. Parse must never panic and must accept
// exactly the tokens issued below for that tenant and use: any other string,
// including every mutation of an issued token, is refused.

// fuzzNow is the strategy's clock during the fuzz run.
var fuzzNow = time.Unix(1_900_000_000, 0)

// fuzzKeys is a test double of the tenant key source (tenants.Keys), for
// the parser only: the same two keys serve every tenant, as two tenants
// sharing an imported key would.
type fuzzKeys struct {
	signing *tenants.SigningKey
	byKid   map[string]*tenants.SigningKey
}

func (k *fuzzKeys) Signing(context.Context, *tenants.Tenant) (*tenants.SigningKey, error) {
	return k.signing, nil
}

func (k *fuzzKeys) ByKid(_ context.Context, _ *tenants.Tenant, kid string) (*tenants.SigningKey, error) {
	if key, ok := k.byKid[kid]; ok {
		return key, nil
	}
	return nil, tenants.ErrKeyNotFound
}

func (k *fuzzKeys) JWKS(context.Context, *tenants.Tenant) ([]byte, string, error) {
	return []byte(`{"keys":[]}`), `"fuzz"`, nil
}

// tokenFixture is the strategy under test, its tenants and keys, and the
// tokens it must accept.
type tokenFixture struct {
	strategy *tokens.Strategy
	tenants  [2]*tenants.Tenant
	ed, hs   *tenants.SigningKey
	edOther  ed25519.PrivateKey // a key the tenants do not have
	first    string             // the first token issued to acme: access, EdDSA
	// valid[i][use] maps each token tenant i must accept for use to its jti.
	valid [2]map[string]map[string]string
}

func fuzzTenant(t testing.TB, slug string, settings string, domains ...string) *tenants.Tenant {
	s, err := tenants.ParseSettings([]byte(settings))
	if err != nil {
		t.Fatalf("settings of %s: %v", slug, err)
	}
	verified := fuzzNow.Add(-24 * time.Hour)
	tn := &tenants.Tenant{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("hallpass-fuzz:"+slug)), Slug: slug, Name: slug,
		Settings: s, SettingsVersion: 1, CreatedAt: verified, UpdatedAt: verified}
	for _, d := range domains {
		tn.Domains = append(tn.Domains, tenants.Domain{Domain: d, VerificationToken: "x", VerifiedAt: &verified, CreatedAt: verified})
	}
	return tn
}

func newTokenFixture(t testing.TB) *tokenFixture {
	edPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	edKid, err := tenants.Thumbprint(edPriv.Public())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("hs256-fuzz-secret"), 4)
	hsSum := sha256.Sum256(secret)
	fx := &tokenFixture{
		ed: &tenants.SigningKey{Kid: edKid, Alg: "EdDSA", State: tenants.KeyActive, Source: tenants.KeySourceGenerated,
			Method: jwt.SigningMethodEdDSA, SignKey: edPriv, VerifyKey: edPriv.Public()},
		hs: &tenants.SigningKey{Kid: "hs-" + hex.EncodeToString(hsSum[:8]), Alg: "HS256", State: tenants.KeyRetired,
			Source: tenants.KeySourceSettings, Method: jwt.SigningMethodHS256, SignKey: secret, VerifyKey: secret},
		edOther: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)),
	}
	keys := &fuzzKeys{signing: fx.ed, byKid: map[string]*tenants.SigningKey{fx.ed.Kid: fx.ed, fx.hs.Kid: fx.hs}}
	fx.strategy = &tokens.Strategy{Keys: keys, Now: func() time.Time { return fuzzNow }}
	// acme checks an audience and has a verified custom domain; bravo has neither.
	fx.tenants[0] = fuzzTenant(t, "acme", `{"HEADLESS_TOKEN_STRATEGY": "jwt", "HEADLESS_JWT_ALGORITHM": "EdDSA",
		"HALLPASS_JWT_AUDIENCE": "https://api.acme.example"}`, "auth.acme.example")
	fx.tenants[1] = fuzzTenant(t, "bravo", `{"HEADLESS_TOKEN_STRATEGY": "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy",
		"HEADLESS_JWT_ALGORITHM": "EdDSA"}`)
	issuers := [2][]string{
		{"http://hallpass.test/t/acme", "https://acme.hallpass.test", "https://auth.acme.example/", "http://127.0.0.1:8000/t/acme/"},
		{"http://hallpass.test/t/bravo", "https://bravo.hallpass.test:8443"},
	}
	n := 0
	for i, tn := range fx.tenants {
		fx.valid[i] = map[string]map[string]string{tokens.UseAccess: {}, tokens.UseRefresh: {}}
		for _, iss := range issuers[i] {
			for _, key := range []*tenants.SigningKey{fx.ed, fx.hs} {
				for _, use := range []string{tokens.UseAccess, tokens.UseRefresh} {
					n++
					c := fx.claims(tn, iss, use, n)
					raw := fx.sign(t, key, c)
					fx.valid[i][use][raw] = c.ID
					if fx.first == "" {
						fx.first = raw
					}
				}
			}
		}
	}
	return fx
}

// claims are what Strategy.Issue puts in a token (see jwt.go).
func (fx *tokenFixture) claims(tn *tenants.Tenant, iss, use string, n int) tokens.Claims {
	now := fuzzNow.Add(-time.Minute)
	life := tn.Settings.JWTAccessTokenExpiresIn
	if use == tokens.UseRefresh {
		life = tn.Settings.JWTRefreshTokenExpiresIn
	}
	c := tokens.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    iss,
		Subject:   fmt.Sprint(1000 + n),
		ID:        uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "jti-%d", n)).String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Duration(life) * time.Second)),
	}, TokenUse: use, SID: "v1." + base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "sealed-session-%d", n))}
	if aud := tn.Settings.JWTAudience; aud != "" {
		c.Audience = jwt.ClaimStrings{aud}
	}
	return c
}

// sign signs as Strategy.sign does: the key's method and its kid.
func (fx *tokenFixture) sign(t testing.TB, key *tenants.SigningKey, c jwt.Claims) string {
	return signWith(t, key.Method, key.Kid, key.SignKey, c)
}

func signWith(t testing.TB, m jwt.SigningMethod, kid string, k any, c jwt.Claims, header ...string) string {
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for i := 0; i+1 < len(header); i += 2 {
		tok.Header[header[i]] = header[i+1]
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// invalidTokens are near misses that must all be refused: each is signed
// (when it is signed at all) by a key the strategy trusts or pretends to.
func (fx *tokenFixture) invalidTokens(t testing.TB) []string {
	acme := fx.tenants[0]
	iss := "https://acme.hallpass.test"
	base := func(edit func(c *tokens.Claims)) tokens.Claims {
		c := fx.claims(acme, iss, tokens.UseAccess, 900)
		edit(&c)
		return c
	}
	edPub := []byte(fx.ed.VerifyKey.(ed25519.PublicKey))
	hmacWith := func(key []byte, alg, kid string) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + iss + `","sub":"1","jti":"j","token_use":"access","sid":"s",` +
			`"aud":["https://api.acme.example"],"iat":` + fmt.Sprint(fuzzNow.Unix()-60) + `,"exp":` + fmt.Sprint(fuzzNow.Unix()+60) + `}`))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	valid := fx.first // an issued token, for the structural variants
	parts := strings.Split(valid, ".")
	out := []string{
		// Expired, issued in the future, not yet valid.
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.ExpiresAt = jwt.NewNumericDate(fuzzNow.Add(-time.Minute)) })),
		fx.sign(t, fx.hs, base(func(c *tokens.Claims) { c.IssuedAt = jwt.NewNumericDate(fuzzNow.Add(time.Hour)) })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.NotBefore = jwt.NewNumericDate(fuzzNow.Add(time.Hour)) })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.ExpiresAt = nil })),
		// Another tenant's issuer, a foreign host, a query, no audience, a wrong one.
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Issuer = "https://bravo.hallpass.test" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Issuer = "https://evil.example/t/bravo" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Issuer = "https://acme.hallpass.test/?x=1" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Issuer = "ftp://acme.hallpass.test" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Audience = nil })),
		fx.sign(t, fx.hs, base(func(c *tokens.Claims) { c.Audience = jwt.ClaimStrings{"https://api.bravo.example"} })),
		// allauth's required claims missing.
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.SID = "" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.ID = "" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.Subject = "" })),
		fx.sign(t, fx.ed, base(func(c *tokens.Claims) { c.TokenUse = "id" })),
		// Header games: typ, kid, alg.
		signWith(t, jwt.SigningMethodEdDSA, fx.ed.Kid, fx.ed.SignKey, base(func(*tokens.Claims) {}), "typ", "at+jwt"),
		signWith(t, jwt.SigningMethodEdDSA, "", fx.ed.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodEdDSA, "nope", fx.ed.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodEdDSA, strings.Repeat("k", 129), fx.ed.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodEdDSA, fx.ed.Kid, fx.edOther, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodEdDSA, fx.hs.Kid, fx.ed.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodHS256, fx.ed.Kid, fx.hs.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodHS384, fx.hs.Kid, fx.hs.SignKey, base(func(*tokens.Claims) {})),
		signWith(t, jwt.SigningMethodNone, fx.ed.Kid, jwt.UnsafeAllowNoneSignatureType, base(func(*tokens.Claims) {})),
		hmacWith(edPub, "HS256", fx.ed.Kid), // the public key as an HMAC secret
		hmacWith(edPub, "HS256", fx.hs.Kid),
		// Structure: padding, extra segments, whitespace, no signature.
		valid + "=", valid + ".", " " + valid, valid + " ", parts[0] + "." + parts[1] + ".",
		parts[0] + "=." + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "=." + parts[2],
		"", ".", "..", "a.b.c", "eyJ.eyJ.", strings.Repeat("a", 9000) + ".b.c",
	}
	return out
}

func FuzzParseToken(f *testing.F) {
	fx := newTokenFixture(f)
	for i := range fx.tenants {
		for use, set := range fx.valid[i] {
			for _, raw := range slices.Sorted(maps.Keys(set)) {
				f.Add(raw, uint8(i), use == tokens.UseRefresh, uint16(0), byte(0))
				f.Add(raw, uint8(i), use == tokens.UseRefresh, uint16(len(raw)-1), byte(0x80))
			}
		}
	}
	for _, raw := range fx.invalidTokens(f) {
		f.Add(raw, uint8(0), false, uint16(0), byte(0))
	}
	ctx := context.Background()
	// raw's byte at pos (modulo its length) is XORed with edit first: a
	// single-byte change of an issued token is then one mutation away.
	f.Fuzz(func(t *testing.T, raw string, tenant uint8, refresh bool, pos uint16, edit byte) {
		if edit != 0 && raw != "" {
			b := []byte(raw)
			b[int(pos)%len(b)] ^= edit
			raw = string(b)
		}
		i := int(tenant % 2)
		use := tokens.UseAccess
		if refresh {
			use = tokens.UseRefresh
		}
		c, err := fx.strategy.Parse(ctx, fx.tenants[i], raw, use)
		jti, issued := fx.valid[i][use][raw]
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned claims with an error: %v", err)
			}
			if !tokens.IsInvalid(err) {
				t.Fatalf("Parse(%q): %v is not an invalid-token error", raw, err)
			}
			if issued {
				t.Fatalf("Parse refused a token it issued (tenant %s, %s): %q", fx.tenants[i].Slug, use, raw)
			}
			return
		}
		if !issued {
			t.Fatalf("Parse accepted a token that was not issued to tenant %s for %s use:\n%q\n"+
				"(closest issued token: %v)", fx.tenants[i].Slug, use, raw, closestIssued(raw, fx.valid[i][use]))
		}
		if c == nil || c.ID != jti || c.TokenUse != use || !tokens.IssuerIsTenant(fx.tenants[i], c.Issuer, "") {
			t.Fatalf("Parse(%q) = %+v, want the claims it was issued with (jti %s)", raw, c, jti)
		}
	})
}

// closestIssued names the issued token raw shares the longest prefix with,
// to make a failure readable.
func closestIssued(raw string, set map[string]string) string {
	best, n := "", -1
	for tok := range set {
		k := 0
		for k < len(tok) && k < len(raw) && tok[k] == raw[k] {
			k++
		}
		if k > n {
			best, n = tok, k
		}
	}
	return fmt.Sprintf("%q (equal for the first %d bytes)", best, n)
}

// IssuerIsTenant accepts exactly the tenant's own base URLs: its /t/{slug}
// prefix and its {slug}.{base domain} host, nothing near them.
func TestIssuerIsTenant(t *testing.T) {
	tn := fuzzTenant(t, "acme", `{}`)
	for _, tc := range []struct {
		iss  string
		want bool
	}{
		{"http://hallpass.test/t/" + tn.Slug, true},
		{"https://" + tn.Slug + ".hallpass.test", true},
		{"https://" + tn.Slug + ".evil.example", false},
		{"https://other.hallpass.test", false},
		{"http://hallpass.test/t/other", false},
		{"http://hallpass.test/t/" + tn.Slug + "/x", false},
		{"ftp://hallpass.test/t/" + tn.Slug, false},
	} {
		if got := tokens.IssuerIsTenant(tn, tc.iss, "hallpass.test"); got != tc.want {
			t.Errorf("%s: %v", tc.iss, got)
		}
	}
}
