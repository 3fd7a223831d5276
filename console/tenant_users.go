package console

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/web"
)

// The tenant's own users: the people who sign in to the customer's app
// through the headless API. Viewers see them; admins and owners disable,
// enable and delete them, end their sessions and resend verification mail.

// userRow is one line of the users list.
type userRow = identity.UserSummary

// userSession is one of a user's live sessions.
type userSession = sessions.Live

// authenticatorRow is one MFA authenticator (its secrets are not read).
type authenticatorRow struct {
	ID        int64
	Type      string
	CreatedAt time.Time
	LastUsed  *time.Time
}

// socialRow is one connected third-party account.
type socialRow struct {
	Provider, UID   string
	CreatedAt, Last time.Time
}

func userLabel(id int64, email, username string) string {
	switch {
	case email != "":
		return email
	case username != "":
		return username
	}
	return fmt.Sprintf("user %d", id)
}

// isUserGone reports the identity store's answer for a user id the tenant
// does not hold.
func isUserGone(err error) bool { return errors.Is(err, identity.ErrUserNotFound) }

// usersView is the users list.
type usersView struct {
	Slug   string
	Rows   []userRow
	Q      string
	Before int64 // the cursor this page started at (0 = newest)
	Next   int64 // the cursor of the next page (0 = last page)
	Total  int
}

func (v usersView) pageURL(before int64) string {
	q := url.Values{}
	if v.Q != "" {
		q.Set("q", v.Q)
	}
	if before != 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	p := tenantPath(v.Slug, "users")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

func (h userPages) usersPage(r *request) error {
	if h.accounts == nil {
		return errNotFound
	}
	ctx := r.ctx()
	v := usersView{Slug: r.tenant.Slug, Q: strings.TrimSpace(r.c.Query("q"))}
	if len(v.Q) > 200 {
		v.Q = v.Q[:200]
	}
	v.Before, _ = strconv.ParseInt(r.c.Query("before"), 10, 64)
	v.Before = max(v.Before, 0)
	rows, err := h.admin.List(ctx, r.tenant.ID, v.Q, v.Before, pageSize+1)
	if err != nil {
		return err
	}
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		v.Next = rows[pageSize-1].ID
	}
	v.Rows = rows
	if v.Total, err = h.admin.Count(ctx, r.tenant.ID); err != nil {
		return err
	}
	return h.render(r, fiber.StatusOK, "Users", usersPage(v), active("tenants", "users"), crumbs(web.Crumb{Label: "Users"}))
}

// userView is one user's page.
type userView struct {
	Slug     string
	User     *identity.User
	Label    string
	Emails   []identity.EmailAddress
	Sessions []userSession
	// HasMFA and HasSocial tell whether second factors and connected
	// accounts are installed (the sections are left out otherwise).
	HasMFA, HasSocial bool
	Authenticators    []authenticatorRow
	Social            []socialRow
	CanEdit           bool
	CSRF              string
	// Confirm is what to type to delete the user.
	Confirm     string
	DeleteError string
	// CodeMode: the tenant verifies by code, which only the user can ask for.
	CodeMode bool
	// Locked: password logins are refused from addresses the user never
	// signed in from (identity.MaxConsecutiveFailures).
	Locked bool
	// Data are the editors of the user's profile and metadata; stored is
	// what they hold in the database.
	Data   []userDoc
	stored *identity.UserData
}

// tenantUser loads the user named by the route's :id in the route's tenant.
func (h userPages) tenantUser(r *request) (*identity.User, error) {
	if h.accounts == nil {
		return nil, errNotFound
	}
	id, err := strconv.ParseInt(r.c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, errNotFound
	}
	u, err := h.admin.User(r.ctx(), r.tenant.ID, id)
	if isUserGone(err) {
		return nil, errNotFound
	}
	return u, err
}

func (h userPages) userViewOf(r *request, u *identity.User) (userView, error) {
	ctx := r.ctx()
	t := r.tenant
	v := userView{Slug: t.Slug, User: u, Label: userLabel(u.ID, u.PrimaryEmail, u.Username), CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		CodeMode: t.Settings.EmailVerificationByCodeEnabled, Locked: u.FailedLogins >= identity.MaxConsecutiveFailures}
	v.Confirm = v.Label
	var err error
	if v.Emails, err = h.admin.Addresses(ctx, t.ID, u.ID); err != nil {
		return v, err
	}
	if v.Label == userLabel(u.ID, "", u.Username) && len(v.Emails) > 0 {
		v.Label, v.Confirm = v.Emails[0].Email, v.Emails[0].Email
	}
	if v.Sessions, err = h.admin.Sessions(ctx, t.ID, u.ID); err != nil {
		return v, err
	}
	if v.stored, err = h.accounts.Profiles.Data(ctx, t.ID, u.ID); err != nil {
		if isUserGone(err) {
			err = errNotFound
		}
		return v, err
	}
	v.Data = userDocs(v.stored, t.Settings.UserFields)
	v.HasMFA, v.HasSocial = h.tenantMFA != nil, h.accounts.Social != nil
	if v.HasMFA {
		list, err := h.tenantMFA.Summaries(ctx, t.ID, u.ID)
		if err != nil {
			return v, err
		}
		for _, a := range list {
			v.Authenticators = append(v.Authenticators, authenticatorRow{ID: a.ID, Type: a.Type, CreatedAt: a.CreatedAt, LastUsed: a.LastUsedAt})
		}
	}
	if v.HasSocial {
		list, err := h.accounts.Social.ListForUser(ctx, t.ID, u.ID)
		if err != nil {
			return v, err
		}
		for _, a := range list {
			v.Social = append(v.Social, socialRow{Provider: a.Provider, UID: a.UID, CreatedAt: a.CreatedAt, Last: a.LastLogin})
		}
		slices.SortFunc(v.Social, func(a, b socialRow) int {
			return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.UID, b.UID))
		})
	}
	return v, nil
}

func (h userPages) renderUser(r *request, status int, v userView) error {
	return h.render(r, status, v.Label, userPage(v), active("tenants", "users"),
		crumbs(web.Crumb{Label: "Users", Href: tenantPath(r.tenant.Slug, "users")}, web.Crumb{Label: v.Label}))
}

func (h userPages) userPage(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	v, err := h.userViewOf(r, u)
	if err != nil {
		return err
	}
	return h.renderUser(r, fiber.StatusOK, v)
}

func userPath(slug string, id int64) string {
	return tenantPath(slug, "users/"+strconv.FormatInt(id, 10))
}

// disableUser stops a user signing in (allauth's is_active) and ends every
// session they have, so access tokens and refresh tokens die with them.
func (h userPages) disableUser(r *request) error {
	return h.setUserActive(r, false)
}

// enableUser lets a disabled user sign in again.
func (h userPages) enableUser(r *request) error {
	return h.setUserActive(r, true)
}

func (h userPages) setUserActive(r *request, active bool) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	change := h.admin.Disable
	if active {
		change = h.admin.Enable
	}
	changed, err := change(r.ctx(), operator(r), r.tenant.ID, u.ID)
	if isUserGone(err) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	label := userLabel(u.ID, u.PrimaryEmail, u.Username)
	target := userPath(r.tenant.Slug, u.ID)
	if active {
		msg := label + " can sign in again."
		if !changed {
			msg = label + " was already enabled."
		}
		return h.redirectWith(r, target, Flash{Kind: "success", Message: msg})
	}
	msg := label + " is disabled: their sessions have ended and signing in is refused until you enable them."
	if !changed {
		msg = label + " was already disabled; any session left has ended."
	}
	return h.redirectWith(r, target, Flash{Kind: "success", Message: msg})
}

// endUserSessions signs a user out everywhere.
func (h userPages) endUserSessions(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	n, err := h.admin.EndSessions(r.ctx(), operator(r), r.tenant.ID, u.ID)
	if isUserGone(err) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return h.redirectWith(r, userPath(r.tenant.Slug, u.ID), Flash{Kind: "success",
		Message: fmt.Sprintf("Ended %d session%s of %s: they must sign in again.", n, plural(n), userLabel(u.ID, u.PrimaryEmail, u.Username))})
}

// deleteUser removes a user and everything they own, once the operator has
// typed the user's address (or username) to confirm.
func (h userPages) deleteUser(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	v, err := h.userViewOf(r, u)
	if err != nil {
		return err
	}
	if strings.TrimSpace(r.c.FormValue("confirm")) != v.Confirm {
		v.DeleteError = "Type " + v.Confirm + " exactly to confirm. Nothing was deleted."
		return h.renderUser(r, fiber.StatusUnprocessableEntity, v)
	}
	err = h.admin.Delete(r.ctx(), operator(r), r.tenant.ID, u.ID)
	if isUserGone(err) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "users"), Flash{Kind: "success",
		Message: v.Label + " was deleted with their addresses, sessions and sign-in methods."})
}

// sendVerification mails a new verification link for one of the user's
// unverified addresses.
func (h userPages) sendVerification(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	eid, err := strconv.ParseInt(r.c.Params("eid"), 10, 64)
	if err != nil || eid <= 0 {
		return errNotFound
	}
	ctx := r.ctx()
	target := userPath(r.tenant.Slug, u.ID)
	addr, err := h.admin.Address(ctx, r.tenant.ID, eid)
	if isUserGone(err) || (err == nil && addr.UserID != u.ID) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	err = h.admin.SendVerification(ctx, operator(r), r.tenant, u.ID, eid, h.apiBase(r.tenant.Slug))
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrConflict):
		return h.redirectWith(r, target, Flash{Kind: "info", Message: addr.Email + " is already verified: no mail was sent."})
	case errors.Is(err, identity.ErrVerificationByCode):
		return h.redirectWith(r, target, Flash{Kind: "error", Message: "No mail was sent: this tenant verifies addresses by code " +
			"(ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED), and a code belongs to the user's own session. The user asks for a new code in your app."})
	case errors.Is(err, identity.ErrRateLimited):
		return h.redirectWith(r, target, Flash{Kind: "error", Message: "No mail was sent: a verification mail went to " + addr.Email +
			" moments ago (the confirm_email rate limit). Try again in a few minutes."})
	case isUserGone(err):
		return errNotFound
	default:
		return err
	}
	return h.redirectWith(r, target, Flash{Kind: "success", Message: "A new verification link is on its way to " + addr.Email + "."})
}

// authenticatorName names an authenticator type as a person would.
func authenticatorName(t string) string {
	switch t {
	case "totp":
		return "Authenticator app (TOTP)"
	case "recovery_codes":
		return "Recovery codes"
	case "webauthn":
		return "Security key or passkey (WebAuthn)"
	}
	return t
}

// resetMFA removes a user's second factors (a lost device): they sign in
// with their password (and any verification) alone and set MFA up again.
// Their sessions end too.
func (h userPages) resetMFA(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	n, err := h.admin.ResetMFA(r.ctx(), operator(r), r.tenant.ID, u.ID)
	if isUserGone(err) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return h.redirectWith(r, userPath(r.tenant.Slug, u.ID), Flash{Kind: "success",
		Message: fmt.Sprintf("%s: %d authenticator%s removed and every session ended.", userLabel(u.ID, u.PrimaryEmail, u.Username), n, plural(n))})
}
