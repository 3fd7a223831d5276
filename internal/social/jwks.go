package social

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// Cache keeps providers' public documents (JWKS, OpenID discovery) by URL,
// shared by every tenant: they are public and the same for everyone.
type Cache struct {
	// TTL is how long a fetched document is used (default 1 h).
	TTL time.Duration
	// MinRefresh is the least time between two fetches of a JWKS caused by
	// an unknown key id (default 1 min), so forged kids cannot make
	// Hallpass hammer a provider.
	MinRefresh time.Duration

	now     func() time.Time
	mu      sync.Mutex
	jwks    map[string]*jwksEntry
	docs    map[string]*docEntry
	flights singleflight.Group
}

type jwksEntry struct {
	keys      map[string]*jwk
	fetchedAt time.Time
}

type docEntry struct {
	doc       *discovery
	fetchedAt time.Time
}

// DefaultCache is the process-wide cache providers use unless WithCache.
var DefaultCache = NewCache()

// NewCache returns an empty cache with the default TTL and MinRefresh.
func NewCache() *Cache {
	return &Cache{
		TTL: time.Hour, MinRefresh: time.Minute, now: time.Now,
		jwks: map[string]*jwksEntry{}, docs: map[string]*docEntry{},
	}
}

// maxEntries bounds each map; past it, expired entries are dropped.
const maxEntries = 10000

// ready makes a zero Cache usable; c.mu is held.
func (c *Cache) ready() {
	if c.jwks == nil {
		c.jwks = map[string]*jwksEntry{}
	}
	if c.docs == nil {
		c.docs = map[string]*docEntry{}
	}
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = time.Minute
	}
}

func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// jwk is one usable signing key.
type jwk struct {
	kid string
	alg string // the only algorithm it verifies
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

// key returns the signing key kid of the JWKS at u: from the cache while
// fresh, else fetched; an unknown kid causes one refetch, at most every
// MinRefresh.
func (c *Cache) key(ctx context.Context, b *base, u, kid string) (*jwk, error) {
	c.mu.Lock()
	c.ready()
	e := c.jwks[u]
	now := c.clock()
	ttl, minRefresh := c.TTL, c.MinRefresh
	c.mu.Unlock()
	if e != nil && now.Sub(e.fetchedAt) < ttl {
		if k, ok := e.lookup(kid); ok {
			return k, nil
		}
		if now.Sub(e.fetchedAt) < minRefresh {
			return nil, invalidToken("unknown key id %q", kid)
		}
	}
	e, err := c.fetchJWKS(ctx, b, u)
	if err != nil {
		return nil, err
	}
	if k, ok := e.lookup(kid); ok {
		return k, nil
	}
	return nil, invalidToken("unknown key id %q", kid)
}

// shared runs fetch once for all concurrent callers of key (singleflight),
// detached from any one caller's cancellation but bounded by the HTTP
// client's timeout; each caller stops waiting when its own context ends.
func (c *Cache) shared(ctx context.Context, key string, fetch func() (any, error)) (any, error) {
	ch := c.flights.DoChan(key, fetch)
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, &ProviderError{Op: strings.SplitN(key, " ", 2)[0] + " fetch", Timeout: errors.Is(ctx.Err(), context.DeadlineExceeded), Err: ctx.Err()}
	}
}

// lookup finds kid; a token without kid uses the set's only key.
func (e *jwksEntry) lookup(kid string) (*jwk, bool) {
	if kid == "" {
		if len(e.keys) == 1 {
			for _, k := range e.keys {
				return k, true
			}
		}
		return nil, false
	}
	k, ok := e.keys[kid]
	return k, ok
}

func (c *Cache) fetchJWKS(ctx context.Context, b *base, u string) (*jwksEntry, error) {
	v, err := c.shared(ctx, "jwks "+u, func() (any, error) {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: JWKS URL: %v", ErrConfig, err)
		}
		req.Header.Set("Accept", "application/json")
		r, err := b.do(req, "JWKS fetch")
		if err != nil {
			return nil, err
		}
		if !r.ok() {
			return nil, r.providerError("JWKS fetch")
		}
		keys, err := parseJWKS(r.body)
		if err != nil {
			return nil, &ProviderError{Op: "JWKS fetch", Status: r.status, Err: err}
		}
		e := &jwksEntry{keys: keys, fetchedAt: c.clock()}
		c.mu.Lock()
		if len(c.jwks) >= maxEntries {
			for k, old := range c.jwks {
				if e.fetchedAt.Sub(old.fetchedAt) >= c.TTL {
					delete(c.jwks, k)
				}
			}
		}
		c.jwks[u] = e
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*jwksEntry), nil
}

// parseJWKS reads a JWK Set, keeping the signature keys it can use: RSA
// (≥ 2048 bits) for RS256/384/512 and EC P-256/P-384 for ES256/384.
// Unusable keys are skipped, not errors: sets mix key types.
func parseJWKS(body []byte) (map[string]*jwk, error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("invalid JWKS: %w", err)
	}
	out := map[string]*jwk{}
	for _, m := range set.Keys {
		k, err := parseJWK(m)
		if err != nil {
			continue
		}
		out[k.kid] = k
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return out, nil
}

