// Package socialpages serves allauth's third-party account pages on the
// hosted account pages: the connected accounts (/accounts/3rdparty/: list,
// remove) and the login error page (/accounts/3rdparty/login/error/), through
// the same domain calls as the headless API's account/providers, gated by
// the socialaccount app as its routes are.
package socialpages

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web/accounts"
)

// Pages are the third-party account pages, an accounts.Module.
type Pages struct{}

// Paths under the tenant's base (allauth's socialaccount/urls.py).
const (
	pathConnections = accounts.Prefix + "3rdparty/"
	pathLoginError  = accounts.Prefix + "3rdparty/login/error/"
	pathReauth      = accounts.Prefix + "reauthenticate/"
)

// socialApp: socialaccount in HALLPASS_APPS.
var socialApp accounts.Gate = login.AppEnabled(tenants.AppSocialAccount).When

// Register adds the pages (accounts.Module).
func (p *Pages) Register(rt accounts.Router) {
	rt.Page(pathConnections, p.connectionsPage, p.connectionsPost, socialApp)
	rt.Get(pathLoginError, p.loginErrorPage, socialApp)
}

// connection is one connected account as the page lists it.
type connection struct {
	Provider, Name, Account, UID string
}

// connectionsView is allauth's socialaccount/connections.html.
type connectionsView struct {
	Connections []connection
	Form        accounts.Form
}

func (p *Pages) render(r *accounts.Request, status int, errs []string) error {
	list, err := r.Pages.Accounts.SocialLogins.SocialAccounts(r.Ctx(), r.Tenant, r.Session)
	if err != nil {
		return err
	}
	v := connectionsView{Form: accounts.Form{Action: r.Path(pathConnections), Submit: "Remove", CSRF: r.CSRF(), Errors: errs}}
	for _, a := range list {
		name := a.Provider
		if k, ok := providers.Lookup(a.Provider); ok {
			name = k.Name
		}
		v.Connections = append(v.Connections, connection{Provider: a.Provider, Name: name,
			Account: social.Display(a.Provider, a.ExtraData), UID: a.UID})
	}
	return r.Render(status, "Account Connections", connectionsPageView(v))
}

// connectionsPage is GET /accounts/3rdparty/: the user's connected accounts.
func (p *Pages) connectionsPage(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	return p.render(r, fiber.StatusOK, nil)
}

// connectionsPost removes the chosen account ("account" is
// "<provider> <uid>"), as DELETE account/providers: refused with allauth's
// reason when it would leave no way to sign in, and after a
// reauthentication when ACCOUNT_REAUTHENTICATION_REQUIRED asks for one.
func (p *Pages) connectionsPost(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	provider, uid, ok := strings.Cut(r.Form("account"), " ")
	if !ok || provider == "" || uid == "" {
		return p.render(r, fiber.StatusBadRequest, []string{"Choose the account to remove."})
	}
	err = r.Pages.Accounts.SocialLogins.DisconnectSocial(r.Ctx(), r.Tenant, r.Session, provider, uid)
	switch {
	case err == nil:
		return r.Redirect(r.Path(pathConnections))
	case errors.Is(err, identity.ErrReauthenticationRequired):
		return r.Redirect(r.Path(pathReauth) + "?next=" + url.QueryEscape(r.Path(pathConnections)))
	}
	f := accounts.Form{}
	if !f.Fail(err) {
		return err
	}
	return p.render(r, fiber.StatusBadRequest, f.Errors)
}

// loginErrorPage is GET /accounts/3rdparty/login/error/ (allauth's
// socialaccount_login_error).
func (p *Pages) loginErrorPage(r *accounts.Request) error {
	return r.Render(fiber.StatusOK, "Third-Party Login Failure", accounts.Message("Third-Party Login Failure",
		[]string{"An error occurred while attempting to login via your third-party account."},
		[]accounts.Link{{Href: r.Path(accounts.Prefix + "login/"), Label: "Back to sign in"}}))
}
