package mfa

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
)

// List handles GET account/authenticators.
func (h *Handlers) List(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	list, err := h.Store.List(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, authenticatorsData(list), nil)
}

// canAdd answers 409 with errors when the user may not add an authenticator
// (MFA_ALLOW_UNVERIFIED_EMAIL off and no verified address).
func (h *Handlers) canAdd(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	addrs, err := h.Accounts.Store.EmailAddresses(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	unverified := slices.ContainsFunc(addrs, func(e identity.EmailAddress) bool { return !e.Verified })
	err = domain.CheckCanAdd(t.Settings, unverified)
	var me *domain.Error
	if errors.As(err, &me) {
		return conflict(me.Code, me.Message)
	}
	return err
}

// TOTPStatus handles GET account/authenticators/totp: the active TOTP, or
// 404 with a fresh secret (kept sealed in the session) and its otpauth URL.
func (h *Handlers) TOTPStatus(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	a, err := h.Store.ByType(c.UserContext(), t.ID, sess.State.UserID, domain.TypeTOTP)
	if err == nil {
		return h.Respond(c, fiber.StatusOK, a.Data(false), nil)
	}
	if !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	if err := h.canAdd(c); err != nil {
		return err
	}
	user, err := h.Accounts.Store.User(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	secret := domain.NewTOTPSecret()
	sealed, err := h.Sealer.Seal([]byte(secret), "tenant:"+t.ID.String()+":pending-totp")
	if err != nil {
		return err
	}
	sess.State.PendingTOTP = sealed
	sess.Changed()
	label := user.PrimaryEmail
	if label == "" {
		label = user.Username
	}
	return h.Respond(c, fiber.StatusNotFound, nil, map[string]any{
		"secret": secret, "totp_url": domain.TOTPURL(secret, label, t.Name, t.Settings)})
}

// ActivateTOTP handles POST account/authenticators/totp ({code}).
func (h *Handlers) ActivateTOTP(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	if err := h.canAdd(c); err != nil {
		return err
	}
	code, err := parseCode(c)
	if err != nil {
		return err
	}
	secret := ""
	if sess.State.PendingTOTP != "" {
		if pt, err := h.Sealer.Open(sess.State.PendingTOTP, "tenant:"+t.ID.String()+":pending-totp"); err == nil {
			secret = string(pt)
		}
	}
	if secret == "" {
		return api.FieldError("code", domain.CodeIncorrectCode, "Incorrect code.")
	}
	a, err := h.Store.ActivateTOTP(c.UserContext(), t.ID, sess.State.UserID, secret, code, t.Settings)
	if err != nil {
		return err
	}
	sess.State.PendingTOTP = ""
	sess.Changed()
	if _, err := h.ensureRecoveryCodes(c); err != nil {
		return err
	}
	h.userChanged(c)
	return h.Respond(c, fiber.StatusOK, a.Data(false), nil)
}

// ensureRecoveryCodes generates recovery codes with the first authenticator
// when the tenant supports them, as allauth does.
func (h *Handlers) ensureRecoveryCodes(c *fiber.Ctx) (bool, error) {
	t, sess := api.Tenant(c), api.Session(c)
	if !containsType(t.Settings.MFASupportedTypes, domain.TypeRecoveryCodes) {
		return false, nil
	}
	a, err := h.Store.EnsureRecoveryCodes(c.UserContext(), t.ID, sess.State.UserID, t.Settings)
	return a != nil, err
}

func containsType(types []string, typ string) bool {
	for _, t := range types {
		if t == typ {
			return true
		}
	}
	return false
}

// DeactivateTOTP handles DELETE account/authenticators/totp.
func (h *Handlers) DeactivateTOTP(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	if _, err := h.Store.DeactivateTOTP(c.UserContext(), t.ID, sess.State.UserID); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	h.userChanged(c)
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// RecoveryCodes handles GET account/authenticators/recovery-codes.
func (h *Handlers) RecoveryCodes(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	a, err := h.Store.ViewRecoveryCodes(c.UserContext(), t.ID, sess.State.UserID, t.Settings)
	if errors.Is(err, domain.ErrNotFound) {
		return api.RespondStatus(c, fiber.StatusNotFound)
	}
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, a.Data(a.UnusedCodes != nil), nil)
}

// RegenerateRecoveryCodes handles POST account/authenticators/recovery-codes.
func (h *Handlers) RegenerateRecoveryCodes(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	a, err := h.Store.GenerateRecoveryCodes(c.UserContext(), t.ID, sess.State.UserID, t.Settings)
	if err != nil {
		return err
	}
	h.userChanged(c)
	return h.Respond(c, fiber.StatusOK, a.Data(true), nil)
}

// userChanged drops the cached summaries of the session user's sessions
// after a change to their authenticators: the tenant's expressions read
// the MFA types in use (user.mfa). Best effort: the change has committed.
func (h *Handlers) userChanged(c *fiber.Ctx) {
	t, sess := api.Tenant(c), api.Session(c)
	_ = h.Accounts.Sessions.UserChanged(c.UserContext(), t.ID, sess.State.UserID)
}
