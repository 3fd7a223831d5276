package console

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// jsonView is the settings document page.
type jsonView struct {
	Slug      string
	Groups    []*group
	CanEdit   bool
	CSRF      string
	Version   int
	Doc       string
	Effective string
	Errors    []*tenants.SettingsError
	// Preview is set once a pasted document passed validation: its diff,
	// waiting for Save.
	Preview   bool
	Diff      []DiffLine
	Scope     string // "effective" or "overrides": what Diff compares
	Conflict  string
	Unchanged bool
}

func (h settingsPages) jsonViewOf(r *request) jsonView {
	t := r.tenant
	return jsonView{Slug: t.Slug, Groups: h.catalog.groups, CanEdit: r.canEdit(), CSRF: r.session.CSRF, Version: t.SettingsVersion,
		Doc: pretty(tenants.RedactSecrets(t.Overrides)), Effective: pretty(tenants.RedactSecrets(t.Settings.Document()))}
}

func (h settingsPages) settingsJSONPage(r *request) error {
	return h.renderJSON(r, fiber.StatusOK, h.jsonViewOf(r))
}

func (h settingsPages) renderJSON(r *request, status int, v jsonView) error {
	return h.render(r, status, "Settings document", settingsJSONPage(v), active("tenants", "settings"),
		crumbs(web.Crumb{Label: "Settings", Href: tenantPath(r.tenant.Slug, "settings")}, web.Crumb{Label: "JSON"}))
}

// settingsJSONPost previews (action=preview) or saves (action=save) a
// pasted settings document that replaces the tenant's overrides. Secrets
// may be left as <redacted>: they keep their current values.
func (h settingsPages) settingsJSONPost(r *request) error {
	t := r.tenant
	v := h.jsonViewOf(r)
	v.Doc = r.c.FormValue("doc")
	if n, _ := strconv.Atoi(r.c.FormValue("version")); n != t.SettingsVersion {
		v.Conflict = staleMessage(t)
		return h.renderJSON(r, fiber.StatusConflict, v)
	}
	doc := []byte(v.Doc)
	next, err := tenants.ParseSettings(restoreRedacted(doc, t.Overrides))
	if err != nil {
		v.Errors = tenants.SettingsErrorList(err)
		return h.renderJSON(r, fiber.StatusUnprocessableEntity, v)
	}
	if r.c.FormValue("action") != "save" {
		v.Preview = true
		v.Diff, v.Scope = diffDocs(t.Settings.Document(), next.Document()), "effective"
		if len(v.Diff) == 0 {
			var pasted map[string]any
			_ = json.Unmarshal(doc, &pasted)
			v.Diff, v.Scope = diffOverrides(tenants.RedactSecrets(t.Overrides), pasted), "overrides"
		}
		v.Unchanged = len(v.Diff) == 0
		return h.renderJSON(r, fiber.StatusOK, v)
	}
	after, err := h.store.ReplaceSettings(r.ctx(), t.Slug, doc, actor(r.user))
	if err != nil {
		if _, _, ok := settingsErrors(err); !ok {
			return err
		}
		v.Errors = tenants.SettingsErrorList(err)
		return h.renderJSON(r, fiber.StatusUnprocessableEntity, v)
	}
	diff := diffDocs(t.Settings.Document(), after.Settings.Document())
	return h.redirectWith(r, tenantPath(t.Slug, "settings/json"), Flash{Kind: "success",
		Message: fmt.Sprintf("Settings document saved as version %d; %s. The change is in the audit log.", after.SettingsVersion, changedCount(diff)), Diff: diff})
}
