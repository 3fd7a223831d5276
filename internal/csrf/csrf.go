// Package csrf holds Django's CSRF token rules, which allauth's browser
// frontends and its own pages follow: a 32-character secret in the
// csrftoken cookie, echoed by unsafe requests in the X-CSRFToken header or
// the csrfmiddlewaretoken form field, either as the secret itself or in
// Django's masked 64-character form. The headless API and the hosted pages
// apply the same rules; each adapts them to its requests.
package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"strings"
)

// Names Django uses, which allauth frontends depend on.
const (
	// Cookie holds the secret.
	Cookie = "csrftoken"
	// Header carries the token on requests made by script.
	Header = "X-CSRFToken"
	// FormField carries the token in a form post.
	FormField = "csrfmiddlewaretoken"
	// TokenLength is the secret's length; a masked token is twice as long.
	TokenLength = 32
)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewToken returns a new secret.
func NewToken() string {
	return randomString(TokenLength)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Valid reports whether s is a well-formed secret (what a csrftoken cookie
// must hold to count).
func Valid(s string) bool {
	if len(s) != TokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// Unmask returns the secret a sent token stands for: the token itself when
// it is a secret's length, or the secret under Django's mask (mask followed
// by the masked secret); "" when it is neither.
func Unmask(s string) string {
	if len(s) == TokenLength {
		return s
	}
	if len(s) != 2*TokenLength || !Valid(s[:TokenLength]) || !Valid(s[TokenLength:]) {
		return ""
	}
	mask, token := s[:TokenLength], s[TokenLength:]
	out := make([]byte, TokenLength)
	n := len(alphabet)
	for i := range out {
		x := strings.IndexByte(alphabet, token[i]) - strings.IndexByte(alphabet, mask[i])
		out[i] = alphabet[(x%n+n)%n]
	}
	return string(out)
}

// Mask returns secret under a fresh random mask, as Django puts it in a
// form: a page's token differs on every response (no fixed secret in the
// compressed body), and Unmask gives the secret back.
func Mask(secret string) string {
	mask := randomString(TokenLength)
	out := make([]byte, 2*TokenLength)
	copy(out, mask)
	n := len(alphabet)
	for i := 0; i < TokenLength; i++ {
		x := strings.IndexByte(alphabet, secret[i]) + strings.IndexByte(alphabet, mask[i])
		out[TokenLength+i] = alphabet[x%n]
	}
	return string(out)
}

// Matches reports whether sent (a secret or a masked token) stands for the
// secret cookie, which must itself be valid.
func Matches(cookie, sent string) bool {
	if !Valid(cookie) {
		return false
	}
	secret := Unmask(sent)
	return secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(cookie)) == 1
}
