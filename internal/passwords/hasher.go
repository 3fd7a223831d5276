// Package passwords hashes and verifies passwords (argon2id, and the
// formats Django writes), applies the password rules (length, common
// passwords, entirely numeric) and asks Have I Been Pwned whether a password
// appeared in a breach.
package passwords

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/hallpass/hallpass/internal/metrics"
)

// ErrUnknownHashFormat is wrapped by every error Verify returns for a stored
// hash it cannot use: an unknown algorithm, a malformed string, an
// unsupported variant or version, or parameters outside the sane limits.
var ErrUnknownHashFormat = errors.New("passwords: unknown or malformed password hash")

// Limits on parameters read back from a stored hash. A hash outside them is
// rejected before any key derivation, so a corrupted or hostile row in the
// users table cannot make one login attempt burn gigabytes or minutes.
const (
	maxEncodedLen       = 1024       // bytes of a whole stored hash
	maxArgon2Memory     = 1 << 20    // KiB, i.e. 1 GiB
	maxArgon2Time       = 100        // passes
	maxArgon2Threads    = 255        // lanes; x/crypto/argon2 takes a uint8
	minArgon2SaltLen    = 8          // bytes, as in the Argon2 reference implementation
	minArgon2KeyLen     = 4          // bytes, as in the Argon2 reference implementation
	maxPBKDF2Iterations = 10_000_000 // Django 5.x uses 1,000,000 at most
	maxBcryptCost       = 16         // 2^16 rounds, a few seconds; Django uses 12

	// Bounds for a Hasher's own salt and key lengths; they keep
	// what Hash produces well under maxEncodedLen.
	minHasherSaltLen = 8
	minHasherKeyLen  = 16
	maxHasherLen     = 256
)

// Prefixes of the supported stored formats.
const (
	prefixArgon2PHC     = "$argon2"        // $argon2id$v=19$m=…,t=…,p=…$salt$hash (also argon2i)
	prefixDjangoArgon2  = "argon2$"        // Django: "argon2" + argon2-cffi's encoded hash
	prefixPBKDF2SHA256  = "pbkdf2_sha256$" // Django: pbkdf2_sha256$iter$salt$b64(hash)
	prefixPBKDF2SHA1    = "pbkdf2_sha1$"   // Django: pbkdf2_sha1$iter$salt$b64(hash)
	prefixBcryptSHA256  = "bcrypt_sha256$" // Django: bcrypt of hex(SHA-256(password))
	prefixDjangoBcrypt  = "bcrypt$"        // Django: bcrypt of the password itself
	unusablePrefix      = "!"              // Django's UNUSABLE_PASSWORD_PREFIX
	bcryptAlphabet      = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	bcryptEncodedLength = 60
)

// phcB64 is the base64 flavour of PHC strings (argon2-cffi, the reference
// implementation): standard alphabet, no padding.
var phcB64 = base64.RawStdEncoding.Strict()

// Hasher hashes new passwords with argon2id and verifies stored
// hashes in our own format and in the formats Django writes. The zero value
// is not usable for Hash; start from DefaultHasher.
type Hasher struct {
	Memory  uint32 // argon2id memory in KiB
	Time    uint32 // argon2id passes over memory
	Threads uint8  // argon2id parallelism (lanes)
	SaltLen uint32 // random salt length in bytes
	KeyLen  uint32 // derived key length in bytes
}

// DefaultHasher returns OWASP's minimum argon2id configuration:
// m=19456 KiB (19 MiB), t=2, p=1, a 16-byte salt and a 32-byte key.
func DefaultHasher() Hasher {
	return Hasher{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// validate reports whether h can produce hashes that Verify itself accepts.
func (h Hasher) validate() error {
	switch {
	case h.Threads < 1:
		return fmt.Errorf("passwords: invalid password hasher: threads must be at least 1")
	case h.Time < 1 || h.Time > maxArgon2Time:
		return fmt.Errorf("passwords: invalid password hasher: time %d not in [1, %d]", h.Time, maxArgon2Time)
	case h.Memory < 8*uint32(h.Threads) || h.Memory > maxArgon2Memory:
		return fmt.Errorf("passwords: invalid password hasher: memory %d KiB not in [%d, %d]", h.Memory, 8*uint32(h.Threads), maxArgon2Memory)
	case h.SaltLen < minHasherSaltLen || h.SaltLen > maxHasherLen:
		return fmt.Errorf("passwords: invalid password hasher: salt length %d not in [%d, %d]", h.SaltLen, minHasherSaltLen, maxHasherLen)
	case h.KeyLen < minHasherKeyLen || h.KeyLen > maxHasherLen:
		return fmt.Errorf("passwords: invalid password hasher: key length %d not in [%d, %d]", h.KeyLen, minHasherKeyLen, maxHasherLen)
	}
	return nil
}

// Hash derives an argon2id hash of password under a fresh random salt and
// returns it as a PHC string, $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>
// (unpadded standard base64), so the parameters travel with the hash.
func (h Hasher) Hash(password string) (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, h.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwords: reading salt: %w", err)
	}
	return h.hashWithSalt(password, salt), nil
}

// hashWithSalt is Hash with a given salt; h must be valid.
func (h Hasher) hashWithSalt(password string, salt []byte) string {
	release := argonSlot()
	key := argon2.IDKey([]byte(password), salt, h.Time, h.Memory, h.Threads, h.KeyLen)
	release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key))
}

