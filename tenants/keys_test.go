package tenants_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

var allAlgorithms = []string{"RS256", "RS384", "RS512", "HS256", "HS384", "HS512", "ES256", "EdDSA"}

// jwtTenant creates a tenant with the JWT token strategy and extra settings.
func jwtTenant(tb testing.TB, store *tenants.Store, prefix string, extra map[string]any) *tenants.Tenant {
	tb.Helper()
	settings := map[string]any{"HEADLESS_TOKEN_STRATEGY": "jwt"}
	maps.Copy(settings, extra)
	raw, err := json.Marshal(settings)
	if err != nil {
		tb.Fatal(err)
	}
	tn, err := store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug(prefix), Settings: raw}, "test")
	if err != nil {
		tb.Fatalf("create tenant: %v", err)
	}
	return tn
}

func updateSettings(t *testing.T, store *tenants.Store, tn *tenants.Tenant, patch map[string]any) *tenants.Tenant {
	t.Helper()
	raw, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.UpdateSettings(context.Background(), tn.Slug, raw, "test")
	if err != nil {
		t.Fatalf("update settings: %v", err)
	}
	return out
}

// accessClaims is a typical access token's claim set: allauth's six plus iss.
func accessClaims() jwt.MapClaims {
	now := time.Now()
	sid := make([]byte, 48)
	_, _ = rand.Read(sid)
	return jwt.MapClaims{
		"iss":       "https://acme.hallpass.example",
		"sub":       "1234",
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"jti":       uuid.NewString(),
		"token_use": "access",
		"sid":       base64.StdEncoding.EncodeToString(sid),
	}
}

// sign signs a typical access token with key, its kid in the header.
func sign(tb testing.TB, key *tenants.SigningKey) string {
	tb.Helper()
	tok := jwt.NewWithClaims(key.Method, accessClaims())
	tok.Header["kid"] = key.Kid
	s, err := tok.SignedString(key.SignKey)
	if err != nil {
		tb.Fatalf("sign with %s: %v", key.Alg, err)
	}
	return s
}

// publicKeyFromJWK is what a tenant's backend does with a JWKS entry; it
// shares no code with the package on purpose.
func publicKeyFromJWK(jwk map[string]any) (any, error) {
	member := func(name string) ([]byte, error) {
		s, ok := jwk[name].(string)
		if !ok {
			return nil, fmt.Errorf("JWK lacks %q", name)
		}
		return base64.RawURLEncoding.DecodeString(s)
	}
	switch jwk["kty"] {
	case "RSA":
		n, err := member("n")
		if err != nil {
			return nil, err
		}
		e, err := member("e")
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		if jwk["crv"] != "P-256" {
			return nil, fmt.Errorf("curve %v", jwk["crv"])
		}
		x, err := member("x")
		if err != nil {
			return nil, err
		}
		y, err := member("y")
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("EC coordinates must be 32 bytes")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	case "OKP":
		if jwk["crv"] != "Ed25519" {
			return nil, fmt.Errorf("curve %v", jwk["crv"])
		}
		x, err := member("x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key must be 32 bytes")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("kty %v", jwk["kty"])
}

// parseJWKS decodes a JWKS document into its keys by kid, checking each is a
// public signing key.
func parseJWKS(t testing.TB, doc []byte) map[string]map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil || set.Keys == nil {
		t.Fatalf("JWKS %s: %v", doc, err)
	}
	out := map[string]map[string]any{}
	for _, k := range set.Keys {
		kid, _ := k["kid"].(string)
		if kid == "" || k["use"] != "sig" || k["alg"] == nil {
			t.Fatalf("JWK without kid/use/alg: %v", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWK %s publishes private member %q", kid, private)
			}
		}
		out[kid] = k
	}
	return out
}

// verifyWithJWKS verifies token the way a tenant's backend would: offline,
// with the key the JWKS names by the token's kid, pinned to alg.
func verifyWithJWKS(doc []byte, token, alg string) error {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return err
	}
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range set.Keys {
			if k["kid"] == kid {
				if k["alg"] != alg {
					return nil, fmt.Errorf("JWK %s is for %v", kid, k["alg"])
				}
				return publicKeyFromJWK(k)
			}
		}
		return nil, fmt.Errorf("kid %q not in JWKS", kid)
	}, jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired())
	return err
}

