package passwords

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Reference vectors. Unless a comment says otherwise they were produced on
// Debian 12 with python3-django 3.2.25, python3-argon2 (argon2-cffi 21.1.0,
// which wraps the Argon2 reference C implementation) and python3-bcrypt
// 3.2.2, i.e. independently of the Go code under test:
//
//	from django.contrib.auth import hashers as H
//	H.make_password('lètmein', 'seasalt', 'pbkdf2_sha256')       # Django's own test vector
//	class P(H.PBKDF2PasswordHasher): iterations = 1000
//	P().encode('letmein', 'pepper')
//	H.Argon2PasswordHasher().encode('lètmein', 'saltysaltsalt')  # Django's defaults
//	class B(H.BCryptSHA256PasswordHasher): rounds = 5
//	B().encode('lètmein', bcrypt.gensalt(5))
//	argon2.low_level.hash_secret(b'letmein', b'somesalt', time_cost=1,
//	    memory_cost=64, parallelism=1, hash_len=16, type=Type.I)  # older Django argon2i
//	argon2.low_level.hash_secret('lètmein'.encode(), bytes(range(16)),
//	    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)
//
// and each Django vector was checked with Django's check_password. The
// pbkdf2_sha256 vector was also recomputed with hashlib.pbkdf2_hmac and
// base64.b64encode (same result).
const (
	// Django's tests: make_password('lètmein', 'seasalt', 'pbkdf2_sha256').
	vecDjangoPBKDF2SHA256Default = "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo="
	vecDjangoPBKDF2SHA1Default   = "pbkdf2_sha1$260000$seasalt$XXHk2gQ7tjWIyrS320RXXsGqkUg="
	vecDjangoPBKDF2SHA256        = "pbkdf2_sha256$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik=" // "letmein"
	vecDjangoPBKDF2SHA1          = "pbkdf2_sha1$1000$pepper$sr2X3QCHYro9USlb4WCWSa5msOA="                   // "letmein"
	// Django 3.2's default Argon2PasswordHasher: m=102400, t=2, p=8.
	vecDjangoArgon2id      = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHlzYWx0c2FsdA$hZJnbjB6KEVDv08XCZpbgA" // "lètmein"
	vecDjangoArgon2idSmall = "argon2$argon2id$v=19$m=256,t=1,p=2$c2FsdHlzYWx0c2FsdA$nkZu6kDg4t1NpenJ/X1q+w"    // "lètmein"
	vecDjangoArgon2i       = "argon2$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$qD6CRpUUhfm9/9Kl/oiY2Q"             // "letmein"
	// Argon2 version 1.0 (v=16), as written by argon2-cffi with version=16;
	// Django's oldest argon2 hashes omit the v= field for it altogether.
	vecDjangoArgon2iV16   = "argon2$argon2i$v=16$m=64,t=1,p=1$c29tZXNhbHQ$0G/Vt/GSWY57Qwzz2HgebQ"
	vecDjangoBcryptSHA256 = "bcrypt_sha256$$2b$05$CiTIFnbcnKzJkTdc7tB6A.MeFTNzumsaoHHLF4rvlzJShXZ0H6IJu" // "lètmein"
	vecDjangoBcrypt       = "bcrypt$$2b$05$7Vw5K.74mldKOyawBHxXPO7NahhH.5VCGSrvWXyaTn4y8sux0UoSu"        // "lètmein"
	// bcrypt.hashpw(b'correct horse', bcrypt.gensalt(5[, prefix=b'2a'])).
	vecBcrypt2b = "$2b$05$VtuiR9i/SSeTlq5LdmG8iejejiggeOA3IFhM0y7SiPYzGP.1D4c5a"
	vecBcrypt2a = "$2a$05$206wEafv6l5OGfMoqyADdesk6BMb0HkQUuue2xFK0FWee2tuzKRme"
	// $2y$ (PHP's spelling) computes exactly what $2b$ does: vecBcrypt2b
	// with its prefix changed.
	vecBcrypt2y = "$2y$05$VtuiR9i/SSeTlq5LdmG8iejejiggeOA3IFhM0y7SiPYzGP.1D4c5a"
	// bcrypt.hashpw(b'a'*72 + b'-tail-ignored', bcrypt.gensalt(4)).
	vecBcryptLong = "$2b$04$QJPva1PRG1plPS076gTmouKug28nRCVaOTLEsU7dJAGBOHpZfPITa"
	// argon2-cffi with our default parameters and salt bytes 0..15, password "lètmein".
	vecPHCDefault = "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$WIwjUh1ArBhxRdEJW0XjBVdJGMQrcv9SUSNGW5Fiu2U"
	// argon2-cffi, password "letmein", salt "0123456789abcdef".
	vecPHCWeak    = "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$D1xoXifMoizwv3Wa78A/mOX0f1g1mY2pLKaiYR5ibS0"
	vecPHCArgon2i = "$argon2i$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$Wle6J25vxb+WLf74N4bqAKNI6hcUORzDlgwQxEWpuls"
	vecPHCArgon2d = "$argon2d$v=19$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$yyB1mKSo8/H0Yts7VDAO4YngWohicB2rcHM7B0znWY0"
)