func parseJWK(m map[string]any) (*jwk, error) {
	k := &jwk{kid: str(m, "kid"), alg: str(m, "alg")}
	if use := str(m, "use"); use != "" && use != "sig" {
		return nil, fmt.Errorf("key %q is not for signatures", k.kid)
	}
	b64 := func(name string) ([]byte, error) {
		s := str(m, name)
		if s == "" {
			return nil, fmt.Errorf("key %q has no %s", k.kid, name)
		}
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	switch str(m, "kty") {
	case "RSA":
		if k.alg == "" {
			k.alg = "RS256"
		}
		if k.alg != "RS256" && k.alg != "RS384" && k.alg != "RS512" {
			return nil, fmt.Errorf("key %q: unsupported alg %q", k.kid, k.alg)
		}
		n, err := b64("n")
		if err != nil {
			return nil, err
		}
		e, err := b64("e")
		if err != nil {
			return nil, err
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key %q: weak RSA key", k.kid)
		}
		k.key = pub
	case "EC":
		var curve elliptic.Curve
		switch str(m, "crv") {
		case "P-256":
			curve = elliptic.P256()
			if k.alg == "" {
				k.alg = "ES256"
			}
		case "P-384":
			curve = elliptic.P384()
			if k.alg == "" {
				k.alg = "ES384"
			}
		default:
			return nil, fmt.Errorf("key %q: unsupported curve", k.kid)
		}
		if (curve == elliptic.P256() && k.alg != "ES256") || (curve == elliptic.P384() && k.alg != "ES384") {
			return nil, fmt.Errorf("key %q: alg %q does not fit its curve", k.kid, k.alg)
		}
		x, err := b64("x")
		if err != nil {
			return nil, err
		}
		y, err := b64("y")
		if err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) > size || len(y) > size {
			return nil, fmt.Errorf("key %q: bad coordinates", k.kid)
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(x):1+size], x)
		copy(point[1+2*size-len(y):], y)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.kid, err)
		}
		k.key = pub
	default:
		return nil, fmt.Errorf("key %q: unsupported key type", k.kid)
	}
	return k, nil
}

// idTokenAlgs are the only algorithms ID tokens may use; never "none" or HS*.
var idTokenAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384"}

// Leeway is the clock skew allowed on exp, iat and nbf.
const Leeway = time.Minute

// maxIDToken refuses oversized tokens before parsing.
const maxIDToken = 16 << 10

// idTokenCheck says what an ID token must satisfy.
type idTokenCheck struct {
	jwksURL   string
	issuers   []string // iss must equal one
	audiences []string // aud must contain one
	nonce     string   // when not empty, must equal the nonce claim
	// nonceIfPresent accepts a token without nonce claim (Google's code
	// flow without the openid scope).
	nonceIfPresent bool
}

// verifyIDToken checks an ID token and returns its claims; every refusal is
// ErrInvalidToken (wrapping a ProviderError when the JWKS could not be had).
func (b *base) verifyIDToken(ctx context.Context, token string, chk idTokenCheck) (map[string]any, error) {
	if token == "" {
		return nil, invalidToken("no id_token")
	}
	if len(token) > maxIDToken {
		return nil, invalidToken("id_token too large")
	}
	if len(chk.issuers) == 0 || len(chk.audiences) == 0 || chk.jwksURL == "" {
		return nil, fmt.Errorf("%w: ID token issuer, audience and JWKS must be known", ErrConfig)
	}
	cache := b.cfg.cache
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(idTokenAlgs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithAudience(chk.audiences...),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(cache.clock),
	)
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := cache.key(ctx, b, chk.jwksURL, kid)
		if err != nil {
			return nil, err
		}
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("alg %q does not match key %q (%s)", t.Method.Alg(), k.kid, k.alg)
		}
		return k.key, nil
	})
	if err != nil {
		return nil, wrapInvalidToken(unwrapKeyfunc(err))
	}
	iss, _ := claims["iss"].(string)
	if !slices.Contains(chk.issuers, iss) {
		return nil, invalidToken("issuer %q is not %q", iss, strings.Join(chk.issuers, `" or "`))
	}
	if _, ok := claims["iat"]; !ok {
		return nil, invalidToken("no iat")
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, invalidToken("no sub")
	}
	// OpenID Connect Core §3.1.3.7: with several audiences, azp names the
	// client the token was issued to.
	if azp, ok := claims["azp"].(string); ok {
		if aud, _ := claims.GetAudience(); len(aud) > 1 && !slices.Contains(chk.audiences, azp) {
			return nil, invalidToken("azp %q is not this app", azp)
		}
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

// unwrapKeyfunc surfaces the keyfunc's own refusal (an unknown kid) from
// golang-jwt's wrapping; other errors keep their chain.
func unwrapKeyfunc(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return err
}
