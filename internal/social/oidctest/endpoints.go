package oidctest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// endpoints are the provider's HTTP endpoints (endpoints.go): the Server
// seen from its mux.
type endpoints struct{ *Server }

func (s endpoints) middleware(next http.Handler) http.Handler {
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

func (s endpoints) discovery(w http.ResponseWriter, _ *http.Request) {
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

func (s endpoints) authorize(w http.ResponseWriter, r *http.Request) {
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

func (s endpoints) token(w http.ResponseWriter, r *http.Request) {
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

func (s endpoints) userinfo(w http.ResponseWriter, r *http.Request) {
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
func (s endpoints) tokeninfo(w http.ResponseWriter, r *http.Request) {
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

func (s endpoints) jwks(w http.ResponseWriter, _ *http.Request) {
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