// IsUsable reports whether encoded can ever match a password. As in
// Django, a hash starting with "!" marks an unusable password; an empty
// string is unusable too (Django's is_password_usable treats "" as usable,
// but its check_password never accepts it, so the outcome is the same).
func IsUsable(encoded string) bool {
	return encoded != "" && !strings.HasPrefix(encoded, unusablePrefix)
}

// CheckHash reports whether Verify can use a stored hash: nil for every
// format and variant Verify takes, within its limits, and for an unusable
// hash (empty or "!"-prefixed); an error wrapping ErrUnknownHashFormat
// otherwise. It derives no key, so checking a hash costs next to nothing
// whatever parameters it claims (an import refuses what no login could use).
func CheckHash(encoded string) error {
	if !IsUsable(encoded) {
		return nil
	}
	if err := checkEnvelope(encoded); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(encoded, prefixArgon2PHC):
		_, err := parseArgon2(encoded)
		return err
	case strings.HasPrefix(encoded, "$2"):
		return checkBcrypt(encoded)
	case strings.HasPrefix(encoded, prefixPBKDF2SHA256):
		_, _, _, err := parsePBKDF2(encoded[len(prefixPBKDF2SHA256):], sha256.Size)
		return err
	case strings.HasPrefix(encoded, prefixPBKDF2SHA1):
		_, _, _, err := parsePBKDF2(encoded[len(prefixPBKDF2SHA1):], sha1.Size)
		return err
	case strings.HasPrefix(encoded, prefixDjangoArgon2):
		_, err := parseArgon2(encoded[len("argon2"):])
		return err
	case strings.HasPrefix(encoded, prefixBcryptSHA256):
		return checkBcrypt(encoded[len(prefixBcryptSHA256):])
	case strings.HasPrefix(encoded, prefixDjangoBcrypt):
		return checkBcrypt(encoded[len(prefixDjangoBcrypt):])
	}
	if handled, err := checkDjango(encoded); handled {
		return err
	}
	return malformed("unrecognised algorithm")
}

// checkEnvelope applies the limits of every stored hash: its length, and
// no line breaks (encoding/base64 skips CR and LF; refusing them gives one
// stored hash one spelling).
func checkEnvelope(encoded string) error {
	if len(encoded) > maxEncodedLen {
		return malformed("hash is %d bytes long, more than %d", len(encoded), maxEncodedLen)
	}
	if strings.ContainsAny(encoded, "\r\n") {
		return malformed("hash contains a line break")
	}
	return nil
}

