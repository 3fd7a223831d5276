// Package social is the provider side of social login: django-allauth's
// socialaccount providers (Google, GitHub, Microsoft, Apple, generic OpenID
// Connect) as HTTP clients of those providers, the redirect flow's state, the
// verification of ID tokens handed over by apps, and the tenant's connected
// social accounts. It has no HTTP server code; the API builds the headless
// endpoints (auth/provider/redirect, auth/provider/token, account/providers)
// on top of it.
//
// The protocols come from libraries: golang.org/x/oauth2 builds authorization URLs
// and runs the code exchange (oauth.go), github.com/coreos/go-oidc verifies ID
// tokens against providers' key sets (idtoken.go); this package adds allauth's
// per-provider rules, the SSRF-guarded HTTP client (http.go) and the policy of
// the shared document cache (cache.go).
//
// A provider is one configured app of a tenant: New (or ForTenant) picks the
// implementation by the app's provider id. Adding a provider is one file with
// a type implementing Provider plus its line in the constructors table below
// (and its entry in internal/providers).
package social

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// Provider is one configured app of a provider.
type Provider interface {
	// ID is the app's sub-id (its provider_id, else the provider id): the
	// provider of social accounts and of the headless API.
	ID() string
	// AuthorizeURL is where the redirect flow sends the browser. The
	// context bounds the discovery fetch of OpenID Connect apps.
	AuthorizeURL(ctx context.Context, p AuthParams) (string, error)
	// Exchange trades the callback's code for tokens. codeVerifier is the
	// flow's PKCE verifier; it is sent only when PKCE is enabled for the app.
	Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error)
	// Profile reads the user behind tokens from Exchange; nonce, when not
	// empty, must match the ID token's.
	Profile(ctx context.Context, t *Tokens, nonce string) (*Profile, error)
	// VerifyIDToken checks an ID token obtained by an app (the token flow):
	// signature from the provider's JWKS, iss, aud (the app's client id),
	// exp/iat and, when not empty, nonce. ErrTokenAuthNotSupported for
	// providers without ID tokens (GitHub, Microsoft).
	VerifyIDToken(ctx context.Context, idToken, nonce string) (*Profile, error)
	// VerifyAccessToken reads the user behind an access token. Google and
	// GitHub also check the token was issued to this app; generic OpenID
	// Connect only asks the userinfo endpoint, which does not prove that, so
	// never log anyone in on it alone (VerifyToken does not use it).
	// ErrTokenAuthNotSupported for Apple and Microsoft.
	VerifyAccessToken(ctx context.Context, accessToken string) (*Profile, error)
}

// AuthParams are the per-flow values of an authorization request.
type AuthParams struct {
	// State is the opaque state parameter (StateStore.Put).
	State string
	// Nonce is sent to OpenID Connect providers (Google, Apple, OIDC) and
	// checked in their ID token by Profile.
	Nonce string
	// CodeChallenge is the S256 PKCE challenge of the flow's verifier
	// (NewPKCE); required when PKCE is enabled for the app, else ignored.
	CodeChallenge string
	// RedirectURI is the backend callback URL.
	RedirectURI string
	// Scope replaces the app's scopes; nil = the app's settings.scope, else
	// the provider's SCOPE, else the provider's defaults (allauth's).
	Scope []string
	// Extra are additional authorization parameters, on top of (and
	// overriding) the app's settings.auth_params, else AUTH_PARAMS. They
	// cannot override client_id, redirect_uri, state, nonce or PKCE.
	Extra map[string]string
}

// Tokens are the token endpoint's answer.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	IDToken      string
	Scope        string
	// ExpiresAt is when the access token expires; zero = not said.
	ExpiresAt time.Time
	// User is Apple's `user` form field (JSON: name and email), posted to
	// the callback on the first authorization only. The callback handler
	// sets it; other providers ignore it.
	User json.RawMessage
}

// Email is one of the provider account's addresses.
type Email struct {
	Address  string
	Verified bool
	Primary  bool
}

// Profile is the provider account as allauth's sociallogin sees it.
type Profile struct {
	// UID identifies the account at the provider (social_accounts.uid).
	UID string
	// Email is the account's main address ("" if none): the provider's own
	// email field when valid, else the most important of Emails.
	Email string
	// EmailVerified is the verification of Email.
	EmailVerified bool
	// Emails are all addresses, lower-cased and valid, sorted primary first,
	// then verified, then descending by address (allauth's order), with
	// VERIFIED_EMAIL applied.
	Emails    []Email
	Name      string
	FirstName string
	LastName  string
	Username  string
	// Extra is allauth's extra_data: what the provider said about the user
	// (social_accounts.extra_data). Never holds tokens.
	Extra map[string]any
}

// Endpoints override where a provider is reached; empty fields keep the
// provider's defaults. Tests point them at local servers.
type Endpoints struct {
	// Authorize and Token are full URLs of the OAuth endpoints.
	Authorize string
	Token     string
	// Userinfo is Google's userinfo URL.
	Userinfo string
	// TokenInfo is Google's tokeninfo URL (access token audience check).
	TokenInfo string
	// JWKS is the URL of the provider's signing keys (Google, Apple).
	JWKS string
	// Issuer replaces the issuers accepted in ID tokens (Google, Apple).
	Issuer string
	// API is the base URL of GitHub's REST API (…/user, …/user/emails) or
	// of Microsoft Graph (…/v1.0/me).
	API string
	// Discovery replaces an OpenID Connect app's discovery document URL.
	Discovery string
}

