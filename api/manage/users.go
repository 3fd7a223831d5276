package manage

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/sessions"
)

// A tenant's users: /tenants/{slug}/users. A user's {id} is the number the
// headless API shows as user.id; an id that is not a positive number, or is
// another tenant's user's, answers 404 exactly as a missing user does. The
// bodies are in users_types.go; sessions and second factors in
// users_sessions.go; verification mail in users_mail.go.

// userOperations lists the users operations.
func (h userHandlers) userOperations() []Operation {
	const users, user = "/tenants/{slug}/users", "/tenants/{slug}/users/{id}"
	return []Operation{
		{ID: "listUsers", Method: http.MethodGet, Path: users, Scope: apikeys.UsersRead,
			Summary: "List users (newest first; filters email, username, query, active, created_after, created_before)",
			Status:  http.StatusOK, Response: Page[UserOut]{}, Handle: h.listUsers,
			Query: []Param{
				{Name: "email", Description: "Only users holding this address, compared as sign-in compares addresses."},
				{Name: "username", Description: "Only the user with this username, compared as sign-in compares usernames."},
				{Name: "query", Description: "Only users whose username or one of whose addresses contains this text (case-insensitive)."},
				{Name: "active", Type: false, Description: "Only active (true) or disabled (false) users."},
				{Name: "created_after", Type: time.Time{}, Description: "Only users created at or after this time (RFC 3339)."},
				{Name: "created_before", Type: time.Time{}, Description: "Only users created strictly before this time (RFC 3339)."},
			}},
		{ID: "createUser", Method: http.MethodPost, Path: users, Scope: apikeys.UsersWrite,
			Summary: "Create a user (with a password, an existing password hash, or none; profile and metadata)", Request: UserIn{},
			Status: http.StatusCreated, Response: UserOut{}, Handle: h.createUser},
		{ID: "getUser", Method: http.MethodGet, Path: user, Scope: apikeys.UsersRead,
			Summary: "Get a user", Status: http.StatusOK, Response: UserOut{}, Handle: h.getUser, Load: h.loadGetUser},
		{ID: "updateUser", Method: http.MethodPatch, Path: user, Scope: apikeys.UsersWrite,
			Summary: "Change a user's username, active state, profile or metadata", Request: UserPatch{},
			Status: http.StatusOK, Response: UserOut{}, Handle: h.updateUser},
		{ID: "deleteUser", Method: http.MethodDelete, Path: user, Scope: apikeys.UsersWrite,
			Summary: "Delete a user with everything of theirs", Status: http.StatusNoContent, Handle: h.deleteUser},
		{ID: "disableUser", Method: http.MethodPost, Path: user + "/disable", Scope: apikeys.UsersWrite,
			Summary: "Disable a user: they cannot sign in, and their sessions end everywhere",
			Status:  http.StatusOK, Response: UserOut{}, Handle: h.disableUser},
		{ID: "enableUser", Method: http.MethodPost, Path: user + "/enable", Scope: apikeys.UsersWrite,
			Summary: "Enable a disabled user", Status: http.StatusOK, Response: UserOut{}, Handle: h.enableUser},
		{ID: "listUserSessions", Method: http.MethodGet, Path: user + "/sessions", Scope: apikeys.UsersRead,
			Summary: "List a user's live sessions", Status: http.StatusOK, Response: Page[SessionOut]{}, Handle: h.listUserSessions},
		{ID: "endUserSessions", Method: http.MethodDelete, Path: user + "/sessions", Scope: apikeys.SessionsWrite,
			Summary: "End all of a user's sessions", Status: http.StatusOK, Response: SessionsEnded{}, Handle: h.endUserSessions},
		{ID: "endUserSession", Method: http.MethodDelete, Path: user + "/sessions/{session_id}", Scope: apikeys.SessionsWrite,
			Summary: "End one of a user's sessions", Status: http.StatusNoContent, Handle: h.endUserSession},
		{ID: "listUserAuthenticators", Method: http.MethodGet, Path: user + "/authenticators", Scope: apikeys.UsersRead,
			Summary: "List a user's second factors", Status: http.StatusOK, Response: Page[AuthenticatorOut]{},
			Handle: h.listUserAuthenticators},
		{ID: "resetUserAuthenticators", Method: http.MethodDelete, Path: user + "/authenticators", Scope: apikeys.UsersWrite,
			Summary: "Remove all of a user's second factors (reset MFA); their sessions end",
			Status:  http.StatusOK, Response: AuthenticatorsRemoved{}, Handle: h.resetUserAuthenticators},
		{ID: "sendUserVerificationMail", Method: http.MethodPost, Path: user + "/verification-mail", Scope: apikeys.UsersWrite,
			Summary: "Mail a verification link for one of a user's unverified addresses", Request: VerificationMailIn{}, OptionalBody: true,
			Status: http.StatusAccepted, Response: VerificationMailOut{}, Handle: h.sendUserVerificationMail},
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

// answerUser answers with one user as it is now.
func (h userHandlers) answerUser(c *fiber.Ctx, r *Request, status int, userID int64) error {
	return h.loadUser(c, r, status, userID)()
}

// loadUser reads one user (with their addresses and second factors, in one
// round trip) and returns what answers with them, or with the read's
// problem.
func (h userHandlers) loadUser(c *fiber.Ctx, r *Request, status int, userID int64) (answer func() error) {
	acc, types, err := h.cfg.Users.AccountView(c.UserContext(), r.Tenant.ID, userID)
	return func() error {
		if err != nil {
			return userProblem(err)
		}
		return c.Status(status).JSON(userOut(acc, types))
	}
}

// userCursor is a users list's position: the last id shown.
type userCursor struct {
	Before int64 `json:"b"`
}

func (h userHandlers) listUsers(c *fiber.Ctx, r *Request) error {
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
		if err := h.cursors.decode(scope, cur, &pos); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	found, err := h.cfg.Users.Find(ctx, r.Tenant.ID, f, pos.Before, limit+1)
	if err != nil {
		return err
	}
	page := Page[UserOut]{Items: make([]UserOut, 0, min(len(found), limit))}
	if len(found) > limit {
		found = found[:limit]
		if page.NextCursor, err = h.cursors.encode(scope, userCursor{Before: found[len(found)-1].ID}); err != nil {
			return err
		}
	}
	ids := make([]int64, len(found))
	for i := range found {
		ids[i] = found[i].ID
	}
	types, err := h.cfg.MFA.TypesOf(ctx, r.Tenant.ID, ids)
	if err != nil {
		return err
	}
	for i := range found {
		page.Items = append(page.Items, userOut(&found[i], types[found[i].ID]))
	}
	return c.JSON(page)
}

func (h userHandlers) createUser(c *fiber.Ctx, r *Request) error {
	var in UserIn
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := refuseNullData(c); err != nil {
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
	n.Profile, n.PublicMetadata, n.PrivateMetadata = in.Profile, in.PublicMetadata, in.PrivateMetadata
	acc, err := h.cfg.Users.Create(c.UserContext(), r.Actor(c), r.Tenant, n)
	if err != nil {
		return userProblem(err)
	}
	c.Location(Prefix + "/tenants/" + r.Tenant.Slug + "/users/" + strconv.FormatInt(acc.ID, 10))
	return c.Status(http.StatusCreated).JSON(userOut(acc, nil))
}

func (h userHandlers) getUser(c *fiber.Ctx, r *Request) error { return h.loadGetUser(c, r)() }

// loadGetUser is getUser as a Load: the read overlaps the rate limit's
// round trip.
func (h userHandlers) loadGetUser(c *fiber.Ctx, r *Request) (answer func() error) {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return func() error { return err }
	}
	return h.loadUser(c, r, http.StatusOK, id)
}

func (h userHandlers) updateUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	var in UserPatch
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := refuseNullData(c); err != nil {
		return err
	}
	ctx, by := c.UserContext(), r.Actor(c)
	// A missing user is 404 before the body's values are judged.
	if _, err := h.cfg.Users.User(ctx, r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	// The data's values are judged before anything is written, so that a
	// refused one leaves the username and active state as they were too.
	data := dataChange(in.Profile, in.PublicMetadata, in.PrivateMetadata)
	if !data.Empty() {
		if err := identity.CheckDataChange(r.Tenant, data); err != nil {
			return userProblem(err)
		}
	}
	if in.Username != nil {
		if _, err := h.cfg.Users.SetUsername(ctx, by, r.Tenant, id, *in.Username); err != nil {
			return userProblem(err)
		}
	}
	if !data.Empty() {
		if _, err := h.cfg.Users.UpdateData(ctx, by, r.Tenant, id, data); err != nil {
			return userProblem(err)
		}
	}
	if in.Active != nil {
		change := h.cfg.Users.Disable
		if *in.Active {
			change = h.cfg.Users.Enable
		}
		if _, err := change(ctx, by, r.Tenant.ID, id); err != nil {
			return userProblem(err)
		}
	}
	return h.answerUser(c, r, http.StatusOK, id)
}

func (h userHandlers) deleteUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if err := h.cfg.Users.Delete(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h userHandlers) disableUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Users.Disable(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return h.answerUser(c, r, http.StatusOK, id)
}

func (h userHandlers) enableUser(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Users.Enable(c.UserContext(), r.Actor(c), r.Tenant.ID, id); err != nil {
		return userProblem(err)
	}
	return h.answerUser(c, r, http.StatusOK, id)
}
