// Package oidctest runs real OAuth 2 / OpenID Connect providers on loopback
// for tests: an OpenID provider (Start) that can stand in for Google, Apple
// or any discovered OIDC server, and a GitHub-style OAuth 2 server
// (StartGitHub). They consent automatically, keep their state in memory,
// and have knobs for the failures a relying party must refuse.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is the account the provider signs in.
type User struct {
	Sub               string
	Email             string
	EmailVerified     bool
	Name              string
	GivenName         string
	FamilyName        string
	PreferredUsername string
	// Claims are added to (and override) the ID token and userinfo claims.
	Claims map[string]any
}

func (u User) claims() map[string]any {
	m := map[string]any{"sub": u.Sub}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("email", u.Email)
	if u.Email != "" {
		m["email_verified"] = u.EmailVerified
	}
	put("name", u.Name)
	put("given_name", u.GivenName)
	put("family_name", u.FamilyName)
	put("preferred_username", u.PreferredUsername)
	for k, v := range u.Claims {
		m[k] = v
	}
	return m
}

// TokenOptions shape an ID token: the defaults are a valid token for the
// current user and ClientID; each field breaks one thing.
type TokenOptions struct {
	// Audience replaces aud (nil: ClientID).
	Audience []string
	// Issuer replaces iss ("": the server's issuer).
	Issuer string
	// Subject replaces sub ("": the user's).
	Subject string
	// Nonce replaces the nonce (nil: the authorization request's, none for
	// tokens minted with IDToken).
	Nonce *string
	// Expired issues a token that expired an hour ago.
	Expired bool
	// NoIssuedAt leaves iat out.
	NoIssuedAt bool
	// NoExpiry leaves exp out.
	NoExpiry bool
	// ForeignKey signs with a key the JWKS does not publish (same kid).
	ForeignKey bool
	// KID replaces the kid header.
	KID string
	// Alg is an attack: "none" (unsigned) or "HS256" (HMAC keyed with the
	// published RSA public key's PEM).
	Alg string
	// Claims are added last, overriding the others.
	Claims map[string]any
}

// Server is an OpenID provider on loopback.
type Server struct {
	// URL is the base URL and the issuer.
	URL          string
	ClientID     string
	ClientSecret string

	srv  *httptest.Server
	done chan struct{}

	mu            sync.Mutex
	user          User
	rsaKey        *rsa.PrivateKey
	rsaKID        string
	oldKeys       map[string]*rsa.PublicKey
	ecKey         *ecdsa.PrivateKey
	ecKID         string
	useEC         bool
	foreignRSA    *rsa.PrivateKey
	foreignEC     *ecdsa.PrivateKey
	tokenOpts     TokenOptions
	authErr       [2]string
	tokenErr      string
	tokenStatus   int
	delay         time.Duration
	omitIDToken   bool
	authMethods   []string
	clientAuth    func(r *http.Request, form url.Values) bool
	codes         map[string]*grant
	access        map[string]User
	hits          map[string]int
	lastAuthorize url.Values
	lastToken     url.Values
}

type grant struct {
	clientID, redirectURI, nonce, challenge, method, scope string
	user                                                   User
}

// Start runs a provider until the test ends, with an RSA (RS256) and an EC
// (ES256) signing key, client "test-client"/"test-secret" and a verified
// user.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		ClientID: "test-client", ClientSecret: "test-secret",
		user: User{
			Sub: "248289761001", Email: "Jane.Doe@example.com", EmailVerified: true,
			Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", PreferredUsername: "jane",
		},
		oldKeys:     map[string]*rsa.PublicKey{},
		codes:       map[string]*grant{},
		access:      map[string]User{},
		hits:        map[string]int{},
		authMethods: []string{"client_secret_post", "client_secret_basic"},
		done:        make(chan struct{}),
	}
	s.rsaKey, s.rsaKID = newRSA(t), "rsa-"+random(6)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.ecKey, s.ecKID = ec, "ec-"+random(6)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("/userinfo", s.userinfo)
	mux.HandleFunc("GET /jwks", s.jwks)
	mux.HandleFunc("GET /tokeninfo", s.tokeninfo)
	s.srv = httptest.NewServer(s.middleware(mux))
	s.URL = s.srv.URL
	t.Cleanup(func() { close(s.done); s.srv.Close() })
	return s
}

func newRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Endpoint URLs.
func (s *Server) Issuer() string       { return s.URL }
func (s *Server) DiscoveryURL() string { return s.URL + "/.well-known/openid-configuration" }
func (s *Server) AuthorizeURL() string { return s.URL + "/authorize" }
func (s *Server) TokenURL() string     { return s.URL + "/token" }
func (s *Server) UserinfoURL() string  { return s.URL + "/userinfo" }
func (s *Server) JWKSURL() string      { return s.URL + "/jwks" }
func (s *Server) TokenInfoURL() string { return s.URL + "/tokeninfo" }

// SetUser replaces the signed-in user.
func (s *Server) SetUser(u User) { s.mu.Lock(); s.user = u; s.mu.Unlock() }

// User is the signed-in user.
func (s *Server) User() User { s.mu.Lock(); defer s.mu.Unlock(); return s.user }

// FailAuthorize makes /authorize redirect back with error=code (e.g.
// "access_denied"); "" restores consent.
func (s *Server) FailAuthorize(code, description string) {
	s.mu.Lock()
	s.authErr = [2]string{code, description}
	s.mu.Unlock()
}

// FailToken makes /token answer status with {"error": code}; "" restores it.
func (s *Server) FailToken(status int, code string) {
	s.mu.Lock()
	s.tokenStatus, s.tokenErr = status, code
	s.mu.Unlock()
}

// SetDelay makes every endpoint wait d before answering.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// SetTokenOptions shapes the ID tokens /token issues.
func (s *Server) SetTokenOptions(o TokenOptions) { s.mu.Lock(); s.tokenOpts = o; s.mu.Unlock() }

// OmitIDToken makes /token answer without an ID token.
func (s *Server) OmitIDToken(omit bool) { s.mu.Lock(); s.omitIDToken = omit; s.mu.Unlock() }

// UseEC makes ES256 (the EC key) the signing algorithm; false: RS256.
func (s *Server) UseEC(on bool) { s.mu.Lock(); s.useEC = on; s.mu.Unlock() }

// SetTokenAuthMethods sets the discovery document's
// token_endpoint_auth_methods_supported.
func (s *Server) SetTokenAuthMethods(methods ...string) {
	s.mu.Lock()
	s.authMethods = methods
	s.mu.Unlock()
}

// SetClientAuth replaces client authentication at /token (e.g. to check
// Apple's JWT client secret); it gets the request and its form.
func (s *Server) SetClientAuth(f func(r *http.Request, form url.Values) bool) {
	s.mu.Lock()
	s.clientAuth = f
	s.mu.Unlock()
}

// RotateKey replaces the RSA signing key by a new one with a new kid; the
// old one stays published when keepOld. It returns the new kid.
func (s *Server) RotateKey(t testing.TB, keepOld bool) string {
	k := newRSA(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if keepOld {
		s.oldKeys[s.rsaKID] = &s.rsaKey.PublicKey
	}
	s.rsaKey, s.rsaKID = k, "rsa-"+random(6)
	return s.rsaKID
}

// KID is the current signing key's id.
func (s *Server) KID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.useEC {
		return s.ecKID
	}
	return s.rsaKID
}

// Hits counts the requests to path (e.g. "/jwks").
func (s *Server) Hits(path string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.hits[path] }

// LastAuthorize is the query of the last authorization request.
func (s *Server) LastAuthorize() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneValues(s.lastAuthorize)
}

// LastTokenRequest is the form of the last token request.
func (s *Server) LastTokenRequest() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneValues(s.lastToken)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, l := range v {
		out[k] = append([]string(nil), l...)
	}
	return out
}

// IDToken mints an ID token for the current user, as for the token flow.
func (s *Server) IDToken(t testing.TB, o TokenOptions) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := s.mint(s.user, "", o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// AccessToken issues an access token for the current user, valid at
// /userinfo and /tokeninfo.
func (s *Server) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "at-" + random(24)
	s.access[tok] = s.user
	return tok
}

