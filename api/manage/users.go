package manage

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/sessions"
)

// A tenant's users: /tenants/{slug}/users. A user's {id} is the number the
// headless API shows as user.id; an id that is not a positive number, or is
// another tenant's user's, answers 404 exactly as a missing user does.

// UserOut is a user as the API shows it.
type UserOut struct {
	// ID is the user's id in its tenant: the headless API's user.id.
	ID int64 `json:"id"`
	// Username is null when the tenant's users have none.
	Username          *string        `json:"username"`
	Active            bool           `json:"active"`
	Emails            []UserEmailOut `json:"emails"`
	CreatedAt         time.Time      `json:"created_at"`
	LastLoginAt       *time.Time     `json:"last_login_at"`
	HasUsablePassword bool           `json:"has_usable_password"`
	// MFA lists the user's authenticator types (recovery_codes, totp,
	// webauthn).
	MFA []string `json:"mfa"`
}

// UserEmailOut is one address of a user.
type UserEmailOut struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

// UserIn creates a user. Give password (checked by the tenant's password
// rules and hashed) or password_hash (any format Hallpass verifies: argon2id
// and argon2i PHC, bcrypt, Django's pbkdf2_sha256, pbkdf2_sha1, argon2,
// bcrypt_sha256 and bcrypt; "!"… is an unusable password), or neither (an
// unusable password).
type UserIn struct {
	Username *string       `json:"username,omitempty"`
	Emails   []UserEmailIn `json:"emails"`
	Password *string       `json:"password,omitempty"`
	// PasswordHash is an existing hash, stored as given.
	PasswordHash *string `json:"password_hash,omitempty"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
}

// UserEmailIn is one address of a created user; at most one is primary
// (none: the first is).
type UserEmailIn struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// UserPatch changes a user; absent fields stay. active false is a disable
// (the user's sessions end everywhere), true an enable.
type UserPatch struct {
	Username *string `json:"username,omitempty"`
	Active   *bool   `json:"active,omitempty"`
}

// SessionOut is one of a user's live sessions.
type SessionOut struct {
	ID         int64     `json:"id"`
	Client     string    `json:"client"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// AuthenticatorOut is one of a user's second factors (its secrets are
// never shown).
type AuthenticatorOut struct {
	Type       string     `json:"type"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// SessionsEnded says how many live sessions an operation ended.
type SessionsEnded struct {
	Ended int `json:"ended"`
}

// AuthenticatorsRemoved says how many authenticators an MFA reset removed.
type AuthenticatorsRemoved struct {
	Removed int `json:"removed"`
}

// VerificationMailIn names the address to verify; without it (or with no
// body), the primary address if unverified, else the first unverified one.
type VerificationMailIn struct {
	Email string `json:"email,omitempty"`
}

// VerificationMailOut names the address the verification mail went to.
type VerificationMailOut struct {
	Email string `json:"email"`
}

func (a *API) userOperations() []Operation {
	const users, user = "/tenants/{slug}/users", "/tenants/{slug}/users/{id}"
	return []Operation{
		{ID: "listUsers", Method: http.MethodGet, Path: users, Scope: apikeys.UsersRead,
			Summary: "List users (newest first; filters email, username, query, active, created_after, created_before)",
			Status:  http.StatusOK, Response: Page[UserOut]{}, Handle: a.listUsers,
			Query: []Param{
				{Name: "email", Description: "Only users holding this address, compared as sign-in compares addresses."},
				{Name: "username", Description: "Only the user with this username, compared as sign-in compares usernames."},
				{Name: "query", Description: "Only users whose username or one of whose addresses contains this text (case-insensitive)."},
				{Name: "active", Type: false, Description: "Only active (true) or disabled (false) users."},
				{Name: "created_after", Type: time.Time{}, Description: "Only users created at or after this time (RFC 3339)."},
				{Name: "created_before", Type: time.Time{}, Description: "Only users created strictly before this time (RFC 3339)."},
			}},
		{ID: "createUser", Method: http.MethodPost, Path: users, Scope: apikeys.UsersWrite,
			Summary: "Create a user (with a password, an existing password hash, or none)", Request: UserIn{},
			Status: http.StatusCreated, Response: UserOut{}, Handle: a.createUser},
		{ID: "getUser", Method: http.MethodGet, Path: user, Scope: apikeys.UsersRead,
			Summary: "Get a user", Status: http.StatusOK, Response: UserOut{}, Handle: a.getUser},
		{ID: "updateUser", Method: http.MethodPatch, Path: user, Scope: apikeys.UsersWrite,
			Summary: "Change a user's username or active state", Request: UserPatch{},
			Status: http.StatusOK, Response: UserOut{}, Handle: a.updateUser},
		{ID: "deleteUser", Method: http.MethodDelete, Path: user, Scope: apikeys.UsersWrite,
			Summary: "Delete a user with everything of theirs", Status: http.StatusNoContent, Handle: a.deleteUser},
		{ID: "disableUser", Method: http.MethodPost, Path: user + "/disable", Scope: apikeys.UsersWrite,
			Summary: "Disable a user: they cannot sign in, and their sessions end everywhere",
			Status:  http.StatusOK, Response: UserOut{}, Handle: a.disableUser},
		{ID: "enableUser", Method: http.MethodPost, Path: user + "/enable", Scope: apikeys.UsersWrite,
			Summary: "Enable a disabled user", Status: http.StatusOK, Response: UserOut{}, Handle: a.enableUser},
		{ID: "listUserSessions", Method: http.MethodGet, Path: user + "/sessions", Scope: apikeys.UsersRead,
			Summary: "List a user's live sessions", Status: http.StatusOK, Response: Page[SessionOut]{}, Handle: a.listUserSessions},
		{ID: "endUserSessions", Method: http.MethodDelete, Path: user + "/sessions", Scope: apikeys.SessionsWrite,
			Summary: "End all of a user's sessions", Status: http.StatusOK, Response: SessionsEnded{}, Handle: a.endUserSessions},
		{ID: "endUserSession", Method: http.MethodDelete, Path: user + "/sessions/{session_id}", Scope: apikeys.SessionsWrite,
			Summary: "End one of a user's sessions", Status: http.StatusNoContent, Handle: a.endUserSession},
		{ID: "listUserAuthenticators", Method: http.MethodGet, Path: user + "/authenticators", Scope: apikeys.UsersRead,
			Summary: "List a user's second factors", Status: http.StatusOK, Response: Page[AuthenticatorOut]{},
			Handle: a.listUserAuthenticators},
		{ID: "resetUserAuthenticators", Method: http.MethodDelete, Path: user + "/authenticators", Scope: apikeys.UsersWrite,
			Summary: "Remove all of a user's second factors (reset MFA); their sessions end",
			Status:  http.StatusOK, Response: AuthenticatorsRemoved{}, Handle: a.resetUserAuthenticators},
		{ID: "sendUserVerificationMail", Method: http.MethodPost, Path: user + "/verification-mail", Scope: apikeys.UsersWrite,
			Summary: "Mail a verification link for one of a user's unverified addresses", Request: VerificationMailIn{}, OptionalBody: true,
			Status: http.StatusAccepted, Response: VerificationMailOut{}, Handle: a.sendUserVerificationMail},
	}
}

// errNoSuchUser is the answer for a missing user, another tenant's, and an
// id that is not one.
var errNoSuchUser = NotFound("user")

// pathID reads a positive integer path parameter; anything else is
// notFound (no such resource can have that id).
func pathID(c *fiber.Ctx, name string, notFound error) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id < 1 {
		return 0, notFound
	}
	return id, nil
}

// userProblem turns the domain's refusals into the API's problems: a
// missing user is 404; a taken address or username 409 naming the field;
// other rule violations 422 naming theirs.
func userProblem(err error) error {
	var errs identity.Errors
	var one *identity.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, identity.ErrUserNotFound):
		return errNoSuchUser
	case errors.Is(err, sessions.ErrNotFound):
		return NotFound("session")
	case errors.Is(err, identity.ErrVerificationByCode):
		return &Error{Status: http.StatusConflict, Code: "verification_by_code",
			Detail: "The tenant verifies addresses by code, within the user's own session: no mail can be sent for them."}
	case errors.Is(err, identity.ErrNoMFA):
		return &Error{Status: http.StatusConflict, Code: "mfa_unavailable", Detail: "Second factors are not installed."}
	case errors.As(err, &errs):
	case errors.As(err, &one):
		errs = identity.Errors{one}
	default:
		return err
	}
	out := Invalid("The user is not valid.")
	for _, e := range errs {
		field := "/" + e.Param
		if e.Param == "" {
			field = ""
		}
		out.Fields = append(out.Fields, FieldError{Field: field, Code: e.Code, Message: e.Message})
		if e.Code == "email_taken" || e.Code == "username_taken" {
			out.Status, out.Code, out.Detail = http.StatusConflict, e.Code, e.Message
		}
	}
	return out
}

func userOut(acc *identity.Account, types []string) UserOut {
	out := UserOut{ID: acc.ID, Active: acc.IsActive, Emails: make([]UserEmailOut, 0, len(acc.Emails)),
		CreatedAt: acc.DateJoined.UTC(), HasUsablePassword: acc.HasUsablePassword(), MFA: types}
	if acc.Username != "" {
		name := acc.Username
		out.Username = &name
	}
	if acc.LastLogin != nil {
		at := acc.LastLogin.UTC()
		out.LastLoginAt = &at
	}
	for _, e := range acc.Emails {
		out.Emails = append(out.Emails, UserEmailOut{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
	}
	if out.MFA == nil {
		out.MFA = []string{}
	}
	return out
}

// answerUser answers with one user as it is now.
func (a *API) answerUser(c *fiber.Ctx, r *Request, status int, userID int64) error {
	acc, err := a.cfg.Users.Account(c.UserContext(), r.Tenant.ID, userID)
	if err != nil {
		return userProblem(err)
	}
	types, err := a.cfg.MFA.Types(c.UserContext(), r.Tenant.ID, userID)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(userOut(acc, types))
}

// userCursor is a users list's position: the last id shown.
type userCursor struct {
	Before int64 `json:"b"`
}

func (a *API) listUsers(c *fiber.Ctx, r *Request) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	f := identity.UserFilter{Email: c.Query("email"), Username: c.Query("username"), Query: c.Query("query")}
	var bad []FieldError
	if v := c.Query("active"); v != "" {
		if v != "true" && v != "false" {
			bad = append(bad, FieldError{Field: "active", Code: "invalid", Message: "active is true or false"})
		} else {
			active := v == "true"
			f.Active = &active
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		if v := c.Query(p.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad = append(bad, FieldError{Field: p.name, Code: "invalid", Message: p.name + " is an RFC 3339 time (2026-01-02T15:04:05Z)"})
				continue
			}
			*p.dst = &at
		}
	}
	if len(bad) > 0 {
		return Invalid("A filter is not valid.", bad...)
	}
	scope := "listUsers:" + r.Tenant.ID.String()
	var pos userCursor
	if cur := c.Query("cursor"); cur != "" {
		if err := a.cursors.decode(scope, cur, &pos); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	found, err := a.cfg.Users.Find(ctx, r.Tenant.ID, f, pos.Before, limit+1)
	if err != nil {
		return err
	}
	page := Page[UserOut]{Items: make([]UserOut, 0, min(len(found), limit))}
	if len(found) > limit {
		found = found[:limit]
		if page.NextCursor, err = a.cursors.encode(scope, userCursor{Before: found[len(found)-1].ID}); err != nil {
			return err
		}
	}
	ids := make([]int64, len(found))
	for i := range found {
		ids[i] = found[i].ID
	}
	types, err := a.cfg.MFA.TypesOf(ctx, r.Tenant.ID, ids)
	if err != nil {
		return err
	}
	for i := range found {
		page.Items = append(page.Items, userOut(&found[i], types[found[i].ID]))
	}
	return c.JSON(page)
}

func (a *API) createUser(c *fiber.Ctx, r *Request) error {
	var in UserIn
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	n := identity.NewAccount{Emails: make([]identity.NewAccountEmail, 0, len(in.Emails))}
	if in.Username != nil {
		n.Username = *in.Username
	}
	for _, e := range in.Emails {
		n.Emails = append(n.Emails, identity.NewAccountEmail{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
	}
	if in.Password != nil {
		n.Password, n.HasPassword = *in.Password, true
	}
	if in.PasswordHash != nil {
		n.PasswordHash, n.HasPasswordHash = *in.PasswordHash, true
	}
	n.Inactive = in.Active != nil && !*in.Active
	acc, err := a.cfg.Users.Create(c.UserContext(), r.Actor(c), r.Tenant, n)
	if err != nil {
		return userProblem(err)
	}
	c.Location(Prefix + "/tenants/" + r.Tenant.Slug + "/users/" + strconv.FormatInt(acc.ID, 10))
	return c.Status(http.StatusCreated).JSON(userOut(acc, nil))
}

func (a *API) getUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	return a.answerUser(c, r, http.StatusOK, id)
}

func (a *API) updateUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	var in UserPatch
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	ctx, by := c.UserContext(), r.Actor(c)
	// A missing user is 404 before the body's values are judged.
	if _, err := a.cfg.Users.User(ctx, r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	if in.Username != nil {
		if _, err := a.cfg.Users.SetUsername(ctx, by, r.Tenant, id, *in.Username); err != nil {
			return userProblem(err)
		}
	}
	if in.Active != nil {
		change := a.cfg.Users.Disable
		if *in.Active {
			change = a.cfg.Users.Enable
		}
		if _, err := change(ctx, by, r.Tenant.ID, id); err != nil {
			return userProblem(err)
		}
	}
	return a.answerUser(c, r, http.StatusOK, id)
}

func (a *API) deleteUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if err := a.cfg.Users.Delete(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) disableUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Users.Disable(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return a.answerUser(c, r, http.StatusOK, id)
}

func (a *API) enableUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Users.Enable(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return a.answerUser(c, r, http.StatusOK, id)
}

func (a *API) listUserSessions(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := a.cfg.Users.User(ctx, r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	live, err := a.cfg.Users.Sessions(ctx, r.Tenant.ID, id)
	if err != nil {
		return err
	}
	page := Page[SessionOut]{Items: make([]SessionOut, 0, len(live))}
	for _, s := range live {
		page.Items = append(page.Items, SessionOut{ID: s.ID, Client: s.Client, IP: s.IP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeen.UTC(), ExpiresAt: s.Expires.UTC()})
	}
	return c.JSON(page)
}

func (a *API) endUserSessions(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	n, err := a.cfg.Users.EndSessions(c.UserContext(), r.Actor(c), r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	return c.JSON(SessionsEnded{Ended: n})
}

func (a *API) endUserSession(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	// The user first: another tenant's user is a missing user, whatever
	// the session id.
	if _, err := a.cfg.Users.User(ctx, r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	sid, err := pathID(c, "session_id", NotFound("session"))
	if err != nil {
		return err
	}
	if err := a.cfg.Users.EndSession(ctx, r.Actor(c), r.Tenant.ID, id, sid); err != nil {
		return userProblem(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) listUserAuthenticators(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := a.cfg.Users.User(ctx, r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	list, err := a.cfg.MFA.Summaries(ctx, r.Tenant.ID, id)
	if err != nil {
		return err
	}
	page := Page[AuthenticatorOut]{Items: make([]AuthenticatorOut, 0, len(list))}
	for _, au := range list {
		page.Items = append(page.Items, authenticatorOut(au))
	}
	return c.JSON(page)
}

func authenticatorOut(au *mfa.Authenticator) AuthenticatorOut {
	out := AuthenticatorOut{Type: au.Type, CreatedAt: au.CreatedAt.UTC()}
	if au.LastUsedAt != nil {
		at := au.LastUsedAt.UTC()
		out.LastUsedAt = &at
	}
	return out
}

func (a *API) resetUserAuthenticators(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	n, err := a.cfg.Users.ResetMFA(c.UserContext(), r.Actor(c), r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	return c.JSON(AuthenticatorsRemoved{Removed: n})
}

func (a *API) sendUserVerificationMail(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	var in VerificationMailIn
	if len(api.RawBody(c)) > 0 {
		if err := decodeBody(c, &in); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	acc, err := a.cfg.Users.Account(ctx, r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	var target *identity.EmailAddress
	for i := range acc.Emails {
		e := &acc.Emails[i]
		if in.Email != "" {
			if identity.SameEmail(e.Email, in.Email) {
				target = e
				break
			}
			continue
		}
		// Primary first: the first unverified one is the primary if that is.
		if !e.Verified {
			target = e
			break
		}
	}
	switch {
	case target == nil && in.Email != "":
		return Invalid("The user has no such address.", FieldError{Field: "/email", Code: "unknown_email",
			Message: "not one of the user's addresses"})
	case target == nil || target.Verified:
		return &Error{Status: http.StatusConflict, Code: "already_verified", Detail: "The address is verified already (or the user has no unverified address)."}
	}
	base := a.cfg.PublicURL + "/t/" + r.Tenant.Slug
	if err := a.cfg.Users.SendVerification(ctx, r.Actor(c), r.Tenant, id, target.ID, base); err != nil {
		if errors.Is(err, identity.ErrConflict) {
			return &Error{Status: http.StatusConflict, Code: "already_verified", Detail: "The address is verified already."}
		}
		return userProblem(err)
	}
	return c.Status(http.StatusAccepted).JSON(VerificationMailOut{Email: target.Email})
}
