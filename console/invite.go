package console

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/identity"
)

// Accepting an invitation: the link in the mail opens a public page. A
// signed-in console user accepts with their account; otherwise the invitee
// sets a password, which creates their console account (argon2id) and signs
// them in. An address that has an account already must sign in first.

// minConsolePassword is the shortest password a console account may have
// (as `hallpass admin create` requires).
const minConsolePassword = 12

// inviteView is the acceptance page.
type inviteView struct {
	Token      string
	Inv        *Invitation
	TenantName string
	// SignedInAs is the signed-in user's address ("" when signed out).
	SignedInAs string
	CSRF       string
	// HasAccount: signed out, and the invited address has a console account.
	HasAccount bool
	LoginURL   string
	Errors     map[string]string
	Problem    string
}

// invitePage shows what an invitation offers and how to accept it.
func (h memberPages) invitePage(r *request) error {
	v, err := h.inviteViewOf(r)
	if err != nil {
		return err
	}
	return h.render(r, fiber.StatusOK, "Invitation", invitePage(v))
}

// inviteViewOf loads the invitation of the route's :token; an unusable one
// answers a page saying so.
func (h memberPages) inviteViewOf(r *request) (inviteView, error) {
	c := r.c
	ctx := r.ctx()
	if sess, user, err := h.currentSession(c); err == nil {
		r.session, r.user = sess, user
	}
	token := c.Params("token")
	v := inviteView{Token: token, Errors: map[string]string{}}
	inv, err := h.users.InvitationByToken(ctx, token, h.now())
	if errors.Is(err, ErrInvitationInvalid) {
		return v, errInvitation
	}
	if err != nil {
		return v, err
	}
	t, err := h.store.GetByID(ctx, inv.TenantID)
	if err != nil {
		return v, err
	}
	v.Inv, v.TenantName = inv, t.Name
	if r.user != nil {
		v.SignedInAs, v.CSRF = r.user.Email, r.session.CSRF
		return v, nil
	}
	v.CSRF = h.loginToken(c)
	v.LoginURL = Root + "login?next=" + url.QueryEscape(Root+"invite/"+token)
	if _, _, err := h.users.PasswordHash(ctx, inv.Email); err == nil {
		v.HasAccount = true
	}
	return v, nil
}

// errInvitation renders as a page explaining that the link is unusable.
var errInvitation = errors.New("invitation unusable")

// acceptInvite accepts an invitation: with the signed-in account, or by
// creating the invited address's account with the password set here.
func (h memberPages) acceptInvite(r *request) error {
	c := r.c
	ctx := r.ctx()
	v, err := h.inviteViewOf(r)
	if err != nil {
		return err
	}
	if r.user != nil {
		if !h.validPost(c, r.session.CSRF) {
			return errCSRF
		}
		inv, role, err := h.users.AcceptInvitation(ctx, v.Token, r.user, clientip.Peer(c), h.now())
		if errors.Is(err, ErrInvitationInvalid) {
			return errInvitation
		}
		if err != nil {
			return err
		}
		t, err := h.store.GetByID(ctx, inv.TenantID)
		if err != nil {
			return err
		}
		return h.redirectWith(r, tenantPath(t.Slug, ""), Flash{Kind: "success", Message: "You joined " + t.Name + " as " + string(role) + "."})
	}
	if !h.validPost(c, c.Cookies(loginCookieName)) {
		v.CSRF = h.loginToken(c)
		v.Problem = "The form expired. Please try again."
		return h.render(r, fiber.StatusForbidden, "Invitation", invitePage(v))
	}
	if v.HasAccount {
		v.Problem = "A console account with " + v.Inv.Email + " exists already: sign in to accept with it."
		return h.render(r, fiber.StatusConflict, "Invitation", invitePage(v))
	}
	password := c.FormValue("password")
	for _, e := range identity.ValidatePassword("password", password, minConsolePassword) {
		v.Errors["password"] = e.Message
		break
	}
	if c.FormValue("password2") != password {
		v.Errors["password2"] = "The two passwords differ."
	}
	if len(v.Errors) > 0 {
		return h.render(r, fiber.StatusUnprocessableEntity, "Invitation", invitePage(v))
	}
	hash, err := h.hasher.Hash(password)
	if err != nil {
		return err
	}
	user, inv, err := h.users.AcceptInvitationNewUser(ctx, v.Token, hash, clientip.Peer(c), h.now())
	switch {
	case errors.Is(err, ErrInvitationInvalid):
		return errInvitation
	case errors.Is(err, ErrUserExists):
		v.HasAccount = true
		v.Problem = "A console account with " + v.Inv.Email + " exists already: sign in to accept with it."
		return h.render(r, fiber.StatusConflict, "Invitation", invitePage(v))
	case err != nil:
		return err
	}
	token, sess, err := h.sessions.Create(ctx, user.ID, clientip.Peer(c), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(user), "console.login", user.Email, clientip.Peer(c), map[string]any{"via": "invitation"}); err != nil {
		return err
	}
	setCookie(c, CookieName, token, sess.ExpiresAt, h.secure)
	clearCookie(c, loginCookieName, h.secure)
	r.session = sess
	t, err := h.store.GetByID(ctx, inv.TenantID)
	if err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(t.Slug, ""), Flash{Kind: "success",
		Message: "Welcome! Your console account is " + user.Email + ", and you joined " + t.Name + " as " + string(inv.Role) + "."})
}

// invitedBy names the inviter after the role (" by ada@example.com").
func invitedBy(inv *Invitation) string {
	if inv.InvitedBy == "" {
		return ""
	}
	return " by " + inv.InvitedBy
}

// sameAddress compares two addresses as the console does (by
// address.EmailKey; strings.EqualFold would take ſ for s).
func sameAddress(a, b string) bool {
	return address.SameEmail(strings.TrimSpace(a), strings.TrimSpace(b))
}
