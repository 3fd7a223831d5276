package mfapages

import (
	"errors"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/web/accounts"
)

// pendingTOTPContext binds the sealed pending secret to its tenant (the
// API's context: a secret set up through either face activates in both).
func pendingTOTPContext(r *accounts.Request) string {
	return "tenant:" + r.Tenant.ID.String() + ":pending-totp"
}

// pendingSecret is the TOTP secret being set up in this session, a new one
// (sealed into the session) when there is none.
func (p totpPages) pendingSecret(r *accounts.Request, fresh bool) (string, error) {
	sess := r.Session
	if sess.State.PendingTOTP != "" && !fresh {
		if pt, err := p.Sealer.Open(sess.State.PendingTOTP, pendingTOTPContext(r)); err == nil {
			return string(pt), nil
		}
	}
	secret := domain.NewTOTPSecret()
	sealed, err := p.Sealer.Seal([]byte(secret), pendingTOTPContext(r))
	if err != nil {
		return "", err
	}
	sess.State.PendingTOTP = sealed
	sess.Changed()
	return secret, nil
}

// totpSetup is the activation page's view: the QR code (inline SVG), the
// secret for typing in, and the code form.
type totpSetup struct {
	QR     templ.Component
	Secret string
	URL    string
	Form   accounts.Form
}

func (p totpPages) renderActivate(r *accounts.Request, status int, u *identity.User, secret string, f accounts.Form) error {
	label := u.PrimaryEmail
	if label == "" {
		label = u.Username
	}
	uri := domain.TOTPURL(secret, label, r.Tenant.Name, r.Tenant.Settings)
	svg, err := QRCodeSVG(uri, "QR code of the authenticator secret")
	if err != nil {
		return err
	}
	f.Focus()
	return r.Render(status, "Activate Authenticator App", activateView(totpSetup{QR: templ.Raw(svg), Secret: secret, URL: uri, Form: f}))
}

func activateForm(r *accounts.Request) accounts.Form {
	f := codeForm(r, pathTOTPActivate, "Activate")
	f.Fields[0].Label = "Authenticator code"
	return f
}

// activateGate answers the cases in which no TOTP may be set up now: not
// recently authenticated (to reauthentication), already active (to the
// deactivation page, as allauth), or refused by MFA_ALLOW_UNVERIFIED_EMAIL.
func (p totpPages) activateGate(r *accounts.Request) (*identity.User, bool, error) {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return nil, true, err
	}
	if _, err := p.Store.ByType(r.Ctx(), r.Tenant.ID, u.ID, domain.TypeTOTP); err == nil {
		return nil, true, r.Redirect(r.Path(pathTOTPDeactive))
	} else if !errors.Is(err, domain.ErrNotFound) {
		return nil, true, err
	}
	if err := canAdd(r, u.ID); err != nil {
		return nil, true, err
	}
	return u, false, nil
}

// activatePage is GET /accounts/2fa/totp/activate/: a fresh secret, kept
// sealed in the session as GET account/authenticators/totp keeps it.
func (p totpPages) activatePage(r *accounts.Request) error {
	u, done, err := p.activateGate(r)
	if done {
		return err
	}
	secret, err := p.pendingSecret(r, true)
	if err != nil {
		return err
	}
	return p.renderActivate(r, fiber.StatusOK, u, secret, activateForm(r))
}

// activatePost activates the session's pending secret with a code from
// the app, as POST account/authenticators/totp: recovery codes come with
// the first authenticator, and the browser goes to see them.
func (p totpPages) activatePost(r *accounts.Request) error {
	u, done, err := p.activateGate(r)
	if done {
		return err
	}
	f := activateForm(r)
	f.Fill(r)
	secret, err := p.pendingSecret(r, false)
	if err != nil {
		return err
	}
	code := strings.TrimSpace(f.Value("code"))
	if code == "" {
		f.AddError("code", "This field is required.")
		return p.renderActivate(r, fiber.StatusBadRequest, u, secret, f)
	}
	s := r.Tenant.Settings
	if _, err := p.Store.ActivateTOTP(r.Ctx(), r.Tenant.ID, u.ID, secret, code, s); err != nil {
		if !f.Fail(err) {
			return err
		}
		return p.renderActivate(r, fiber.StatusBadRequest, u, secret, f)
	}
	r.Session.State.PendingTOTP = ""
	r.Session.Changed()
	next := pathIndex
	if recovery(s) {
		codes, err := p.Store.EnsureRecoveryCodes(r.Ctx(), r.Tenant.ID, u.ID, s)
		if err != nil {
			return err
		}
		if codes != nil {
			next = pathRecovery
		}
	}
	userChanged(r, u.ID)
	return r.Redirect(r.Path(next))
}

// deactivatePage is GET /accounts/2fa/totp/deactivate/: a confirmation.
func (p totpPages) deactivatePage(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	if _, err := p.Store.ByType(r.Ctx(), r.Tenant.ID, u.ID, domain.TypeTOTP); errors.Is(err, domain.ErrNotFound) {
		return r.Redirect(r.Path(pathTOTPActivate))
	} else if err != nil {
		return err
	}
	f := accounts.Form{Action: r.Path(pathTOTPDeactive), Submit: "Deactivate", CSRF: r.CSRF()}
	return r.Render(fiber.StatusOK, "Deactivate Authenticator App", accounts.FormPage("Deactivate Authenticator App",
		[]string{"You are about to deactivate authenticator app based authentication. Are you sure?"}, f))
}

// deactivatePost removes the TOTP authenticator, as DELETE
// account/authenticators/totp does.
func (p totpPages) deactivatePost(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	if _, err := p.Store.DeactivateTOTP(r.Ctx(), r.Tenant.ID, u.ID); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	userChanged(r, u.ID)
	return r.Redirect(r.Path(pathIndex))
}
