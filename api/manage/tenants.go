package manage

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// TenantOut is a tenant as the API shows it (settings have their own
// resource).
type TenantOut struct {
	ID              string    `json:"id"`
	Slug            string    `json:"slug"`
	Name            string    `json:"name"`
	SettingsVersion int       `json:"settings_version"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// TenantCreate is the body that creates a tenant.
type TenantCreate struct {
	// Slug names the tenant in URLs and host names (a DNS label).
	Slug string `json:"slug"`
	// Name is the display name (the slug when absent).
	Name string `json:"name,omitempty"`
	// Settings is the tenant's settings overrides document (allauth's
	// names); absent: every default.
	Settings map[string]any `json:"settings,omitempty"`
}

// TenantPatch is the body that renames a tenant.
type TenantPatch struct {
	Name string `json:"name"`
}

func tenantOut(t *tenants.Tenant) TenantOut {
	return TenantOut{ID: t.ID.String(), Slug: t.Slug, Name: t.Name, SettingsVersion: t.SettingsVersion,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

func (h tenantHandlers) tenantOperations() []Operation {
	return []Operation{
		{ID: "listTenants", Method: http.MethodGet, Path: "/tenants", Scope: apikeys.TenantsRead,
			Summary: "List tenants", Status: http.StatusOK, Response: Page[TenantOut]{}, Handle: h.listTenants},
		{ID: "createTenant", Method: http.MethodPost, Path: "/tenants", Scope: apikeys.TenantsWrite,
			Summary: "Create a tenant", Request: TenantCreate{}, Status: http.StatusCreated, Response: TenantOut{}, Handle: h.createTenant},
		{ID: "getTenant", Method: http.MethodGet, Path: "/tenants/{slug}", Scope: apikeys.TenantsRead,
			Summary: "Get a tenant", Status: http.StatusOK, Response: TenantOut{}, Handle: h.getTenant},
		{ID: "renameTenant", Method: http.MethodPatch, Path: "/tenants/{slug}", Scope: apikeys.TenantsWrite,
			Summary: "Rename a tenant", Request: TenantPatch{}, Status: http.StatusOK, Response: TenantOut{}, Handle: h.renameTenant},
		{ID: "deleteTenant", Method: http.MethodDelete, Path: "/tenants/{slug}", Scope: apikeys.TenantsWrite,
			Summary: "Delete a tenant and everything it holds", Status: http.StatusNoContent, Handle: h.deleteTenant},
	}
}

func (h tenantHandlers) getTenant(c *fiber.Ctx, r *Request) error {
	return c.JSON(tenantOut(r.Tenant))
}

// listTenants pages through every tenant by slug.
func (h tenantHandlers) listTenants(c *fiber.Ctx, r *Request) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	var after string
	if cur := c.Query("cursor"); cur != "" {
		if err := h.cursors.decode("tenants", cur, &after); err != nil {
			return err
		}
	}
	list, err := h.cfg.Store.List(c.UserContext(), tenants.ListOptions{After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	page := Page[TenantOut]{Items: []TenantOut{}}
	for i, t := range list {
		if i == limit {
			if page.NextCursor, err = h.cursors.encode("tenants", list[i-1].Slug); err != nil {
				return err
			}
			break
		}
		page.Items = append(page.Items, tenantOut(t))
	}
	return c.JSON(page)
}

func (h tenantHandlers) createTenant(c *fiber.Ctx, r *Request) error {
	var in TenantCreate
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	var doc []byte
	if in.Settings != nil {
		var err error
		if doc, err = json.Marshal(in.Settings); err != nil {
			return err
		}
	}
	t, err := h.cfg.Store.Create(c.UserContext(), tenants.CreateInput{Slug: in.Slug, Name: in.Name, Settings: doc}, r.Key.Actor())
	if err != nil {
		return tenantError(err, "/settings")
	}
	c.Location(Prefix + "/tenants/" + t.Slug)
	return c.Status(http.StatusCreated).JSON(tenantOut(t))
}

func (h tenantHandlers) renameTenant(c *fiber.Ctx, r *Request) error {
	var in TenantPatch
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	t, err := h.cfg.Store.Rename(c.UserContext(), r.Tenant.Slug, in.Name, r.Key.Actor())
	if err != nil {
		return tenantError(err, "")
	}
	return c.JSON(tenantOut(t))
}

func (h tenantHandlers) deleteTenant(c *fiber.Ctx, r *Request) error {
	if err := h.cfg.Store.Delete(c.UserContext(), r.Tenant.Slug, r.Key.Actor()); err != nil {
		return tenantError(err, "")
	}
	return c.SendStatus(http.StatusNoContent)
}

// tenantError turns the tenants package's refusals into problems; a
// settings error names its key under settingsField ("/settings/KEY" when
// the settings are a field of the body, "/KEY" when they are the body).
func tenantError(err error, settingsField string) error {
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		return errTenantNotFound
	case errors.Is(err, tenants.ErrSlugTaken):
		return &Error{Status: http.StatusConflict, Code: "slug_taken", Detail: "Another tenant has this slug.",
			Fields: []FieldError{{Field: "/slug", Code: "slug_taken", Message: "the slug is taken"}}}
	case errors.Is(err, tenants.ErrInvalidSlug):
		return Invalid("The slug is not valid.", FieldError{Field: "/slug", Code: "invalid_slug", Message: err.Error()})
	case errors.Is(err, tenants.ErrInvalidName):
		return Invalid("The name is not valid.", FieldError{Field: "/name", Code: "invalid_name", Message: err.Error()})
	}
	if list := tenants.SettingsErrorList(err); list != nil {
		out := &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_settings", Detail: "The settings are not valid: nothing was written."}
		for _, e := range list {
			field := settingsField
			if e.Key != "" {
				field += "/" + e.Key
			}
			out.Fields = append(out.Fields, FieldError{Field: field, Code: "invalid_setting", Message: e.Error()})
		}
		return out
	}
	return err
}
