package social

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/hallpass/hallpass/internal/providers"
)

// discovery is the part of an OpenID Provider's configuration document
// Hallpass uses.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

// discovery returns the configuration document at u, cached for TTL.
func (c *Cache) discovery(ctx context.Context, b *base, u string) (*discovery, error) {
	c.mu.Lock()
	c.ready()
	e := c.docs[u]
	now := c.clock()
	ttl := c.TTL
	c.mu.Unlock()
	if e != nil && now.Sub(e.fetchedAt) < ttl {
		return e.doc, nil
	}
	v, err := c.shared(ctx, "discovery "+u, func() (any, error) {
		const op = "discovery"
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: discovery URL: %v", ErrConfig, err)
		}
		req.Header.Set("Accept", "application/json")
		r, err := b.do(req, op)
		if err != nil {
			return nil, err
		}
		if !r.ok() {
			return nil, r.providerError(op)
		}
		var d discovery
		if err := json.Unmarshal(r.body, &d); err != nil {
			return nil, &ProviderError{Op: op, Status: r.status, Err: err}
		}
		if d.Issuer == "" || d.AuthorizationEndpoint == "" || d.TokenEndpoint == "" || d.JWKSURI == "" {
			return nil, &ProviderError{Op: op, Status: r.status, Err: errors.New("document lacks issuer, authorization_endpoint, token_endpoint or jwks_uri")}
		}
		c.mu.Lock()
		if len(c.docs) >= maxEntries {
			for k, old := range c.docs {
				if c.clock().Sub(old.fetchedAt) >= c.TTL {
					delete(c.docs, k)
				}
			}
		}
		c.docs[u] = &docEntry{doc: &d, fetchedAt: c.clock()}
		c.mu.Unlock()
		return &d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*discovery), nil
}

// openIDConnect is allauth's OpenIDConnectProvider: each app is its own provider,
// configured by discovery from settings.server_url.
type openIDConnect struct{ *base }

func newOIDC(b *base) (Provider, error) {
	if b.discoveryURL() == "" {
		return nil, fmt.Errorf("%w: openid_connect app %q has no server_url", ErrConfig, b.app.SubID())
	}
	return &openIDConnect{b}, nil
}

func (b *base) discoveryURL() string {
	if u := b.cfg.endpoints.Discovery; u != "" {
		return u
	}
	return providers.WellKnownURL(or(b.app.ServerURL, b.appString("server_url")))
}

func (o *openIDConnect) doc(ctx context.Context) (*discovery, error) {
	return o.cfg.cache.discovery(ctx, o.base, o.discoveryURL())
}

// AuthorizeURL: default scope "openid profile email".
func (o *openIDConnect) AuthorizeURL(ctx context.Context, p AuthParams) (string, error) {
	d, err := o.doc(ctx)
	if err != nil {
		return "", err
	}
	return o.authorizeURL(authorizeRequest{
		endpoint: d.AuthorizationEndpoint, clientID: o.app.ClientID,
		scope: o.scope(p, []string{"openid", "profile", "email"}), nonce: true,
	}, p)
}

// Exchange authenticates with settings.token_auth_method, else HTTP Basic
// only when the server supports it but not client_secret_post (allauth).
func (o *openIDConnect) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	d, err := o.doc(ctx)
	if err != nil {
		return nil, err
	}
	auth := authPost
	switch o.appString("token_auth_method") {
	case "client_secret_basic":
		auth = authBasic
	case "client_secret_post":
	default:
		if !slices.Contains(d.TokenAuthMethods, "client_secret_post") && slices.Contains(d.TokenAuthMethods, "client_secret_basic") {
			auth = authBasic
		}
	}
	return o.exchange(ctx, d.TokenEndpoint, o.app.ClientID, o.sa.Secret, auth, code, redirectURI, codeVerifier)
}

