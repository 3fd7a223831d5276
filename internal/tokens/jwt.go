// Package tokens is allauth's JWT token strategy for the app client: access
// and refresh tokens signed with the tenant's keys (tenants.Keys), bound to
// the session they were issued for, checked offline, and refreshed with
// rotation and reuse detection (sessions.Store' refresh-token families).
// It knows no HTTP: api/tokens serves the refresh endpoint and the JWKS.
package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// KeySource is what the strategy needs of the tenant's signing keys.
type KeySource interface {
	Signing(ctx context.Context, t *tenants.Tenant) (*tenants.SigningKey, error)
	ByKid(ctx context.Context, t *tenants.Tenant, kid string) (*tenants.SigningKey, error)
	JWKS(ctx context.Context, t *tenants.Tenant) ([]byte, string, error)
}

// Token uses (the token_use claim).
const (
	UseAccess  = "access"
	UseRefresh = "refresh"
)

// maxTokenLength refuses oversized tokens before any parsing.
const maxTokenLength = 8 << 10

// errInvalid is every refused token; callers never learn why.
var errInvalid = errors.New("invalid token")

// Strategy issues and checks a tenant's JWTs.
type Strategy struct {
	Keys     KeySource
	Sealer   *seal.Sealer
	Sessions *sessions.Store
	// BaseDomain is HALLPASS_BASE_DOMAIN: an issuer addressed by host must be
	// {slug}.{BaseDomain} (or a verified domain of the tenant).
	BaseDomain string
	Now        func() time.Time
	// Claims, when set, returns the tenant's extra claims for a user's
	// access tokens (HALLPASS_JWT_CLAIMS, identity.Profiles.Claims); nil
	// when there are none. It is asked only for tenants that have some.
	Claims func(ctx context.Context, t *tenants.Tenant, userID int64) (map[string]any, error)
}

// extraClaims returns the tenant's claims for a user's access token.
func (s *Strategy) extraClaims(ctx context.Context, t *tenants.Tenant, userID int64) (map[string]any, error) {
	if s.Claims == nil || t.Settings.JWTClaims.Empty() {
		return nil, nil
	}
	extra, err := s.Claims(ctx, t, userID)
	if err != nil {
		return nil, fmt.Errorf("tokens: claims: %w", err)
	}
	return extra, nil
}

// accessClaims are an access token's claims: the registered ones, then the
// tenant's (HALLPASS_JWT_CLAIMS). A tenant's claim never replaces one of
// ours: the reserved names are refused when the setting is saved, and
// skipped here too.
type accessClaims struct {
	Claims
	Extra map[string]any
}

// MarshalJSON writes Claims, then the extra claims it does not hold.
func (c accessClaims) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(c.Claims)
	if err != nil || len(c.Extra) == 0 {
		return base, err
	}
	var own map[string]json.RawMessage
	if err := json.Unmarshal(base, &own); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		if _, taken := own[k]; !taken && !slices.Contains(userdata.ReservedClaims, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return base, nil
	}
	sort.Strings(keys)
	out := bytes.NewBuffer(base[: len(base)-1 : len(base)-1])
	for _, k := range keys {
		v, err := json.Marshal(c.Extra[k])
		if err != nil {
			continue // Exprs.Eval yields JSON values only
		}
		kb, _ := json.Marshal(k)
		out.WriteByte(',')
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func (s *Strategy) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Claims are allauth's six (iat exp sub jti token_use sid) plus iss and,
// when the tenant sets HALLPASS_JWT_AUDIENCE, aud.
type Claims struct {
	jwt.RegisteredClaims
	TokenUse string `json:"token_use"`
	SID      string `json:"sid"`
}

// UnmarshalJSON reads the claims as golang-jwt would, but only a JSON number
// is a time (RFC 7519 §2, NumericDate): golang-jwt also takes a string such
// as "9999999999" for exp, iat or nbf, and a token that says its time that
// way is refused rather than read leniently.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &times); err != nil {
		return err
	}
	for _, t := range []json.RawMessage{times.Exp, times.Iat, times.Nbf} {
		if t != nil && !jsonNumber(t) {
			return errInvalid
		}
	}
	type plain Claims // the same fields, without this method
	return json.Unmarshal(b, (*plain)(c))
}

// jsonNumber reports whether raw (one JSON value) is a number.
func jsonNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// sid hides the session's storage key: sealed (AES-256-GCM) and bound to
// the tenant, so a leaked JWT yields no usable session token.
func (s *Strategy) sid(t *tenants.Tenant, sessionID []byte) (string, error) {
	return s.Sealer.Seal(sessionID, "tenant:"+t.ID.String()+":sid")
}

