package tokens_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hallpass/hallpass/api/apitest"
)

const password = "correct horse battery"

func jwtTenant(t *testing.T, extra apitest.Settings) *apitest.Env {
	s := apitest.Settings{
		"HEADLESS_TOKEN_STRATEGY":    "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy",
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
	}
	for k, v := range extra {
		s[k] = v
	}
	return apitest.New(t, s)
}

// signup returns the app client's session, access and refresh tokens.
func signup(t *testing.T, env *apitest.Env, email string) (*apitest.Client, string, string) {
	t.Helper()
	fe := env.Client("app")
	res := fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+password+`"}`).Status(200)
	access, _ := res.Path("meta.access_token").(string)
	refresh, _ := res.Path("meta.refresh_token").(string)
	if access == "" || refresh == "" || fe.Token == "" {
		t.Fatalf("tokens missing: %s", res.Body)
	}
	return fe, access, refresh
}

// jwk is the subset of RFC 7517 a tenant backend reads.
type jwk struct {
	Kty, Kid, Alg, Crv, N, E, X, Y string
}

func b64(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("jwk field %q: %v", s, err)
	}
	return b
}

// backendVerify is what a tenant's backend does: fetch the JWKS, pick the
// key by kid, verify signature and claims.
func backendVerify(t *testing.T, env *apitest.Env, token, alg string) jwt.MapClaims {
	t.Helper()
	res := env.Raw("GET", "/t/"+env.Tenant.Slug+"/.well-known/jwks.json", "")
	if res.Code != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") || res.Header.Get("ETag") == "" {
		t.Fatalf("jwks: %d %v %s", res.Code, res.Header, res.Body)
	}
	var set struct{ Keys []jwk }
	if err := json.Unmarshal(res.Body, &set); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Body), `"d"`) {
		t.Fatalf("private material in the JWKS: %s", res.Body)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid != tok.Header["kid"] {
				continue
			}
			switch k.Kty {
			case "RSA":
				return &rsa.PublicKey{N: new(big.Int).SetBytes(b64(t, k.N)), E: int(new(big.Int).SetBytes(b64(t, k.E)).Int64())}, nil
			case "EC":
				raw := append(append([]byte{4}, b64(t, k.X)...), b64(t, k.Y)...)
				return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
			case "OKP":
				return ed25519.PublicKey(b64(t, k.X)), nil
			}
		}
		return nil, fmt.Errorf("no key %v in the JWKS", tok.Header["kid"])
	}, jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("backend verification (%s): %v", alg, err)
	}
	return claims
}

func TestIssuanceAndBackendVerification(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "ES256", "EdDSA", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			env := jwtTenant(t, apitest.Settings{
				"HEADLESS_JWT_ALGORITHM":               alg,
				"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN": 120,
				"HALLPASS_JWT_AUDIENCE":                "https://api.acme.example",
			})
			// An RSA tenant's key is generated here, outside any request:
			// an RS512 key, race-instrumented on a busy machine, can take
			// most of the signup's 15 s request deadline.
			if strings.HasPrefix(alg, "RS") {
				if _, err := env.Keys.Signing(context.Background(), env.Tenant); err != nil {
					t.Fatal(err)
				}
			}
			fe, access, _ := signup(t, env, "uma@example.com")
			if alg == "HS256" {
				res := env.Raw("GET", "/t/"+env.Tenant.Slug+"/.well-known/jwks.json", "")
				if strings.TrimSpace(string(res.Body)) != `{"keys":[]}` {
					t.Fatalf("an HS tenant publishes no keys: %s", res.Body)
				}
				return
			}
			claims := backendVerify(t, env, access, alg)
			for _, k := range []string{"iat", "exp", "sub", "jti", "token_use", "sid", "iss", "aud"} {
				if claims[k] == nil {
					t.Fatalf("claim %s missing: %v", k, claims)
				}
			}
			if claims["token_use"] != "access" || !strings.HasSuffix(claims["iss"].(string), "/t/"+env.Tenant.Slug) {
				t.Fatalf("claims: %v", claims)
			}
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 120 {
				t.Fatalf("lifetime %v", exp-iat)
			}
			if strings.Contains(claims["sid"].(string), fe.Token) {
				t.Fatal("sid reveals the session token")
			}
		})
	}
}

func TestAccessTokenOnHeadlessEndpoints(t *testing.T) {
	for _, stateful := range []bool{false, true} {
		t.Run(fmt.Sprintf("stateful=%v", stateful), func(t *testing.T) {
			env := jwtTenant(t, apitest.Settings{
				"HEADLESS_JWT_AUTHORIZATION_HEADER_SCHEME": "JWT",
				"HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED": stateful,
			})
			fe, access, _ := signup(t, env, "vic@example.com")
			anon := env.Client("app")
			// Scheme compared case-insensitively; the token stands in for the session token.
			res := anon.Do("GET", "auth/session", "", "Authorization", "jwt "+access).Status(200)
			if res.Path("data.user.email") != "vic@example.com" {
				t.Fatalf("%s", res.Body)
			}
			anon.Do("GET", "auth/session", "", "Authorization", "Bearer "+access).Status(401) // wrong scheme: ignored
			fe.Do("DELETE", "auth/session", "").Status(401)
			// Dead session: stateless validation → the sid names nothing → 410;
			// stateful validation → the token itself is invalid → anonymous 401.
			want := 410
			if stateful {
				want = 401
			}
			env.Client("app").Do("GET", "auth/session", "", "Authorization", "JWT "+access).Status(want)
		})
	}
}

