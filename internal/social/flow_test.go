package social_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// redirectFlow runs a whole redirect flow against p: state stored in Redis,
// the provider consents, the callback takes the state and completes.
func redirectFlow(t *testing.T, p social.Provider) (*social.Profile, *social.Tokens, error) {
	t.Helper()
	ctx := context.Background()
	store := social.NewStateStore(testenv.Redis(t))
	tenant := uuid.New()
	binding := social.SessionBinding("browser-session-" + uuid.NewString())
	authURL, err := social.BeginRedirect(ctx, store, tenant, p, social.State{
		Process: social.ProcessLogin, CallbackURL: "https://app.example/after", SessionBinding: binding,
	}, callback, nil)
	if err != nil {
		t.Fatalf("BeginRedirect: %v", err)
	}
	back, params := oidctest.Authorize(t, authURL)
	if back != callback {
		t.Fatalf("provider redirected to %s, want %s", back, callback)
	}
	st, err := store.Take(ctx, tenant, params.Get("state"), binding)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if st.Provider != p.ID() || st.CallbackURL != "https://app.example/after" || st.Process != social.ProcessLogin {
		t.Errorf("state = %+v", st)
	}
	return social.CompleteRedirect(ctx, p, st, params, callback)
}

func TestGoogleCodeFlow(t *testing.T) {
	srv := oidctest.Start(t)
	p := googleAt(t, srv, func(ps *tenants.ProviderSettings) { ps.OAuthPKCEEnabled = ptr(true) }, social.WithQueryEmail(true))
	prof, tok, err := redirectFlow(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	// PKCE and nonce went through: the server checked the verifier, and the
	// ID token's nonce matched the one stored with the state.
	if srv.LastAuthorize().Get("code_challenge") == "" || srv.LastTokenRequest().Get("code_verifier") == "" {
		t.Error("PKCE not used")
	}
	if srv.LastTokenRequest().Get("client_secret") != srv.ClientSecret {
		t.Error("client_secret not posted")
	}
	if tok.AccessToken == "" || tok.IDToken == "" || tok.ExpiresAt.IsZero() {
		t.Errorf("tokens = %+v", tok)
	}
	want := &social.Profile{
		UID: "248289761001", Email: "jane.doe@example.com", EmailVerified: true,
		Emails: []social.Email{{Address: "jane.doe@example.com", Verified: true, Primary: true}},
		Name:   "Jane Doe", FirstName: "Jane", LastName: "Doe",
	}
	checkProfile(t, prof, want)
	if prof.Extra["iss"] != srv.Issuer() || prof.Extra["nonce"] == nil {
		t.Errorf("extra_data should be the ID token claims: %v", prof.Extra)
	}
	if _, leaked := prof.Extra["access_token"]; leaked {
		t.Error("extra_data holds a token")
	}
	// The ID token verification fetched the JWKS once.
	if n := srv.Hits("/jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times", n)
	}

	// Without an ID token, Google's userinfo is read.
	srv.OmitIDToken(true)
	srv.SetUser(oidctest.User{Sub: "42", Email: "x@example.com", EmailVerified: false})
	prof, _, err = redirectFlow(t, p)
	if err != nil {
		t.Fatalf("flow without id_token: %v", err)
	}
	checkProfile(t, prof, &social.Profile{UID: "42", Email: "x@example.com",
		Emails: []social.Email{{Address: "x@example.com", Primary: true}}})
	if srv.Hits("/userinfo") != 1 {
		t.Error("userinfo not used")
	}
}

func checkProfile(t *testing.T, got, want *social.Profile) {
	t.Helper()
	g := *got
	g.Extra = nil
	if !reflect.DeepEqual(&g, want) {
		t.Errorf("profile =\n %+v\nwant\n %+v", &g, want)
	}
}