// verifyWithKeys verifies as the platform itself does (HS tokens included):
// the key by kid from the verification set.
func verifyWithKeys(ctx context.Context, keys *tenants.Keys, tn *tenants.Tenant, token, alg string) error {
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, err := keys.ByKid(ctx, tn, kid)
		if err != nil {
			return nil, err
		}
		return k.VerifyKey, nil
	}, jwt.WithValidMethods([]string{alg}))
	return err
}

func jwks(t testing.TB, keys *tenants.Keys, tn *tenants.Tenant) ([]byte, string) {
	t.Helper()
	doc, etag, err := keys.JWKS(context.Background(), tn)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return doc, etag
}

func signing(t testing.TB, keys *tenants.Keys, tn *tenants.Tenant) *tenants.SigningKey {
	t.Helper()
	k, err := keys.Signing(context.Background(), tn)
	if err != nil {
		t.Fatalf("Signing: %v", err)
	}
	return k
}

// storedRow is a signing_keys row as text, for checks that secrets are not in it.
func storedRows(t *testing.T, tn *tenants.Tenant) string {
	t.Helper()
	rows, err := testenv.Pool(t).Query(context.Background(), `SELECT row_to_json(k)::text FROM signing_keys k WHERE tenant_id = $1`, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out.WriteString(s + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if out.Len() == 0 {
		t.Fatal("no signing_keys rows")
	}
	return out.String()
}

// assertNotStored fails if any encoding of secret appears in the tenant's rows.
func assertNotStored(t *testing.T, tn *tenants.Tenant, what string, secret []byte) {
	t.Helper()
	stored := storedRows(t, tn)
	for _, enc := range []string{
		string(secret), hex.EncodeToString(secret),
		base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
	} {
		// Any 24-character window of the encoding would do to leak it.
		for i := 0; i+24 <= len(enc); i += 24 {
			if strings.Contains(stored, enc[i:i+24]) {
				t.Fatalf("%s appears in clear in signing_keys", what)
			}
		}
	}
	if strings.Contains(stored, "PRIVATE KEY") {
		t.Fatal("a PEM block appears in signing_keys")
	}
}

func privateDER(t *testing.T, key *tenants.SigningKey) []byte {
	t.Helper()
	if b, ok := key.SignKey.([]byte); ok {
		return b
	}
	der, err := x509.MarshalPKCS8PrivateKey(key.SignKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestKeysEveryAlgorithm(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)
	wantBits := map[string]int{"RS256": 2048, "RS384": 3072, "RS512": 4096}
	wantSecret := map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}
	for _, alg := range allAlgorithms {
		t.Run(alg, func(t *testing.T) {
			tn := jwtTenant(t, store, "keys-"+alg, map[string]any{"HEADLESS_JWT_ALGORITHM": alg})
			key := signing(t, keys, tn)
			if key.Alg != alg || key.State != tenants.KeyActive || key.Source != tenants.KeySourceGenerated || key.Method.Alg() != alg {
				t.Fatalf("key %s %s %s %s", key.Alg, key.State, key.Source, key.Method.Alg())
			}
			switch k := key.SignKey.(type) {
			case *rsa.PrivateKey:
				if k.N.BitLen() != wantBits[alg] {
					t.Fatalf("%s key has %d bits", alg, k.N.BitLen())
				}
			case []byte:
				if len(k) != wantSecret[alg] {
					t.Fatalf("%s secret has %d bytes", alg, len(k))
				}
			}
			if again := signing(t, keys, tn); again.Kid != key.Kid {
				t.Fatalf("second Signing gave another key: %s, %s", key.Kid, again.Kid)
			}
			token := sign(t, key)
			doc, _ := jwks(t, keys, tn)
			published := parseJWKS(t, doc)
			if strings.HasPrefix(alg, "HS") {
				if string(doc) != `{"keys":[]}` {
					t.Fatalf("HS tenant publishes %s", doc)
				}
				secret := key.SignKey.([]byte)
				sum := sha256.Sum256(append([]byte("hallpass-hs:"+alg+":"), secret...))
				if key.Kid != base64.RawURLEncoding.EncodeToString(sum[:]) {
					t.Fatalf("HS kid %s is not the documented one-way id", key.Kid)
				}
			} else {
				if len(published) != 1 || published[key.Kid] == nil || published[key.Kid]["alg"] != alg {
					t.Fatalf("JWKS %s does not publish %s", doc, key.Kid)
				}
				if tp, err := tenants.Thumbprint(key.VerifyKey); err != nil || tp != key.Kid {
					t.Fatalf("kid %s, thumbprint %s (%v)", key.Kid, tp, err)
				}
				if err := verifyWithJWKS(doc, token, alg); err != nil {
					t.Fatalf("a backend cannot verify with the JWKS: %v", err)
				}
				// The pinned algorithm matters: no other method passes.
				other := "ES256"
				if alg == "ES256" {
					other = "RS256"
				}
				if err := verifyWithJWKS(doc, token, other); err == nil {
					t.Fatal("token verified under another algorithm")
				}
			}
			if err := verifyWithKeys(ctx, keys, tn, token, alg); err != nil {
				t.Fatalf("verification set: %v", err)
			}
			vs, err := keys.Verification(ctx, tn)
			if err != nil || len(vs) != 1 || vs[0].Kid != key.Kid || vs[0].SignKey != nil {
				t.Fatalf("Verification: %v %v", vs, err)
			}
			assertNotStored(t, tn, "the private key", privateDER(t, key))
			// A fresh node (empty cache) reads the same key back.
			if k2 := signing(t, tenants.NewKeys(pool, sealer, nil), tn); k2.Kid != key.Kid {
				t.Fatalf("another node sees key %s, want %s", k2.Kid, key.Kid)
			}
		})
	}
}

// TestThumbprintRFC7638 checks the kid against RFC 7638 §3.1's own example.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got, err := tenants.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q (%v)", got, err)
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestKeysImportedFromSettings(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)

	t.Run("RSA PKCS#8", func(t *testing.T) {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		tn := jwtTenant(t, store, "import-rsa", map[string]any{"HEADLESS_JWT_ALGORITHM": "RS256", "HEADLESS_JWT_PRIVATE_KEY": pemOf(t, "PRIVATE KEY", der)})
		key := signing(t, keys, tn)
		// RFC 7638 by hand: the required members in lexicographic order, no whitespace.
		canonical := `{"e":"` + base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()) +
			`","kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(priv.N.Bytes()) + `"}`
		sum := sha256.Sum256([]byte(canonical))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); key.Kid != want {
			t.Fatalf("kid %s, want thumbprint %s", key.Kid, want)
		}
		if key.Source != tenants.KeySourceSettings || key.State != tenants.KeyActive || !key.SignKey.(*rsa.PrivateKey).Equal(priv) {
			t.Fatalf("imported key: %s %s", key.Source, key.State)
		}
		doc, _ := jwks(t, keys, tn)
		if err := verifyWithJWKS(doc, sign(t, key), "RS256"); err != nil {
			t.Fatal(err)
		}
		assertNotStored(t, tn, "the imported PEM", der)

		if _, err := keys.Rotate(ctx, tn, "", 0, "test"); !errors.Is(err, tenants.ErrImportedKey) || !strings.Contains(err.Error(), "HEADLESS_JWT_PRIVATE_KEY") {
			t.Fatalf("Rotate of an imported key: %v", err)
		}
		if err := keys.Retire(ctx, tn, key.Kid, "test"); !errors.Is(err, tenants.ErrImportedKey) {
			t.Fatalf("Retire of an imported key: %v", err)
		}

		// A new key in the setting replaces the old one, which stays published.
		old, oldToken := key, sign(t, key)
		priv2, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der2 := x509.MarshalPKCS1PrivateKey(priv2) // the older PEM form is accepted too
		tn = updateSettings(t, store, tn, map[string]any{"HEADLESS_JWT_PRIVATE_KEY": pemOf(t, "RSA PRIVATE KEY", der2)})
		key = signing(t, keys, tn)
		if key.Kid == old.Kid || !key.SignKey.(*rsa.PrivateKey).Equal(priv2) {
			t.Fatal("changed HEADLESS_JWT_PRIVATE_KEY did not become the active key")
		}
		doc, _ = jwks(t, keys, tn)
		if err := verifyWithJWKS(doc, oldToken, "RS256"); err != nil {
			t.Fatalf("token of the replaced key: %v", err)
		}
		if err := verifyWithJWKS(doc, sign(t, key), "RS256"); err != nil {
			t.Fatal(err)
		}

		// Same key, other RS algorithm: a thumbprint ignores alg, so the kid
		// gets the algorithm appended and tokens of both keep verifying.
		tn = updateSettings(t, store, tn, map[string]any{"HEADLESS_JWT_ALGORITHM": "RS512"})
		k512 := signing(t, keys, tn)
		if k512.Kid != key.Kid+"-RS512" || k512.Alg != "RS512" {
			t.Fatalf("same key under RS512: kid %s alg %s", k512.Kid, k512.Alg)
		}
		doc, _ = jwks(t, keys, tn)
		if err := verifyWithJWKS(doc, sign(t, key), "RS256"); err != nil {
			t.Fatalf("RS256 token after switching to RS512: %v", err)
		}
		if err := verifyWithJWKS(doc, sign(t, k512), "RS512"); err != nil {
			t.Fatal(err)
		}

		// Removing the setting hands the key over to the platform.
		tn = updateSettings(t, store, tn, map[string]any{"HEADLESS_JWT_PRIVATE_KEY": nil})
		gen := signing(t, keys, tn)
		if gen.Source != tenants.KeySourceGenerated || gen.Alg != "RS512" {
			t.Fatalf("after removing the setting: %s %s", gen.Source, gen.Alg)
		}
	})

	t.Run("EC", func(t *testing.T) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		tn := jwtTenant(t, store, "import-ec", map[string]any{"HEADLESS_JWT_ALGORITHM": "ES256", "HEADLESS_JWT_PRIVATE_KEY": pemOf(t, "EC PRIVATE KEY", der)})
		key := signing(t, keys, tn)
		want, _ := tenants.Thumbprint(&priv.PublicKey)
		if key.Kid != want || key.Source != tenants.KeySourceSettings {
			t.Fatalf("kid %s (want %s), source %s", key.Kid, want, key.Source)
		}
		doc, _ := jwks(t, keys, tn)
		if err := verifyWithJWKS(doc, sign(t, key), "ES256"); err != nil {
			t.Fatal(err)
		}
		assertNotStored(t, tn, "the imported EC key", der)
		scalar, err := priv.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		assertNotStored(t, tn, "the EC scalar", scalar)
	})

	t.Run("HS secret", func(t *testing.T) {
		const secret = "an-imported-hmac-secret-of-at-least-32-bytes!"
		tn := jwtTenant(t, store, "import-hs", map[string]any{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": secret})
		key := signing(t, keys, tn)
		sum := sha256.Sum256([]byte("hallpass-hs:HS256:" + secret))
		if key.Kid != base64.RawURLEncoding.EncodeToString(sum[:]) || string(key.SignKey.([]byte)) != secret {
			t.Fatalf("HS kid %s", key.Kid)
		}
		if strings.Contains(key.Kid, secret[:8]) {
			t.Fatal("kid reveals the secret")
		}
		if doc, _ := jwks(t, keys, tn); string(doc) != `{"keys":[]}` {
			t.Fatalf("HS tenant publishes %s", doc)
		}
		token := sign(t, key)
		if err := verifyWithKeys(ctx, keys, tn, token, "HS256"); err != nil {
			t.Fatal(err)
		}
		// What the tenant's backend does with its own copy of the secret.
		if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
			t.Fatal(err)
		}
		assertNotStored(t, tn, "the HS secret", []byte(secret))
		_, err := keys.Rotate(ctx, tn, "HS256", 0, "test")
		if !errors.Is(err, tenants.ErrImportedKey) || !strings.Contains(err.Error(), "HEADLESS_JWT_PRIVATE_KEY") {
			t.Fatalf("HS rotation with an imported secret: %v", err)
		}
	})
}

