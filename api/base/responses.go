package base

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// accountConfig is allauth's config "account" object.
type accountConfig struct {
	LoginMethods                   []string `json:"login_methods"`
	IsOpenForSignup                bool     `json:"is_open_for_signup"`
	EmailVerificationByCodeEnabled bool     `json:"email_verification_by_code_enabled"`
	LoginByCodeEnabled             bool     `json:"login_by_code_enabled"`
	PasswordResetByCodeEnabled     bool     `json:"password_reset_by_code_enabled"`
	// AuthenticationMethod is allauth's legacy field, absent for phone-only login.
	AuthenticationMethod string `json:"authentication_method,omitempty"`
}

type mfaConfig struct {
	SupportedTypes      []string `json:"supported_types"`
	PasskeyLoginEnabled bool     `json:"passkey_login_enabled"`
}

type socialConfig struct {
	Providers []providers.Data `json:"providers"`
}

type usersessionsConfig struct {
	TrackActivity bool `json:"track_activity"`
}

type configResponse struct {
	Account       accountConfig       `json:"account"`
	SocialAccount *socialConfig       `json:"socialaccount,omitempty"`
	MFA           *mfaConfig          `json:"mfa,omitempty"`
	UserSessions  *usersessionsConfig `json:"usersessions,omitempty"`
}

func configData(s *tenants.Settings, client string) configResponse {
	out := configResponse{Account: accountConfig{
		LoginMethods:                   nonNilStrings(s.LoginMethods),
		IsOpenForSignup:                s.SignupOpen,
		EmailVerificationByCodeEnabled: s.EmailVerificationByCodeEnabled,
		LoginByCodeEnabled:             s.LoginByCodeEnabled,
		PasswordResetByCodeEnabled:     s.PasswordResetByCodeEnabled,
		AuthenticationMethod:           tenants.LegacyAuthenticationMethod(s.LoginMethods),
	}}
	if slices.Contains(s.Apps, "socialaccount") {
		out.SocialAccount = &socialConfig{Providers: providers.ForClient(s.ProviderApps(), client)}
	}
	if slices.Contains(s.Apps, "mfa") {
		out.MFA = &mfaConfig{SupportedTypes: nonNilStrings(s.MFASupportedTypes), PasskeyLoginEnabled: s.MFAPasskeyLoginEnabled}
	}
	if slices.Contains(s.Apps, "usersessions") {
		out.UserSessions = &usersessionsConfig{TrackActivity: s.UserSessionsTrackActivity}
	}
	return out
}

// UserView is allauth's serialised user with the tenant's serializer keys
// (userdata.View).
type UserView = userdata.View

// UserData is allauth's serialised user, with the keys of the tenant's
// HALLPASS_USER_SERIALIZER (read from Postgres; none, and no read, when the
// tenant has no serializer).
func UserData(c *fiber.Ctx, h *api.Headless, u *identity.User) (UserView, error) {
	t := api.Tenant(c)
	d := summaryData(u.Summary(), t.Settings)
	if t.Settings.UserSerializer.Empty() {
		return d, nil
	}
	extra, err := h.Accounts.Profiles.Serialize(c.UserContext(), t, u.ID)
	d.Extra = extra
	return d, err
}

// summaryData is UserData from the summary cached with a session, without
// the serializer's keys (sessionView adds them).
func summaryData(u *sessions.User, s *tenants.Settings) UserView {
	d := UserView{ID: u.ID, Display: u.Display(), HasUsablePassword: u.UsablePassword, Email: u.PrimaryEmail}
	if s.UserModelUsernameField != "" {
		d.Username = u.Username
	}
	return d
}

// sessionView is UserData for a session's user summary. The serializer's
// keys are memoized on the summary's cache entry (sessions.User.Memo) for
// the tenant's settings version: a warm GET auth/session evaluates nothing
// and reads nothing from Postgres, and every change to what expressions
// read drops the entry (sessions.Store.UserChanged). Expressions that read
// `now` are evaluated on every request. One input is left out on purpose:
// a login sets user.last_login without dropping the user's other sessions'
// entries (that would cost every login a round of invalidations), so there
// a memoized last_login may lag by at most the local entry's life (a
// minute); the session that logged in sees the new value.
func sessionView(c *fiber.Ctx, h *api.Headless, t *tenants.Tenant, u *sessions.User) (UserView, error) {
	d := summaryData(u, t.Settings)
	ex := t.Settings.UserSerializer
	if ex.Empty() {
		return d, nil
	}
	key := sessions.MemoKey{Version: t.SettingsVersion, Slug: t.Slug, Name: t.Name}
	if extra, ok := u.Memo(key); ok {
		d.Extra = extra
		return d, nil
	}
	extra, err := h.Accounts.Profiles.Serialize(c.UserContext(), t, u.ID)
	if err != nil {
		return d, err
	}
	if !ex.UsesNow() {
		u.SetMemo(key, extra)
	}
	d.Extra = extra
	return d, nil
}

// authData is the data of an authenticated session's response (keys in
// encoded-map order, as UserView).
type authData struct {
	Methods []sessions.AuthRecord `json:"methods"`
	User    UserView              `json:"user"`
}

// sessionUser returns what the authentication response shows of the
// session's user: on a GET, the summary read with the session (its Redis
// entry is dropped by every change to the user, see
// sessions.Store.UserChanged), so checking a session costs no Postgres
// read; otherwise, and when the session carries none, the user as Postgres
// has it now (the request may just have changed it).
func sessionUser(c *fiber.Ctx, h *api.Headless, t *tenants.Tenant, sess *sessions.Session) (*sessions.User, error) {
	if u := sess.User(); u != nil && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) {
		return u, nil
	}
	user, err := h.Accounts.Store.User(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return nil, err
	}
	return user.Summary(), nil
}

// RespondAuth writes allauth's authentication response for the request's
// session: 200 with the user and methods when logged in; otherwise 401 (or
// status, e.g. 410) with the flows a frontend can take next.
func RespondAuth(c *fiber.Ctx, h *api.Headless, status ...int) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess != nil && sess.Authenticated() && len(status) == 0 {
		user, err := sessionUser(c, h, t, sess)
		if err != nil {
			if errors.Is(err, identity.ErrUserNotFound) {
				_ = h.Accounts.Pipeline.Logout(c.UserContext(), t, sess)
				return RespondAuth(c, h)
			}
			return err
		}
		if !user.Active {
			_ = h.Accounts.Pipeline.Logout(c.UserContext(), t, sess)
			return RespondAuth(c, h)
		}
		meta := map[string]any{"is_authenticated": true}
		if h.UsesJWT(c, t) && api.StartUser(c) != sess.State.UserID {
			// Tokens go out on the response where the user became
			// authenticated; the session must exist before its refresh tokens.
			if err := h.Accounts.Sessions.Save(c.UserContext(), sess, api.LoginTimeout(t.Settings)); err != nil {
				return err
			}
			access, refresh, err := h.Tokens.Issue(c.UserContext(), t, api.TenantBaseURL(c), sess)
			if err != nil {
				return err
			}
			meta["access_token"], meta["refresh_token"] = access, refresh
		}
		view, err := sessionView(c, h, t, user)
		if err != nil {
			return err
		}
		return h.Respond(c, fiber.StatusOK, authData{User: view, Methods: methods(sess)}, meta)
	}
	code := fiber.StatusUnauthorized
	if len(status) > 0 {
		code = status[0]
	}
	var isAuth any = false
	if code == fiber.StatusGone {
		isAuth = nil // allauth renders `user and user.is_authenticated` with no user
	}
	return h.Respond(c, code, map[string]any{"flows": flows(c, h)}, map[string]any{"is_authenticated": isAuth})
}

// RespondReauth writes allauth's "reauthentication required" response: 401
// with the user, the methods, and the flows that can reauthenticate.
func RespondReauth(c *fiber.Ctx, h *api.Headless) error {
	t, sess := api.Tenant(c), api.Session(c)
	user, err := h.Accounts.Store.User(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	view, err := UserData(c, h, user)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusUnauthorized, map[string]any{"user": view, "methods": methods(sess),
		"flows": reauthenticationFlows(c, h, t, sess, user)}, map[string]any{"is_authenticated": true})
}

// methods are the session's authentication records ([] when none).
func methods(sess *sessions.Session) []sessions.AuthRecord {
	if sess.State.Methods == nil {
		return []sessions.AuthRecord{}
	}
	return sess.State.Methods
}