func TestGoogleVerifiedEmailSetting(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetUser(oidctest.User{Sub: "1", Email: "Boss@Corp.example", EmailVerified: false})
	// VERIFIED_EMAIL as a list of domains (app settings.verified_email).
	p := googleAt(t, srv, func(ps *tenants.ProviderSettings) {
		ps.Apps[0].Settings = map[string]any{"verified_email": []any{"corp.example"}}
	})
	prof, _, err := redirectFlow(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if !prof.EmailVerified || prof.Email != "boss@corp.example" {
		t.Errorf("verified_email domains not applied: %+v", prof)
	}
	// VERIFIED_EMAIL false keeps the provider's answer.
	p = googleAt(t, srv, func(ps *tenants.ProviderSettings) { ps.VerifiedEmail = ptr(false) })
	if prof, _, err = redirectFlow(t, p); err != nil || prof.EmailVerified {
		t.Errorf("unverified email became verified: %+v %v", prof, err)
	}
}

func TestOpenIDConnectCodeFlow(t *testing.T) {
	srv := oidctest.Start(t)
	srv.UseEC(true) // ES256 ID tokens
	srv.SetUser(oidctest.User{
		Sub: "u-1", Email: "sso@acme.example", EmailVerified: true, Name: "S. So", PreferredUsername: "sso",
		Claims: map[string]any{"employee_id": 1234567890123},
	})
	p := oidcAt(t, srv, map[string]any{"oauth_pkce_enabled": true})
	prof, _, err := redirectFlow(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	checkProfile(t, prof, &social.Profile{
		UID: "u-1", Email: "sso@acme.example", EmailVerified: true, Name: "S. So", Username: "sso",
		Emails: []social.Email{{Address: "sso@acme.example", Verified: true, Primary: true}},
	})
	// extra_data has both documents, as allauth ≥ 65.11.
	if _, ok := prof.Extra["userinfo"].(map[string]any); !ok {
		t.Errorf("extra_data lacks userinfo: %v", prof.Extra)
	}
	if _, ok := prof.Extra["id_token"].(map[string]any); !ok {
		t.Errorf("extra_data lacks id_token: %v", prof.Extra)
	}
	if tr := srv.LastTokenRequest(); tr.Get("client_secret") != srv.ClientSecret || tr.Get("code_verifier") == "" {
		t.Errorf("token request = %v", tr)
	}

	// uid_field picks another claim, rendered exactly even when numeric.
	p = oidcAt(t, srv, map[string]any{"uid_field": "employee_id"})
	prof, _, err = redirectFlow(t, p)
	if err != nil || prof.UID != "1234567890123" {
		t.Errorf("uid_field: %+v %v", prof, err)
	}

	// A server that only supports client_secret_basic gets HTTP Basic.
	srv.SetTokenAuthMethods("client_secret_basic")
	p = oidcAt(t, srv, nil)
	if _, _, err = redirectFlow(t, p); err != nil {
		t.Fatalf("basic auth flow: %v", err)
	}
	tr := srv.LastTokenRequest()
	if tr.Has("client_secret") || !strings.HasPrefix(tr.Get("authorization"), "Basic ") {
		t.Errorf("want HTTP Basic client authentication, got %v", tr)
	}

	// fetch_userinfo false: the ID token alone.
	hits := srv.Hits("/userinfo")
	p = oidcAt(t, srv, map[string]any{"fetch_userinfo": false})
	prof, _, err = redirectFlow(t, p)
	if err != nil || srv.Hits("/userinfo") != hits || prof.Extra["userinfo"] != nil {
		t.Errorf("fetch_userinfo false: %v, userinfo hits %d→%d", err, hits, srv.Hits("/userinfo"))
	}
}

func TestOpenIDConnectNonceMismatchRefused(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetTokenOptions(oidctest.TokenOptions{Nonce: ptr("someone-elses")})
	_, _, err := redirectFlow(t, oidcAt(t, srv, nil))
	if !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("err = %v, want invalid_token", err)
	}
}

func TestGitHubCodeFlow(t *testing.T) {
	gh := oidctest.StartGitHub(t)
	p := githubAt(t, gh, social.WithQueryEmail(true))
	prof, tok, err := redirectFlow(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	if tok.TokenType != "bearer" || !strings.HasPrefix(tok.AccessToken, "gho_") {
		t.Errorf("tokens = %+v", tok)
	}
	checkProfile(t, prof, &social.Profile{
		UID: "583231", Email: "octocat@example.com", EmailVerified: true, Name: "The Octocat", Username: "octocat",
		Emails: []social.Email{
			{Address: "octocat@example.com", Verified: true, Primary: true},
			{Address: "octo.secondary@example.org"},
		},
	})
	if prof.Extra["login"] != "octocat" || prof.Extra["emails"] != nil {
		t.Errorf("extra_data = %v", prof.Extra)
	}
	if gh.LastAuthorize().Get("scope") != "user:email" {
		t.Errorf("scope = %q", gh.LastAuthorize().Get("scope"))
	}

	// No public email and /user/emails 404 (documented): no email at all.
	gh.SetUser(oidctest.GitHubUser{ID: 7, Login: "ghost"})
	gh.EmailsNotFound(true)
	prof, _, err = redirectFlow(t, p)
	if err != nil {
		t.Fatal(err)
	}
	checkProfile(t, prof, &social.Profile{UID: "7", Username: "ghost"})

	// A public email missing from the list counts as unverified, as allauth.
	gh.EmailsNotFound(false)
	gh.SetUser(oidctest.GitHubUser{ID: 8, Login: "pub", Email: "Public@Example.com",
		Emails: []oidctest.GitHubEmail{{Email: "private@example.com", Primary: true, Verified: true}}})
	prof, _, err = redirectFlow(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if prof.Email != "public@example.com" || prof.EmailVerified || len(prof.Emails) != 2 {
		t.Errorf("profile = %+v", prof)
	}

	// Without QUERY_EMAIL no emails call is made.
	hits := gh.Hits("/user/emails")
	if _, _, err = redirectFlow(t, githubAt(t, gh, social.WithQueryEmail(false))); err != nil || gh.Hits("/user/emails") != hits {
		t.Errorf("QUERY_EMAIL off: %v, emails hits %d→%d", err, hits, gh.Hits("/user/emails"))
	}
}

func TestGitHubFormEncodedTokenAnswer(t *testing.T) {
	// GitHub answers form-encoded unless JSON is accepted: the exchange
	// reads both. Drive its endpoint directly without Accept.
	gh := oidctest.StartGitHub(t)
	authURL := gh.AuthorizeURL() + "?" + url.Values{"client_id": {gh.ClientID}, "redirect_uri": {callback}, "state": {"s"}}.Encode()
	_, params := oidctest.Authorize(t, authURL)
	resp, err := http.PostForm(gh.TokenURL(), url.Values{
		"client_id": {gh.ClientID}, "client_secret": {gh.ClientSecret}, "code": {params.Get("code")}, "redirect_uri": {callback},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		t.Errorf("Content-Type = %s", ct)
	}
}

func TestMicrosoftCodeFlow(t *testing.T) {
	// Token endpoint from oidctest, Graph from a small local server.
	srv := oidctest.Start(t)
	srv.OmitIDToken(true)
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.0/me" || !strings.Contains(r.URL.Query().Get("$select"), "userPrincipalName") ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "Bearer at-") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty."}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd","displayName":"Adele Vance","givenName":"Adele",
			"surname":"Vance","mail":null,"userPrincipalName":"AdeleV@Contoso.example","mailNickname":"AdeleV"}`))
	}))
	t.Cleanup(graph.Close)
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: srv.ClientID, Secret: srv.ClientSecret}}}
	p := newProvider(t, settingsWith("microsoft", ps), "microsoft",
		social.WithEndpoints(social.Endpoints{Authorize: srv.AuthorizeURL(), Token: srv.TokenURL(), API: graph.URL}))
	prof, _, err := redirectFlow(t, p)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	// userPrincipalName stands in for a null mail; Graph does not say it is
	// verified, so it is not (unless VERIFIED_EMAIL).
	checkProfile(t, prof, &social.Profile{
		UID: "87d349ed-44d7-43e1-9a83-5f2406dee5bd", Email: "adelev@contoso.example",
		Emails: []social.Email{{Address: "adelev@contoso.example", Primary: true}},
		Name:   "Adele Vance", FirstName: "Adele", LastName: "Vance", Username: "AdeleV",
	})
	if srv.LastAuthorize().Get("scope") != "User.Read" {
		t.Errorf("scope = %q", srv.LastAuthorize().Get("scope"))
	}
	// Graph errors keep Graph's code.
	_, err = p.Profile(context.Background(), &social.Tokens{AccessToken: "bogus"}, "")
	var pe *social.ProviderError
	if !errors.As(err, &pe) || pe.Code != "InvalidAuthenticationToken" || pe.Status != http.StatusUnauthorized {
		t.Errorf("err = %#v", err)
	}
	// No token flow.
	if _, err := p.VerifyIDToken(context.Background(), "x", ""); !errors.Is(err, social.ErrTokenAuthNotSupported) {
		t.Errorf("VerifyIDToken: %v", err)
	}
	if _, err := p.VerifyAccessToken(context.Background(), "x"); !errors.Is(err, social.ErrTokenAuthNotSupported) {
		t.Errorf("VerifyAccessToken: %v", err)
	}
}

// appleKey makes an Apple-style private key: P-256, PKCS#8 PEM.
func appleKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// verifyAppleSecret checks a client secret as Apple does.
func verifyAppleSecret(secret string, pub *ecdsa.PublicKey, kid, team, clientID string) error {
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(secret, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(team), jwt.WithAudience("https://appleid.apple.com"),
		jwt.WithSubject(clientID), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return err
	}
	if tok.Header["kid"] != kid {
		return errors.New("kid " + tok.Header["kid"].(string))
	}
	return nil
}

func TestAppleClientSecret(t *testing.T) {
	key, pemKey := appleKey(t)
	// allauth's layout: secret = key id, key = team id.
	p := plainProvider(t, "apple", tenants.SocialApp{
		ClientID: "com.example.web,com.example.ios", Secret: "ABC123DEFG", Key: "TEAM123456",
		Settings: map[string]any{"certificate_key": pemKey},
	}, nil)
	secret, err := social.AppleClientSecret(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyAppleSecret(secret, &key.PublicKey, "ABC123DEFG", "TEAM123456", "com.example.web"); err != nil {
		t.Errorf("client secret: %v", err)
	}
	// Another key does not verify it.
	other, _ := appleKey(t)
	if verifyAppleSecret(secret, &other.PublicKey, "ABC123DEFG", "TEAM123456", "com.example.web") == nil {
		t.Error("secret verified with another key")
	}
	// settings.team_id layout: key = key id.
	p = plainProvider(t, "apple", tenants.SocialApp{
		ClientID: "com.example.web", Key: "KEY987", Settings: map[string]any{"certificate_key": pemKey, "team_id": "TEAM999"},
	}, nil)
	secret, err = social.AppleClientSecret(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyAppleSecret(secret, &key.PublicKey, "KEY987", "TEAM999", "com.example.web"); err != nil {
		t.Errorf("team_id layout: %v", err)
	}
	// A missing or wrong key is a configuration error.
	for _, s := range []map[string]any{nil, {"certificate_key": "not pem"}} {
		p = plainProvider(t, "apple", tenants.SocialApp{ClientID: "c", Secret: "K", Key: "T", Settings: s}, nil)
		if _, err := social.AppleClientSecret(p, time.Now()); !errors.Is(err, social.ErrConfig) {
			t.Errorf("settings %v: err = %v, want ErrConfig", s, err)
		}
	}
}

func TestAppleCodeFlow(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetUser(oidctest.User{Sub: "001234.abcd", Email: "x7@privaterelay.appleid.com",
		Claims: map[string]any{"email_verified": "true", "is_private_email": "true"}})
	key, pemKey := appleKey(t)
	srv.SetClientAuth(func(_ *http.Request, form url.Values) bool {
		return form.Get("client_id") == srv.ClientID &&
			verifyAppleSecret(form.Get("client_secret"), &key.PublicKey, "KEYID", "TEAMID", srv.ClientID) == nil
	})
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{
		ClientID: srv.ClientID, Secret: "KEYID", Key: "TEAMID", Settings: map[string]any{"certificate_key": pemKey},
	}}}
	p := newProvider(t, settingsWith("apple", ps), "apple", social.WithEndpoints(oidcEndpoints(srv)))

	ctx := context.Background()
	store := social.NewStateStore(testenv.Redis(t))
	tenant := uuid.New()
	authURL, err := social.BeginRedirect(ctx, store, tenant, p, social.State{Process: social.ProcessConnect, SessionBinding: "b"}, callback, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Apple answers with a form POST; on first sign-in it adds `user`.
	back, params := oidctest.Authorize(t, authURL)
	if back != callback || params.Get("code") == "" {
		t.Fatalf("form_post callback %s %v", back, params)
	}
	params.Set("user", `{"name":{"firstName":"Tim","lastName":"Apple"},"email":"x7@privaterelay.appleid.com"}`)
	st, err := store.Take(ctx, tenant, params.Get("state"), "b")
	if err != nil {
		t.Fatal(err)
	}
	prof, _, err := social.CompleteRedirect(ctx, p, st, params, callback)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	checkProfile(t, prof, &social.Profile{
		UID: "001234.abcd", Email: "x7@privaterelay.appleid.com", EmailVerified: true,
		Emails: []social.Email{{Address: "x7@privaterelay.appleid.com", Verified: true, Primary: true}},
		Name:   "Tim Apple", FirstName: "Tim", LastName: "Apple",
	})
	if name, _ := json.Marshal(prof.Extra["name"]); string(name) != `{"firstName":"Tim","lastName":"Apple"}` {
		t.Errorf("extra_data name = %s", name)
	}

	// A wrong signing key for the client secret: Apple says invalid_client.
	other, otherPEM := appleKey(t)
	_ = other
	ps.Apps[0].Settings = map[string]any{"certificate_key": otherPEM}
	p = newProvider(t, settingsWith("apple", ps), "apple", social.WithEndpoints(oidcEndpoints(srv)))
	_, _, err = redirectFlow(t, p)
	var pe *social.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_client" {
		t.Errorf("err = %v, want invalid_client", err)
	}
}