func TestKeysAlgorithmChangeRotates(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)
	tn := jwtTenant(t, store, "alg-change", map[string]any{"HEADLESS_JWT_ALGORITHM": "RS256", "HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN": 3600})
	k1 := signing(t, keys, tn)
	t1 := sign(t, k1)

	tn = updateSettings(t, store, tn, map[string]any{"HEADLESS_JWT_ALGORITHM": "ES256"})
	before := time.Now()
	k2 := signing(t, keys, tn)
	if k2.Alg != "ES256" || k2.Kid == k1.Kid {
		t.Fatalf("after the algorithm change: %s %s", k2.Alg, k2.Kid)
	}
	doc, _ := jwks(t, keys, tn)
	if pub := parseJWKS(t, doc); len(pub) != 2 || pub[k1.Kid] == nil || pub[k2.Kid] == nil {
		t.Fatalf("JWKS after the change: %s", doc)
	}
	if err := verifyWithJWKS(doc, t1, "RS256"); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	if err := verifyWithJWKS(doc, sign(t, k2), "ES256"); err != nil {
		t.Fatal(err)
	}
	list, err := keys.List(ctx, tn)
	if err != nil || len(list) != 2 || list[0].Kid != k2.Kid || list[1].Kid != k1.Kid {
		t.Fatalf("List: %v %v", list, err)
	}
	old := list[1]
	// Retired until the longest token lifetime (refresh: 3600 s) has passed.
	if old.State != tenants.KeyRetired || old.NotAfter == nil || old.NotAfter.Before(before.Add(time.Hour)) || old.NotAfter.After(time.Now().Add(time.Hour+2*time.Minute)) {
		t.Fatalf("retired key: %s not_after %v", old.State, old.NotAfter)
	}
	if list[0].SignKey != nil || list[1].SignKey != nil {
		t.Fatal("List hands out private keys")
	}
}

