package manage

import (
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

func tenantOut(t *tenants.Tenant) TenantOut {
	return TenantOut{ID: t.ID.String(), Slug: t.Slug, Name: t.Name, SettingsVersion: t.SettingsVersion,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

func (a *API) tenantOperations() []Operation {
	return []Operation{
		{ID: "getTenant", Method: http.MethodGet, Path: "/tenants/{slug}", Scope: apikeys.TenantsRead,
			Summary: "Get a tenant", Status: http.StatusOK, Response: TenantOut{}, Handle: a.getTenant},
	}
}

func (a *API) getTenant(c *fiber.Ctx, r *Request) error {
	return c.JSON(tenantOut(r.Tenant))
}