func (s *Strategy) sessionID(t *tenants.Tenant, sid string) ([]byte, bool) {
	if len(sid) > 512 {
		return nil, false
	}
	id, err := s.Sealer.Open(sid, "tenant:"+t.ID.String()+":sid")
	return id, err == nil
}

func (s *Strategy) sign(ctx context.Context, t *tenants.Tenant, c jwt.Claims) (string, error) {
	key, err := s.Keys.Signing(ctx, t)
	if err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(key.Method, c)
	tok.Header["kid"] = key.Kid
	return tok.SignedString(key.SignKey)
}

func (s *Strategy) claims(t *tenants.Tenant, issuer string, userID int64, sid, use, jti string, lifetime int) Claims {
	now := s.now().Truncate(time.Second)
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   strconv.FormatInt(userID, 10),
		ID:        jti,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Duration(lifetime) * time.Second)),
	}, TokenUse: use, SID: sid}
	if aud := t.Settings.JWTAudience; aud != "" {
		c.Audience = jwt.ClaimStrings{aud}
	}
	return c
}

// Issue returns an access token and, recorded in its family, a refresh
// token for the session's user. issuer is the tenant's base URL.
func (s *Strategy) Issue(ctx context.Context, t *tenants.Tenant, issuer string, sess *sessions.Session) (access, refresh string, err error) {
	sid, err := s.sid(t, sess.ID())
	if err != nil {
		return "", "", err
	}
	extra, err := s.extraClaims(ctx, t, sess.State.UserID)
	if err != nil {
		return "", "", err
	}
	access, err = s.sign(ctx, t, accessClaims{s.claims(t, issuer, sess.State.UserID, sid, UseAccess, uuid.NewString(), t.Settings.JWTAccessTokenExpiresIn), extra})
	if err != nil {
		return "", "", err
	}
	refresh, err = s.newRefresh(ctx, t, issuer, sess.State.UserID, sess.ID(), uuid.Nil)
	return access, refresh, err
}

func (s *Strategy) newRefresh(ctx context.Context, t *tenants.Tenant, issuer string, userID int64, sessionID []byte, family uuid.UUID) (string, error) {
	lifetime := t.Settings.JWTRefreshTokenExpiresIn
	grant, err := s.Sessions.IssueRefresh(ctx, t.ID, sessionID, family, time.Duration(lifetime)*time.Second)
	if err != nil {
		return "", err
	}
	sid, err := s.sid(t, sessionID)
	if err != nil {
		return "", err
	}
	return s.sign(ctx, t, s.claims(t, issuer, userID, sid, UseRefresh, grant.JTI.String(), lifetime))
}

// Parse verifies a token of the tenant: size, a kid naming one of the
// tenant's keys, the algorithm of that key (never the header's choice: no
// "none", no RS public key used as an HS secret), signature, expiry, issuer
// (this tenant), audience when configured, token_use, and the claims allauth
// requires as strings.
func (s *Strategy) Parse(ctx context.Context, t *tenants.Tenant, raw, use string) (*Claims, error) {
	if raw == "" || len(raw) > maxTokenLength || strings.Count(raw, ".") != 2 || !compactJWS(raw) {
		return nil, errInvalid
	}
	var c Claims
	// Strict base64url: a token that differs only in unused trailing bits
	// is a different string and must not verify as the original.
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5 * time.Second), jwt.WithStrictDecoding()}
	if aud := t.Settings.JWTAudience; aud != "" {
		opts = append(opts, jwt.WithAudience(aud))
	}
	// A key store that cannot answer (Postgres down) is not a bad token:
	// report it, so the caller answers 503 instead of logging the user out.
	var unavailable error
	tok, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		if typ, ok := tok.Header["typ"]; ok && typ != "JWT" {
			return nil, errInvalid
		}
		kid, _ := tok.Header["kid"].(string)
		if kid == "" || len(kid) > 128 {
			return nil, errInvalid
		}
		key, err := s.Keys.ByKid(ctx, t, kid)
		if err != nil && !errors.Is(err, tenants.ErrKeyNotFound) {
			unavailable = err
			return nil, errInvalid
		}
		if err != nil || key == nil {
			return nil, errInvalid
		}
		if tok.Method.Alg() != key.Alg {
			return nil, errInvalid
		}
		return key.VerifyKey, nil
	}, opts...)
	if unavailable != nil {
		return nil, fmt.Errorf("tokens: signing keys: %w", unavailable)
	}
	if err != nil || !tok.Valid {
		return nil, errInvalid
	}
	if c.TokenUse != use || c.ID == "" || c.Subject == "" || c.SID == "" || !IssuerIsTenant(t, c.Issuer, s.BaseDomain) {
		return nil, errInvalid
	}
	return &c, nil
}

