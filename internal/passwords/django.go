package passwords

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Django's other formats, met in databases moved from Django (issue #22):
// scrypt (Django 4.0+), and the salted and unsalted md5 and sha1 of old
// projects (and of test settings that speed hashing up). Each is verified
// once and re-hashed to argon2id.
const (
	prefixDjangoScrypt = "scrypt$" // scrypt$<N>$<salt>$<r>$<p>$<base64 of a 64-byte key>
	prefixDjangoMD5    = "md5$"    // md5$<salt>$<hex md5(salt+password)>; "md5$$<hex>" unsalted
	prefixDjangoSHA1   = "sha1$"   // sha1$<salt>$<hex sha1(salt+password)>; "sha1$$<hex>" unsalted

	// Limits on scrypt parameters read from a stored hash (Django's default
	// is N=2^14, r=8, p=1 or 5): one attempt holds at most 128*N*r bytes.
	maxScryptN      = 1 << 20
	maxScryptR      = 32
	maxScryptP      = 16
	maxScryptMemory = 1 << 30
	djangoScryptLen = 64
)

// checkDjango checks the formats of this file: handled is false for any
// other format.
func checkDjango(encoded string) (handled bool, err error) {
	switch {
	case strings.HasPrefix(encoded, prefixDjangoScrypt):
		_, err := parseScrypt(encoded[len(prefixDjangoScrypt):])
		return true, err
	case strings.HasPrefix(encoded, prefixDjangoMD5), isUnsaltedMD5(encoded):
		_, _, err := parseSaltedHex(encoded, prefixDjangoMD5, md5.Size)
		return true, err
	case strings.HasPrefix(encoded, prefixDjangoSHA1):
		_, _, err := parseSaltedHex(encoded, prefixDjangoSHA1, sha1.Size)
		return true, err
	}
	return false, nil
}

// verifyDjango verifies the formats of this file; handled is false for any
// other format.
func verifyDjango(encoded, password string) (handled, ok bool, err error) {
	switch {
	case strings.HasPrefix(encoded, prefixDjangoScrypt):
		p, err := parseScrypt(encoded[len(prefixDjangoScrypt):])
		if err != nil {
			return true, false, err
		}
		release := argonSlot() // memory-hard too: the same bound on concurrent derivations
		key, err := scrypt.Key([]byte(password), []byte(p.salt), p.n, p.r, p.p, len(p.key))
		release()
		if err != nil {
			return true, false, malformed("scrypt: %v", err)
		}
		return true, subtle.ConstantTimeCompare(key, p.key) == 1, nil
	case strings.HasPrefix(encoded, prefixDjangoMD5), isUnsaltedMD5(encoded):
		ok, err := verifySaltedHex(encoded, prefixDjangoMD5, password, md5.New, md5.Size)
		return true, ok, err
	case strings.HasPrefix(encoded, prefixDjangoSHA1):
		ok, err := verifySaltedHex(encoded, prefixDjangoSHA1, password, sha1.New, sha1.Size)
		return true, ok, err
	}
	return false, false, nil
}

// isUnsaltedMD5 is Django's UnsaltedMD5PasswordHasher's bare form: 32 hex
// digits, no algorithm name.
func isUnsaltedMD5(encoded string) bool {
	if len(encoded) != 2*md5.Size {
		return false
	}
	_, err := hex.DecodeString(encoded)
	return err == nil
}

type scryptHash struct {
	n, r, p int
	salt    string
	key     []byte
}

// parseScrypt reads "<N>$<salt>$<r>$<p>$<base64 key>" strictly.
func parseScrypt(rest string) (scryptHash, error) {
	var h scryptHash
	parts := strings.Split(rest, "$")
	if len(parts) != 5 {
		return h, malformed("scrypt: want N$salt$r$p$hash")
	}
	n, okN := parseDecimal(parts[0])
	r, okR := parseDecimal(parts[2])
	p, okP := parseDecimal(parts[3])
	switch {
	case !okN || !okR || !okP:
		return h, malformed("scrypt: bad parameters")
	case n < 2 || n > maxScryptN || n&(n-1) != 0:
		return h, malformed("scrypt: N %d is not a power of two in [2, %d]", n, maxScryptN)
	case r < 1 || r > maxScryptR || p < 1 || p > maxScryptP:
		return h, malformed("scrypt: r %d or p %d out of range", r, p)
	case 128*n*r > maxScryptMemory:
		return h, malformed("scrypt: N*r needs more than %d bytes", maxScryptMemory)
	case parts[1] == "":
		return h, malformed("scrypt: empty salt")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(key) != djangoScryptLen {
		return h, malformed("scrypt: hash is not %d bytes of base64", djangoScryptLen)
	}
	return scryptHash{n: int(n), r: int(r), p: int(p), salt: parts[1], key: key}, nil
}

// parseSaltedHex reads "<prefix><salt>$<hex digest>" (and, for md5, the
// bare unsalted digest).
func parseSaltedHex(encoded, prefix string, size int) (salt string, digest []byte, err error) {
	rest := encoded
	if strings.HasPrefix(encoded, prefix) {
		var ok bool
		rest = encoded[len(prefix):]
		if salt, rest, ok = strings.Cut(rest, "$"); !ok {
			return "", nil, malformed("%s want salt$hash", strings.TrimSuffix(prefix, "$"))
		}
	}
	if len(rest) != 2*size || strings.ToLower(rest) != rest {
		return "", nil, malformed("%s hash is not %d lower-case hex digits", strings.TrimSuffix(prefix, "$"), 2*size)
	}
	digest, err = hex.DecodeString(rest)
	if err != nil {
		return "", nil, malformed("%s hash is not hex", strings.TrimSuffix(prefix, "$"))
	}
	return salt, digest, nil
}

// verifySaltedHex compares the digest of salt+password in constant time.
func verifySaltedHex(encoded, prefix, password string, newHash func() hash.Hash, size int) (bool, error) {
	salt, want, err := parseSaltedHex(encoded, prefix, size)
	if err != nil {
		return false, err
	}
	h := newHash()
	h.Write([]byte(salt + password))
	return subtle.ConstantTimeCompare(h.Sum(nil), want) == 1, nil
}