// cheapHasher keeps tests that hash many times fast; it is valid for Hash.
var cheapHasher = Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestPasswordDefaultHasher(t *testing.T) {
	want := Hasher{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if got := DefaultHasher(); got != want {
		t.Fatalf("DefaultHasher() = %+v, want %+v", got, want)
	}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := DefaultHasher()
	for _, pw := range []string{"lètmein", "", "correct horse battery staple", strings.Repeat("x", 200)} {
		enc, err := h.Hash(pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !phcPattern.MatchString(enc) {
			t.Fatalf("Hash(%q) = %q, not the PHC argon2id form", pw, enc)
		}
		ok, rehash, err := h.Verify(enc, pw)
		if !ok || rehash || err != nil {
			t.Errorf("Verify(Hash(%q)) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
		ok, rehash, err = h.Verify(enc, pw+"!")
		if ok || rehash || err != nil {
			t.Errorf("Verify(Hash(%q), wrong) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
	a, _ := h.Hash("same")
	b, _ := h.Hash("same")
	if a == b {
		t.Errorf("two hashes of one password are equal (salt not random): %q", a)
	}
}

func TestPasswordHashMatchesReference(t *testing.T) {
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = byte(i)
	}
	if got := DefaultHasher().hashWithSalt("lètmein", salt); got != vecPHCDefault {
		t.Fatalf("hashWithSalt = %q\nwant (argon2-cffi) %q", got, vecPHCDefault)
	}
}

func TestPasswordHashInvalidHasher(t *testing.T) {
	d := DefaultHasher()
	mod := func(f func(*Hasher)) Hasher { h := d; f(&h); return h }
	for name, h := range map[string]Hasher{
		"zero":          {},
		"no threads":    mod(func(h *Hasher) { h.Threads = 0 }),
		"no time":       mod(func(h *Hasher) { h.Time = 0 }),
		"time too big":  mod(func(h *Hasher) { h.Time = maxArgon2Time + 1 }),
		"memory < 8p":   mod(func(h *Hasher) { h.Threads = 4; h.Memory = 31 }),
		"memory > 1GiB": mod(func(h *Hasher) { h.Memory = maxArgon2Memory + 1 }),
		"short salt":    mod(func(h *Hasher) { h.SaltLen = 7 }),
		"short key":     mod(func(h *Hasher) { h.KeyLen = 15 }),
		"long key":      mod(func(h *Hasher) { h.KeyLen = maxHasherLen + 1 }),
	} {
		if enc, err := h.Hash("pw"); err == nil {
			t.Errorf("%s: Hash succeeded with %+v: %q", name, h, enc)
		}
	}
	// The largest accepted lengths still fit the limit Verify applies.
	h := cheapHasher
	h.SaltLen, h.KeyLen = maxHasherLen, maxHasherLen
	enc, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(enc, "pw"); !ok || err != nil {
		t.Fatalf("Verify of max-length hash = %v, %v", ok, err)
	}
}

func TestPasswordVerifyVectors(t *testing.T) {
	h := DefaultHasher()
	long := strings.Repeat("a", 72)
	tests := []struct {
		name       string
		encoded    string
		password   string
		wantOK     bool
		wantRehash bool
	}{
		{"phc argon2id default", vecPHCDefault, "lètmein", true, false},
		{"phc argon2id default wrong", vecPHCDefault, "letmein", false, false},
		{"phc argon2id weak", vecPHCWeak, "letmein", true, true},
		{"phc argon2id weak wrong", vecPHCWeak, "lètmein", false, false},
		{"phc argon2i", vecPHCArgon2i, "letmein", true, true},
		{"phc argon2i wrong", vecPHCArgon2i, "letmeout", false, false},

		{"bcrypt 2b", vecBcrypt2b, "correct horse", true, true},
		{"bcrypt 2b wrong", vecBcrypt2b, "correct horse ", false, false},
		{"bcrypt 2a", vecBcrypt2a, "correct horse", true, true},
		{"bcrypt 2a wrong", vecBcrypt2a, "Correct horse", false, false},
		{"bcrypt 2y", vecBcrypt2y, "correct horse", true, true},
		{"bcrypt 2y wrong", vecBcrypt2y, "", false, false},
		// bcrypt only reads 72 bytes of password, in every implementation.
		{"bcrypt 72-byte truncation", vecBcryptLong, long + "-tail-ignored", true, true},
		{"bcrypt 72-byte prefix", vecBcryptLong, long, true, true},
		{"bcrypt 71-byte prefix", vecBcryptLong, long[:71], false, false},

		{"django pbkdf2_sha256 (Django's vector)", vecDjangoPBKDF2SHA256Default, "lètmein", true, true},
		{"django pbkdf2_sha256 (Django's vector) wrong", vecDjangoPBKDF2SHA256Default, "letmein", false, false},
		{"django pbkdf2_sha1 default", vecDjangoPBKDF2SHA1Default, "lètmein", true, true},
		{"django pbkdf2_sha1 default wrong", vecDjangoPBKDF2SHA1Default, "lètmeout", false, false},
		{"django pbkdf2_sha256", vecDjangoPBKDF2SHA256, "letmein", true, true},
		{"django pbkdf2_sha256 wrong", vecDjangoPBKDF2SHA256, "letmein ", false, false},
		{"django pbkdf2_sha1", vecDjangoPBKDF2SHA1, "letmein", true, true},
		{"django pbkdf2_sha1 wrong", vecDjangoPBKDF2SHA1, "LETMEIN", false, false},

		{"django argon2id default", vecDjangoArgon2id, "lètmein", true, true},
		{"django argon2id default wrong", vecDjangoArgon2id, "letmein", false, false},
		{"django argon2id small", vecDjangoArgon2idSmall, "lètmein", true, true},
		{"django argon2id small wrong", vecDjangoArgon2idSmall, "", false, false},
		{"django argon2i", vecDjangoArgon2i, "letmein", true, true},
		{"django argon2i wrong", vecDjangoArgon2i, "letmein\x00", false, false},

		{"django bcrypt_sha256", vecDjangoBcryptSHA256, "lètmein", true, true},
		{"django bcrypt_sha256 wrong", vecDjangoBcryptSHA256, "letmein", false, false},
		{"django bcrypt", vecDjangoBcrypt, "lètmein", true, true},
		{"django bcrypt wrong", vecDjangoBcrypt, "lètmeim", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckHash(tc.encoded); err != nil {
				t.Fatalf("CheckHash: unexpected error %v", err)
			}
			ok, rehash, err := h.Verify(tc.encoded, tc.password)
			if err != nil {
				t.Fatalf("Verify: unexpected error %v", err)
			}
			if ok != tc.wantOK || rehash != tc.wantRehash {
				t.Fatalf("Verify = %v, %v; want %v, %v", ok, rehash, tc.wantOK, tc.wantRehash)
			}
		})
	}
}

// The Django formats are also checked against hashes computed here with the
// primitives directly, the way Django assembles them.
func TestPasswordVerifyDjangoAssembled(t *testing.T) {
	h := cheapHasher
	pw := "pässwörd"

	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 16)
	djArgon := "argon2$argon2id$v=19$m=64,t=1,p=1$" +
		base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)

	sum := sha256.Sum256([]byte(pw))
	bc, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(sum[:])), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcRaw, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}

	for _, enc := range []string{djArgon, "bcrypt_sha256$" + string(bc), "bcrypt$" + string(bcRaw), string(bcRaw)} {
		if ok, rehash, err := h.Verify(enc, pw); !ok || !rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, true, nil", enc, ok, rehash, err)
		}
		if ok, rehash, err := h.Verify(enc, "password"); ok || rehash || err != nil {
			t.Errorf("Verify(%q, wrong) = %v, %v, %v; want false, false, nil", enc, ok, rehash, err)
		}
	}
	// bcrypt_sha256 must not accept the raw password, nor bcrypt$ the digest.
	if ok, _, _ := h.Verify("bcrypt$"+string(bc), pw); ok {
		t.Error("bcrypt$ accepted a bcrypt_sha256 hash for the raw password")
	}
	if ok, _, _ := h.Verify("bcrypt_sha256$"+string(bcRaw), pw); ok {
		t.Error("bcrypt_sha256$ accepted a raw bcrypt hash")
	}
}