// IssuerIsTenant reports whether iss is a base URL of tenant t: its /t/{slug}
// prefix, its {slug}.{baseDomain} host (any host starting "{slug}." when
// baseDomain is empty), or one of its verified domains. So a token signed
// for tenant B fails at tenant A even if both share an HS secret.
func IssuerIsTenant(t *tenants.Tenant, iss, baseDomain string) bool {
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	path := strings.TrimSuffix(u.Path, "/")
	if path == "/t/"+t.Slug {
		return true
	}
	if path != "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if baseDomain != "" && host == t.Slug+"."+strings.ToLower(baseDomain) {
		return true
	}
	if baseDomain == "" && strings.HasPrefix(host, t.Slug+".") {
		return true
	}
	for _, d := range t.Domains {
		if d.Verified() && d.Domain == host {
			return true
		}
	}
	return false
}

// AccessTokenSession validates an access token presented on a headless
// endpoint and returns the storage key of the session its sid names. With
// HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED the session must still exist for
// the token to count (gone → the token is ignored, as allauth does).
func (s *Strategy) AccessTokenSession(ctx context.Context, t *tenants.Tenant, raw string) ([]byte, bool, error) {
	c, err := s.Parse(ctx, t, raw, UseAccess)
	if err != nil {
		if IsInvalid(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	id, ok := s.sessionID(t, c.SID)
	if !ok {
		return nil, false, nil
	}
	if t.Settings.JWTStatefulValidationEnabled {
		sess, err := s.Sessions.LookupID(ctx, t.ID, id, "", "")
		if err != nil && !errors.Is(err, sessions.ErrNotFound) {
			return nil, false, err
		}
		if err != nil || strconv.FormatInt(sess.State.UserID, 10) != c.Subject {
			return nil, false, nil
		}
	}
	return id, true, nil
}

// Refresh answers tokens/refresh: a new access token, and with
// HEADLESS_JWT_ROTATE_REFRESH_TOKEN a new refresh token (the old one spent).
func (s *Strategy) Refresh(ctx context.Context, t *tenants.Tenant, issuer, raw string) (access, refresh string, err error) {
	c, err := s.Parse(ctx, t, raw, UseRefresh)
	if err != nil {
		return "", "", err
	}
	jti, err := uuid.Parse(c.ID)
	if err != nil {
		return "", "", errInvalid
	}
	id, ok := s.sessionID(t, c.SID)
	if !ok {
		return "", "", errInvalid
	}
	userID, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || strconv.FormatInt(userID, 10) != c.Subject {
		return "", "", errInvalid
	}
	// The claims are read before the refresh token is spent: a failure to
	// read them leaves the client its token to try again.
	extra, err := s.extraClaims(ctx, t, userID)
	if err != nil {
		return "", "", err
	}
	rotate := t.Settings.JWTRotateRefreshToken
	lifetime := t.Settings.JWTRefreshTokenExpiresIn
	grant, next, err := s.Sessions.UseRefresh(ctx, t.ID, jti, rotate, time.Duration(lifetime)*time.Second)
	if err != nil {
		if errors.Is(err, sessions.ErrRefreshInvalid) {
			return "", "", errInvalid
		}
		return "", "", err
	}
	// The session and its user were read under the token's row lock, so a
	// concurrent revocation cannot make the winning refresh fail midway.
	if string(grant.SessionID) != string(id) || grant.UserID != userID {
		// allauth crashes when the session holds another user; we refuse.
		return "", "", errInvalid
	}
	access, err = s.sign(ctx, t, accessClaims{s.claims(t, issuer, userID, c.SID, UseAccess, uuid.NewString(), t.Settings.JWTAccessTokenExpiresIn), extra})
	if err != nil {
		return "", "", err
	}
	if rotate {
		if refresh, err = s.sign(ctx, t, s.claims(t, issuer, userID, c.SID, UseRefresh, next.JTI.String(), lifetime)); err != nil {
			return "", "", err
		}
	}
	return access, refresh, nil
}

// IsInvalid reports whether err is a refused token (as opposed to an
// infrastructure failure).
func IsInvalid(err error) bool { return errors.Is(err, errInvalid) }

// compactJWS reports whether raw uses only the characters of a compact JWS
// (base64url and dots): Go's base64 decoder skips line breaks, so without
// this "token\n" would verify as "token".
func compactJWS(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