// Verify checks password against the stored hash encoded. Supported formats:
// PHC argon2id and argon2i (v=19); bcrypt ($2a$, $2b$, $2y$); and Django's
// pbkdf2_sha256, pbkdf2_sha1, argon2 (argon2id and argon2i, v=19),
// bcrypt_sha256, bcrypt, scrypt, md5 (salted, "md5$$" and bare unsalted)
// and sha1 (salted and "sha1$$" unsalted; django.go). rehash is true when the password matched but the
// stored hash is not a PHC argon2id hash whose memory, time, salt length and
// key length are all at least h's, so the caller should store h.Hash(password)
// (parallelism is not compared: it does not change an attacker's cost per
// guess). An unusable hash (empty or "!"-prefixed) gives false, false, nil; an
// unknown, malformed or out-of-limits hash gives an error wrapping
// ErrUnknownHashFormat. All digest comparisons are constant-time.
func (h Hasher) Verify(encoded, password string) (ok bool, rehash bool, err error) {
	if !IsUsable(encoded) {
		return false, false, nil
	}
	if err := checkEnvelope(encoded); err != nil {
		return false, false, err
	}

	switch {
	case strings.HasPrefix(encoded, prefixArgon2PHC):
		p, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		ok := p.verify(password)
		return ok, ok && !h.satisfiedBy(p), nil

	case strings.HasPrefix(encoded, "$2"):
		ok, err := verifyBcrypt(encoded, []byte(password))
		return ok, ok, err

	case strings.HasPrefix(encoded, prefixPBKDF2SHA256):
		ok, err := verifyPBKDF2(encoded[len(prefixPBKDF2SHA256):], password, sha256.New, sha256.Size)
		return ok, ok, err

	case strings.HasPrefix(encoded, prefixPBKDF2SHA1):
		ok, err := verifyPBKDF2(encoded[len(prefixPBKDF2SHA1):], password, sha1.New, sha1.Size)
		return ok, ok, err

	case strings.HasPrefix(encoded, prefixDjangoArgon2):
		// Django stores "argon2" followed by argon2-cffi's "$argon2…" string.
		p, err := parseArgon2(encoded[len("argon2"):])
		if err != nil {
			return false, false, err
		}
		ok := p.verify(password)
		return ok, ok, nil

	case strings.HasPrefix(encoded, prefixBcryptSHA256):
		// Django hashes with SHA-256 first so that passwords longer than
		// bcrypt's 72 bytes still count in full; bcrypt gets the lowercase
		// hex digest.
		sum := sha256.Sum256([]byte(password))
		digest := make([]byte, hex.EncodedLen(len(sum)))
		hex.Encode(digest, sum[:])
		ok, err := verifyBcrypt(encoded[len(prefixBcryptSHA256):], digest)
		return ok, ok, err

	case strings.HasPrefix(encoded, prefixDjangoBcrypt):
		ok, err := verifyBcrypt(encoded[len(prefixDjangoBcrypt):], []byte(password))
		return ok, ok, err
	}
	if handled, ok, err := verifyDjango(encoded, password); handled {
		return ok, ok, err
	}
	return false, false, malformed("unrecognised algorithm")
}

// malformed returns an error wrapping ErrUnknownHashFormat.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnknownHashFormat, fmt.Sprintf(format, args...))
}

// argon2Hash is a parsed argon2 PHC string.
type argon2Hash struct {
	variant string // "argon2id" or "argon2i"
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2 parses $argon2{id,i}$v=19$m=M,t=T,p=P$<salt>$<hash> strictly
// (the reference implementation's field order) and checks the limits.
func parseArgon2(s string) (argon2Hash, error) {
	var p argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) == 5 && parts[0] == "" && strings.HasPrefix(parts[2], "m=") {
		// No v= field: Argon2 version 1.0 (0x10), which x/crypto lacks.
		return p, malformed("argon2 version 16 (no v= field) is not supported")
	}
	if len(parts) != 6 || parts[0] != "" {
		return p, malformed("argon2: want 5 $-separated fields")
	}
	switch parts[1] {
	case "argon2id", "argon2i":
		p.variant = parts[1]
	case "argon2d":
		return p, malformed("argon2d is not supported")
	default:
		return p, malformed("unknown argon2 variant %q", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, malformed("argon2: unsupported version field %q", parts[2])
	}

	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, malformed("argon2: want parameters m,t,p")
	}
	var vals [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		v, found := strings.CutPrefix(params[i], name+"=")
		if !found {
			return p, malformed("argon2: parameter %d is not %s=", i+1, name)
		}
		n, ok := parseDecimal(v)
		if !ok {
			return p, malformed("argon2: bad %s value %q", name, v)
		}
		vals[i] = n
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > maxArgon2Threads:
		return p, malformed("argon2: parallelism %d not in [1, %d]", threads, maxArgon2Threads)
	case t < 1 || t > maxArgon2Time:
		return p, malformed("argon2: time %d not in [1, %d]", t, maxArgon2Time)
	case m < 8*threads || m > maxArgon2Memory:
		return p, malformed("argon2: memory %d KiB not in [%d, %d]", m, 8*threads, maxArgon2Memory)
	}
	p.memory, p.time, p.threads = uint32(m), uint32(t), uint8(threads)

	var err error
	if p.salt, err = phcB64.DecodeString(parts[4]); err != nil {
		return p, malformed("argon2: salt: %v", err)
	}
	if len(p.salt) < minArgon2SaltLen {
		return p, malformed("argon2: salt shorter than %d bytes", minArgon2SaltLen)
	}
	if p.key, err = phcB64.DecodeString(parts[5]); err != nil {
		return p, malformed("argon2: hash: %v", err)
	}
	if len(p.key) < minArgon2KeyLen {
		return p, malformed("argon2: hash shorter than %d bytes", minArgon2KeyLen)
	}
	return p, nil
}

