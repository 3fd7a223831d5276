// Package seal encrypts secrets at rest (JWT private keys, OAuth client
// secrets, TOTP seeds, queued mail) with AES-256-GCM under the platform's
// master key.
//
// A sealed value names the key that sealed it, so the master key can be
// rotated: configure the new key as current and keep the old ones for opening
// until every value has been re-sealed.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// prefix marks the format version of a sealed string.
const prefix = "hps1"

// ErrUnknownKey is returned when a sealed value names a key the sealer does not hold.
var ErrUnknownKey = errors.New("seal: sealed with an unknown master key")

// ErrMalformed is returned for a sealed value that cannot be parsed or authenticated.
var ErrMalformed = errors.New("seal: malformed or tampered sealed value")

// Sealer seals with its current key and opens with any key it holds.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
	keys    map[string][]byte
}

// KeyID names a master key: the first 8 hex digits of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// ParseKey decodes a master key given as standard or URL-safe base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("seal: master key must be 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("seal: master key is not base64")
}

// New returns a Sealer that seals with current and can also open values
// sealed with any of old.
func New(current []byte, old ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}, keys: map[string][]byte{}}
	for i, k := range append([][]byte{current}, old...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("seal: key %d must be 32 bytes, got %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		id := KeyID(k)
		if i == 0 {
			s.current = id
		}
		s.aeads[id] = aead
		s.keys[id] = append([]byte(nil), k...)
	}
	return s, nil
}

// CurrentKeyID is the id of the key new values are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Seal encrypts plaintext; context binds the ciphertext to where it is stored
// (for example "tenant:<id>:jwt") so a sealed value moved elsewhere fails to open.
func (s *Sealer) Seal(plaintext []byte, context string) (string, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	ct := aead.Seal(nonce, nonce, plaintext, s.aad(s.current, context))
	return prefix + ":" + s.current + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value produced by Seal with the same context.
func (s *Sealer) Open(sealed, context string) ([]byte, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != prefix {
		return nil, ErrMalformed
	}
	aead, ok := s.aeads[parts[1]]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, parts[1])
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], s.aad(parts[1], context))
	if err != nil {
		return nil, ErrMalformed
	}
	return pt, nil
}

// IsSealed reports whether s looks like a sealed value.
func IsSealed(s string) bool { return strings.HasPrefix(s, prefix+":") }

// NeedsReseal reports whether a sealed value was sealed under a key other than the current one.
func (s *Sealer) NeedsReseal(sealed string) bool {
	parts := strings.SplitN(sealed, ":", 3)
	return len(parts) == 3 && parts[1] != s.current
}

func (s *Sealer) aad(keyID, context string) []byte {
	return []byte(prefix + ":" + keyID + ":" + context)
}

// DeriveKey returns a 32-byte key for one purpose (e.g. signing a tenant's
// verification links), derived from the current master key so that no
// separate secret needs storing. Rotating the master key invalidates what
// derived keys signed.
func (s *Sealer) DeriveKey(purpose string) []byte {
	mac := hmac.New(sha256.New, s.keys[s.current])
	mac.Write([]byte("hallpass-derive:" + purpose))
	return mac.Sum(nil)
}
