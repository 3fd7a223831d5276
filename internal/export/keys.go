package export

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// KDF says how the passphrase became the file's keys: argon2id (RFC 9106)
// with these parameters over a random salt. It is written in the header so
// that a file stays readable when the defaults change.
type KDF struct {
	// Name is "argon2id".
	Name string `json:"name"`
	// Time is argon2's number of passes.
	Time uint32 `json:"time"`
	// MemoryKiB is argon2's memory in KiB.
	MemoryKiB uint32 `json:"memory_kib"`
	// Threads is argon2's parallelism.
	Threads uint8 `json:"threads"`
	// Salt is 16 random bytes, base64 (standard, unpadded).
	Salt string `json:"salt"`
}

// DefaultKDF is RFC 9106's second recommended option (t=3, 64 MiB) with
// the parallelism of a small server: some 0.2 s on two cores, once per file.
var DefaultKDF = KDF{Name: "argon2id", Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// Bounds a header's parameters must respect: a file must not make its
// reader spend gigabytes or minutes before the passphrase is even checked,
// nor be protected by a trivial derivation.
const (
	minMemoryKiB = 8 * 1024
	maxMemoryKiB = 1024 * 1024
	maxTime      = 16
	saltSize     = 16
)

// sealPrefix marks a value sealed under the file's key.
const sealPrefix = "hpx1:"

// keys are what one passphrase and salt derive: an AEAD for secrets and an
// HMAC key for the file's digest.
type keys struct {
	sealer cipher.AEAD
	mac    []byte
}

// ErrWrongPassphrase is returned when the passphrase does not open the file.
var ErrWrongPassphrase = errors.New("wrong passphrase: it does not open this export (the header's check value does not match)")

func (k KDF) check() error {
	if k.Name != "argon2id" {
		return fmt.Errorf("unknown key derivation %q (want argon2id)", k.Name)
	}
	if k.Time < 1 || k.Time > maxTime || k.MemoryKiB < minMemoryKiB || k.MemoryKiB > maxMemoryKiB || k.Threads < 1 {
		return fmt.Errorf("key derivation parameters out of bounds (time 1..%d, memory %d..%d KiB, threads >= 1)", maxTime, minMemoryKiB, maxMemoryKiB)
	}
	salt, err := base64.RawStdEncoding.DecodeString(k.Salt)
	if err != nil || len(salt) != saltSize {
		return fmt.Errorf("key derivation salt must be %d bytes of unpadded base64", saltSize)
	}
	return nil
}

// withSalt returns k with a fresh random salt.
func (k KDF) withSalt() (KDF, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return k, err
	}
	k.Salt = base64.RawStdEncoding.EncodeToString(salt)
	return k, nil
}

// derive runs argon2id over the passphrase and splits the result with HKDF
// into the sealing key (XChaCha20-Poly1305: random 24-byte nonces are safe
// for any number of values under one key) and the digest key.
func (k KDF) derive(passphrase []byte) (*keys, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	salt, _ := base64.RawStdEncoding.DecodeString(k.Salt)
	root := argon2.IDKey(passphrase, salt, k.Time, k.MemoryKiB, k.Threads, 32)
	sealKey, err := hkdf.Expand(sha256.New, root, "hallpass-export v1 seal", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Expand(sha256.New, root, "hallpass-export v1 digest", 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	if err != nil {
		return nil, err
	}
	return &keys{sealer: aead, mac: macKey}, nil
}

// checkValue proves the passphrase without decrypting anything: a reader
// with a wrong passphrase stops at the header.
func (k *keys) checkValue() string {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte("hallpass-export v1 passphrase check"))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// seal encrypts plaintext, bound to context (where the value sits in the
// file) so that a sealed value moved to another user or key fails to open.
func (k *keys) seal(plaintext []byte, context string) (string, error) {
	nonce := make([]byte, k.sealer.NonceSize(), k.sealer.NonceSize()+len(plaintext)+k.sealer.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := k.sealer.Seal(nonce, nonce, plaintext, []byte(sealPrefix+context))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// open decrypts a value seal produced with the same context.
func (k *keys) open(sealed, context string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errors.New("not a sealed value")
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(ct) < k.sealer.NonceSize()+k.sealer.Overhead() {
		return nil, errors.New("malformed sealed value")
	}
	pt, err := k.sealer.Open(nil, ct[:k.sealer.NonceSize()], ct[k.sealer.NonceSize():], []byte(sealPrefix+context))
	if err != nil {
		return nil, errors.New("sealed value does not open (altered, or moved from elsewhere in the file)")
	}
	return pt, nil
}

// isSealed reports whether s is a value sealed under a file's key.
func isSealed(s string) bool { return strings.HasPrefix(s, sealPrefix) }

func subtleEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
