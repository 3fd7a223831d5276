package oidctest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// GitHubEmail is one entry of GitHub's /user/emails.
type GitHubEmail struct {
	Email      string  `json:"email"`
	Primary    bool    `json:"primary"`
	Verified   bool    `json:"verified"`
	Visibility *string `json:"visibility"`
}

// GitHubUser is the signed-in GitHub account.
type GitHubUser struct {
	ID    int64
	Login string
	Name  string
	// Email is the public profile email ("" = null).
	Email  string
	Emails []GitHubEmail
}

func (u GitHubUser) json() map[string]any {
	m := map[string]any{
		"id": u.ID, "login": u.Login, "node_id": "MDQ6VXNlcjE=", "type": "User",
		"html_url": "https://github.com/" + u.Login, "avatar_url": "https://avatars.example/u/1",
		"name": nil, "email": nil,
	}
	if u.Name != "" {
		m["name"] = u.Name
	}
	if u.Email != "" {
		m["email"] = u.Email
	}
	return m
}

// GitHub is a GitHub-style OAuth 2 server: web flow at /login/oauth/*, REST
// API (/user, /user/emails, /applications/{client_id}/token) at the root.
type GitHub struct {
	// URL is both the web and the API base.
	URL          string
	ClientID     string
	ClientSecret string

	srv  *httptest.Server
	done chan struct{}

	mu             sync.Mutex
	user           GitHubUser
	authErr        [2]string
	emailsNotFound bool
	delay          time.Duration
	codes          map[string]*grant
	tokens         map[string]ghToken
	hits           map[string]int
	lastAuthorize  url.Values
	lastToken      url.Values
}

type ghToken struct {
	user     GitHubUser
	clientID string
}

// StartGitHub runs a GitHub-style server until the test ends, with client
// "gh-client"/"gh-secret" and a user with a verified primary and an
// unverified secondary address.
func StartGitHub(t testing.TB) *GitHub {
	t.Helper()
	public := "public"
	g := &GitHub{
		ClientID: "gh-client", ClientSecret: "gh-secret",
		user: GitHubUser{
			ID: 583231, Login: "octocat", Name: "The Octocat", Email: "octocat@example.com",
			Emails: []GitHubEmail{
				{Email: "octocat@example.com", Primary: true, Verified: true, Visibility: &public},
				{Email: "Octo.Secondary@example.org", Verified: false},
			},
		},
		codes:  map[string]*grant{},
		tokens: map[string]ghToken{},
		hits:   map[string]int{},
		done:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	mux.HandleFunc("GET /user", g.userEndpoint)
	mux.HandleFunc("GET /user/emails", g.emails)
	mux.HandleFunc("POST /applications/{client_id}/token", g.checkToken)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.hits[r.URL.Path]++
		d := g.delay
		g.mu.Unlock()
		if sleep(r, d, g.done) {
			mux.ServeHTTP(w, r)
		}
	}))
	g.URL = g.srv.URL
	t.Cleanup(func() { close(g.done); g.srv.Close() })
	return g
}

// Endpoint URLs.
func (g *GitHub) AuthorizeURL() string { return g.URL + "/login/oauth/authorize" }
func (g *GitHub) TokenURL() string     { return g.URL + "/login/oauth/access_token" }
func (g *GitHub) APIURL() string       { return g.URL }

// SetUser replaces the signed-in user.
func (g *GitHub) SetUser(u GitHubUser) { g.mu.Lock(); g.user = u; g.mu.Unlock() }

// FailAuthorize makes the authorization redirect back with error=code.
func (g *GitHub) FailAuthorize(code, description string) {
	g.mu.Lock()
	g.authErr = [2]string{code, description}
	g.mu.Unlock()
}

// EmailsNotFound makes /user/emails answer 404 (as without the scope).
func (g *GitHub) EmailsNotFound(on bool) { g.mu.Lock(); g.emailsNotFound = on; g.mu.Unlock() }

// SetDelay makes every endpoint wait d before answering.
func (g *GitHub) SetDelay(d time.Duration) { g.mu.Lock(); g.delay = d; g.mu.Unlock() }

// Hits counts the requests to path.
func (g *GitHub) Hits(path string) int { g.mu.Lock(); defer g.mu.Unlock(); return g.hits[path] }

// LastAuthorize is the query of the last authorization request.
func (g *GitHub) LastAuthorize() url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return cloneValues(g.lastAuthorize)
}

