package social

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Apple's endpoints.
const (
	appleIssuer    = "https://appleid.apple.com"
	appleAuthorize = "https://appleid.apple.com/auth/authorize"
	appleToken     = "https://appleid.apple.com/auth/token"
	appleJWKS      = "https://appleid.apple.com/auth/keys"
)

// appleSecretLifetime is the validity of generated client secrets (Apple
// allows up to six months; allauth uses one hour).
const appleSecretLifetime = time.Hour

// apple is allauth's AppleProvider: OAuth 2 with form_post callbacks, a
// client secret that is a JWT signed with the app's private key, and the
// user from the ID token (plus the `user` form field, first time only).
type apple struct{ *base }

func newApple(b *base) (Provider, error) { return &apple{b}, nil }

func (a *apple) ep() Endpoints {
	e := a.cfg.endpoints
	return Endpoints{
		Authorize: or(e.Authorize, appleAuthorize),
		Token:     or(e.Token, appleToken),
		JWKS:      or(e.JWKS, appleJWKS),
		Issuer:    or(e.Issuer, appleIssuer),
	}
}

// clientIDs are the app's client ids: allauth accepts a comma-separated
// list (services id, bundle ids) as ID token audiences and uses the first
// for API calls.
func (a *apple) clientIDs() []string {
	var out []string
	for _, id := range strings.Split(a.app.ClientID, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (a *apple) clientID() string {
	if ids := a.clientIDs(); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// AuthorizeURL: default scope "name", plus "email" with QUERY_EMAIL; Apple
// answers with a form POST (response_mode=form_post) to the callback.
func (a *apple) AuthorizeURL(_ context.Context, p AuthParams) (string, error) {
	def := []string{"name"}
	if a.cfg.queryEmail {
		def = append(def, "email")
	}
	return a.authorizeURL(authorizeRequest{
		endpoint: a.ep().Authorize, clientID: a.clientID(), scope: a.scope(p, def), nonce: true,
		fixed: map[string]string{"response_type": "code id_token", "response_mode": "form_post"},
	}, p)
}

// clientSecret is the ES256 JWT Apple takes as client_secret. As allauth,
// the app's secret is the key id and its key the team id; when
// settings.team_id is set, the team is that and the key id is the app's key.
// The private key is settings.certificate_key (PKCS#8 PEM).
func (a *apple) clientSecret(now time.Time) (string, error) {
	team, kid := a.sa.Key, a.sa.Secret
	if t := a.appString("team_id"); t != "" {
		team, kid = t, a.sa.Key
	}
	if team == "" || kid == "" {
		return "", fmt.Errorf("%w: Apple needs a key id and a team id", ErrConfig)
	}
	key, err := parseECPrivateKey(a.appString("certificate_key"))
	if err != nil {
		return "", fmt.Errorf("%w: Apple certificate_key: %v", ErrConfig, err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": team,
		"iat": now.Unix(),
		"exp": now.Add(appleSecretLifetime).Unix(),
		"aud": appleIssuer,
		"sub": a.clientID(),
	})
	tok.Header["kid"] = kid
	return tok.SignedString(key)
}

// parseECPrivateKey reads a P-256 private key from PEM (PKCS#8, as Apple
// issues them, or SEC 1).
func parseECPrivateKey(s string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	var key any
	var err error
	if block.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 EC key")
	}
	return ec, nil
}

func (a *apple) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	secret, err := a.clientSecret(time.Now())
	if err != nil {
		return nil, err
	}
	return a.exchange(ctx, a.ep().Token, a.clientID(), secret, authPost, code, redirectURI, codeVerifier)
}

func (a *apple) check(nonce string) idTokenCheck {
	ep := a.ep()
	return idTokenCheck{jwksURL: ep.JWKS, issuer: ep.Issuer, audiences: a.clientIDs(), nonce: nonce}
}

// Profile verifies the exchange's ID token (the caller may set
// Tokens.IDToken from the callback form when the exchange has none) and
// adds the name from Tokens.User.
func (a *apple) Profile(ctx context.Context, t *Tokens, nonce string) (*Profile, error) {
	if t == nil || t.IDToken == "" {
		return nil, &ProviderError{Op: "token exchange", Err: errors.New("no id_token")}
	}
	claims, err := a.verifyIDToken(ctx, t.IDToken, a.check(nonce))
	if err != nil {
		return nil, err
	}
	if len(t.User) > 0 {
		var user struct {
			Name map[string]any `json:"name"`
		}
		if json.Unmarshal(t.User, &user) == nil && user.Name != nil {
			claims["name"] = user.Name
		}
	}
	return a.extract(claims)
}

// extract is allauth's AppleProvider: uid = sub; email verified per
// email_verified (a boolean or "true").
func (a *apple) extract(data map[string]any) (*Profile, error) {
	in := profileInput{uid: uidString(data["sub"]), email: str(data, "email"), extra: data}
	if name, ok := data["name"].(map[string]any); ok {
		in.first, in.last = str(name, "firstName"), str(name, "lastName")
		in.name = strings.TrimSpace(in.first + " " + in.last)
	}
	if in.email != "" {
		in.emailVerified = truthy(data["email_verified"])
		in.emails = []Email{{Address: in.email, Verified: in.emailVerified, Primary: true}}
	}
	return a.profile(in)
}

func (a *apple) VerifyIDToken(ctx context.Context, idToken, nonce string) (*Profile, error) {
	claims, err := a.verifyIDToken(ctx, idToken, a.check(nonce))
	if err != nil {
		return nil, err
	}
	return a.extract(claims)
}

func (a *apple) VerifyAccessToken(context.Context, string) (*Profile, error) {
	return nil, ErrTokenAuthNotSupported
}
