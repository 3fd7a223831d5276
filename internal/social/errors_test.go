package social_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

func TestCallbackErrors(t *testing.T) {
	for _, c := range []struct {
		q        url.Values
		code     string
		authErr  string
		provider bool
	}{
		{url.Values{"error": {"access_denied"}, "error_description": {"The user denied"}}, "access_denied", "cancelled", true},
		{url.Values{"error": {"server_error"}}, "server_error", "unknown", true},
		{url.Values{"state": {"s"}}, "", "unknown", true},
		{url.Values{"code": {"c"}, "state": {"s"}}, "", "", false},
	} {
		err := social.CallbackError(c.q)
		if !c.provider {
			if err != nil {
				t.Errorf("%v: %v", c.q, err)
			}
			continue
		}
		var pe *social.ProviderError
		if !errors.As(err, &pe) || pe.Code != c.code || pe.AuthError() != c.authErr || social.AuthError(err) != c.authErr ||
			!errors.Is(err, social.ErrProvider) {
			t.Errorf("%v: %#v", c.q, err)
		}
	}
	if social.AuthError(errors.New("x")) != "unknown" {
		t.Error("AuthError of a plain error")
	}
}

func TestProviderErrorsMapped(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, nil)

	// The user declines at the provider: the callback carries the error.
	srv.FailAuthorize("access_denied", "User declined")
	_, _, err := redirectFlow(t, p)
	var pe *social.ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" || pe.Description != "User declined" || pe.AuthError() != social.AuthErrorCancelled {
		t.Errorf("declined: %#v", err)
	}
	srv.FailAuthorize("", "")

	// The token endpoint refuses.
	srv.FailToken(http.StatusBadRequest, "invalid_grant")
	_, _, err = redirectFlow(t, p)
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" || pe.Status != http.StatusBadRequest || pe.AuthError() != social.AuthErrorUnknown {
		t.Errorf("token refusal: %#v", err)
	}
	srv.FailToken(0, "")

	// A code used twice or made up.
	if _, err := p.Exchange(context.Background(), "made-up", callback, ""); !errors.As(err, &pe) || pe.Code != "invalid_grant" {
		t.Errorf("made-up code: %#v", err)
	}
	// A wrong secret.
	bad := googleAt(t, srv, func(ps *tenants.ProviderSettings) { ps.Apps[0].Secret = "wrong" })
	if _, _, err := redirectFlow(t, bad); !errors.As(err, &pe) || pe.Code != "invalid_client" || pe.Status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %#v", err)
	}

	// GitHub answers errors with 200.
	gh := oidctest.StartGitHub(t)
	if _, err := githubAt(t, gh).Exchange(context.Background(), "made-up", callback, ""); !errors.As(err, &pe) || pe.Code != "bad_verification_code" {
		t.Errorf("github bad code: %#v", err)
	}
	gh.FailAuthorize("access_denied", "The user has denied your application access.")
	if _, _, err := redirectFlow(t, githubAt(t, gh)); social.AuthError(err) != social.AuthErrorCancelled {
		t.Errorf("github declined: %v", err)
	}
}

func TestPKCEMismatchRefused(t *testing.T) {
	srv := oidctest.Start(t)
	p := oidcAt(t, srv, map[string]any{"oauth_pkce_enabled": true})
	ctx := context.Background()
	_, challenge := social.NewPKCE()
	authURL, err := p.AuthorizeURL(ctx, social.AuthParams{State: "s", CodeChallenge: challenge, RedirectURI: callback})
	if err != nil {
		t.Fatal(err)
	}
	_, params := oidctest.Authorize(t, authURL)
	other, _ := social.NewPKCE()
	_, err = p.Exchange(ctx, params.Get("code"), callback, other)
	var pe *social.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" {
		t.Errorf("wrong verifier: %#v", err)
	}
}

func TestStateOfAnotherProviderRefused(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, nil)
	st := &social.State{Provider: "acme-sso", Process: social.ProcessLogin}
	_, _, err := social.CompleteRedirect(context.Background(), p, st, url.Values{"code": {"c"}}, callback)
	if !errors.Is(err, social.ErrStateMismatch) {
		t.Errorf("err = %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	srv := oidctest.Start(t)
	gh := oidctest.StartGitHub(t)
	s := settingsWith("google", tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: srv.ClientID, Secret: srv.ClientSecret}}})
	s.SocialAccountRequestsTimeout = 1 // SOCIALACCOUNT_REQUESTS_TIMEOUT
	p, err := social.ForTenant(s, "google", "", true, social.WithEndpoints(oidcEndpoints(srv)), social.WithCache(social.NewCache()))
	if err != nil {
		t.Fatal(err)
	}
	ghp := githubAt(t, gh)
	oidc := oidcAt(t, srv, nil)
	srv.SetDelay(10 * time.Second)
	gh.SetDelay(10 * time.Second)

	bounded := func(name string, max time.Duration, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		if d := time.Since(start); d > max {
			t.Errorf("%s took %v", name, d)
		}
		var pe *social.ProviderError
		if !errors.As(err, &pe) || !pe.Timeout || !errors.Is(err, social.ErrProvider) {
			t.Errorf("%s: err = %#v, want a timeout", name, err)
		}
	}
	ctx := context.Background()
	bounded("exchange", 3*time.Second, func() error { _, err := p.Exchange(ctx, "c", callback, ""); return err })
	bounded("userinfo", 3*time.Second, func() error { _, err := p.Profile(ctx, &social.Tokens{AccessToken: "a"}, ""); return err })
	bounded("jwks", 3*time.Second, func() error { _, err := p.VerifyIDToken(ctx, srv.IDToken(t, oidctest.TokenOptions{}), ""); return err })
	// The caller's context bounds calls too (githubAt's client allows 5 s).
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	bounded("github context", 2*time.Second, func() error { _, err := ghp.Exchange(short, "c", callback, ""); return err })
	short2, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	bounded("discovery", 2*time.Second, func() error {
		_, err := oidc.AuthorizeURL(short2, social.AuthParams{State: "s", RedirectURI: callback})
		return err
	})
}

func TestPublicClientRefusesInternalAddresses(t *testing.T) {
	srv := oidctest.Start(t)
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: srv.ClientID, Secret: srv.ClientSecret}}}
	s := settingsWith("google", ps)
	p, err := social.ForTenant(s, "google", "", false, social.WithEndpoints(oidcEndpoints(srv)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Exchange(context.Background(), "c", callback, "")
	if !errors.Is(err, social.ErrForbiddenAddress) || !errors.Is(err, social.ErrProvider) {
		t.Errorf("err = %v", err)
	}
	if srv.Hits("/token") != 0 {
		t.Error("the request reached the server")
	}
}
