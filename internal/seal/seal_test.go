package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTripAndRotation(t *testing.T) {
	oldKey, newKey := key(t), key(t)
	oldSealer, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := oldSealer.Seal([]byte("s3cret"), "tenant:a:jwt")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") || !IsSealed(sealed) {
		t.Fatalf("sealed value leaks or is unmarked: %q", sealed)
	}
	rotated, err := New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.NeedsReseal(sealed) {
		t.Fatal("value sealed by the old key must need resealing")
	}
	pt, err := rotated.Open(sealed, "tenant:a:jwt")
	if err != nil || !bytes.Equal(pt, []byte("s3cret")) {
		t.Fatalf("open after rotation: %q %v", pt, err)
	}
	if _, err := rotated.Open(sealed, "tenant:b:jwt"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("another context must not open: %v", err)
	}
	fresh, _ := New(newKey)
	if _, err := fresh.Open(sealed, "tenant:a:jwt"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a sealer without the old key must refuse: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := rotated.Open(tampered, "tenant:a:jwt"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("tampered value must fail: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
		{"AAAA", false},
		{"not base64!!", false},
		{"", false},
	} {
		_, err := ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) err=%v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