// mint signs an ID token; s.mu is held.
func (s *Server) mint(u User, nonce string, o TokenOptions) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{}
	for k, v := range u.claims() {
		claims[k] = v
	}
	claims["iss"] = s.URL
	if o.Issuer != "" {
		claims["iss"] = o.Issuer
	}
	if o.Subject != "" {
		claims["sub"] = o.Subject
	}
	switch {
	case o.Audience == nil:
		claims["aud"] = s.ClientID
	case len(o.Audience) == 1:
		claims["aud"] = o.Audience[0]
	default:
		claims["aud"] = o.Audience
	}
	iat := now
	if o.Expired {
		iat = now.Add(-2 * time.Hour)
	}
	if !o.NoIssuedAt {
		claims["iat"] = iat.Unix()
	}
	if !o.NoExpiry {
		claims["exp"] = iat.Add(time.Hour).Unix()
	}
	claims["auth_time"] = iat.Unix()
	if o.Nonce != nil {
		nonce = *o.Nonce
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	for k, v := range o.Claims {
		claims[k] = v
	}
	var (
		method jwt.SigningMethod
		key    any
		kid    string
	)
	switch {
	case o.Alg == "none":
		method, key, kid = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.rsaKID
	case o.Alg == "HS256":
		der, err := x509.MarshalPKIXPublicKey(&s.rsaKey.PublicKey)
		if err != nil {
			return "", err
		}
		method, kid = jwt.SigningMethodHS256, s.rsaKID
		key = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case o.Alg != "":
		return "", fmt.Errorf("oidctest: unknown attack alg %q", o.Alg)
	case s.useEC:
		method, key, kid = jwt.SigningMethodES256, s.ecKey, s.ecKID
		if o.ForeignKey {
			if s.foreignEC == nil {
				k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					return "", err
				}
				s.foreignEC = k
			}
			key = s.foreignEC
		}
	default:
		method, key, kid = jwt.SigningMethodRS256, s.rsaKey, s.rsaKID
		if o.ForeignKey {
			if s.foreignRSA == nil {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					return "", err
				}
				s.foreignRSA = k
			}
			key = s.foreignRSA
		}
	}
	if o.KID != "" {
		kid = o.KID
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	return tok.SignedString(key)
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		d := s.delay
		s.mu.Unlock()
		if !sleep(r, d, s.done) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sleep waits d unless the client goes away or the server stops first.
func sleep(r *http.Request, d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	case <-done:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	methods := append([]string(nil), s.authMethods...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.AuthorizeURL(),
		"token_endpoint":                        s.TokenURL(),
		"userinfo_endpoint":                     s.UserinfoURL(),
		"jwks_uri":                              s.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"token_endpoint_auth_methods_supported": methods,
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

// redirectBack sends the browser to redirectURI with params, by redirect
// or, for response_mode=form_post, by an auto-submitting form.
func redirectBack(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, formPost bool) {
	if formPost {
		var b strings.Builder
		fmt.Fprintf(&b, `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(redirectURI))
		for k, l := range params {
			for _, v := range l {
				fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
			}
		}
		b.WriteString(`</form></body></html>`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, b.String())
		return
	}
	u, _ := url.Parse(redirectURI)
	q := u.Query()
	for k, l := range params {
		q[k] = l
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.lastAuthorize = cloneValues(q)
	authErr := s.authErr
	user := s.user
	s.mu.Unlock()
	if q.Get("client_id") != s.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if u, err := url.Parse(redirectURI); err != nil || !u.IsAbs() {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	formPost := q.Get("response_mode") == "form_post"
	back := url.Values{}
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	if authErr[0] != "" {
		back.Set("error", authErr[0])
		if authErr[1] != "" {
			back.Set("error_description", authErr[1])
		}
		redirectBack(w, r, redirectURI, back, formPost)
		return
	}
	if !strings.Contains(q.Get("response_type"), "code") {
		back.Set("error", "unsupported_response_type")
		redirectBack(w, r, redirectURI, back, formPost)
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method != "S256" {
		back.Set("error", "invalid_request")
		back.Set("error_description", "only S256 PKCE")
		redirectBack(w, r, redirectURI, back, formPost)
		return
	}
	code := "code-" + random(24)
	s.mu.Lock()
	s.codes[code] = &grant{
		clientID: s.ClientID, redirectURI: redirectURI, nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), method: method, scope: q.Get("scope"), user: user,
	}
	s.mu.Unlock()
	back.Set("code", code)
	redirectBack(w, r, redirectURI, back, formPost)
}

// checkPKCE verifies a code verifier against the grant's challenge.
func checkPKCE(challenge, verifier string) string {
	switch {
	case challenge == "" && verifier != "":
		return "code_verifier without a code_challenge"
	case challenge == "":
		return ""
	case verifier == "":
		return "code_verifier required"
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return "code_verifier does not match the code_challenge"
	}
	return ""
}

// clientCredentials reads client authentication: HTTP Basic (form-encoded
// parts, RFC 6749 §2.3.1) or the form.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool) {
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
		return id, secret, true
	}
	return form.Get("client_id"), form.Get("client_secret"), false
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	form := r.PostForm
	s.mu.Lock()
	s.lastToken = cloneValues(form)
	if r.Header.Get("Authorization") != "" {
		s.lastToken.Set("authorization", r.Header.Get("Authorization"))
	}
	clientAuth, tokenErr, tokenStatus := s.clientAuth, s.tokenErr, s.tokenStatus
	s.mu.Unlock()
	id, secret, _ := clientCredentials(r, form)
	if clientAuth != nil {
		if !clientAuth(r, form) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
	} else if id != s.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.ClientSecret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if tokenErr != "" {
		writeJSON(w, tokenStatus, map[string]string{"error": tokenErr, "error_description": "test failure"})
		return
	}
	if form.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	s.mu.Lock()
	g := s.codes[form.Get("code")]
	delete(s.codes, form.Get("code"))
	s.mu.Unlock()
	if g == nil || g.clientID != id || g.redirectURI != form.Get("redirect_uri") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown code or redirect_uri mismatch"})
		return
	}
	if msg := checkPKCE(g.challenge, form.Get("code_verifier")); msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": msg})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := "at-" + random(24)
	s.access[at] = g.user
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600, "scope": g.scope}
	if !s.omitIDToken {
		idt, err := s.mint(g.user, g.nonce, s.tokenOpts)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		resp["id_token"] = idt
	}
	writeJSON(w, http.StatusOK, resp)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u, ok := s.access[bearer(r)]
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, u.claims())
}

// tokeninfo answers as Google's tokeninfo endpoint.
func (s *Server) tokeninfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u, ok := s.access[r.URL.Query().Get("access_token")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "Invalid Value"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"azp": s.ClientID, "aud": s.ClientID, "sub": u.Sub, "scope": "openid email profile",
		"expires_in": "3599", "email": u.Email, "email_verified": fmt.Sprint(u.EmailVerified),
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	keys := []map[string]any{rsaJWK(s.rsaKID, &s.rsaKey.PublicKey), ecJWK(s.ecKID, &s.ecKey.PublicKey)}
	for kid, k := range s.oldKeys {
		keys = append(keys, rsaJWK(kid, k))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, _ := k.Bytes() // 0x04 || X || Y
	size := (len(b) - 1) / 2
	return map[string]any{
		"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(b[1 : 1+size]),
		"y": base64.RawURLEncoding.EncodeToString(b[1+size:]),
	}
}

var formInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// Authorize plays the browser at an authorization URL: it requests it
// without following the redirect and returns the parameters the provider
// sends back to the redirect URI (from the Location, or from the
// auto-submitting form of response_mode=form_post), and where to.
func Authorize(t testing.TB, authURL string) (callback string, params url.Values) {
	t.Helper()
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther:
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatalf("authorize: bad Location: %v", err)
		}
		params := loc.Query()
		loc.RawQuery = ""
		return loc.String(), params
	case http.StatusOK:
		action := regexp.MustCompile(`action="([^"]*)"`).FindSubmatch(body)
		if action == nil {
			t.Fatalf("authorize: no redirect and no form: %s", body)
		}
		params := url.Values{}
		for _, m := range formInput.FindAllSubmatch(body, -1) {
			params.Add(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
		}
		return html.UnescapeString(string(action[1])), params
	}
	t.Fatalf("authorize: HTTP %d: %s", resp.StatusCode, body)
	return "", nil
}