func TestPasswordRehashArgon2idParams(t *testing.T) {
	d := DefaultHasher()
	mod := func(f func(*Hasher)) Hasher { h := d; f(&h); return h }
	tests := []struct {
		name       string
		h          Hasher
		wantRehash bool
	}{
		{"same params", d, false},
		{"hasher weaker", cheapHasher, false},
		{"different threads only", mod(func(h *Hasher) { h.Threads = 4 }), false},
		{"more memory", mod(func(h *Hasher) { h.Memory++ }), true},
		{"more time", mod(func(h *Hasher) { h.Time = 3 }), true},
		{"longer salt", mod(func(h *Hasher) { h.SaltLen = 32 }), true},
		{"longer key", mod(func(h *Hasher) { h.KeyLen = 64 }), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := tc.h.Verify(vecPHCDefault, "lètmein")
			if !ok || err != nil || rehash != tc.wantRehash {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.wantRehash)
			}
			// A failed verification never asks for a rehash.
			if ok, rehash, err := tc.h.Verify(vecPHCDefault, "nope"); ok || rehash || err != nil {
				t.Fatalf("wrong password: Verify = %v, %v, %v", ok, rehash, err)
			}
		})
	}
	// A weaker stored hash verifies and asks to be upgraded; the upgrade
	// then sticks.
	ok, rehash, err := d.Verify(vecPHCWeak, "letmein")
	if !ok || !rehash || err != nil {
		t.Fatalf("weak: Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	upgraded, err := d.Hash("letmein")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := d.Verify(upgraded, "letmein"); !ok || rehash || err != nil {
		t.Fatalf("upgraded: Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestPasswordUnusable(t *testing.T) {
	h := DefaultHasher()
	for _, enc := range []string{
		"",
		"!",
		"!FLAUZ1jEfMs7Jx8dRmm0oBmFuQ9AIfqZETgHcBTC", // make_password(None) in Django 3.2
		"!" + vecDjangoPBKDF2SHA256,
		"!" + vecPHCWeak,
	} {
		for _, pw := range []string{"", "letmein", enc, strings.TrimPrefix(enc, "!")} {
			if ok, rehash, err := h.Verify(enc, pw); ok || rehash || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v, %v; want false, false, nil", enc, pw, ok, rehash, err)
			}
		}
	}
}

func TestIsUsablePassword(t *testing.T) {
	for enc, want := range map[string]bool{
		"":                    false,
		"!":                   false,
		"!abc":                false,
		"!" + vecPHCDefault:   false,
		vecPHCDefault:         true,
		vecDjangoPBKDF2SHA256: true,
		vecDjangoBcrypt:       true,
		"garbage":             true, // usable, just not verifiable
	} {
		if got := IsUsable(enc); got != want {
			t.Errorf("IsUsable(%q) = %v, want %v", enc, got, want)
		}
	}
}

func TestPasswordVerifyMalformed(t *testing.T) {
	const salt, key = "MDEyMzQ1Njc4OWFiY2RlZg", "D1xoXifMoizwv3Wa78A/mOX0f1g1mY2pLKaiYR5ibS0"
	bcryptBody := vecBcrypt2b[7:] // 22 salt + 31 hash characters
	tests := []struct{ name, encoded string }{
		{"unknown algorithm", "md5$salt$abcdef"},
		{"plain text", "letmein"},
		{"scrypt", "scrypt$16384$salt$8$1$abc"},
		{"too long", "pbkdf2_sha256$1000$" + strings.Repeat("s", maxEncodedLen) + "$" + "AAAA"},
		{"line break", "pbkdf2_sha256$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43k\nsDOCLzSV9N1j7ywDsik="},

		// PHC argon2.
		{"argon2 bare", "$argon2id"},
		{"argon2 missing hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"argon2 extra field", vecPHCWeak + "$x"},
		{"argon2 unknown variant", "$argon2x$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d unsupported", vecPHCArgon2d},
		{"argon2 version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2 no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2 bad version", "$argon2id$v=x$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2 params order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"argon2 params missing", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"argon2 params extra", "$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key},
		{"argon2 param empty", "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key},
		{"argon2 param sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"argon2 param hex", "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key},
		{"argon2 param space", "$argon2id$v=19$m=64, t=1,p=1$" + salt + "$" + key},
		{"argon2 param overflow", "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key},
		{"argon2 zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"argon2 zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"argon2 memory below 8p", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"argon2 padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"argon2 bad salt b64", "$argon2id$v=19$m=64,t=1,p=1$MDEy*zQ1Njc4OWFiY2RlZg$" + key},
		{"argon2 non-canonical salt b64", "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZh$" + key},
		{"argon2 url-safe b64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_")},
		{"argon2 short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"argon2 empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"argon2 empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"argon2 short hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},

		// Django argon2.
		{"django argon2 v16", vecDjangoArgon2iV16},
		{"django argon2 no version", "argon2$argon2i$m=64,t=1,p=1$c29tZXNhbHQ$qD6CRpUUhfm9/9Kl/oiY2Q"},
		{"django argon2 no inner $", "argon2$"},
		{"django argon2 double $", "argon2$$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"django argon2 bad params", "argon2$argon2id$v=19$m=64;t=1;p=1$" + salt + "$" + key},

		// bcrypt.
		{"bcrypt short", vecBcrypt2b[:59]},
		{"bcrypt long", vecBcrypt2b + "a"},
		{"bcrypt prefix 2x", "$2x$05$" + bcryptBody},
		{"bcrypt prefix 2", "$2$05$" + bcryptBody + "a"},
		{"bcrypt prefix 3", "$3b$05$" + bcryptBody},
		{"bcrypt cost letters", "$2b$x5$" + bcryptBody},
		{"bcrypt cost sign", "$2b$+5$" + bcryptBody},
		{"bcrypt cost too low", "$2b$03$" + bcryptBody},
		{"bcrypt cost 32", "$2b$32$" + bcryptBody},
		{"bcrypt missing $", "$2b$05x" + bcryptBody},
		{"bcrypt bad char", "$2b$05$" + bcryptBody[:30] + "*" + bcryptBody[31:]},
		{"bcrypt std b64 char", "$2b$05$" + bcryptBody[:10] + "+" + bcryptBody[11:]},
		{"django bcrypt empty", "bcrypt$"},
		{"django bcrypt single $", "bcrypt$2b$05$" + bcryptBody},
		{"django bcrypt_sha256 empty", "bcrypt_sha256$"},
		{"django bcrypt_sha256 truncated", vecDjangoBcryptSHA256[:len(vecDjangoBcryptSHA256)-1]},

		// Django pbkdf2.
		{"pbkdf2 empty", "pbkdf2_sha256$"},
		{"pbkdf2 missing hash", "pbkdf2_sha256$1000$pepper"},
		{"pbkdf2 extra field", vecDjangoPBKDF2SHA256 + "$x"},
		{"pbkdf2 empty iterations", "pbkdf2_sha256$$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 zero iterations", "pbkdf2_sha256$0$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 negative iterations", "pbkdf2_sha256$-1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 non-numeric iterations", "pbkdf2_sha256$1e3$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 empty salt", "pbkdf2_sha256$1000$$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 empty hash", "pbkdf2_sha256$1000$pepper$"},
		{"pbkdf2 unpadded hash", "pbkdf2_sha256$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik"},
		{"pbkdf2 bad b64", "pbkdf2_sha256$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsi*="},
		{"pbkdf2 sha1 length under sha256", "pbkdf2_sha256$1000$pepper$sr2X3QCHYro9USlb4WCWSa5msOA="},
		{"pbkdf2 sha256 length under sha1", "pbkdf2_sha1$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2 unknown digest", "pbkdf2_sha512$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
	}
	h := DefaultHasher()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckHash(tc.encoded); !errors.Is(err, ErrUnknownHashFormat) {
				t.Fatalf("CheckHash(%q) = %v, want an error wrapping ErrUnknownHashFormat", tc.encoded, err)
			}
			ok, rehash, err := h.Verify(tc.encoded, "letmein")
			if !errors.Is(err, ErrUnknownHashFormat) {
				t.Fatalf("Verify(%q) error = %v, want one wrapping ErrUnknownHashFormat", tc.encoded, err)
			}
			if ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v with an error", tc.encoded, ok, rehash)
			}
		})
	}
}

// Parameters just past each limit are refused before any key derivation:
// were they computed, the call would take seconds (or gigabytes) and return
// a nil error instead.
func TestPasswordVerifyAbsurdParams(t *testing.T) {
	const salt, key = "MDEyMzQ1Njc4OWFiY2RlZg", "D1xoXifMoizwv3Wa78A/mOX0f1g1mY2pLKaiYR5ibS0"
	bcryptBody := vecBcrypt2b[7:]
	tests := []struct{ name, encoded string }{
		{"argon2 memory > 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"argon2 memory 4 TiB", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"argon2 time > 100", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key},
		{"argon2 time huge", "$argon2id$v=19$m=64,t=4294967295,p=1$" + salt + "$" + key},
		{"argon2 threads > 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"django argon2 memory > 1 GiB", "argon2$argon2id$v=19$m=2097152,t=2,p=8$" + salt + "$" + key},
		{"django argon2 time > 100", "argon2$argon2i$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{"pbkdf2_sha256 > 10M iterations", "pbkdf2_sha256$10000001$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"pbkdf2_sha1 > 10M iterations", "pbkdf2_sha1$999999999$pepper$sr2X3QCHYro9USlb4WCWSa5msOA="},
		{"pbkdf2 iterations overflow", "pbkdf2_sha256$99999999999999999999$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="},
		{"bcrypt cost 17", "$2b$17$" + bcryptBody},
		{"bcrypt cost 31", "$2a$31$" + bcryptBody},
		{"django bcrypt cost 31", "bcrypt$$2b$31$" + bcryptBody},
		{"django bcrypt_sha256 cost 31", "bcrypt_sha256$$2b$31$" + bcryptBody},
	}
	h := DefaultHasher()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckHash(tc.encoded); !errors.Is(err, ErrUnknownHashFormat) {
				t.Fatalf("CheckHash(%q) = %v; want an ErrUnknownHashFormat error", tc.encoded, err)
			}
			ok, rehash, err := h.Verify(tc.encoded, "letmein")
			if !errors.Is(err, ErrUnknownHashFormat) || ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v, %v; want an ErrUnknownHashFormat error", tc.encoded, ok, rehash, err)
			}
		})
	}
	// The limits themselves are accepted (cheap cases only).
	for _, enc := range []string{
		"$argon2id$v=19$m=64,t=100,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=2040,t=1,p=255$" + salt + "$" + key,
	} {
		if _, _, err := h.Verify(enc, "letmein"); err != nil {
			t.Errorf("Verify(%q): %v", enc, err)
		}
		if err := CheckHash(enc); err != nil {
			t.Errorf("CheckHash(%q): %v", enc, err)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := DefaultHasher()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := DefaultHasher()
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(enc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// CheckHash accepts an unusable password (Django's "!" prefix, as an
// export of users without a password holds) and what Hash makes.
func TestCheckHashUnusableAndOwn(t *testing.T) {
	own, err := cheapHasher.Hash("letmein")
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"", "!", "!Xq2v9bRk0pT", own} {
		if err := CheckHash(enc); err != nil {
			t.Errorf("CheckHash(%q): %v", enc, err)
		}
	}
}
