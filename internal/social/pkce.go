package social

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewPKCE returns a fresh PKCE code verifier (RFC 7636: 43 characters of
// base64url, 256 random bits) and its S256 challenge.
func NewPKCE() (verifier, challenge string) {
	verifier = randomToken(32)
	return verifier, PKCEChallenge(verifier)
}

// PKCEChallenge is the S256 code challenge of verifier:
// BASE64URL(SHA256(verifier)) without padding.
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewNonce returns a fresh OpenID Connect nonce (256 random bits).
func NewNonce() string { return randomToken(32) }
