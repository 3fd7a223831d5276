package passwords

import (
	"errors"
	"testing"
)

// Vectors for django.go, all for the password "lètmein". md5, sha1 and the
// unsalted ones were made by Debian 12's python3-django 3.2.25:
//
//	H.make_password('lètmein', 'seasalt', 'md5')  # and 'sha1'; None and 'unsalted_md5', 'unsalted_sha1'
//
// and checked with its check_password (which also takes "md5$$<hex>").
// Django 3.2 has no scrypt hasher: the scrypt vector is Django 4's format
// (ScryptPasswordHasher.encode: N, salt, r, p and the base64 of a 64-byte
// key) computed with Python's hashlib.scrypt, as that hasher does.
const (
	vecDjangoMD5          = "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3"
	vecDjangoSHA1         = "sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8"
	vecDjangoUnsaltedMD5  = "88a434c88cca4e900f7874cd98123f43"
	vecDjangoMD5Empty     = "md5$$88a434c88cca4e900f7874cd98123f43"
	vecDjangoUnsaltedSHA1 = "sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b"
	vecDjangoScrypt       = "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw=="
)

func TestDjangoLegacyFormats(t *testing.T) {
	h := DefaultHasher()
	for _, enc := range []string{vecDjangoMD5, vecDjangoSHA1, vecDjangoUnsaltedMD5, vecDjangoMD5Empty, vecDjangoUnsaltedSHA1, vecDjangoScrypt} {
		if err := CheckHash(enc); err != nil {
			t.Errorf("CheckHash(%s): %v", enc, err)
		}
		ok, rehash, err := h.Verify(enc, "lètmein")
		if !ok || !rehash || err != nil {
			t.Errorf("Verify(%s, right) = %v, %v, %v; want true, true, nil", enc, ok, rehash, err)
		}
		ok, rehash, err = h.Verify(enc, "letmein")
		if ok || rehash || err != nil {
			t.Errorf("Verify(%s, wrong) = %v, %v, %v; want false, false, nil", enc, ok, rehash, err)
		}
	}
}

func TestDjangoLegacyFormatsRefused(t *testing.T) {
	for _, enc := range []string{
		"md5$seasalt$3F86D0D3D465B7B458C231BF3555C0E3",  // Django writes lower case
		"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0",    // short
		"md5$3f86d0d3d465b7b458c231bf3555c0e3",          // no salt field
		"sha1$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", // md5-sized
		"scrypt$16385$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",   // N not a power of two
		"scrypt$2097152$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", // N too large
		"scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafQ=",                                               // short key
		"scrypt$16384$$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",          // no salt
		"crypt$$ab1234567890",
		"88a434c88cca4e900f7874cd98123f4g",
	} {
		if err := CheckHash(enc); !errors.Is(err, ErrUnknownHashFormat) {
			t.Errorf("CheckHash(%s) = %v, want ErrUnknownHashFormat", enc, err)
		}
		if _, _, err := DefaultHasher().Verify(enc, "lètmein"); !errors.Is(err, ErrUnknownHashFormat) {
			t.Errorf("Verify(%s) = %v, want ErrUnknownHashFormat", enc, err)
		}
	}
}
