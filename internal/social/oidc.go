package social

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/hallpass/hallpass/internal/providers"
)

// discovery is an OpenID Provider's configuration document: go-oidc's
// ProviderConfig and the client authentication methods of its token
// endpoint. Hallpass fetches it itself, from where allauth would: the app's
// server_url may name the document with a query (Azure AD B2C's ?p=), which
// oidc.NewProvider cannot fetch, and allauth takes the document's issuer
// as it is, where oidc.NewProvider insists it equal server_url.
type discovery struct {
	oidc.ProviderConfig
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

type docEntry struct {
	doc       *discovery
	fetchedAt time.Time
}

// discovery returns the configuration document at u, cached for TTL. The
// fetch is shared by concurrent callers and bounded by sharedFetchTimeout;
// each caller waits within its ctx and its client's timeout.
func (c *Cache) discovery(ctx context.Context, client *http.Client, u string) (*discovery, error) {
	const op = "discovery"
	key := cacheKey(u, client)
	c.mu.Lock()
	c.ready()
	e := c.docs[key]
	now, ttl := c.clock(), c.TTL
	c.mu.Unlock()
	if e != nil && now.Sub(e.fetchedAt) < ttl {
		return e.doc, nil
	}
	shared := &http.Client{Transport: transportOf(client), Timeout: sharedFetchTimeout}
	ch := c.flights.DoChan(key, func() (any, error) {
		r, err := get(context.Background(), shared, u, "", op)
		if err != nil {
			return nil, err
		}
		var d discovery
		if err := json.Unmarshal(r.body, &d); err != nil {
			return nil, &ProviderError{Op: op, Status: r.status, Err: err}
		}
		if d.IssuerURL == "" || d.AuthURL == "" || d.TokenURL == "" || d.JWKSURL == "" {
			return nil, &ProviderError{Op: op, Status: r.status, Err: errors.New("document lacks issuer, authorization_endpoint, token_endpoint or jwks_uri")}
		}
		c.mu.Lock()
		makeRoom(c.docs, func(e *docEntry) time.Time { return e.fetchedAt }, c.clock(), c.TTL)
		c.docs[key] = &docEntry{doc: &d, fetchedAt: c.clock()}
		c.mu.Unlock()
		return &d, nil
	})
	if client.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, client.Timeout)
		defer cancel()
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*discovery), nil
	case <-ctx.Done():
		return nil, &ProviderError{Op: op, Timeout: errors.Is(ctx.Err(), context.DeadlineExceeded), Err: ctx.Err()}
	}
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
	return o.cfg.cache.discovery(ctx, o.client, o.discoveryURL())
}

// AuthorizeURL: default scope "openid profile email".
func (o *openIDConnect) AuthorizeURL(ctx context.Context, p AuthParams) (string, error) {
	d, err := o.doc(ctx)
	if err != nil {
		return "", err
	}
	return o.authorizeURL(authorizeRequest{
		endpoint: d.AuthURL, clientID: o.app.ClientID,
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
	return o.exchange(ctx, d.TokenURL, o.app.ClientID, o.sa.Secret, auth, code, redirectURI, codeVerifier)
}

func (o *openIDConnect) check(d *discovery, nonce string) idTokenCheck {
	return idTokenCheck{jwksURL: d.JWKSURL, issuer: d.IssuerURL, audiences: []string{o.app.ClientID}, nonce: nonce}
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
		if d.UserInfoURL == "" {
			if idClaims == nil {
				return nil, &ProviderError{Op: "userinfo", Err: errors.New("no ID token and no userinfo endpoint")}
			}
		} else {
			info, err := o.getJSON(ctx, d.UserInfoURL, "Bearer "+t.AccessToken, "userinfo")
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
	if d.UserInfoURL == "" {
		return nil, ErrTokenAuthNotSupported
	}
	info, err := o.getJSON(ctx, d.UserInfoURL, "Bearer "+accessToken, "userinfo")
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	return o.extract(map[string]any{"userinfo": info})
}
