package mfa

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
)

// WebAuthnCreationOptions handles GET account/authenticators/webauthn
// (?passwordless: a passkey, resident key and user verification required).
func (h webAuthnHandlers) WebAuthnCreationOptions(c *fiber.Ctx) error {
	sess := api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	if err := h.canAdd(c); err != nil {
		return err
	}
	cfg, err := h.relyingParty(c)
	if err != nil {
		return err
	}
	user, err := h.user(c, sess.State.UserID)
	if err != nil {
		return err
	}
	_, passwordless := c.Queries()["passwordless"]
	opts, state, err := domain.BeginRegistration(cfg, user, passwordless)
	if err != nil {
		return err
	}
	sess.KeepCeremony(ceremonyAdd, state)
	return h.Respond(c, fiber.StatusOK, options("creation_options", opts), nil)
}

// AddWebAuthn handles POST account/authenticators/webauthn ({name, credential}).
func (h webAuthnHandlers) AddWebAuthn(c *fiber.Ctx) error {
	sess := api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	if err := h.canAdd(c); err != nil {
		return err
	}
	a, err := h.register(c, sess.State.UserID, ceremonyAdd)
	if err != nil {
		return err
	}
	generated, err := h.ensureRecoveryCodes(c)
	if err != nil {
		return err
	}
	h.userChanged(c)
	return h.Respond(c, fiber.StatusOK, a.Data(false), map[string]any{"recovery_codes_generated": generated})
}

// RenameWebAuthn handles PUT account/authenticators/webauthn ({id, name}).
func (h webAuthnHandlers) RenameWebAuthn(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	id, name, err := parseRename(c)
	if err != nil {
		return err
	}
	a, err := h.Store.RenameWebAuthn(c.UserContext(), t.ID, sess.State.UserID, id, name)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, a.Data(false), nil)
}

// DeleteWebAuthn handles DELETE account/authenticators/webauthn
// ({authenticators: [id, ...]}).
func (h webAuthnHandlers) DeleteWebAuthn(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.recent(c); err != nil {
		return err
	}
	list, err := parseDelete(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.DeleteWebAuthn(c.UserContext(), t.ID, sess.State.UserID, list); err != nil {
		return err
	}
	h.userChanged(c)
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// register finishes a registration ceremony kept for purpose: {name?,
// credential} from the body, verified against the tenant's relying party.
// The ceremony is spent either way.
func (h webAuthnHandlers) register(c *fiber.Ctx, userID int64, purpose string) (*domain.Authenticator, error) {
	t, sess := api.Tenant(c), api.Session(c)
	in, err := parseRegistration(c)
	if err != nil {
		return nil, err
	}
	cfg, err := h.relyingParty(c)
	if err != nil {
		return nil, err
	}
	user, err := h.user(c, userID)
	if err != nil {
		return nil, err
	}
	a, err := h.Store.FinishRegistration(c.UserContext(), t.ID, cfg, user, sess.CeremonyState(purpose), in.credential, in.name)
	if err != nil {
		if serr := h.Accounts.Sessions.Save(c.UserContext(), sess, 0); serr != nil {
			return nil, serr
		}
		return nil, err
	}
	return a, nil
}

// requestOptions begins an assertion ceremony for a user (0: discoverable).
func (h webAuthnHandlers) requestOptions(c *fiber.Ctx, purpose string, userID int64) error {
	sess := api.Session(c)
	cfg, err := h.relyingParty(c)
	if err != nil {
		return err
	}
	var user *domain.WebAuthnUser
	if userID != 0 {
		if user, err = h.user(c, userID); err != nil {
			return err
		}
	}
	opts, state, err := domain.BeginLogin(cfg, user)
	if err != nil {
		return err
	}
	sess.KeepCeremony(purpose, state)
	return h.Respond(c, fiber.StatusOK, options("request_options", opts), nil)
}

// finishAssertion verifies a credential against the session's ceremony.
func (h webAuthnHandlers) finishAssertion(c *fiber.Ctx, purpose string, userID int64) (*domain.Authenticator, error) {
	t, sess := api.Tenant(c), api.Session(c)
	cred, err := parseAssertion(c)
	if err != nil {
		return nil, err
	}
	cfg, err := h.relyingParty(c)
	if err != nil {
		return nil, err
	}
	// A named user's assertion counts against their second-factor limit,
	// as allauth's AuthenticateWebAuthnForm. A passkey login names its
	// user only in the assertion itself: counting against that would let
	// anyone lock a user's passkey and second step out by posting forged
	// assertions with their user handle, and a signature cannot be guessed
	// anyway, so it is left to the per-IP limits.
	var try *identity.SecondFactorTry
	if userID != 0 {
		if try, err = h.tryFactor(c, userID, identity.FactorWebAuthn, purpose == ceremonyReauthenticate); err != nil {
			return nil, err
		}
	}
	state := sess.CeremonyState(purpose)
	a, err := h.Store.FinishLogin(c.UserContext(), t.ID, cfg, state, cred, userID)
	if err != nil {
		// The ceremony is spent either way.
		if serr := h.Accounts.Sessions.Save(c.UserContext(), sess, 0); serr != nil {
			try.Abort(c.UserContext())
			return nil, serr
		}
	}
	if err := h.endFactor(c, try, err); err != nil {
		return nil, err
	}
	return a, nil
}

// WebAuthnAuthenticateOptions handles GET auth/webauthn/authenticate.
func (h webAuthnHandlers) WebAuthnAuthenticateOptions(c *fiber.Ctx) error {
	login := h.Accounts.Pipeline.PendingStage(api.Tenant(c), api.Session(c))
	if login == nil || login.Stage != identity.StageMFAAuthenticate {
		return base.RespondAuth(c, h.Headless, fiber.StatusUnauthorized)
	}
	return h.requestOptions(c, ceremonyAuthenticate, login.UserID)
}

// WebAuthnAuthenticate handles POST auth/webauthn/authenticate ({credential}).
func (h webAuthnHandlers) WebAuthnAuthenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.Pipeline.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFAAuthenticate {
		return base.RespondAuth(c, h.Headless, fiber.StatusUnauthorized)
	}
	a, err := h.finishAssertion(c, ceremonyAuthenticate, login.UserID)
	if err != nil {
		return err
	}
	h.Accounts.Pipeline.RecordMethod(sess, record(a))
	return h.continueLogin(c, identity.StageMFAAuthenticate)
}

// WebAuthnReauthenticateOptions handles GET auth/webauthn/reauthenticate.
func (h webAuthnHandlers) WebAuthnReauthenticateOptions(c *fiber.Ctx) error {
	sess := api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	return h.requestOptions(c, ceremonyReauthenticate, sess.State.UserID)
}

// WebAuthnReauthenticate handles POST auth/webauthn/reauthenticate.
func (h webAuthnHandlers) WebAuthnReauthenticate(c *fiber.Ctx) error {
	sess := api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	a, err := h.finishAssertion(c, ceremonyReauthenticate, sess.State.UserID)
	if err != nil {
		return err
	}
	rec := record(a)
	rec.Reauthenticated = true
	h.Accounts.Pipeline.RecordMethod(sess, rec)
	return base.RespondAuth(c, h.Headless)
}

// PasskeyLoginOptions handles GET auth/webauthn/login: options for a
// discoverable credential (no user named).
func (h webAuthnHandlers) PasskeyLoginOptions(c *fiber.Ctx) error {
	if api.Session(c).Authenticated() {
		return api.ErrConflict
	}
	return h.requestOptions(c, ceremonyLogin, 0)
}

// PasskeyLogin handles POST auth/webauthn/login: the passkey names the
// user; no MFA stage follows.
func (h webAuthnHandlers) PasskeyLogin(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess.Authenticated() {
		return api.ErrConflict
	}
	a, err := h.finishAssertion(c, ceremonyLogin, 0)
	if err != nil {
		return err
	}
	rec := record(a)
	rec.Passwordless = true
	if err := h.Accounts.Pipeline.LoginWithPasskey(c.UserContext(), t, sess, a.UserID, rec, api.Request(c)); err != nil {
		return err
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return base.RespondAuth(c, h.Headless)
}

// PasskeySignupStart handles POST auth/webauthn/signup: signup fields, no
// password; the signup continues with mfa_signup_webauthn (after
// verify_email when that applies).
func (h webAuthnHandlers) PasskeySignupStart(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess.Authenticated() {
		return api.ErrConflict
	}
	in, err := parsePasskeySignup(c, t.Settings)
	if err != nil {
		return err
	}
	if err := h.Accounts.Signups.Signup(c.UserContext(), t, sess, in, api.Request(c)); err != nil {
		return err
	}
	return base.RespondAuth(c, h.Headless)
}

// PasskeySignupOptions handles GET auth/webauthn/signup: creation options
// for the new user's passkey, once mfa_signup_webauthn is pending.
func (h webAuthnHandlers) PasskeySignupOptions(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.Pipeline.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFASignupWebAuthn {
		return api.ErrConflict
	}
	cfg, err := h.relyingParty(c)
	if err != nil {
		return err
	}
	user, err := h.user(c, login.UserID)
	if err != nil {
		return err
	}
	opts, state, err := domain.BeginRegistration(cfg, user, true)
	if err != nil {
		return err
	}
	sess.KeepCeremony(ceremonySignup, state)
	return h.Respond(c, fiber.StatusOK, options("creation_options", opts), nil)
}

// PasskeySignupFinish handles PUT auth/webauthn/signup ({name?, credential}).
func (h webAuthnHandlers) PasskeySignupFinish(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.Pipeline.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFASignupWebAuthn {
		return api.ErrConflict
	}
	a, err := h.register(c, login.UserID, ceremonySignup)
	if err != nil {
		return err
	}
	rec := record(a)
	rec.Passwordless = true
	h.Accounts.Pipeline.RecordMethod(sess, rec)
	return h.continueLogin(c, identity.StageMFASignupWebAuthn)
}
