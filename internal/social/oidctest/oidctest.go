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
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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
	e := endpoints{s}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", e.discovery)
	mux.HandleFunc("GET /authorize", e.authorize)
	mux.HandleFunc("POST /token", e.token)
	mux.HandleFunc("/userinfo", e.userinfo)
	mux.HandleFunc("GET /jwks", e.jwks)
	mux.HandleFunc("GET /tokeninfo", e.tokeninfo)
	s.srv = httptest.NewServer(e.middleware(mux))
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
