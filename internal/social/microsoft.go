package social

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Microsoft's endpoints; the app settings login_url and graph_url override
// the bases, as allauth.
const (
	microsoftLogin = "https://login.microsoftonline.com"
	microsoftGraph = "https://graph.microsoft.com"
)

// microsoftTenantPattern keeps the Entra tenant a single path segment.
var microsoftTenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// microsoftUserProperties is the $select of /me (allauth's).
const microsoftUserProperties = "businessPhones,displayName,givenName,id,jobTitle,mail,mobilePhone,officeLocation,preferredLanguage,surname,userPrincipalName,mailNickname,companyName"

// microsoft is allauth's MicrosoftGraphProvider: Entra ID OAuth 2, the user
// from Graph /me. No token flow.
type microsoft struct{ *base }

func newMicrosoft(b *base) (Provider, error) { return &microsoft{b}, nil }

// tenant is the Entra tenant: the app's settings.tenant, else TENANT (or
// the legacy lower-case tenant), else "common".
func (m *microsoft) tenant() (string, error) {
	t := or(m.appString("tenant"), or(m.extraString("TENANT"), or(m.extraString("tenant"), "common")))
	if !microsoftTenantPattern.MatchString(t) {
		return "", fmt.Errorf("%w: Microsoft tenant %q", ErrConfig, t)
	}
	return t, nil
}

func (m *microsoft) ep() (Endpoints, error) {
	tenant, err := m.tenant()
	if err != nil {
		return Endpoints{}, err
	}
	login := strings.TrimRight(or(m.appString("login_url"), microsoftLogin), "/") + "/" + tenant
	e := m.cfg.endpoints
	return Endpoints{
		Authorize: or(e.Authorize, login+"/oauth2/v2.0/authorize"),
		Token:     or(e.Token, login+"/oauth2/v2.0/token"),
		API:       strings.TrimRight(or(e.API, or(m.appString("graph_url"), microsoftGraph)), "/"),
	}, nil
}

// AuthorizeURL: default scope "User.Read".
func (m *microsoft) AuthorizeURL(_ context.Context, p AuthParams) (string, error) {
	ep, err := m.ep()
	if err != nil {
		return "", err
	}
	return m.authorizeURL(authorizeRequest{endpoint: ep.Authorize, clientID: m.app.ClientID, scope: m.scope(p, []string{"User.Read"})}, p)
}

func (m *microsoft) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	ep, err := m.ep()
	if err != nil {
		return nil, err
	}
	return m.exchange(ctx, ep.Token, m.app.ClientID, m.sa.Secret, authPost, code, redirectURI, codeVerifier)
}

// Profile reads Graph /me: uid = id; email = mail, else userPrincipalName,
// unverified (unless VERIFIED_EMAIL), as allauth.
func (m *microsoft) Profile(ctx context.Context, t *Tokens, _ string) (*Profile, error) {
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("social: no access token")
	}
	ep, err := m.ep()
	if err != nil {
		return nil, err
	}
	u := ep.API + "/v1.0/me?" + url.Values{"$select": {microsoftUserProperties}}.Encode()
	data, err := m.getJSON(ctx, u, "Bearer "+t.AccessToken, "Graph /me")
	if err != nil {
		return nil, err
	}
	email := str(data, "mail")
	if email == "" {
		email = str(data, "userPrincipalName")
	}
	return m.profile(profileInput{
		uid: uidString(data["id"]), email: email, username: str(data, "mailNickname"),
		name: str(data, "displayName"), first: str(data, "givenName"), last: str(data, "surname"), extra: data,
	})
}

func (m *microsoft) VerifyIDToken(context.Context, string, string) (*Profile, error) {
	return nil, ErrTokenAuthNotSupported
}

func (m *microsoft) VerifyAccessToken(context.Context, string) (*Profile, error) {
	return nil, ErrTokenAuthNotSupported
}
