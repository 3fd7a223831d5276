package social

import (
	"context"
	"errors"
	"net/url"
	"slices"
)

// Google's endpoints.
const (
	googleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth"
	googleToken     = "https://oauth2.googleapis.com/token"
	googleUserinfo  = "https://openidconnect.googleapis.com/v1/userinfo"
	googleTokenInfo = "https://oauth2.googleapis.com/tokeninfo"
	googleJWKS      = "https://www.googleapis.com/oauth2/v3/certs"
)

// googleIssuer is Google's iss; go-oidc also accepts the "accounts.google.com"
// Google sometimes sends.
const googleIssuer = "https://accounts.google.com"

// google is allauth's GoogleProvider: OAuth 2 with an ID token from the
// token endpoint, userinfo as fallback; token flow by ID token.
type google struct{ *base }

func newGoogle(b *base) (Provider, error) { return &google{b}, nil }

func (g *google) ep() Endpoints {
	e := g.cfg.endpoints
	return Endpoints{
		Authorize: or(e.Authorize, googleAuthorize),
		Token:     or(e.Token, googleToken),
		Userinfo:  or(e.Userinfo, googleUserinfo),
		TokenInfo: or(e.TokenInfo, googleTokenInfo),
		JWKS:      or(e.JWKS, googleJWKS),
		Issuer:    e.Issuer,
	}
}

func (g *google) check(nonce string, ifPresent bool) idTokenCheck {
	return idTokenCheck{
		jwksURL: g.ep().JWKS, issuer: or(g.cfg.endpoints.Issuer, googleIssuer), audiences: []string{g.app.ClientID},
		nonce: nonce, nonceIfPresent: ifPresent,
	}
}

// AuthorizeURL: default scope "profile", plus "email" with QUERY_EMAIL.
func (g *google) AuthorizeURL(_ context.Context, p AuthParams) (string, error) {
	def := []string{"profile"}
	if g.cfg.queryEmail {
		def = append(def, "email")
	}
	return g.authorizeURL(authorizeRequest{
		endpoint: g.ep().Authorize, clientID: g.app.ClientID, scope: g.scope(p, def), nonce: true,
	}, p)
}

func (g *google) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	return g.exchange(ctx, g.ep().Token, g.app.ClientID, g.sa.Secret, authPost, code, redirectURI, codeVerifier)
}

// Profile reads the ID token of the exchange (its nonce is checked when the
// token carries one: Google echoes it only for the openid scope, and the
// token came straight from Google), else userinfo.
func (g *google) Profile(ctx context.Context, t *Tokens, nonce string) (*Profile, error) {
	if t == nil {
		return nil, errors.New("social: no tokens")
	}
	var data map[string]any
	if t.IDToken != "" {
		claims, err := g.verifyIDToken(ctx, t.IDToken, g.check(nonce, true))
		if err != nil {
			return nil, err
		}
		data = claims
		if fetch, _ := g.ps.Extra["FETCH_USERINFO"].(bool); fetch && data["picture"] == nil && t.AccessToken != "" {
			if info, err := g.getJSON(ctx, g.ep().Userinfo, "Bearer "+t.AccessToken, "userinfo"); err == nil {
				if pic, ok := info["picture"].(string); ok && pic != "" {
					data["picture"] = pic
				}
			}
		}
	} else {
		info, err := g.getJSON(ctx, g.ep().Userinfo, "Bearer "+t.AccessToken, "userinfo")
		if err != nil {
			return nil, err
		}
		data = info
	}
	return g.extract(data)
}

// extract is allauth's GoogleProvider: uid = sub (id token, userinfo) or id
// (v2 userinfo); the email is verified per email_verified or
// verified_email.
func (g *google) extract(data map[string]any) (*Profile, error) {
	uid := uidString(data["sub"])
	if uid == "" {
		uid = uidString(data["id"])
	}
	in := profileInput{
		uid: uid, name: str(data, "name"), first: str(data, "given_name"), last: str(data, "family_name"),
		email: str(data, "email"), extra: data,
	}
	if in.email != "" {
		in.emailVerified = truthy(data["email_verified"]) || truthy(data["verified_email"])
		in.emails = []Email{{Address: in.email, Verified: in.emailVerified, Primary: true}}
	}
	return g.profile(in)
}

func (g *google) VerifyIDToken(ctx context.Context, idToken, nonce string) (*Profile, error) {
	claims, err := g.verifyIDToken(ctx, idToken, g.check(nonce, false))
	if err != nil {
		return nil, err
	}
	return g.extract(claims)
}

// VerifyAccessToken asks tokeninfo whom the token was issued to (aud or
// azp must be this app), then reads userinfo.
func (g *google) VerifyAccessToken(ctx context.Context, accessToken string) (*Profile, error) {
	if accessToken == "" {
		return nil, invalidToken("no access_token")
	}
	ep := g.ep()
	info, err := g.getJSON(ctx, ep.TokenInfo+"?"+url.Values{"access_token": {accessToken}}.Encode(), "", "tokeninfo")
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if !slices.Contains([]string{str(info, "aud"), str(info, "azp")}, g.app.ClientID) {
		return nil, invalidToken("access token was issued to another client")
	}
	if secs, ok := number(info["expires_in"]); ok && secs <= 0 {
		return nil, invalidToken("access token expired")
	}
	data, err := g.getJSON(ctx, ep.Userinfo, "Bearer "+accessToken, "userinfo")
	if err != nil {
		return nil, wrapInvalidToken(err)
	}
	if sub := str(info, "sub"); sub != "" && uidString(data["sub"]) != sub {
		return nil, invalidToken("tokeninfo and userinfo disagree on the user")
	}
	return g.extract(data)
}
