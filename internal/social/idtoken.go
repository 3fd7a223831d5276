package social

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ID tokens are verified by go-oidc (signature with the provider's JWKS,
// algorithm allow-list, issuer, expiry); Hallpass adds what go-oidc leaves
// to its callers or does differently: the audience against every client id
// of the app, azp, iat, nbf and exp with Leeway, sub and the nonce.

// idTokenAlgs are the only algorithms ID tokens may use; never "none" or HS*.
var idTokenAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384}

// Leeway is the clock skew allowed on exp, iat and nbf.
const Leeway = time.Minute

// maxIDToken refuses oversized tokens before parsing.
const maxIDToken = 16 << 10

// idTokenCheck says what an ID token must satisfy.
type idTokenCheck struct {
	jwksURL string
	// issuer is what iss must be (go-oidc also takes Google's
	// "accounts.google.com" for "https://accounts.google.com").
	issuer    string
	audiences []string // aud must contain one
	nonce     string   // when not empty, must equal the nonce claim
	// nonceIfPresent accepts a token without nonce claim (Google's code
	// flow without the openid scope).
	nonceIfPresent bool
}

// fetchFailure is the context key under which verifyIDToken learns that
// the key set could not be fetched (go-oidc's Verify flattens its cause).
type fetchFailure struct{}

// verifyIDToken checks an ID token and returns its claims (numbers exact);
// every refusal is ErrInvalidToken, wrapping a ProviderError when the JWKS
// could not be had.
func (b *base) verifyIDToken(ctx context.Context, token string, chk idTokenCheck) (map[string]any, error) {
	if token == "" {
		return nil, invalidToken("no id_token")
	}
	if len(token) > maxIDToken {
		return nil, invalidToken("id_token too large")
	}
	if chk.issuer == "" || len(chk.audiences) == 0 || chk.jwksURL == "" {
		return nil, fmt.Errorf("%w: ID token issuer, audience and JWKS must be known", ErrConfig)
	}
	cache := b.cfg.cache
	now := cache.clock()
	if b.client.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.client.Timeout)
		defer cancel()
	}
	var fetchErr error
	ctx = context.WithValue(ctx, fetchFailure{}, &fetchErr)
	verifier := oidc.NewVerifier(chk.issuer, cache.keySet(chk.jwksURL, b.client), &oidc.Config{
		SkipClientIDCheck:    true, // Apple apps have several client ids: checked below
		SupportedSigningAlgs: idTokenAlgs,
		// go-oidc allows no skew on exp; its clock Leeway behind allows
		// Leeway. (Its own nbf check allows 5 min; ours below, Leeway.)
		Now: func() time.Time { return now.Add(-Leeway) },
	})
	tok, err := verifier.Verify(ctx, token)
	if err != nil {
		if fetchErr != nil {
			return nil, wrapInvalidToken(fetchErr)
		}
		return nil, wrapInvalidToken(err)
	}
	var raw json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return nil, wrapInvalidToken(err)
	}
	claims, err := decodeObject(raw)
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(chk.audiences, a) }) {
		return nil, invalidToken("audience %q is not this app", tok.Audience)
	}
	// OpenID Connect Core §3.1.3.7: with several audiences, azp names the
	// client the token was issued to.
	if azp, ok := claims["azp"].(string); ok && len(tok.Audience) > 1 && !slices.Contains(chk.audiences, azp) {
		return nil, invalidToken("azp %q is not this app", azp)
	}
	if _, ok := claims["iat"]; !ok {
		return nil, invalidToken("no iat")
	}
	if tok.IssuedAt.After(now.Add(Leeway)) {
		return nil, invalidToken("issued in the future (%s)", tok.IssuedAt)
	}
	if nbf, ok := number(claims["nbf"]); ok && time.Unix(nbf, 0).After(now.Add(Leeway)) {
		return nil, invalidToken("not valid before %s", time.Unix(nbf, 0))
	}
	if tok.Subject == "" {
		return nil, invalidToken("no sub")
	}
	if chk.nonce != "" {
		got, present := claims["nonce"].(string)
		if present || !chk.nonceIfPresent || claims["nonce"] != nil {
			if subtle.ConstantTimeCompare([]byte(got), []byte(chk.nonce)) != 1 {
				return nil, invalidToken("nonce mismatch")
			}
		}
	}
	return claims, nil
}

