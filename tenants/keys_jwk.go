package tenants

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// signingMethods are the algorithms a tenant may sign with
// (HEADLESS_JWT_ALGORITHM), by JOSE name.
var signingMethods = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256,
	"RS384": jwt.SigningMethodRS384,
	"RS512": jwt.SigningMethodRS512,
	"HS256": jwt.SigningMethodHS256,
	"HS384": jwt.SigningMethodHS384,
	"HS512": jwt.SigningMethodHS512,
	"ES256": jwt.SigningMethodES256,
	"EdDSA": jwt.SigningMethodEdDSA,
}

// rsaBits sizes generated RSA keys to the strength of the hash each
// algorithm pairs with (NIST SP 800-57: 2048 ≈ 112, 3072 ≈ 128 bits; 4096
// for RS512 as most issuers use). Generation takes up to about a second for
// 4096 bits, once per key, under the tenant's key lock.
var rsaBits = map[string]int{"RS256": 2048, "RS384": 3072, "RS512": 4096}

func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// keyMaterial is the parsed form of one key; it never changes for a kid, so
// it is kept across reloads of a tenant's key set.
type keyMaterial struct {
	method    jwt.SigningMethod
	signKey   any // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey or []byte
	verifyKey any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// generatePrivateKey makes a fresh key for alg.
func generatePrivateKey(alg string) (any, error) {
	switch {
	case isHMAC(alg):
		b := make([]byte, hmacMinKeyBytes[alg])
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return b, nil
	case strings.HasPrefix(alg, "RS"):
		return rsa.GenerateKey(rand.Reader, rsaBits[alg])
	case alg == "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, alg)
}

// parseImportedKey reads HEADLESS_JWT_PRIVATE_KEY (already validated against
// alg by the settings parser): the secret itself for HS*, else a PEM key.
func parseImportedKey(alg, value string) (any, error) {
	if isHMAC(alg) {
		return []byte(value), nil
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(value)))
	if block == nil {
		return nil, errors.New("tenants: HEADLESS_JWT_PRIVATE_KEY is not PEM")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("tenants: HEADLESS_JWT_PRIVATE_KEY has PEM type %q", block.Type)
	}
	if err != nil {
		// The parser's message may quote key bytes; say only what failed.
		return nil, fmt.Errorf("tenants: HEADLESS_JWT_PRIVATE_KEY is not a valid %s", block.Type)
	}
	return k, nil
}

// newMaterial checks that priv fits alg and returns its parsed form.
func newMaterial(alg string, priv any) (*keyMaterial, error) {
	m := &keyMaterial{method: signingMethods[alg], signKey: priv}
	if m.method == nil {
		return nil, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, alg)
	}
	ok := false
	switch k := priv.(type) {
	case []byte:
		ok, m.verifyKey = isHMAC(alg), k
	case *rsa.PrivateKey:
		ok, m.verifyKey = strings.HasPrefix(alg, "RS"), &k.PublicKey
	case *ecdsa.PrivateKey:
		ok, m.verifyKey = alg == "ES256" && k.Curve == elliptic.P256(), &k.PublicKey
	case ed25519.PrivateKey:
		ok, m.verifyKey = alg == "EdDSA", k.Public()
	}
	if !ok {
		return nil, fmt.Errorf("tenants: a %T cannot sign %s", priv, alg)
	}
	return m, nil
}

// marshalPrivateKey is what gets sealed: the HS secret, or PKCS#8 DER.
func marshalPrivateKey(priv any) ([]byte, error) {
	if b, ok := priv.([]byte); ok {
		return b, nil
	}
	return x509.MarshalPKCS8PrivateKey(priv)
}

func unmarshalPrivateKey(alg string, b []byte) (any, error) {
	if isHMAC(alg) {
		return b, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, errors.New("tenants: stored signing key is not valid PKCS#8")
	}
	return k, nil
}

// thumbprintMembers are the JWK members RFC 7638 §3.2 hashes.
func thumbprintMembers(pub crypto.PublicKey) (map[string]any, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("tenants: only P-256 EC keys are supported")
		}
		raw, err := k.Bytes() // 0x04 ‖ X ‖ Y, each left-padded to 32 bytes
		if err != nil {
			return nil, err
		}
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}, nil
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}, nil
	}
	return nil, fmt.Errorf("tenants: no JWK for a %T", pub)
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of an
// RSA, P-256 or Ed25519 (RFC 8037) public key: the kid of asymmetric keys.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	m, err := thumbprintMembers(pub)
	if err != nil {
		return "", err
	}
	// encoding/json sorts map keys and writes no whitespace, which is the
	// canonical form RFC 7638 hashes; base64url values need no escaping.
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return b64(sum[:]), nil
}

// hmacKid names an HS key without revealing its secret. RFC 7638 would hash
// an oct JWK, whose only member is the secret itself, so a kid derived that
// way is as good as the secret to anyone who can guess it; this one is a
// domain-separated SHA-256 of algorithm and secret instead: base64url of
// SHA-256("hallpass-hs:" ‖ alg ‖ ":" ‖ secret), 43 characters. The algorithm
// is included so one secret used with two HS algorithms gives two kids.
func hmacKid(alg string, secret []byte) string {
	h := sha256.New()
	h.Write([]byte("hallpass-hs:" + alg + ":"))
	h.Write(secret)
	return b64(h.Sum(nil))
}

// keyID returns the kid of a key: its thumbprint, or hmacKid for secrets.
func keyID(alg string, m *keyMaterial) (string, error) {
	if b, ok := m.verifyKey.([]byte); ok {
		return hmacKid(alg, b), nil
	}
	return Thumbprint(m.verifyKey)
}

// publicJWK is the document a key is published as in the JWKS; nil for HS.
func publicJWK(kid, alg string, m *keyMaterial) (map[string]any, error) {
	if isHMAC(alg) {
		return nil, nil
	}
	jwk, err := thumbprintMembers(m.verifyKey)
	if err != nil {
		return nil, err
	}
	jwk["kid"], jwk["alg"], jwk["use"] = kid, alg, "sig"
	return jwk, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
