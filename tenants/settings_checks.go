package tenants

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// checkEmailFrom accepts "addr@example.com" or "Name <addr@example.com>".
func checkEmailFrom(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("must be a single line")
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return "", fmt.Errorf("%q must be an email address or \"Name <address>\"", s)
	}
	return s, nil
}

func checkPrintable(s string) (string, error) {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errors.New("must not contain control characters or line breaks")
	}
	return s, nil
}

func checkNonEmpty(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	return s, nil
}

// tokenPattern is RFC 9110's token: header names, auth schemes, cookie names.
var tokenPattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func checkToken(s string) (string, error) {
	if !tokenPattern.MatchString(s) {
		return "", fmt.Errorf("%q must be a non-empty HTTP token (letters, digits and !#$%%&'*+.^_`|~-)", s)
	}
	return s, nil
}

func checkHeaderName(s string) (string, error) {
	if !tokenPattern.MatchString(s) {
		return "", fmt.Errorf("%q is not a valid HTTP header name", s)
	}
	return s, nil
}

var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkHoneypotName wants a form-field name that no real signup input uses,
// or every human signup would be treated as a bot.
func checkHoneypotName(s string) (string, error) {
	if !identifierPattern.MatchString(s) {
		return "", fmt.Errorf("%q must be a field name (letters, digits, underscores)", s)
	}
	if slices.Contains(allSignupFields, s) || s == "password" {
		return "", fmt.Errorf("%q is a real signup field", s)
	}
	return s, nil
}

func checkCookiePath(s string) (string, error) {
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "; ") || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%q must be a path starting with / without spaces or semicolons", s)
	}
	return s, nil
}

var urlPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

func checkURLPrefix(s string) (string, error) {
	if !urlPrefixPattern.MatchString(s) {
		return "", fmt.Errorf("%q must be one or more URL path segments without leading or trailing slashes", s)
	}
	return s, nil
}

// checkHTTPSURL accepts an absolute https URL with a host; plain http only
// on the loopback interface (a provider on the developer's machine, which
// the server reaches only with HALLPASS_SOCIAL_ALLOW_PRIVATE_NETWORKS).
func checkHTTPSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname()))) {
		return fmt.Errorf("%q must be an absolute https URL", s)
	}
	if loopbackHost(u.Hostname()) {
		return nil
	}
	if !validHostname(strings.ToLower(u.Hostname())) {
		return fmt.Errorf("%q has an invalid host", s)
	}
	return nil
}

// hmacMinKeyBytes follows RFC 7518 §3.2: an HMAC key at least as long as
// the hash output.
var hmacMinKeyBytes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// checkJWTKey checks that key can sign with alg. Messages describe the key
// (its kind, size, PEM block type) but never include any of its contents.
func checkJWTKey(alg, key string) error {
	if key == "" {
		return nil // the platform generates and manages a key
	}
	if min, ok := hmacMinKeyBytes[alg]; ok {
		if strings.Contains(key, "-----BEGIN") {
			return fmt.Errorf("%s signs with a shared secret, but a PEM key was given; use RS256, ES256 or EdDSA for key pairs", alg)
		}
		if len(key) < min {
			return fmt.Errorf("%s needs a secret of at least %d bytes", alg, min)
		}
		return nil
	}
	trimmed := strings.TrimSpace(key)
	if !strings.HasPrefix(trimmed, "-----BEGIN ") {
		return fmt.Errorf("%s needs a PEM-encoded private key (-----BEGIN PRIVATE KEY----- ...)", alg)
	}
	block, rest := pem.Decode([]byte(trimmed))
	if block == nil {
		return errors.New("is not a well-formed PEM block")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return errors.New("must contain exactly one PEM block (the private key only)")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return errors.New("is encrypted; give the unencrypted private key (it is sealed at rest)")
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return fmt.Errorf("is a %s; the private key is needed", strings.ToLower(block.Type))
	default:
		return fmt.Errorf("has PEM type %q; want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return fmt.Errorf("is not a valid %s", block.Type)
	}
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		if !strings.HasPrefix(alg, "RS") {
			return fmt.Errorf("is an RSA key, but %s needs %s", alg, wantKeyKind(alg))
		}
		if bits := k.N.BitLen(); bits < 2048 {
			return fmt.Errorf("is a %d-bit RSA key; %s needs at least 2048 bits", bits, alg)
		}
		if k.Validate() != nil {
			return errors.New("is not a consistent RSA private key")
		}
	case *ecdsa.PrivateKey:
		if alg != "ES256" {
			return fmt.Errorf("is an EC key, but %s needs %s", alg, wantKeyKind(alg))
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("is an EC key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
		if alg != "EdDSA" {
			return fmt.Errorf("is an Ed25519 key, but %s needs %s", alg, wantKeyKind(alg))
		}
	default:
		return fmt.Errorf("is a %T key, but %s needs %s", parsed, alg, wantKeyKind(alg))
	}
	return nil
}

func wantKeyKind(alg string) string {
	switch {
	case strings.HasPrefix(alg, "RS"):
		return "an RSA private key"
	case alg == "ES256":
		return "a P-256 EC private key"
	case alg == "EdDSA":
		return "an Ed25519 private key"
	}
	return "a shared secret"
}