func TestKeysRotateWithPublishDelay(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)
	tn := jwtTenant(t, store, "rotate", map[string]any{"HEADLESS_JWT_ALGORITHM": "ES256"})
	k1 := signing(t, keys, tn)
	t1 := sign(t, k1)
	doc1, etag1 := jwks(t, keys, tn)
	if doc, etag := jwks(t, keys, tn); etag != etag1 || !bytes.Equal(doc, doc1) {
		t.Fatal("JWKS or ETag changed without a change")
	}
	if doc, etag := jwks(t, tenants.NewKeys(pool, sealer, nil), tn); etag != etag1 || !bytes.Equal(doc, doc1) {
		t.Fatal("another node serves another JWKS document")
	}
	if !strings.HasPrefix(etag1, `"`) || !strings.HasSuffix(etag1, `"`) {
		t.Fatalf("ETag %s is not quoted", etag1)
	}

	const delay = 300 * time.Millisecond
	next, err := keys.Rotate(ctx, tn, "", delay, "test")
	if err != nil {
		t.Fatal(err)
	}
	if next.State != tenants.KeyNext || next.ActivateAt == nil || next.Alg != "ES256" {
		t.Fatalf("rotated key: %s %v", next.State, next.ActivateAt)
	}
	doc2, etag2 := jwks(t, keys, tn)
	if pub := parseJWKS(t, doc2); pub[next.Kid] == nil || pub[k1.Kid] == nil {
		t.Fatalf("JWKS during the publish delay: %s", doc2)
	}
	if etag2 == etag1 {
		t.Fatal("ETag unchanged after rotation")
	}
	if k := signing(t, keys, tn); k.Kid != k1.Kid {
		t.Fatal("the next key signs before its publish delay passed")
	}
	time.Sleep(time.Until(*next.ActivateAt) + 20*time.Millisecond)
	k2 := signing(t, keys, tn) // no Invalidate: the cache knows activate_at
	if k2.Kid != next.Kid || k2.State != tenants.KeyActive {
		t.Fatalf("after the delay Signing gives %s (%s), want %s", k2.Kid, k2.State, next.Kid)
	}
	doc3, etag3 := jwks(t, keys, tn)
	if err := verifyWithJWKS(doc3, t1, "ES256"); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	if err := verifyWithJWKS(doc3, sign(t, k2), "ES256"); err != nil {
		t.Fatal(err)
	}
	if etag3 == etag2 {
		t.Fatal("ETag unchanged after promotion")
	}

	// Without a delay the new key signs at once; a pending next is replaced.
	pending, err := keys.Rotate(ctx, tn, "", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	now, err := keys.Rotate(ctx, tn, "", 0, "test")
	if err != nil || now.State != tenants.KeyActive {
		t.Fatalf("rotation without delay: %v %v", now, err)
	}
	if k := signing(t, keys, tn); k.Kid != now.Kid {
		t.Fatal("rotation without delay does not sign at once")
	}
	if _, err := keys.ByKid(ctx, tn, pending.Kid); !errors.Is(err, tenants.ErrKeyNotFound) {
		t.Fatalf("the replaced pending key is still published: %v", err)
	}

	// Rotating to another algorithm prepares a switch: the key waits as next
	// until HEADLESS_JWT_ALGORITHM names it, then signs at once.
	ed, err := keys.Rotate(ctx, tn, "EdDSA", 0, "test")
	if err != nil || ed.State != tenants.KeyNext {
		t.Fatalf("rotation to EdDSA: %v %v", ed, err)
	}
	if k := signing(t, keys, tn); k.Kid != now.Kid {
		t.Fatal("a key for another algorithm signs before the setting changes")
	}
	tn = updateSettings(t, store, tn, map[string]any{"HEADLESS_JWT_ALGORITHM": "EdDSA"})
	if k := signing(t, keys, tn); k.Kid != ed.Kid {
		t.Fatalf("after the algorithm switch Signing gives %s, want the prepared %s", k.Kid, ed.Kid)
	}

	if _, err := keys.Rotate(ctx, tn, "PS256", 0, "test"); !errors.Is(err, tenants.ErrUnsupportedAlgorithm) {
		t.Fatalf("unsupported algorithm: %v", err)
	}
	var actions []string
	rows, err := pool.Query(ctx, `SELECT action FROM audit_events WHERE tenant_id = $1 AND action LIKE 'signing_key.%' ORDER BY at, id`, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	if strings.Count(strings.Join(actions, " "), "signing_key.rotate") != 4 {
		t.Fatalf("audit trail: %v", actions)
	}
}

func TestKeysRetireAndList(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)
	tn := jwtTenant(t, store, "retire", map[string]any{"HEADLESS_JWT_ALGORITHM": "EdDSA"})
	k1 := signing(t, keys, tn)
	if err := keys.Retire(ctx, tn, k1.Kid, "test"); err != nil {
		t.Fatal(err)
	}
	k2 := signing(t, keys, tn)
	if k2.Kid == k1.Kid {
		t.Fatal("the retired key still signs")
	}
	if _, err := keys.ByKid(ctx, tn, k1.Kid); err != nil {
		t.Fatalf("a retired key no longer verifies: %v", err)
	}
	if err := keys.Retire(ctx, tn, k1.Kid, "test"); err == nil {
		t.Fatal("retiring twice succeeded")
	}
	if err := keys.Retire(ctx, tn, "no-such-kid-0123456789", "test"); !errors.Is(err, tenants.ErrKeyNotFound) {
		t.Fatalf("Retire of an unknown kid: %v", err)
	}
	if _, err := keys.ByKid(ctx, tn, "no-such-kid-0123456789"); !errors.Is(err, tenants.ErrKeyNotFound) {
		t.Fatalf("ByKid of an unknown kid: %v", err)
	}
	list, err := keys.List(ctx, tn)
	if err != nil || len(list) != 2 || list[0].Kid != k2.Kid || list[1].State != tenants.KeyRetired {
		t.Fatalf("List: %v %v", list, err)
	}

	// A tenant on session tokens gets no keys from anonymous JWKS requests.
	plain, err := store.Create(ctx, tenants.CreateInput{Slug: testenv.Slug("no-jwt")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := jwks(t, keys, plain); string(doc) != `{"keys":[]}` {
		t.Fatalf("session-token tenant publishes %s", doc)
	}
	if list, err := keys.List(ctx, plain); err != nil || len(list) != 0 {
		t.Fatalf("JWKS request generated keys: %v %v", list, err)
	}
}

// fanout is the test's stand-in for the Redis bus: every node hears every change.
type fanout struct{ nodes []*tenants.Keys }

func (f *fanout) PublishChange(_ context.Context, c tenants.Change) error {
	for _, n := range f.nodes {
		n.Invalidate(c.ID)
	}
	return nil
}

// TestKeysRotationUnderLoad rotates while signers on one node and verifiers
// reading the JWKS of another (with their own short JWKS cache, as backends
// have) keep going: no token may fail to verify.
func TestKeysRotationUnderLoad(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	bus := &fanout{}
	signer, publisher, admin := tenants.NewKeys(pool, sealer, bus), tenants.NewKeys(pool, sealer, bus), tenants.NewKeys(pool, sealer, bus)
	bus.nodes = []*tenants.Keys{signer, publisher, admin}
	tn := jwtTenant(t, tenants.NewStore(pool, sealer, nil), "load", map[string]any{"HEADLESS_JWT_ALGORITHM": "RS256"})
	first := signing(t, signer, tn)

	const publishDelay = 300 * time.Millisecond
	const backendCache = 100 * time.Millisecond // shorter than the publish delay
	var (
		stop     atomic.Bool
		signed   atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		kids     = map[string]bool{}
		firstErr error
	)
	for range 4 {
		wg.Go(func() {
			var doc []byte
			var fetched time.Time
			for !stop.Load() {
				key, err := signer.Signing(ctx, tn)
				if err == nil {
					tok := jwt.NewWithClaims(key.Method, accessClaims())
					tok.Header["kid"] = key.Kid
					var s string
					if s, err = tok.SignedString(key.SignKey); err == nil {
						if time.Since(fetched) > backendCache {
							doc, _, err = publisher.JWKS(ctx, tn)
							fetched = time.Now()
						}
						if err == nil {
							err = verifyWithJWKS(doc, s, "RS256")
						}
					}
					mu.Lock()
					kids[key.Kid] = true
					mu.Unlock()
				}
				signed.Add(1)
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	next, err := admin.Rotate(ctx, tn, "", publishDelay, "test")
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d tokens failed to verify during rotation; first: %v", failures.Load(), signed.Load(), firstErr)
	}
	if !kids[first.Kid] || !kids[next.Kid] {
		t.Fatalf("signers did not move to the new key: %v", kids)
	}
	t.Logf("%d tokens signed and verified across the rotation", signed.Load())
}

// TestKeysCrossNodeThroughBus: a rotation on one node reaches another through
// the Redis bus and the tenant cache alone, without Invalidate or waiting for
// entries to expire.
func TestKeysCrossNodeThroughBus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, sealer, rdb := testenv.Pool(t), testenv.Sealer(t), testenv.Redis(t)
	channel := "hp:test:" + testenv.Slug("keys-bus")
	busA, busB := tenants.NewBus(rdb, channel, nil), tenants.NewBus(rdb, channel, nil)
	cacheB := tenants.NewCache(tenants.NewStore(pool, sealer, busB), time.Hour)
	ready := make(chan struct{})
	go busB.Run(ctx, cacheB, ready)
	<-ready
	keysA, keysB := tenants.NewKeys(pool, sealer, busA), tenants.NewKeys(pool, sealer, busB)

	tn := jwtTenant(t, tenants.NewStore(pool, sealer, nil), "keys-bus", map[string]any{"HEADLESS_JWT_ALGORITHM": "ES256"})
	tb, err := cacheB.BySlug(ctx, tn.Slug)
	if err != nil {
		t.Fatal(err)
	}
	k1 := signing(t, keysB, tb)
	next, err := keysA.Rotate(ctx, tn, "", 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node B signs with the key node A rotated in", func() bool {
		tb, err := cacheB.BySlug(ctx, tn.Slug)
		if err != nil {
			return false
		}
		k, err := keysB.Signing(ctx, tb)
		return err == nil && k.Kid == next.Kid && k.Kid != k1.Kid
	})
}

// TestKeysConcurrentSigningOnFreshTenant: ten nodes asking at once for the
// key of a tenant that has none agree on one generated key.
func TestKeysConcurrentSigningOnFreshTenant(t *testing.T) {
	ctx := context.Background()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	tn := jwtTenant(t, tenants.NewStore(pool, sealer, nil), "fresh", map[string]any{"HEADLESS_JWT_ALGORITHM": "RS256"})
	kids := make([]string, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 10 {
		node := tenants.NewKeys(pool, sealer, nil) // separate caches: separate nodes
		wg.Go(func() {
			<-start
			k, err := node.Signing(ctx, tn)
			errs[i] = err
			if err == nil {
				kids[i] = k.Kid
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range 10 {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("nodes got different keys: %v", kids)
		}
	}
	var active, total int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'active'), count(*) FROM signing_keys WHERE tenant_id = $1`, tn.ID).Scan(&active, &total); err != nil {
		t.Fatal(err)
	}
	if active != 1 || total != 1 {
		t.Fatalf("%d active of %d keys", active, total)
	}
}

func TestKeysMasterKeyRotation(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	sealerOld, _ := seal.New(oldKey)
	sealerBoth, _ := seal.New(newKey, oldKey)
	sealerNew, _ := seal.New(newKey)

	keysOld := tenants.NewKeys(pool, sealerOld, nil)
	store := tenants.NewStore(pool, sealerOld, nil)
	var tns []*tenants.Tenant
	var tokens []string
	for _, alg := range []string{"RS256", "ES256", "HS384"} {
		tn := jwtTenant(t, store, "reseal-"+alg, map[string]any{"HEADLESS_JWT_ALGORITHM": alg})
		tokens = append(tokens, sign(t, signing(t, keysOld, tn)))
		tns = append(tns, tn)
	}
	if _, err := keysOld.Rotate(ctx, tns[0], "", time.Hour, "test"); err != nil { // a next key is sealed too
		t.Fatal(err)
	}
	const sealedKeys = 4

	// The new master key is current, the old one still opens.
	keysBoth := tenants.NewKeys(pool, sealerBoth, nil)
	for i, tn := range tns {
		if err := verifyWithKeys(ctx, keysBoth, tn, tokens[i], tn.Settings.JWTAlgorithm); err != nil {
			t.Fatalf("%s before reseal: %v", tn.Settings.JWTAlgorithm, err)
		}
	}
	if _, err := tenants.NewKeys(pool, sealerNew, nil).Signing(ctx, tns[0]); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("the new key alone opened keys sealed under the old one: %v", err)
	}
	n, err := keysBoth.Reseal(ctx)
	// Other tests' keys are sealed under the test binary's own master key,
	// which this sealer does not hold: reported, and left alone.
	if err != nil && !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatal(err)
	}
	if n != sealedKeys {
		t.Fatalf("resealed %d keys, want %d", n, sealedKeys)
	}
	keysNew := tenants.NewKeys(pool, sealerNew, nil)
	for i, tn := range tns {
		if err := verifyWithKeys(ctx, keysNew, tn, tokens[i], tn.Settings.JWTAlgorithm); err != nil {
			t.Fatalf("%s after reseal, new key only: %v", tn.Settings.JWTAlgorithm, err)
		}
		var stale int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE tenant_id = $1 AND private_sealed NOT LIKE $2`,
			tn.ID, "hps1:"+seal.KeyID(newKey)+":%").Scan(&stale); err != nil || stale != 0 {
			t.Fatalf("%d keys still sealed under the old master key (%v)", stale, err)
		}
	}
	if n, _ := keysBoth.Reseal(ctx); n != 0 {
		t.Fatalf("second reseal resealed %d", n)
	}
}