// verify recomputes the key for password and compares in constant time.
func (p argon2Hash) verify(password string) bool {
	defer argonSlot()()
	var key []byte
	if p.variant == "argon2id" {
		key = argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	} else {
		key = argon2.Key([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// argonSlots bounds concurrent argon2 derivations to the CPUs: more would
// only share the cores and multiply the 19 MiB each one holds.
var argonSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// argonSlot waits for a slot and returns its release, which also records
// the derivation's time.
func argonSlot() func() {
	argonSlots <- struct{}{}
	start := time.Now()
	return func() {
		metrics.ObserveArgon2(time.Since(start))
		<-argonSlots
	}
}

// satisfiedBy reports whether a stored hash p is as strong as what h makes.
func (h Hasher) satisfiedBy(p argon2Hash) bool {
	return p.variant == "argon2id" &&
		p.memory >= h.Memory &&
		p.time >= h.Time &&
		uint32(len(p.salt)) >= h.SaltLen &&
		uint32(len(p.key)) >= h.KeyLen
}

// parseDecimal parses a non-empty run of ASCII digits of at most 10 digits
// (enough for any uint32), with no sign, space or other character.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// verifyPBKDF2 checks Django's "<iterations>$<salt>$<base64 digest>" (the
// part after the algorithm name); the digest is size bytes long, as Django
// never sets dklen.
func verifyPBKDF2(rest, password string, newHash func() hash.Hash, size int) (bool, error) {
	iter, salt, want, err := parsePBKDF2(rest, size)
	if err != nil {
		return false, err
	}
	got, err := pbkdf2.Key(newHash, password, []byte(salt), iter, size)
	if err != nil {
		return false, fmt.Errorf("passwords: pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePBKDF2 reads Django's "<iterations>$<salt>$<base64 digest>" and
// checks the limits; the digest must be size bytes long.
func parsePBKDF2(rest string, size int) (iter int, salt string, digest []byte, err error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return 0, "", nil, malformed("pbkdf2: want iterations$salt$hash")
	}
	n, ok := parseDecimal(parts[0])
	if !ok || n < 1 {
		return 0, "", nil, malformed("pbkdf2: bad iteration count %q", parts[0])
	}
	if n > maxPBKDF2Iterations {
		return 0, "", nil, malformed("pbkdf2: %d iterations exceeds limit %d", n, maxPBKDF2Iterations)
	}
	if parts[1] == "" {
		return 0, "", nil, malformed("pbkdf2: empty salt")
	}
	want, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return 0, "", nil, malformed("pbkdf2: hash: %v", err)
	}
	if len(want) != size {
		return 0, "", nil, malformed("pbkdf2: hash is %d bytes, want %d", len(want), size)
	}
	return int(n), parts[1], want, nil
}

// verifyBcrypt checks a modular-crypt bcrypt hash ($2a$, $2b$ or $2y$; the
// three differ only in how old C libraries handled bugs, not in output).
// bcrypt reads at most 72 bytes of password, like every other implementation.
func verifyBcrypt(encoded string, password []byte) (bool, error) {
	if err := checkBcrypt(encoded); err != nil {
		return false, err
	}
	// CompareHashAndPassword compares the digests with crypto/subtle.
	err := bcrypt.CompareHashAndPassword([]byte(encoded), password)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %w", ErrUnknownHashFormat, err)
	}
}

// checkBcrypt checks a modular-crypt bcrypt hash's form and cost without
// hashing anything.
func checkBcrypt(encoded string) error {
	if len(encoded) != bcryptEncodedLength {
		return malformed("bcrypt: hash is %d bytes, want %d", len(encoded), bcryptEncodedLength)
	}
	switch encoded[:4] {
	case "$2a$", "$2b$", "$2y$":
	default:
		return malformed("bcrypt: unsupported prefix %q", encoded[:4])
	}
	cost, ok := parseDecimal(encoded[4:6])
	if !ok || encoded[6] != '$' {
		return malformed("bcrypt: bad cost field")
	}
	if cost < uint64(bcrypt.MinCost) || cost > uint64(bcrypt.MaxCost) {
		return malformed("bcrypt: cost %d not in [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cost > maxBcryptCost {
		return malformed("bcrypt: cost %d exceeds limit %d", cost, maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return malformed("bcrypt: invalid character in salt or hash")
		}
	}
	// Cost decodes the salt as a comparison would, without hashing.
	if _, err := bcrypt.Cost([]byte(encoded)); err != nil {
		return fmt.Errorf("%w: bcrypt: %w", ErrUnknownHashFormat, err)
	}
	return nil
}