// keySet is the signing keys published at one JWKS URL, held to the
// Cache's policy: a set is used at most TTL, then fetched anew; a token no
// kept key verifies (the provider rotated, or a forged kid) fetches it again,
// but not within MinRefresh of the last fetch.
//
// Each fetch is a new go-oidc RemoteKeySet that fetches once (remoteSet):
// RemoteKeySet would refetch by itself, but hands a finished fetch's result
// to callers until its goroutine has stored it, so a caller could see the
// set from before a rotation after it; a set that never changes cannot.
// (Which key sets a test may observe is pinned by TestIDTokenKeyRotation
// and TestIDTokenColdCacheFetchesOnce, run with -count to catch races.)
type keySet struct {
	url   string
	cache *Cache
	base  http.RoundTripper // the SSRF-guarded transport of the app's client
	added time.Time

	mu        sync.Mutex
	remote    *remoteSet
	lastFetch time.Time // last fetch answered 2xx
}

// keySet returns the key set at u, fetched through client's transport.
func (c *Cache) keySet(u string, client *http.Client) *keySet {
	key := cacheKey(u, client)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready()
	if k := c.keys[key]; k != nil {
		return k
	}
	now := c.clock()
	makeRoom(c.keys, func(k *keySet) time.Time { return k.added }, now, c.TTL)
	k := &keySet{url: u, cache: c, base: transportOf(client), added: now}
	c.keys[key] = k
	return k
}

// remoteSet is one fetch of a key set: a RemoteKeySet whose transport
// refuses a second fetch once one succeeded.
type remoteSet struct {
	*oidc.RemoteKeySet
	ks      *keySet
	born    time.Time
	fetched atomic.Bool
}

// newRemote starts a remoteSet, which fetches on first use; k.mu is held.
func (k *keySet) newRemote(now time.Time) *remoteSet {
	r := &remoteSet{ks: k, born: now}
	// go-oidc fetches in the background with this context's client,
	// bounded by sharedFetchTimeout; callers wait within their own.
	client := &http.Client{Transport: r, Timeout: sharedFetchTimeout}
	r.RemoteKeySet = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), k.url)
	return r
}

// errFetchedOnce is a remoteSet's refusal to fetch again.
var errFetchedOnce = errors.New("social: this key set was fetched already")

// RoundTrip is go-oidc's fetch of the set.
func (r *remoteSet) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.fetched.Load() {
		return nil, errFetchedOnce
	}
	resp, err := r.ks.base.RoundTrip(req)
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.fetched.Store(true)
		now := r.ks.cache.clock()
		r.ks.mu.Lock()
		r.ks.lastFetch = now
		r.ks.mu.Unlock()
	}
	return resp, err
}

// current is the set to verify with: a new one past TTL.
func (k *keySet) current() *remoteSet {
	ttl, _ := k.cache.policy()
	now := k.cache.clock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.remote == nil || now.Sub(k.remote.born) >= ttl {
		k.remote = k.newRemote(now)
	}
	return k.remote
}

// refetch replaces r by a new fetch, unless the set was fetched within
// MinRefresh (nil) or another caller replaced it already (theirs).
func (k *keySet) refetch(r *remoteSet) *remoteSet {
	_, minRefresh := k.cache.policy()
	now := k.cache.clock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.remote != r {
		return k.remote
	}
	if now.Sub(k.lastFetch) < minRefresh {
		return nil
	}
	k.remote = k.newRemote(now)
	return k.remote
}

// VerifySignature implements oidc.KeySet for the verifier. A failed fetch
// becomes a *ProviderError, also left where verifyIDToken looks for it.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	r := k.current()
	payload, err := r.VerifySignature(ctx, jwt)
	if err != nil && !fetchFailed(err) {
		// No key r holds verifies the token: the provider may have rotated
		// its keys (fetch them again, unless within MinRefresh), or r's
		// fetch stored them just after this call looked and before it
		// asked for another (which r refuses): look once more.
		if next := k.refetch(r); next != nil {
			r = next
		}
		payload, err = r.VerifySignature(ctx, jwt)
	}
	switch {
	case err == nil:
		return payload, nil
	case !fetchFailed(err):
		return nil, errors.New("no key of the provider's set verifies the token (unknown key id or bad signature)")
	}
	pe := &ProviderError{Op: "JWKS fetch", Timeout: isTimeout(err), Err: err}
	if p, ok := ctx.Value(fetchFailure{}).(*error); ok {
		*p = pe
	}
	return nil, pe
}

// fetchFailed tells a failed fetch of the set, whose cause go-oidc wraps,
// from a token no key verifies: a bare error, or a refetch errFetchedOnce
// refused.
func fetchFailed(err error) bool {
	return errors.Unwrap(err) != nil && !errors.Is(err, errFetchedOnce)
}
