package social

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GitHub's endpoints (GITHUB_URL switches to GitHub Enterprise: web at that
// URL, API at URL/api/v3, as allauth).
const (
	githubWeb = "https://github.com"
	githubAPI = "https://api.github.com"
)

// github is allauth's GitHubProvider: plain OAuth 2, the user from the REST
// API. No ID tokens, so no token flow.
type github struct{ *base }

func newGitHub(b *base) (Provider, error) { return &github{b}, nil }

func (g *github) ep() Endpoints {
	web, api := githubWeb, githubAPI
	if u := strings.TrimRight(g.extraString("GITHUB_URL"), "/"); u != "" {
		web, api = u, u+"/api/v3"
	}
	e := g.cfg.endpoints
	return Endpoints{
		Authorize: or(e.Authorize, web+"/login/oauth/authorize"),
		Token:     or(e.Token, web+"/login/oauth/access_token"),
		API:       strings.TrimRight(or(e.API, api), "/"),
	}
}

// AuthorizeURL: no default scope; "user:email" with QUERY_EMAIL.
func (g *github) AuthorizeURL(_ context.Context, p AuthParams) (string, error) {
	var def []string
	if g.cfg.queryEmail {
		def = append(def, "user:email")
	}
	return g.authorizeURL(authorizeRequest{endpoint: g.ep().Authorize, clientID: g.app.ClientID, scope: g.scope(p, def)}, p)
}

func (g *github) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	return g.exchange(ctx, g.ep().Token, g.app.ClientID, g.sa.Secret, authPost, code, redirectURI, codeVerifier)
}

// Profile reads /user and, with QUERY_EMAIL, /user/emails.
func (g *github) Profile(ctx context.Context, t *Tokens, _ string) (*Profile, error) {
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("social: no access token")
	}
	user, err := g.getJSON(ctx, g.ep().API+"/user", "Bearer "+t.AccessToken, "user")
	if err != nil {
		return nil, err
	}
	return g.complete(ctx, user, t.AccessToken)
}

func (g *github) complete(ctx context.Context, user map[string]any, accessToken string) (*Profile, error) {
	var emails []Email
	if g.cfg.queryEmail {
		var err error
		if emails, err = g.emails(ctx, accessToken); err != nil {
			return nil, err
		}
	}
	delete(user, "emails")
	return g.profile(profileInput{
		uid: uidString(user["id"]), username: str(user, "login"), name: str(user, "name"),
		email: str(user, "email"), emails: emails, extra: user,
	})
}

// emails lists the user's addresses; GitHub documents a 404 (no scope).
func (g *github) emails(ctx context.Context, accessToken string) ([]Email, error) {
	const op = "user emails"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.ep().API+"/user/emails", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: API URL: %v", ErrConfig, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	r, err := g.do(req, op)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusNotFound {
		return nil, nil
	}
	if !r.ok() {
		return nil, r.providerError(op)
	}
	var list []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		return nil, &ProviderError{Op: op, Status: r.status, Err: err}
	}
	out := make([]Email, 0, len(list))
	for _, e := range list {
		out = append(out, Email{Address: e.Email, Primary: e.Primary, Verified: e.Verified})
	}
	return out, nil
}

func (g *github) VerifyIDToken(context.Context, string, string) (*Profile, error) {
	return nil, ErrTokenAuthNotSupported
}

// VerifyAccessToken asks GitHub whether the token belongs to this OAuth app
// (POST /applications/{client_id}/token, authenticated by the app), which
// also names its user.
func (g *github) VerifyAccessToken(ctx context.Context, accessToken string) (*Profile, error) {
	const op = "token check"
	if accessToken == "" {
		return nil, invalidToken("no access_token")
	}
	body, _ := json.Marshal(map[string]string{"access_token": accessToken})
	u := g.ep().API + "/applications/" + url.PathEscape(g.app.ClientID) + "/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: API URL: %v", ErrConfig, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(g.app.ClientID, g.sa.Secret)
	r, err := g.do(req, op)
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if r.status == http.StatusNotFound || r.status == http.StatusUnprocessableEntity {
		return nil, invalidToken("GitHub does not know the token for this app")
	}
	if !r.ok() {
		return nil, wrapInvalidToken(r.providerError(op))
	}
	m, err := decodeObject(r.body)
	if err != nil {
		return nil, wrapInvalidToken(&ProviderError{Op: op, Status: r.status, Err: err})
	}
	owner, _ := m["user"].(map[string]any)
	if owner == nil || uidString(owner["id"]) == "" {
		return nil, invalidToken("token check named no user")
	}
	user, err := g.getJSON(ctx, g.ep().API+"/user", "Bearer "+accessToken, "user")
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if uidString(user["id"]) != uidString(owner["id"]) {
		return nil, invalidToken("token check and /user disagree on the user")
	}
	p, err := g.complete(ctx, user, accessToken)
	return p, wrapInvalidToken(err)
}
