package mfapages

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/web/accounts"
)

// recoveryView is the recovery codes page.
type recoveryView struct {
	Codes           *domain.Authenticator
	Download        string
	Generate        string
	UnusedCodeCount int
}

// recoveryPage is GET /accounts/2fa/recovery-codes/: the unused codes when
// they may be shown (ViewRecoveryCodes decides, as for the API), else
// their count.
func (p recoveryPages) recoveryPage(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	a, err := p.Store.ViewRecoveryCodes(r.Ctx(), r.Tenant.ID, u.ID, r.Tenant.Settings)
	if errors.Is(err, domain.ErrNotFound) {
		return r.Redirect(r.Path(pathIndex))
	}
	if err != nil {
		return err
	}
	return r.Render(fiber.StatusOK, "Recovery Codes", recoveryCodesView(recoveryView{Codes: a,
		Download: r.Path(pathRecoveryDown), Generate: r.Path(pathRecoveryGen)}))
}

// generatePage is GET /accounts/2fa/recovery-codes/generate/: a
// confirmation (new codes invalidate the old ones).
func (p recoveryPages) generatePage(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	f := accounts.Form{Action: r.Path(pathRecoveryGen), Submit: "Generate", CSRF: r.CSRF()}
	return r.Render(fiber.StatusOK, "Recovery Codes", accounts.FormPage("Recovery Codes",
		[]string{"You are about to generate a new set of recovery codes for your account. This action will invalidate your existing codes. Are you sure?"}, f))
}

// generatePost makes a new set, as POST account/authenticators/recovery-codes.
func (p recoveryPages) generatePost(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	if _, err := p.Store.GenerateRecoveryCodes(r.Ctx(), r.Tenant.ID, u.ID, r.Tenant.Settings); err != nil {
		return err
	}
	userChanged(r, u.ID)
	return r.Redirect(r.Path(pathRecovery))
}

// downloadCodes is GET /accounts/2fa/recovery-codes/download/: the unused
// codes as a text file (allauth's recovery_codes_download.txt), when they
// may be shown.
func (p recoveryPages) downloadCodes(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	a, err := p.Store.ViewRecoveryCodes(r.Ctx(), r.Tenant.ID, u.ID, r.Tenant.Settings)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && a.UnusedCodes == nil) {
		return r.Redirect(r.Path(pathRecovery))
	}
	if err != nil {
		return err
	}
	if err := r.Save(); err != nil {
		return err
	}
	c := r.C
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="recovery-codes.txt"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.SendString(strings.Join(a.UnusedCodes, "\n") + "\n")
}

// indexView is the two-factor overview.
type indexView struct {
	TOTP       bool
	TOTPActive bool
	Recovery   *domain.Authenticator
	HasRecov   bool
	Keys       []*domain.Authenticator
	WebAuthn   bool
	Activate   string
	Deactivate string
	Codes      string
	Generate   string
	KeysURL    string
}

// indexPage is GET /accounts/2fa/ (allauth's mfa_index): each supported
// type with its state and actions.
func (p recoveryPages) indexPage(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	list, err := p.Store.List(r.Ctx(), r.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	s := r.Tenant.Settings
	v := indexView{TOTP: totp(s), HasRecov: recovery(s), WebAuthn: containsType(s.MFASupportedTypes, domain.TypeWebAuthn),
		Activate: r.Path(pathTOTPActivate), Deactivate: r.Path(pathTOTPDeactive), Codes: r.Path(pathRecovery), Generate: r.Path(pathRecoveryGen),
		KeysURL: r.Path(pathKeys)}
	for _, a := range list {
		switch a.Type {
		case domain.TypeTOTP:
			v.TOTPActive = true
		case domain.TypeRecoveryCodes:
			v.Recovery = a
		case domain.TypeWebAuthn:
			v.Keys = append(v.Keys, a)
		}
	}
	return r.Render(fiber.StatusOK, "Two-Factor Authentication", indexPageView(v))
}

func containsType(types []string, typ string) bool {
	for _, t := range types {
		if t == typ {
			return true
		}
	}
	return false
}
