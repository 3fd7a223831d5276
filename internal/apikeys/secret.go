package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"strings"
)

// A secret is SecretPrefix, secretRandomLen random base62 characters
// (43 × log2(62) ≈ 256.03 bits) and a checksumLen-character base62 CRC-32
// of those. The checksum lets a malformed or mistyped key be refused
// without a lookup, and lets secret scanners recognise a real key.
const (
	// SecretPrefix starts every API key.
	SecretPrefix    = "hp_"
	secretRandomLen = 43
	checksumLen     = 6
	// SecretLen is the length of a whole secret.
	SecretLen = len(SecretPrefix) + secretRandomLen + checksumLen
	// shownLen is how much of a secret a list shows (Key.Prefix).
	shownLen = len(SecretPrefix) + 8
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSecret returns a fresh secret.
func newSecret() (string, error) {
	var b strings.Builder
	b.Grow(SecretLen)
	b.WriteString(SecretPrefix)
	buf := make([]byte, 64)
	n := 0
	for n < secretRandomLen {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// 248 = 4 × 62: rejecting the rest keeps every character
			// equally likely.
			if c >= 248 || n == secretRandomLen {
				continue
			}
			b.WriteByte(base62[c%62])
			n++
		}
	}
	b.WriteString(checksum(b.String()[len(SecretPrefix):]))
	return b.String(), nil
}

// isBase62 marks the bytes of base62 (a table: WellFormed runs on every
// request).
var isBase62 = func() (t [256]bool) {
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = true
	}
	return t
}()

// checksum is the base62 CRC-32 (IEEE) of body, left-padded to checksumLen.
func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// WellFormed reports whether s has a secret's shape and a matching
// checksum; a key that fails it cannot exist, and costs no lookup.
func WellFormed(s string) bool {
	if len(s) != SecretLen || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	body := s[len(SecretPrefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62[body[i]] {
			return false
		}
	}
	return checksum(body[:secretRandomLen]) == body[secretRandomLen:]
}

// hashSecret is what the store keeps of a secret.
func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }
