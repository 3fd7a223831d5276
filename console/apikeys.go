package console

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/web"
)

// The API keys pages: a tenant's keys (viewers list them; admins and
// owners create and revoke) and the platform's (platform admins only). A
// new key's secret appears once, on the answer to the creating POST: it is
// never stored, in a flash or anywhere else.

// expiryChoices are the create form's expiries, in order.
var expiryChoices = []struct{ Value, Label string }{
	{"30d", "30 days"}, {"90d", "90 days"}, {"365d", "1 year"}, {"never", "Never"},
}

// apiKeysView is an API keys page.
type apiKeysView struct {
	// Base is the page's path; forms post under it.
	Base     string
	Platform bool
	Keys     []apikeys.Key
	// Creators shows each key's creator (a console user's email).
	Creators map[string]string
	Scopes   []apikeys.Scope
	CanEdit  bool
	CSRF     string
	// The create form's input, and its error.
	Name      string
	Checked   map[apikeys.Scope]bool
	Expires   string
	FormError string
	// Created is the key just created; Secret its secret, shown this once.
	Created *apikeys.Key
	Secret  string
}

// keysScope is whose keys a request manages: the tenant's, or (on the
// platform pages) the platform's.
func keysScope(r *request) (tenantID uuid.UUID, base string, platform bool) {
	if r.tenant == nil {
		return uuid.Nil, Root + "platform/api-keys", true
	}
	return r.tenant.ID, tenantPath(r.tenant.Slug, "api-keys"), false
}

func (h apiKeyPages) apiKeysViewOf(r *request) (apiKeysView, error) {
	tenantID, base, platform := keysScope(r)
	keys, err := h.cfg.APIKeys.List(r.ctx(), tenantID)
	if err != nil {
		return apiKeysView{}, err
	}
	var ids []uuid.UUID
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k.CreatedBy, "console:"); ok {
			if id, err := uuid.Parse(rest); err == nil {
				ids = append(ids, id)
			}
		}
	}
	emails, err := h.users.Emails(r.ctx(), ids)
	if err != nil {
		return apiKeysView{}, err
	}
	creators := map[string]string{}
	for _, k := range keys {
		creators[k.CreatedBy] = actorName(k.CreatedBy, emails)
	}
	scopes := apikeys.TenantScopes
	if platform {
		scopes = apikeys.PlatformScopes
	}
	return apiKeysView{Base: base, Platform: platform, Keys: keys, Creators: creators, Scopes: scopes,
		CanEdit: platform || r.canEdit(), CSRF: r.session.CSRF, Checked: map[apikeys.Scope]bool{}, Expires: "90d"}, nil
}

func (h apiKeyPages) renderAPIKeys(r *request, status int, v apiKeysView) error {
	opts := []func(*web.Page){active("tenants", "api-keys"), crumbs(web.Crumb{Label: "API keys"})}
	title := "API keys"
	if v.Platform {
		title = "Platform API keys"
		opts = []func(*web.Page){active("api-keys", ""), func(p *web.Page) { p.Crumbs = []web.Crumb{{Label: "Platform API keys"}} }}
	}
	return h.render(r, status, title, apiKeysPage(v), opts...)
}

// apiKeysPage lists the keys, with the create form for those who may.
func (h apiKeyPages) apiKeysPage(r *request) error {
	if h.cfg.APIKeys == nil {
		return errNotFound
	}
	v, err := h.apiKeysViewOf(r)
	if err != nil {
		return err
	}
	return h.renderAPIKeys(r, fiber.StatusOK, v)
}

// createAPIKey mints a key and answers with its secret, shown this once.
func (h apiKeyPages) createAPIKey(r *request) error {
	if h.cfg.APIKeys == nil {
		return errNotFound
	}
	v, err := h.apiKeysViewOf(r)
	if err != nil {
		return err
	}
	tenantID, _, platform := keysScope(r)
	v.Name = strings.TrimSpace(r.c.FormValue("name"))
	v.Expires = r.c.FormValue("expires")
	var names []string
	for _, s := range r.c.Request().PostArgs().PeekMulti("scope") {
		names = append(names, string(s))
		v.Checked[apikeys.Scope(s)] = true
	}
	known := false
	for _, c := range expiryChoices {
		known = known || c.Value == v.Expires
	}
	exp, expErr := apikeys.ParseExpiry(v.Expires, time.Now())
	switch {
	case !known || expErr != nil:
		v.FormError = "Choose an expiry from the list."
	case len(names) == 0:
		v.FormError = "Choose at least one scope: a key can do only what its scopes allow."
	}
	if v.FormError == "" {
		if _, err := apikeys.CheckScopes(names, platform); err != nil {
			v.FormError = "Choose scopes from the list."
		}
	}
	if v.FormError == "" && len([]rune(v.Name)) > apikeys.MaxNameLen {
		v.FormError = "The name is too long."
	}
	if v.FormError != "" {
		return h.renderAPIKeys(r, fiber.StatusUnprocessableEntity, v)
	}
	k, secret, err := h.cfg.APIKeys.Create(r.ctx(), operator(r), apikeys.NewKey{TenantID: tenantID, Name: v.Name, Scopes: names, ExpiresAt: exp})
	if errors.Is(err, apikeys.ErrInvalidKey) || errors.Is(err, apikeys.ErrInvalidScope) {
		v.FormError = strings.TrimPrefix(err.Error(), "apikeys: ")
		return h.renderAPIKeys(r, fiber.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	// The list again, with the new key; the form starts over.
	if v, err = h.apiKeysViewOf(r); err != nil {
		return err
	}
	v.Created, v.Secret = &k, secret
	return h.renderAPIKeys(r, fiber.StatusOK, v)
}

// revokeAPIKey revokes one of the page's keys: every node refuses it from
// the next request on.
func (h apiKeyPages) revokeAPIKey(r *request) error {
	if h.cfg.APIKeys == nil {
		return errNotFound
	}
	id, err := uuid.Parse(r.c.Params("id"))
	if err != nil {
		return errNotFound
	}
	tenantID, base, _ := keysScope(r)
	// Within the page's owner: a tenant's page reaches its own keys, the
	// platform page the platform keys only.
	k, err := h.cfg.APIKeys.Get(r.ctx(), tenantID, id)
	if errors.Is(err, apikeys.ErrNotFound) || (err == nil && k.TenantID != tenantID) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return h.redirectWith(r, base, Flash{Kind: "info", Message: "The key " + k.Prefix + "… was revoked already."})
	}
	if _, err := h.cfg.APIKeys.Revoke(r.ctx(), operator(r), tenantID, id); err != nil {
		return err
	}
	return h.redirectWith(r, base, Flash{Kind: "success", Message: "The key " + k.Prefix + "… is revoked: it no longer authenticates, on any node."})
}

// expiryLabel shows a key's expiry.
func expiryLabel(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// now is the wall clock a key's expiry is compared with (the store's).
func now() time.Time { return time.Now() }
