package social

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OAuth 2 client side of every provider, on golang.org/x/oauth2: the
// authorization URL of the redirect flow and the authorization_code grant.
// The providers add only what allauth does differently per provider.

// protectedParams are set by the flow and cannot be overridden by
// AUTH_PARAMS.
var protectedParams = []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method"}

// authorizeRequest is what a provider adds to an authorization URL.
type authorizeRequest struct {
	endpoint string
	clientID string
	scope    []string
	nonce    bool              // send the nonce (OpenID Connect providers)
	fixed    map[string]string // provider parameters, e.g. Apple's response_mode
}

// authorizeURL builds an authorization URL: oauth2's standard parameters
// (response_type=code, client_id, redirect_uri, scope, state), the nonce
// and PKCE challenge, then the provider's fixed parameters, then
// AUTH_PARAMS (which cannot override the flow's own).
func (b *base) authorizeURL(r authorizeRequest, p AuthParams) (string, error) {
	if err := checkEndpoint("authorization", r.endpoint); err != nil {
		return "", err
	}
	if p.RedirectURI == "" {
		return "", errors.New("social: AuthParams.RedirectURI is required")
	}
	if p.State == "" {
		return "", errors.New("social: AuthParams.State is required")
	}
	cfg := oauth2.Config{
		ClientID: r.clientID, RedirectURL: p.RedirectURI, Scopes: dedupe(r.scope),
		Endpoint: oauth2.Endpoint{AuthURL: r.endpoint},
	}
	var opts []oauth2.AuthCodeOption
	if r.nonce && p.Nonce != "" {
		opts = append(opts, oidc.Nonce(p.Nonce))
	}
	if b.pkceEnabled() {
		if p.CodeChallenge == "" {
			return "", errors.New("social: PKCE is enabled for this app: AuthParams.CodeChallenge is required")
		}
		// oauth2.S256ChallengeOption takes the verifier; the flow hands
		// over only its challenge (NewPKCE), so the verifier stays in the
		// state store.
		opts = append(opts, oauth2.SetAuthURLParam("code_challenge_method", "S256"),
			oauth2.SetAuthURLParam("code_challenge", p.CodeChallenge))
	}
	for k, v := range r.fixed {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	for k, v := range b.authParams(p) {
		if !slices.Contains(protectedParams, k) {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	return cfg.AuthCodeURL(p.State, opts...), nil
}

// checkEndpoint refuses an endpoint URL that is not absolute http(s): an
// operator's mistake, not the provider's.
func checkEndpoint(name, endpoint string) error {
	if endpoint == "" {
		return fmt.Errorf("%w: no %s endpoint", ErrConfig, name)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%w: %s endpoint %q", ErrConfig, name, endpoint)
	}
	return nil
}

func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Client authentication at the token endpoint.
const (
	authPost  = oauth2.AuthStyleInParams // client_id and client_secret in the form
	authBasic = oauth2.AuthStyleInHeader // HTTP Basic (RFC 6749 §2.3.1)
)

// exchange runs the authorization_code grant against tokenURL with the
// app's HTTP client; codeVerifier is sent when PKCE is enabled. Every
// failure but a misconfigured endpoint is a *ProviderError.
func (b *base) exchange(ctx context.Context, tokenURL, clientID, secret string, auth oauth2.AuthStyle, code, redirectURI, codeVerifier string) (*Tokens, error) {
	const op = "token exchange"
	if err := checkEndpoint("token", tokenURL); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, &ProviderError{Op: op, Err: errors.New("no code")}
	}
	cfg := oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: auth},
	}
	var opts []oauth2.AuthCodeOption
	if b.pkceEnabled() && codeVerifier != "" {
		opts = append(opts, oauth2.VerifierOption(codeVerifier))
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, b.client), code, opts...)
	if err != nil {
		return nil, exchangeError(op, err)
	}
	t := &Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, ExpiresAt: tok.Expiry}
	t.IDToken, _ = tok.Extra("id_token").(string)
	t.Scope, _ = tok.Extra("scope").(string)
	return t, nil
}

// exchangeError turns oauth2's failures into a *ProviderError: a refusal
// (oauth2.RetrieveError, also GitHub's 200 {"error": …}) keeps the
// provider's status, code and description, read from its body as any other
// provider answer; anything else is a transport failure or a bad answer.
func exchangeError(op string, err error) *ProviderError {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &ProviderError{Op: op, Timeout: isTimeout(err), Err: err}
	}
	r := &response{body: re.Body}
	if re.Response != nil {
		r.status, r.header = re.Response.StatusCode, re.Response.Header
	}
	pe := r.providerError(op)
	if pe.Code == "" {
		pe.Code, pe.Description = clip(re.ErrorCode, 100), clip(re.ErrorDescription, 500)
	}
	if r.ok() {
		pe.Err = errors.New("no access_token")
	}
	return pe
}