// LastTokenRequest is the form of the last access token request.
func (g *GitHub) LastTokenRequest() url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return cloneValues(g.lastToken)
}

// AccessToken issues a token of this app for the current user.
func (g *GitHub) AccessToken() string { return g.issue(g.ClientID) }

// ForeignAccessToken issues a token for the current user that belongs to
// another OAuth app: valid at /user, unknown to this app's token check.
func (g *GitHub) ForeignAccessToken() string { return g.issue("other-app") }

func (g *GitHub) issue(clientID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	tok := "gho_" + random(27)
	g.tokens[tok] = ghToken{user: g.user, clientID: clientID}
	return tok
}

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	g.lastAuthorize = cloneValues(q)
	authErr := g.authErr
	g.mu.Unlock()
	if q.Get("client_id") != g.ClientID {
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if u, err := url.Parse(redirectURI); err != nil || !u.IsAbs() {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if authErr[0] != "" {
		back.Set("error", authErr[0])
		back.Set("error_description", authErr[1])
		redirectBack(w, r, redirectURI, back, false)
		return
	}
	code := random(15)
	g.mu.Lock()
	g.codes[code] = &grant{
		clientID: g.ClientID, redirectURI: redirectURI, challenge: q.Get("code_challenge"),
		method: q.Get("code_challenge_method"), scope: q.Get("scope"),
	}
	g.mu.Unlock()
	back.Set("code", code)
	redirectBack(w, r, redirectURI, back, false)
}

// answer writes JSON when the client accepts it, else a form, as GitHub.
func answer(w http.ResponseWriter, r *http.Request, v map[string]string) {
	if strings.Contains(r.Header.Get("Accept"), "json") {
		writeJSON(w, http.StatusOK, v)
		return
	}
	q := url.Values{}
	for k, x := range v {
		q.Set(k, x)
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(q.Encode()))
}

func (g *GitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	g.mu.Lock()
	g.lastToken = cloneValues(form)
	gr := g.codes[form.Get("code")]
	delete(g.codes, form.Get("code"))
	g.mu.Unlock()
	id, secret, _ := clientCredentials(r, form)
	if id != g.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(g.ClientSecret)) != 1 {
		// GitHub answers errors with 200.
		answer(w, r, map[string]string{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
		return
	}
	if gr == nil || (form.Get("redirect_uri") != "" && form.Get("redirect_uri") != gr.redirectURI) {
		answer(w, r, map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	if msg := checkPKCE(gr.challenge, form.Get("code_verifier")); msg != "" {
		answer(w, r, map[string]string{"error": "bad_verification_code", "error_description": msg})
		return
	}
	tok := g.issue(g.ClientID)
	answer(w, r, map[string]string{"access_token": tok, "token_type": "bearer", "scope": gr.scope})
}

// tokenUser resolves "Authorization: token X" or "Bearer X".
func (g *GitHub) tokenUser(r *http.Request) (GitHubUser, bool) {
	h := r.Header.Get("Authorization")
	tok := ""
	if len(h) > 6 && strings.EqualFold(h[:6], "token ") {
		tok = strings.TrimSpace(h[6:])
	} else {
		tok = bearer(r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tokens[tok]
	return t.user, ok
}

func badCredentials(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
}

func (g *GitHub) userEndpoint(w http.ResponseWriter, r *http.Request) {
	u, ok := g.tokenUser(r)
	if !ok {
		badCredentials(w)
		return
	}
	writeJSON(w, http.StatusOK, u.json())
}

func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.tokenUser(r)
	if !ok {
		badCredentials(w)
		return
	}
	g.mu.Lock()
	notFound := g.emailsNotFound
	g.mu.Unlock()
	if notFound {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	list := u.Emails
	if list == nil {
		list = []GitHubEmail{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// checkToken is GitHub's "check a token" (basic auth by the app).
func (g *GitHub) checkToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != g.ClientID || r.PathValue("client_id") != g.ClientID ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(g.ClientSecret)) != 1 {
		badCredentials(w)
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AccessToken == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	g.mu.Lock()
	t, ok := g.tokens[body.AccessToken]
	g.mu.Unlock()
	if !ok || t.clientID != g.ClientID {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": 1, "token": body.AccessToken, "app": map[string]any{"client_id": g.ClientID},
		"user": map[string]any{"id": t.user.ID, "login": t.user.Login},
	})
}
