package console

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// pageSize is the length of paginated lists.
const pageSize = 25

// tenantRow is one line of the tenant list.
type tenantRow struct {
	Slug, Name    string
	Role          string
	Version       int
	TokenStrategy string
	Clients       []string
	CreatedAt     time.Time
}

// tenantListView is the tenant list page.
type tenantListView struct {
	Rows     []tenantRow
	After    string // the cursor this page started after ("" = first page)
	Next     string // the cursor of the next page ("" = last page)
	Admin    bool
	Filtered bool
}

// tenantList shows the tenants the user may see, by slug, a page at a
// time: every tenant for a platform admin, the ones they hold a role on
// for a customer user.
func (h tenantPages) tenantList(r *request) error {
	ctx := r.ctx()
	after := r.c.Query("after")
	var rows []tenantRow
	if r.admin {
		ts, err := h.store.List(ctx, tenants.ListOptions{After: after, Limit: pageSize + 1})
		if err != nil {
			return err
		}
		for _, t := range ts {
			rows = append(rows, rowOf(t, "platform admin"))
		}
	} else {
		ms, err := h.users.Memberships(ctx, r.user.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			t, err := h.store.GetByID(ctx, m.TenantID)
			if errors.Is(err, tenants.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Slug > after {
				rows = append(rows, rowOf(t, string(m.Role)))
			}
		}
		slices.SortFunc(rows, func(a, b tenantRow) int { return strings.Compare(a.Slug, b.Slug) })
	}
	v := tenantListView{After: after, Admin: r.admin}
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		v.Next = rows[pageSize-1].Slug
	}
	v.Rows = rows
	return h.render(r, fiber.StatusOK, "Tenants", tenantListPage(v), active("tenants", ""))
}

func rowOf(t *tenants.Tenant, role string) tenantRow {
	return tenantRow{Slug: t.Slug, Name: t.Name, Role: role, Version: t.SettingsVersion, TokenStrategy: t.Settings.TokenStrategy,
		Clients: t.Settings.Clients, CreatedAt: t.CreatedAt}
}

// tenantForm is the create-tenant form with its errors.
type tenantForm struct {
	Slug, Name string
	Errors     map[string]string
	CSRF       string
	BaseDomain string
}

func (h tenantPages) newTenantPage(r *request) error {
	if err := h.mayCreateTenant(r); err != nil {
		return err
	}
	f := tenantForm{CSRF: r.session.CSRF, BaseDomain: h.cfg.BaseDomain}
	return h.render(r, fiber.StatusOK, "New tenant", newTenantPage(f), active("tenants", ""),
		crumbs(web.Crumb{Label: "Tenants", Href: Root + "tenants"}, web.Crumb{Label: "New tenant"}))
}

// checkSlug answers the create form's inline check of a slug as it is typed
// (an htmx fragment, not a page).
func (h tenantPages) checkSlug(r *request) error {
	if err := h.mayCreateTenant(r); err != nil {
		return err
	}
	slug := strings.TrimSpace(r.c.Query("slug"))
	msg, ok := "", false
	switch {
	case slug == "":
	case tenants.ValidateSlug(slug) != nil:
		msg = slugProblem(tenants.ValidateSlug(slug))
	default:
		_, err := h.store.Get(r.ctx(), slug)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			msg, ok = slug+" is available.", true
		case err != nil:
			return err
		default:
			msg = "The slug " + slug + " is already taken."
		}
	}
	return writeHTML(r.c, fiber.StatusOK, slugCheck(msg, ok))
}

// tenantCreationError refuses a console user a new tenant; the console
// shows its message.
type tenantCreationError struct{ msg string }

func (e *tenantCreationError) Error() string { return "console: " + e.msg }

// mayCreateTenant applies who may create tenants (Config.TenantsPerUser):
// platform admins always, other users only while they own fewer than
// TenantsPerUser. createTenant checks the limit again atomically.
func (h tenantPages) mayCreateTenant(r *request) error {
	if r.admin {
		return nil
	}
	if h.cfg.TenantsPerUser <= 0 {
		return &tenantCreationError{"Only platform admins create tenants on this platform. Ask one to create the tenant and invite you as its owner."}
	}
	n, err := h.users.OwnedTenants(r.ctx(), r.user.ID)
	if err != nil {
		return err
	}
	if n >= h.cfg.TenantsPerUser {
		return tenantLimitError(h.cfg.TenantsPerUser)
	}
	return nil
}

func tenantLimitError(limit int) error {
	return &tenantCreationError{fmt.Sprintf("You own %d tenant%s, the most a console user may create on this platform. "+
		"Delete one you no longer need, or ask a platform admin.", limit, plural(limit))}
}

// createTenant creates a tenant with default settings. A customer user who
// creates one (when the platform lets them, mayCreateTenant) becomes its
// owner.
func (h tenantPages) createTenant(r *request) error {
	if err := h.mayCreateTenant(r); err != nil {
		return err
	}
	ctx := r.ctx()
	f := tenantForm{Slug: strings.TrimSpace(r.c.FormValue("slug")), Name: strings.TrimSpace(r.c.FormValue("name")),
		Errors: map[string]string{}, CSRF: r.session.CSRF, BaseDomain: h.cfg.BaseDomain}
	if err := tenants.ValidateSlug(f.Slug); err != nil {
		f.Errors["slug"] = slugProblem(err)
	}
	name := f.Name
	if name == "" {
		name = f.Slug
	}
	if err := tenants.ValidateName(name); err != nil {
		f.Errors["name"] = "Use a name of 1 to 200 characters."
	}
	var t *tenants.Tenant
	if len(f.Errors) == 0 {
		var err error
		t, err = h.store.Create(ctx, tenants.CreateInput{Slug: f.Slug, Name: name}, actor(r.user))
		switch {
		case errors.Is(err, tenants.ErrSlugTaken):
			f.Errors["slug"] = "The slug " + f.Slug + " is already taken."
		case err != nil:
			return err
		}
	}
	if len(f.Errors) > 0 {
		return h.render(r, fiber.StatusUnprocessableEntity, "New tenant", newTenantPage(f), active("tenants", ""),
			crumbs(web.Crumb{Label: "Tenants", Href: Root + "tenants"}, web.Crumb{Label: "New tenant"}))
	}
	if !r.admin {
		if err := h.users.AddCreator(ctx, t.ID, r.user.ID, h.cfg.TenantsPerUser, actor(r.user)); err != nil {
			// Without the membership nobody but platform admins could reach
			// it; past the limit (a parallel creation won) it must not stay.
			_ = h.store.Delete(ctx, t.Slug, actor(r.user))
			if errors.Is(err, ErrTenantLimit) {
				return tenantLimitError(h.cfg.TenantsPerUser)
			}
			return err
		}
	}
	return h.redirectWith(r, tenantPath(t.Slug, ""), Flash{Kind: "success", Message: "Tenant " + t.Slug + " created with allauth's default settings."})
}

func slugProblem(err error) string {
	if strings.Contains(err.Error(), "reserved") {
		return "That slug is reserved by the platform; choose another."
	}
	return "Use 1 to 63 lower-case letters, digits and inner hyphens (it becomes a host name)."
}

// overviewView is a tenant's overview page.
type overviewView struct {
	T                 *tenants.Tenant
	APIBase, HostBase string
	CanEdit, CanOwn   bool
	CSRF              string
	Name              string
	NameError         string
	DeleteError       string
}

func (h tenantPages) overviewOf(r *request) overviewView {
	return overviewView{T: r.tenant, APIBase: h.apiBase(r.tenant.Slug), HostBase: h.hostBase(r.tenant.Slug), CanEdit: r.canEdit(),
		CanOwn: r.canOwn(), CSRF: r.session.CSRF, Name: r.tenant.Name}
}

func (h tenantPages) overview(r *request) error {
	return h.render(r, fiber.StatusOK, r.tenant.Name, overviewPage(h.overviewOf(r)), active("tenants", "overview"))
}

// rename changes the tenant's display name.
func (h tenantPages) rename(r *request) error {
	name := strings.TrimSpace(r.c.FormValue("name"))
	if err := tenants.ValidateName(name); err != nil {
		v := h.overviewOf(r)
		v.Name, v.NameError = name, "Use a name of 1 to 200 characters."
		return h.render(r, fiber.StatusUnprocessableEntity, r.tenant.Name, overviewPage(v), active("tenants", "overview"))
	}
	if name == r.tenant.Name {
		return h.redirectWith(r, tenantPath(r.tenant.Slug, ""), Flash{Kind: "info", Message: "The name is unchanged."})
	}
	if _, err := h.store.Rename(r.ctx(), r.tenant.Slug, name, actor(r.user)); err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, ""), Flash{Kind: "success", Message: "Renamed to “" + name + "”."})
}

// deleteTenant removes the tenant and everything it owns, once the user has
// typed its slug to confirm.
func (h tenantPages) deleteTenant(r *request) error {
	if r.c.FormValue("confirm") != r.tenant.Slug {
		v := h.overviewOf(r)
		v.DeleteError = "Type the tenant's slug, " + r.tenant.Slug + ", exactly to confirm. Nothing was deleted."
		return h.render(r, fiber.StatusUnprocessableEntity, r.tenant.Name, overviewPage(v), active("tenants", "overview"))
	}
	if err := h.store.Delete(r.ctx(), r.tenant.Slug, actor(r.user)); err != nil {
		return err
	}
	return h.redirectWith(r, Root+"tenants", Flash{Kind: "success", Message: "Tenant " + r.tenant.Slug + " and everything it held were deleted."})
}

// apiBase is the tenant's API base URL by path prefix (always works).
func (h *Console) apiBase(slug string) string {
	return h.public.Scheme + "://" + h.public.Host + "/t/" + slug
}

// hostBase is the tenant's API base URL by host name.
func (h *Console) hostBase(slug string) string {
	host := slug + "." + h.cfg.BaseDomain
	if p := h.public.Port(); p != "" {
		host += ":" + p
	}
	return h.public.Scheme + "://" + host
}