// Option configures New.
type Option func(*config)

type config struct {
	endpoints  Endpoints
	byProvider map[string]Endpoints
	queryEmail bool
	cache      *Cache
}

// WithEndpoints overrides provider endpoints.
func WithEndpoints(e Endpoints) Option { return func(c *config) { c.endpoints = e } }

// WithProviderEndpoints overrides endpoints by provider id ("google",
// "github"): the server's way to point providers at local stand-ins.
func WithProviderEndpoints(m map[string]Endpoints) Option {
	return func(c *config) { c.byProvider = m }
}

// WithQueryEmail asks providers for the user's email
// (SOCIALACCOUNT_QUERY_EMAIL): it adds the email scope of Google, GitHub and
// Apple, and makes GitHub list the user's addresses.
func WithQueryEmail(on bool) Option { return func(c *config) { c.queryEmail = on } }

// WithCache uses c for JWKS and discovery documents instead of DefaultCache.
func WithCache(c *Cache) Option { return func(c2 *config) { c2.cache = c } }

// constructors is the provider registry: one line per provider.
var constructors = map[string]func(b *base) (Provider, error){
	"apple":          newApple,
	"github":         newGitHub,
	"google":         newGoogle,
	"microsoft":      newMicrosoft,
	"openid_connect": newOIDC,
}

// New returns the implementation of app, whose settings (secret, key,
// app settings) are found in ps by client id and provider_id. client makes
// every call to the provider (NewHTTPClient).
func New(app providers.App, ps tenants.ProviderSettings, client *http.Client, opts ...Option) (Provider, error) {
	ctor, ok := constructors[app.Provider]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, app.Provider)
	}
	i := slices.IndexFunc(ps.Apps, func(a tenants.SocialApp) bool {
		return a.ClientID == app.ClientID && a.ProviderID == app.ProviderID
	})
	if i < 0 {
		return nil, fmt.Errorf("%w: no app %q with client id %q", ErrUnknownProvider, app.SubID(), app.ClientID)
	}
	cfg := config{cache: DefaultCache}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.cache == nil {
		cfg.cache = DefaultCache
	}
	if e, ok := cfg.byProvider[app.Provider]; ok {
		cfg.endpoints = e
	}
	if client == nil {
		client = NewHTTPClient(0, false)
	}
	b := &base{app: app, sa: ps.Apps[i], ps: ps, client: client, cfg: cfg}
	return ctor(b)
}

// ForTenant finds the tenant's app for a sub-id (and client id, if not
// empty; see FindApp) and returns its provider, with the tenant's
// SOCIALACCOUNT_QUERY_EMAIL and SOCIALACCOUNT_REQUESTS_TIMEOUT.
// allowPrivateNetworks lets provider URLs resolve to loopback and private
// addresses (tests, on-premises identity providers).
func ForTenant(s *tenants.Settings, subID, clientID string, allowPrivateNetworks bool, opts ...Option) (Provider, error) {
	app, ps, err := FindApp(s, subID, clientID)
	if err != nil {
		return nil, err
	}
	return forApp(s, app, ps, allowPrivateNetworks, opts)
}

func forApp(s *tenants.Settings, app providers.App, ps tenants.ProviderSettings, allowPrivateNetworks bool, opts []Option) (Provider, error) {
	client := NewHTTPClient(time.Duration(s.SocialAccountRequestsTimeout)*time.Second, allowPrivateNetworks)
	opts = append([]Option{WithQueryEmail(s.SocialAccountQueryEmail)}, opts...)
	return New(app, ps, client, opts...)
}

// FindApp picks the tenant's app named subID, as allauth's get_app: by
// provider_id or provider id, and by client id when clientID is not empty.
// When several match, hidden apps (settings.hidden) are dropped and then an
// app whose sub-id is exactly subID is preferred. ErrUnknownProvider when
// none (or still several) match.
func FindApp(s *tenants.Settings, subID, clientID string) (providers.App, tenants.ProviderSettings, error) {
	var matches []providers.App
	for _, a := range s.ProviderApps() {
		if (a.ProviderID == subID || a.Provider == subID) && (clientID == "" || a.ClientID == clientID) {
			matches = append(matches, a)
		}
	}
	if len(matches) > 1 {
		matches = slices.DeleteFunc(matches, func(a providers.App) bool {
			return appSettingBool(appSettings(s, a), "hidden")
		})
	}
	if len(matches) > 1 {
		exact := slices.DeleteFunc(slices.Clone(matches), func(a providers.App) bool { return a.SubID() != subID })
		if len(exact) == 1 {
			matches = exact
		}
	}
	switch len(matches) {
	case 0:
		return providers.App{}, tenants.ProviderSettings{}, fmt.Errorf("%w: %q", ErrUnknownProvider, subID)
	case 1:
		a := matches[0]
		return a, s.SocialAccountProviders[a.Provider], nil
	}
	return providers.App{}, tenants.ProviderSettings{}, fmt.Errorf("%w: %q names several apps", ErrUnknownProvider, subID)
}

func appSettings(s *tenants.Settings, a providers.App) map[string]any {
	for _, sa := range s.SocialAccountProviders[a.Provider].Apps {
		if sa.ClientID == a.ClientID && sa.ProviderID == a.ProviderID {
			return sa.Settings
		}
	}
	return nil
}

func appSettingBool(settings map[string]any, key string) bool {
	b, _ := settings[key].(bool)
	return b
}