func (o *openIDConnect) check(d *discovery, nonce string) idTokenCheck {
	return idTokenCheck{jwksURL: d.JWKSURI, issuers: []string{d.Issuer}, audiences: []string{o.app.ClientID}, nonce: nonce}
}

// Profile reads userinfo (unless settings.fetch_userinfo is false and an ID
// token came) and verifies the ID token; extra_data is
// {"userinfo": …, "id_token": …} as allauth ≥ 65.11, and the user is read
// from userinfo when fetched, else from the ID token.
func (o *openIDConnect) Profile(ctx context.Context, t *Tokens, nonce string) (*Profile, error) {
	if t == nil {
		return nil, errors.New("social: no tokens")
	}
	d, err := o.doc(ctx)
	if err != nil {
		return nil, err
	}
	extra := map[string]any{}
	var idClaims map[string]any
	if t.IDToken != "" {
		if idClaims, err = o.verifyIDToken(ctx, t.IDToken, o.check(d, nonce)); err != nil {
			return nil, err
		}
		extra["id_token"] = idClaims
	}
	fetch := true
	if v, ok := o.appSetting("fetch_userinfo"); ok {
		if b, ok := v.(bool); ok {
			fetch = b
		}
	}
	if fetch || idClaims == nil {
		if d.UserinfoEndpoint == "" {
			if idClaims == nil {
				return nil, &ProviderError{Op: "userinfo", Err: errors.New("no ID token and no userinfo endpoint")}
			}
		} else {
			info, err := o.getJSON(ctx, d.UserinfoEndpoint, "Bearer "+t.AccessToken, "userinfo")
			if err != nil {
				return nil, err
			}
			// OpenID Connect Core §5.3.2: userinfo must be about the ID token's subject.
			if idClaims != nil && uidString(info["sub"]) != uidString(idClaims["sub"]) {
				return nil, &ProviderError{Op: "userinfo", Err: errors.New("userinfo sub differs from the ID token's")}
			}
			extra["userinfo"] = info
		}
	}
	return o.extract(extra)
}

// extract is allauth's OpenIDConnectProvider on its picked data (userinfo,
// else ID token): uid = settings.uid_field (default sub), username =
// preferred_username, email verified per email_verified.
func (o *openIDConnect) extract(extra map[string]any) (*Profile, error) {
	data, _ := extra["userinfo"].(map[string]any)
	if data == nil {
		data, _ = extra["id_token"].(map[string]any)
	}
	if data == nil {
		data = map[string]any{}
	}
	in := profileInput{
		uid: uidString(data[or(o.appString("uid_field"), "sub")]), email: str(data, "email"),
		username: str(data, "preferred_username"), name: str(data, "name"),
		first: str(data, "given_name"), last: str(data, "family_name"), extra: extra,
	}
	if in.email != "" {
		in.emailVerified = truthy(data["email_verified"])
		in.emails = []Email{{Address: in.email, Verified: in.emailVerified, Primary: true}}
	}
	return o.profile(in)
}

func (o *openIDConnect) VerifyIDToken(ctx context.Context, idToken, nonce string) (*Profile, error) {
	d, err := o.doc(ctx)
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	claims, err := o.verifyIDToken(ctx, idToken, o.check(d, nonce))
	if err != nil {
		return nil, err
	}
	return o.extract(map[string]any{"id_token": claims})
}

// VerifyAccessToken reads userinfo. It does not prove the token was issued
// to this app: use it to enrich a verified ID token, never alone.
func (o *openIDConnect) VerifyAccessToken(ctx context.Context, accessToken string) (*Profile, error) {
	if accessToken == "" {
		return nil, invalidToken("no access_token")
	}
	d, err := o.doc(ctx)
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if d.UserinfoEndpoint == "" {
		return nil, ErrTokenAuthNotSupported
	}
	info, err := o.getJSON(ctx, d.UserinfoEndpoint, "Bearer "+accessToken, "userinfo")
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	return o.extract(map[string]any{"userinfo": info})
}
