package social

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// Processes of a provider flow (allauth's AuthProcess).
const (
	ProcessLogin   = "login"
	ProcessConnect = "connect"
)

// NewPKCE returns a fresh PKCE code verifier (oauth2.GenerateVerifier, RFC
// 7636: 43 characters of base64url, 256 random bits) and its S256 challenge.
func NewPKCE() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return verifier, PKCEChallenge(verifier)
}

// PKCEChallenge is the S256 code challenge of verifier:
// BASE64URL(SHA256(verifier)) without padding.
func PKCEChallenge(verifier string) string { return oauth2.S256ChallengeFromVerifier(verifier) }

// NewNonce returns a fresh OpenID Connect nonce (256 random bits).
func NewNonce() string { return randomToken(32) }

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// BeginRedirect starts the redirect flow: it makes the flow's PKCE verifier
// and nonce, stores st (with Provider set to p's id) and returns the
// provider URL to send the browser to. redirectURI is the backend callback.
func BeginRedirect(ctx context.Context, store *StateStore, tenantID uuid.UUID, p Provider, st State, redirectURI string, extra map[string]string) (string, error) {
	if st.Process != ProcessLogin && st.Process != ProcessConnect {
		return "", fmt.Errorf("social: process %q is not login or connect", st.Process)
	}
	st.Provider = p.ID()
	var challenge string
	st.CodeVerifier, challenge = NewPKCE()
	st.Nonce = NewNonce()
	state, err := store.Put(ctx, tenantID, st)
	if err != nil {
		return "", err
	}
	return p.AuthorizeURL(ctx, AuthParams{
		State: state, Nonce: st.Nonce, CodeChallenge: challenge, RedirectURI: redirectURI, Extra: extra,
	})
}

// CallbackError reads the provider's answer on the callback: a
// *ProviderError when it carries an error (access_denied: the user
// declined) or no code, else nil.
func CallbackError(q url.Values) error {
	if code := q.Get("error"); code != "" {
		return &ProviderError{Op: "authorization", Code: clip(code, 100), Description: clip(q.Get("error_description"), 500)}
	}
	if q.Get("code") == "" {
		return &ProviderError{Op: "authorization", Err: errors.New("no code")}
	}
	return nil
}

// CompleteRedirect finishes a redirect flow whose state st was taken
// (StateStore.Take): it checks the callback parameters q, exchanges the code
// with the flow's PKCE verifier and reads the profile with its nonce.
func CompleteRedirect(ctx context.Context, p Provider, st *State, q url.Values, redirectURI string) (*Profile, *Tokens, error) {
	if st.Provider != p.ID() {
		return nil, nil, fmt.Errorf("%w: state is for %q, not %q", ErrStateMismatch, st.Provider, p.ID())
	}
	if err := CallbackError(q); err != nil {
		return nil, nil, err
	}
	t, err := p.Exchange(ctx, q.Get("code"), redirectURI, st.CodeVerifier)
	if err != nil {
		return nil, nil, err
	}
	if t.IDToken == "" {
		// Apple may post the ID token to the callback only.
		t.IDToken = q.Get("id_token")
	}
	if u := q.Get("user"); u != "" && len(t.User) == 0 {
		t.User = []byte(u)
	}
	prof, err := p.Profile(ctx, t, st.Nonce)
	if err != nil {
		return nil, nil, err
	}
	return prof, t, nil
}

// TokenRequest is a checked `token` of POST auth/provider/token.
type TokenRequest struct {
	Provider    Provider
	App         providers.App
	ClientID    string
	IDToken     string
	AccessToken string
	// Nonce, when the app sent one (token.nonce), must be the ID token's.
	Nonce string
}

// CheckTokenInput validates the token flow's input as allauth's
// ProviderTokenInput, in its order: token must be an object
// (invalid_token); its client_id a string (client_id_required); the
// provider and client id must name an app (invalid_token); the provider
// must have a token flow (token_authentication_not_supported, param
// "provider"); the app's client id must be client_id (client_id_mismatch);
// id_token and access_token must be strings if given, and one given
// (token_required). token is the decoded JSON value.
func CheckTokenInput(s *tenants.Settings, subID string, token any, allowPrivateNetworks bool, opts ...Option) (*TokenRequest, error) {
	m, ok := token.(map[string]any)
	if !ok {
		return nil, ErrInvalidToken
	}
	clientID, ok := m["client_id"].(string)
	if !ok {
		return nil, ErrClientIDRequired
	}
	app, ps, err := FindApp(s, subID, clientID)
	if err != nil {
		return nil, &Error{Code: ErrInvalidToken.Code, Param: ErrInvalidToken.Param, Err: err}
	}
	if k, ok := providers.Lookup(app.Provider); !ok || !k.Token {
		return nil, ErrTokenAuthNotSupported
	}
	if clientID != "" && app.ClientID != clientID {
		return nil, ErrClientIDMismatch
	}
	r := &TokenRequest{App: app, ClientID: clientID}
	idToken, idOK := m["id_token"]
	accessToken, accessOK := m["access_token"]
	if idOK && idToken != nil {
		if r.IDToken, ok = idToken.(string); !ok {
			return nil, ErrTokenRequired
		}
	}
	if accessOK && accessToken != nil {
		if r.AccessToken, ok = accessToken.(string); !ok {
			return nil, ErrTokenRequired
		}
	}
	if r.IDToken == "" && r.AccessToken == "" {
		return nil, ErrTokenRequired
	}
	if n, ok := m["nonce"]; ok && n != nil {
		if r.Nonce, ok = n.(string); !ok || r.Nonce == "" {
			return nil, invalidToken("nonce must be a non-empty string")
		}
	}
	if r.Provider, err = forApp(s, app, ps, allowPrivateNetworks, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// VerifyToken logs in by token as allauth's verify_token: the ID token is
// required (invalid_token without it) and verified; the access token is not
// used, as it would not prove who it was issued to. Beyond allauth, an app
// that generated a nonce for the provider's SDK may send it along
// (token.nonce): the ID token must then carry that nonce, so a token
// captured from another sign-in cannot be replayed.
func VerifyToken(ctx context.Context, r *TokenRequest) (*Profile, error) {
	if r.IDToken == "" {
		return nil, invalidToken("an id_token is required")
	}
	return r.Provider.VerifyIDToken(ctx, r.IDToken, r.Nonce)
}
