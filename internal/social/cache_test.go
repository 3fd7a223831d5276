package social_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

// Concurrent verifications on a cold cache fetch the provider's keys once.
func TestIDTokenColdCacheFetchesOnce(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, nil)
	tok := srv.IDToken(t, oidctest.TokenOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := p.VerifyIDToken(context.Background(), tok, "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.Hits("/jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

// Two tenants' apps of one provider share its keys (one fetch), never each
// other's audience.
func TestIDTokenTenantsShareKeysNotAudiences(t *testing.T) {
	srv := oidctest.Start(t)
	cache := social.NewCache()
	tenantApp := func(clientID string) social.Provider {
		ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: clientID, Secret: "s"}}}
		return newProvider(t, settingsWith("google", ps), "google", social.WithEndpoints(oidcEndpoints(srv)), social.WithCache(cache))
	}
	a, b := tenantApp(srv.ClientID), tenantApp("tenant-b-client")
	forA := srv.IDToken(t, oidctest.TokenOptions{})
	forB := srv.IDToken(t, oidctest.TokenOptions{Audience: []string{"tenant-b-client"}})
	ctx := context.Background()
	if _, err := a.VerifyIDToken(ctx, forA, ""); err != nil {
		t.Errorf("A's token at A: %v", err)
	}
	if _, err := b.VerifyIDToken(ctx, forB, ""); err != nil {
		t.Errorf("B's token at B: %v", err)
	}
	if _, err := b.VerifyIDToken(ctx, forA, ""); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("A's token at B: %v", err)
	}
	if _, err := a.VerifyIDToken(ctx, forB, ""); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("B's token at A: %v", err)
	}
	if n := srv.Hits("/jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

// A document fetched where private networks are allowed is not served, from
// the same cache, to a client that refuses them (SSRF guard).
func TestCacheKeepsNetworkPolicies(t *testing.T) {
	srv := oidctest.Start(t)
	s := settingsWith("openid_connect", tenants.ProviderSettings{Apps: []tenants.SocialApp{{
		ClientID: srv.ClientID, Secret: srv.ClientSecret, ProviderID: "acme", Settings: map[string]any{"server_url": srv.URL},
	}}})
	token := map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})}
	cache := social.NewCache()
	for _, private := range []bool{true, false} {
		r, err := social.CheckTokenInput(s, "acme", token, private, social.WithCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		_, err = social.VerifyToken(context.Background(), r)
		if private && err != nil {
			t.Fatalf("private networks allowed: %v", err)
		}
		if !private && (!errors.Is(err, social.ErrInvalidToken) || !errors.Is(err, social.ErrForbiddenAddress)) {
			t.Errorf("public client after a private fetch: %v", err)
		}
	}
	if n := srv.Hits("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times, want 1 (the public client must not reach it)", n)
	}
}

// The cache holds at most MaxCacheEntries key sets, dropping expired ones
// first: tenants cannot grow it without bound.
func TestCacheBounded(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	cache := social.NewCache()
	cache.SetClock(clock.Now)
	for i := range social.MaxCacheEntries + 50 {
		social.HoldKeySet(cache, fmt.Sprintf("https://idp-%d.example/jwks", i))
	}
	if n := social.CachedKeySets(cache); n > social.MaxCacheEntries {
		t.Fatalf("%d key sets held, want at most %d", n, social.MaxCacheEntries)
	}
	clock.Advance(2 * time.Hour)
	social.HoldKeySet(cache, "https://late.example/jwks")
	if n := social.CachedKeySets(cache); n != 1 {
		t.Errorf("%d key sets held after all expired, want 1", n)
	}
}

// Provider documents are read up to 1 MiB (go-oidc alone reads key sets
// whole): a larger JWKS or discovery document is a provider error.
func TestOversizedDocumentsRefused(t *testing.T) {
	huge := `{"keys": [], "padding": "` + strings.Repeat("x", 2<<20) + `"}`
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(huge))
	}))
	t.Cleanup(big.Close)
	srv := oidctest.Start(t)
	ctx := context.Background()

	p := googleAt(t, srv, nil, social.WithEndpoints(social.Endpoints{JWKS: big.URL, Issuer: srv.Issuer()}))
	_, err := p.VerifyIDToken(ctx, srv.IDToken(t, oidctest.TokenOptions{}), "")
	if !errors.Is(err, social.ErrInvalidToken) || !errors.Is(err, social.ErrProvider) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized JWKS: %v", err)
	}
	o := oidcAt(t, srv, nil, social.WithEndpoints(social.Endpoints{Discovery: big.URL}))
	_, err = o.AuthorizeURL(ctx, social.AuthParams{State: "s", RedirectURI: callback})
	if !errors.Is(err, social.ErrProvider) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized discovery document: %v", err)
	}
}

// Clock skew: exp, iat and nbf each get Leeway (1 min), no more. go-oidc
// alone allows none on exp and 5 min on nbf.
func TestIDTokenClockSkew(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, nil)
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, c := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"expired 30 s ago", map[string]any{"iat": at(-time.Hour), "exp": at(-30 * time.Second)}, true},
		{"expired 90 s ago", map[string]any{"iat": at(-time.Hour), "exp": at(-90 * time.Second)}, false},
		{"issued 30 s ahead", map[string]any{"iat": at(30 * time.Second)}, true},
		{"issued 90 s ahead", map[string]any{"iat": at(90 * time.Second)}, false},
		{"valid from 30 s ahead", map[string]any{"nbf": at(30 * time.Second)}, true},
		{"valid from 3 min ahead", map[string]any{"nbf": at(3 * time.Minute)}, false},
	} {
		_, err := p.VerifyIDToken(context.Background(), srv.IDToken(t, oidctest.TokenOptions{Claims: c.claims}), "")
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, social.ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid_token", c.name, err)
		}
	}
}

// A token no key verifies is the token's fault, not the provider's: only a
// failed key fetch is a provider error.
func TestIDTokenBadSignatureIsNotAProviderError(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, nil)
	ctx := context.Background()
	for _, o := range []oidctest.TokenOptions{{ForeignKey: true}, {KID: "unknown"}} {
		_, err := p.VerifyIDToken(ctx, srv.IDToken(t, o), "")
		if !errors.Is(err, social.ErrInvalidToken) || errors.Is(err, social.ErrProvider) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