func refresh(env *apitest.Env, token string) *apitest.Response {
	return env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/tokens/refresh", `{"refresh_token":"`+token+`"}`)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	env := jwtTenant(t, nil)
	fe, _, r1 := signup(t, env, "wes@example.com")
	res := refresh(env, r1).Status(200)
	a2, _ := res.Path("data.access_token").(string)
	r2, _ := res.Path("data.refresh_token").(string)
	if a2 == "" || r2 == "" || r2 == r1 {
		t.Fatalf("rotation: %s", res.Body)
	}
	env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+a2).Status(200)
	// r1 is spent: presenting it again revokes the family and the session.
	res = refresh(env, r1).Status(400)
	if res.JSON["errors"] != nil {
		t.Fatalf("allauth answers a bare 400: %s", res.Body)
	}
	refresh(env, r2).Status(400)
	fe.Do("GET", "auth/session", "").Status(410)

	t.Run("no rotation", func(t *testing.T) {
		env := jwtTenant(t, apitest.Settings{"HEADLESS_JWT_ROTATE_REFRESH_TOKEN": false})
		_, _, r := signup(t, env, "xia@example.com")
		for i := 0; i < 2; i++ {
			res := refresh(env, r).Status(200)
			if res.Path("data.refresh_token") != nil || res.Path("data.access_token") == nil {
				t.Fatalf("without rotation the response has no refresh token: %s", res.Body)
			}
		}
	})
	t.Run("logout kills refresh tokens", func(t *testing.T) {
		env := jwtTenant(t, nil)
		fe, _, r := signup(t, env, "yan@example.com")
		fe.Do("DELETE", "auth/session", "").Status(401)
		refresh(env, r).Status(400)
	})
	t.Run("browser has no refresh route", func(t *testing.T) {
		env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/browser/v1/tokens/refresh", `{"refresh_token":"x"}`).Status(404)
	})
}

func TestParallelRefreshOneWins(t *testing.T) {
	env := jwtTenant(t, nil)
	_, _, r := signup(t, env, "zed@example.com")
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- refresh(env, r).Code
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 200 {
			ok++
		} else if c != 400 {
			t.Errorf("status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d parallel refreshes succeeded, want exactly 1", ok)
	}
}

// A token of tenant A never authenticates at tenant B, even when both sign
// with HS256 and the same secret.
func TestCrossTenantTokensRefused(t *testing.T) {
	secret := apitest.Settings{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": "shared-secret-shared-secret-shared-secret-0123"}
	a, b := jwtTenant(t, secret), jwtTenant(t, secret)
	_, accessA, refreshA := signup(t, a, "ada@example.com")
	signup(t, b, "ada@example.com")
	b.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+accessA).Status(401)
	refresh(b, refreshA).Status(400)
	a.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+accessA).Status(200)
}

func TestHostileTokens(t *testing.T) {
	env := jwtTenant(t, apitest.Settings{"HEADLESS_JWT_ALGORITHM": "RS256"})
	_, access, refreshTok := signup(t, env, "bob@example.com")
	parts := strings.Split(access, ".")
	var header map[string]any
	_ = json.Unmarshal(b64(t, parts[0]), &header)
	var payload map[string]any
	_ = json.Unmarshal(b64(t, parts[1]), &payload)
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

	// alg "none" with the real claims.
	none := enc(map[string]any{"alg": "none", "typ": "JWT", "kid": header["kid"]}) + "." + parts[1] + "."
	// Algorithm confusion: HS256 keyed with the tenant's RSA public key (PEM).
	jwks := env.Raw("GET", "/t/"+env.Tenant.Slug+"/.well-known/jwks.json", "")
	var set struct{ Keys []jwk }
	_ = json.Unmarshal(jwks.Body, &set)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64(t, set.Keys[0].N)), E: int(new(big.Int).SetBytes(b64(t, set.Keys[0].E)).Int64())}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(payload))
	confused.Header["kid"] = header["kid"]
	confusedTok, _ := confused.SignedString(pemKey)
	// Tampered payload (another subject), signature kept.
	payload2 := map[string]any{}
	for k, v := range payload {
		payload2[k] = v
	}
	payload2["sub"] = "1"
	tampered := parts[0] + "." + enc(payload2) + "." + parts[2]
	// Wrong typ header.
	wrongTyp := enc(map[string]any{"alg": header["alg"], "typ": "at+jwt", "kid": header["kid"]}) + "." + parts[1] + "." + parts[2]
	// Expired: a genuine token checked far in the future.
	for name, tok := range map[string]string{
		"none":              none,
		"confusion":         confusedTok,
		"tampered":          tampered,
		"wrong typ":         wrongTyp,
		"refresh as access": refreshTok,
		"malformed":         "abc.def",
		"garbage":           "a.b.c",
		"oversized":         parts[0] + "." + strings.Repeat("A", 9000) + "." + parts[2],
	} {
		t.Run(name, func(t *testing.T) {
			env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+tok).Status(401)
		})
	}
	refresh(env, access).Status(400) // access token used as refresh
	refresh(env, "not-a-jwt").Status(400)
	env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/tokens/refresh", `{"refresh_token":12}`).Status(400)
	env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/tokens/refresh", `not json`).Status(400)
	t.Run("expired", func(t *testing.T) {
		env.Strategy().Now = func() time.Time { return time.Now().Add(time.Hour) }
		defer func() { env.Strategy().Now = nil }()
		env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+access).Status(401)
	})
}
