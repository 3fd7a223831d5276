package social_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

// fakeClock is a settable clock for caches.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestVerifyIDToken(t *testing.T) {
	srv := oidctest.Start(t)
	ctx := context.Background()
	google := googleAt(t, srv, nil)
	oidc := oidcAt(t, srv, nil)
	key, pemKey := appleKey(t)
	_ = key
	apple := newProvider(t, settingsWith("apple", tenants.ProviderSettings{Apps: []tenants.SocialApp{{
		ClientID: "com.example.web, " + srv.ClientID, Secret: "K", Key: "T", Settings: map[string]any{"certificate_key": pemKey},
	}}}), "apple", social.WithEndpoints(oidcEndpoints(srv)))

	type tc struct {
		name  string
		opts  oidctest.TokenOptions
		nonce string
		ok    bool
	}
	cases := []tc{
		{name: "valid", ok: true},
		{name: "valid with nonce", opts: oidctest.TokenOptions{Nonce: ptr("n-1")}, nonce: "n-1", ok: true},
		{name: "several audiences with azp", opts: oidctest.TokenOptions{Audience: []string{"other", srv.ClientID}, Claims: map[string]any{"azp": srv.ClientID}}, ok: true},
		{name: "wrong aud", opts: oidctest.TokenOptions{Audience: []string{"someone-else"}}},
		{name: "several audiences, azp another client", opts: oidctest.TokenOptions{Audience: []string{"other", srv.ClientID}, Claims: map[string]any{"azp": "other"}}},
		{name: "wrong iss", opts: oidctest.TokenOptions{Issuer: "https://evil.example"}},
		{name: "expired", opts: oidctest.TokenOptions{Expired: true}},
		{name: "issued in the future", opts: oidctest.TokenOptions{Claims: map[string]any{"iat": time.Now().Add(10 * time.Minute).Unix()}}},
		{name: "no iat", opts: oidctest.TokenOptions{NoIssuedAt: true}},
		{name: "no exp", opts: oidctest.TokenOptions{NoExpiry: true}},
		{name: "not yet valid", opts: oidctest.TokenOptions{Claims: map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()}}},
		{name: "wrong nonce", opts: oidctest.TokenOptions{Nonce: ptr("n-1")}, nonce: "n-2"},
		{name: "nonce missing", nonce: "n-2"},
		{name: "signed by another key", opts: oidctest.TokenOptions{ForeignKey: true}},
		{name: "unknown kid", opts: oidctest.TokenOptions{KID: "nope"}},
		{name: "alg none", opts: oidctest.TokenOptions{Alg: "none"}},
		{name: "HS256 keyed with the public key", opts: oidctest.TokenOptions{Alg: "HS256"}},
		{name: "no sub", opts: oidctest.TokenOptions{Claims: map[string]any{"sub": ""}}},
	}
	for _, p := range []struct {
		name string
		p    social.Provider
	}{{"google", google}, {"openid_connect", oidc}, {"apple", apple}} {
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				tok := srv.IDToken(t, c.opts)
				prof, err := p.p.VerifyIDToken(ctx, tok, c.nonce)
				if c.ok {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if prof.UID != srv.User().Sub || prof.Email != "jane.doe@example.com" || !prof.EmailVerified {
						t.Errorf("profile = %+v", prof)
					}
					return
				}
				if err == nil {
					t.Fatal("accepted")
				}
				t.Logf("refused: %v", err)
				if !errors.Is(err, social.ErrInvalidToken) {
					t.Errorf("err = %v, want invalid_token", err)
				}
			})
		}
	}
	// ES256 tokens verify with the EC key of the JWKS, and an ES256 header
	// on an RSA kid is refused.
	srv.UseEC(true)
	if _, err := oidc.VerifyIDToken(ctx, srv.IDToken(t, oidctest.TokenOptions{}), ""); err != nil {
		t.Errorf("ES256: %v", err)
	}
	srv.UseEC(false)
	rsaKID := srv.KID()
	srv.UseEC(true)
	if _, err := oidc.VerifyIDToken(ctx, srv.IDToken(t, oidctest.TokenOptions{KID: rsaKID}), ""); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("ES256 with an RSA kid: %v", err)
	}
}

func TestIDTokenKeyRotation(t *testing.T) {
	srv := oidctest.Start(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now()}
	cache := social.NewCache()
	cache.SetClock(clock.Now)
	p := googleAt(t, srv, nil, social.WithCache(cache))
	verify := func(tok string) error { _, err := p.VerifyIDToken(ctx, tok, ""); return err }

	old := srv.IDToken(t, oidctest.TokenOptions{})
	if err := verify(old); err != nil {
		t.Fatal(err)
	}
	if err := verify(old); err != nil || srv.Hits("/jwks") != 1 {
		t.Fatalf("cached verify: %v, JWKS hits %d", err, srv.Hits("/jwks"))
	}

	// The provider rotates. A token with the new kid right after a fetch
	// does not cause another one (at most one a minute)…
	srv.RotateKey(t, false)
	fresh := srv.IDToken(t, oidctest.TokenOptions{})
	if err := verify(fresh); !errors.Is(err, social.ErrInvalidToken) || srv.Hits("/jwks") != 1 {
		t.Fatalf("unknown kid within a minute: %v, JWKS hits %d", err, srv.Hits("/jwks"))
	}
	// …a minute later it causes exactly one refetch, and then verifies.
	clock.Advance(61 * time.Second)
	if err := verify(fresh); err != nil || srv.Hits("/jwks") != 2 {
		t.Fatalf("after rotation: %v, JWKS hits %d", err, srv.Hits("/jwks"))
	}
	// The retired key is gone.
	if err := verify(old); !errors.Is(err, social.ErrInvalidToken) || srv.Hits("/jwks") != 2 {
		t.Errorf("retired key: %v, JWKS hits %d", err, srv.Hits("/jwks"))
	}
	// Forged kids cannot make Hallpass hammer the provider.
	clock.Advance(61 * time.Second)
	for range 5 {
		_ = verify(srv.IDToken(t, oidctest.TokenOptions{KID: "forged"}))
	}
	if n := srv.Hits("/jwks"); n != 3 {
		t.Errorf("forged kids caused %d JWKS fetches in a minute, want 1", n-2)
	}
	// Past the TTL the set is refetched even for a known kid.
	clock.Advance(2 * time.Hour)
	now := oidctest.TokenOptions{Claims: map[string]any{"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Hour).Unix()}}
	fresh = srv.IDToken(t, now)
	if err := verify(fresh); err != nil || srv.Hits("/jwks") != 4 {
		t.Errorf("after TTL: %v, JWKS hits %d", err, srv.Hits("/jwks"))
	}
	// A rotation that keeps the old key published accepts both.
	clock.Advance(61 * time.Second)
	srv.RotateKey(t, true)
	newer := srv.IDToken(t, now)
	if err := verify(newer); err != nil {
		t.Error(err)
	}
	if err := verify(fresh); err != nil {
		t.Error(err)
	}
}

func TestIDTokenJWKSUnavailable(t *testing.T) {
	srv := oidctest.Start(t)
	tok := srv.IDToken(t, oidctest.TokenOptions{})
	p := googleAt(t, srv, nil, social.WithEndpoints(social.Endpoints{JWKS: srv.URL + "/missing", Issuer: srv.Issuer()}))
	_, err := p.VerifyIDToken(context.Background(), tok, "")
	// Both: the token could not be verified, because of the provider.
	if !errors.Is(err, social.ErrInvalidToken) || !errors.Is(err, social.ErrProvider) {
		t.Errorf("err = %v", err)
	}
}
