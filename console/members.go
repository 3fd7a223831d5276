package console

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/web"
)

// Members: the console users holding a role on a tenant. Everyone with a
// role sees them; owners (and platform admins) invite people, change roles
// and remove members.

// membersView is a tenant's members page.
type membersView struct {
	Slug        string
	Members     []Member
	Invitations []*Invitation
	CanManage   bool
	CanInvite   bool
	CSRF        string
	Me          uuid.UUID
	Owners      int
	// Invite is the invitation form as submitted, with its errors.
	InviteEmail string
	InviteRole  Role
	InviteError string
	// Problem is an error about a member action (last owner...).
	Problem string
	Roles   []Role
}

func (h memberPages) membersViewOf(r *request) (membersView, error) {
	ctx := r.ctx()
	v := membersView{Slug: r.tenant.Slug, CanManage: r.canOwn(), CanInvite: r.canOwn() && h.cfg.Outbox != nil, CSRF: r.session.CSRF,
		Me: r.user.ID, InviteRole: RoleViewer, Roles: []Role{RoleViewer, RoleAdmin, RoleOwner}}
	var err error
	if v.Members, err = h.users.Members(ctx, r.tenant.ID); err != nil {
		return v, err
	}
	for _, m := range v.Members {
		if m.Role == RoleOwner {
			v.Owners++
		}
	}
	if v.Invitations, err = h.users.Invitations(ctx, r.tenant.ID); err != nil {
		return v, err
	}
	return v, nil
}

func (h memberPages) renderMembers(r *request, status int, v membersView) error {
	return h.render(r, status, "Members", membersPage(v, h.now()), active("tenants", "members"), crumbs(web.Crumb{Label: "Members"}))
}

func (h memberPages) membersPage(r *request) error {
	v, err := h.membersViewOf(r)
	if err != nil {
		return err
	}
	return h.renderMembers(r, fiber.StatusOK, v)
}

// invite sends an invitation mail through the outbox: the invitee follows
// its link to set a password (or, signed in, to accept).
func (h memberPages) invite(r *request) error {
	if h.cfg.Outbox == nil {
		return errNotFound
	}
	email := strings.TrimSpace(r.c.FormValue("email"))
	role := Role(r.c.FormValue("role"))
	fail := func(msg string) error {
		v, err := h.membersViewOf(r)
		if err != nil {
			return err
		}
		v.InviteEmail, v.InviteRole, v.InviteError = email, role, msg
		return h.renderMembers(r, fiber.StatusUnprocessableEntity, v)
	}
	if role.rank() == 0 {
		return fail("Choose a role: owner, admin or viewer.")
	}
	t := r.tenant
	inv, err := h.users.Invite(r.ctx(), t.ID, email, role, r.user, clientip.Peer(r.c), h.now(), func(tx pgx.Tx, inv *Invitation, token string) error {
		link := h.public.String() + Root + "invite/" + token
		subject, text, html, err := mail.Render(mail.KindConsoleInvitation, mail.TemplateData{SiteName: "Hallpass", Email: inv.Email,
			Link: link, Tenant: t.Name, Role: string(inv.Role)})
		if err != nil {
			return err
		}
		_, err = h.cfg.Outbox.Enqueue(r.ctx(), tx, mail.Message{TenantID: t.ID, Kind: mail.KindConsoleInvitation, To: inv.Email,
			FromName: "Hallpass", FromAddress: h.cfg.MailFrom, Subject: subject, Text: text, HTML: html})
		return err
	})
	switch {
	case errors.Is(err, ErrInvalidEmail), errors.Is(err, mail.ErrInvalidMessage):
		return fail("Enter one email address, such as ada@example.com.")
	case errors.Is(err, ErrAlreadyMember):
		return fail(email + " already holds a role on this tenant: change it in the list above.")
	case err != nil:
		return err
	}
	return h.redirectWith(r, tenantPath(t.Slug, "members"), Flash{Kind: "success",
		Message: "Invitation sent to " + inv.Email + " as " + string(inv.Role) + ". The link works once, for 7 days."})
}

// memberID reads the route's :uid.
func memberID(r *request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.c.Params("uid"))
	if err != nil {
		return uuid.Nil, errNotFound
	}
	return id, nil
}

// memberProblem shows the members page with an error about an action.
func (h memberPages) memberProblem(r *request, msg string) error {
	v, err := h.membersViewOf(r)
	if err != nil {
		return err
	}
	v.Problem = msg
	return h.renderMembers(r, fiber.StatusUnprocessableEntity, v)
}

const lastOwnerMessage = "Nothing was changed: a tenant keeps at least one owner. Make someone else owner first."

// changeRole sets a member's role.
func (h memberPages) changeRole(r *request) error {
	id, err := memberID(r)
	if err != nil {
		return err
	}
	role := Role(r.c.FormValue("role"))
	old, err := h.users.SetRole(r.ctx(), r.tenant.ID, id, role, r.user, clientip.Peer(r.c))
	switch {
	case errors.Is(err, ErrInvalidRole):
		return h.memberProblem(r, "Nothing was changed: choose owner, admin or viewer.")
	case errors.Is(err, ErrLastOwner):
		return h.memberProblem(r, lastOwnerMessage)
	case err != nil:
		return err
	}
	u, err := h.users.ByID(r.ctx(), id)
	if err != nil {
		return err
	}
	msg := u.Email + " is now " + string(role) + "."
	if old == role {
		msg = u.Email + " already was " + string(role) + "."
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "members"), Flash{Kind: "success", Message: msg})
}

// removeMember takes a member's role away (leaving, when it is oneself).
func (h memberPages) removeMember(r *request) error {
	id, err := memberID(r)
	if err != nil {
		return err
	}
	email, err := h.users.RemoveMember(r.ctx(), r.tenant.ID, id, r.user, clientip.Peer(r.c))
	switch {
	case errors.Is(err, ErrLastOwner):
		return h.memberProblem(r, lastOwnerMessage)
	case err != nil:
		return err
	}
	if id == r.user.ID && !r.admin {
		return h.redirectWith(r, Root+"tenants", Flash{Kind: "success", Message: "You left " + r.tenant.Name + "."})
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "members"), Flash{Kind: "success", Message: email + " no longer has access to this tenant."})
}

// revokeInvitation withdraws a pending invitation.
func (h memberPages) revokeInvitation(r *request) error {
	id, err := uuid.Parse(r.c.Params("iid"))
	if err != nil {
		return errNotFound
	}
	inv, err := h.users.RevokeInvitation(r.ctx(), r.tenant.ID, id, r.user, clientip.Peer(r.c))
	if errors.Is(err, ErrInvitationInvalid) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "members"), Flash{Kind: "success", Message: "The invitation of " + inv.Email + " is revoked: its link no longer works."})
}
