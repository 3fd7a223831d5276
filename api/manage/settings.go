package manage

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// SettingsOut is a tenant's settings: the overrides document as written
// (PATCH merges into it) and the effective settings (allauth's defaults
// with the overrides applied); secrets are shown as "<redacted>" in both.
// Version is also the answer's ETag.
type SettingsOut struct {
	Version   int            `json:"version"`
	Overrides map[string]any `json:"overrides"`
	Effective map[string]any `json:"effective"`
}

// SettingsVersionOut is one version of a tenant's settings (secrets
// redacted).
type SettingsVersionOut struct {
	Version   int            `json:"version"`
	Overrides map[string]any `json:"overrides"`
	ChangedBy string         `json:"changed_by"`
	ChangedAt time.Time      `json:"changed_at"`
}

// SettingsPatch is a JSON merge patch of the overrides document: a key
// replaces, null removes (back to allauth's default). A secret given as
// "<redacted>" keeps its current value.
type SettingsPatch map[string]any

var (
	errPreconditionRequired = &Error{Status: http.StatusPreconditionRequired, Code: "precondition_required",
		Detail: `Send If-Match with the settings' current ETag (GET the settings first), e.g. If-Match: "3".`}
	errPreconditionFailed = &Error{Status: http.StatusPreconditionFailed, Code: "precondition_failed",
		Detail: "The settings changed since that version; nothing was written. GET them again and retry."}
)

func (h settingsHandlers) settingsOperations() []Operation {
	return []Operation{
		{ID: "getSettings", Method: http.MethodGet, Path: "/tenants/{slug}/settings", Scope: apikeys.SettingsRead,
			Summary: "Get a tenant's settings", Status: http.StatusOK, Response: SettingsOut{}, Handle: h.getSettings},
		{ID: "patchSettings", Method: http.MethodPatch, Path: "/tenants/{slug}/settings", Scope: apikeys.SettingsWrite,
			Summary: "Change a tenant's settings (merge; If-Match required)", Request: SettingsPatch{}, Status: http.StatusOK,
			Response: SettingsOut{}, Handle: h.patchSettings,
			Query: []Param{{Name: "If-Match", In: "header", Required: true,
				Description: `The settings' current ETag (their version, "3"); a stale one answers 412 and writes nothing.`}}},
		{ID: "listSettingsHistory", Method: http.MethodGet, Path: "/tenants/{slug}/settings/history", Scope: apikeys.SettingsRead,
			Summary: "List a tenant's settings versions, newest first", Status: http.StatusOK, Response: Page[SettingsVersionOut]{},
			Handle: h.settingsHistory},
	}
}

func settingsOut(c *fiber.Ctx, t *tenants.Tenant) error {
	c.Set(fiber.HeaderETag, etag(t.SettingsVersion))
	overrides := tenants.RedactSecrets(t.Overrides)
	if overrides == nil {
		overrides = map[string]any{}
	}
	return c.JSON(SettingsOut{Version: t.SettingsVersion, Overrides: overrides, Effective: tenants.RedactSecrets(t.Settings.Document())})
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// getSettings reads the tenant afresh (not the cache): the ETag must be the
// version a PATCH will be checked against.
func (h settingsHandlers) getSettings(c *fiber.Ctx, r *Request) error {
	t, err := h.cfg.Store.Get(c.UserContext(), r.Tenant.Slug)
	if err != nil {
		return tenantError(err, "")
	}
	return settingsOut(c, t)
}

// ifMatch reads the If-Match header: the version it names; 428 when it is
// absent, 412 when it names no version (a weak or "*" tag included: only
// the exact version is a safe base for a merge).
func ifMatch(c *fiber.Ctx) (int, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" {
		return 0, errPreconditionRequired
	}
	unq, ok := strings.CutPrefix(h, `"`)
	if unq, ok2 := strings.CutSuffix(unq, `"`); ok && ok2 {
		if n, err := strconv.Atoi(unq); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, errPreconditionFailed
}

func (h settingsHandlers) patchSettings(c *fiber.Ctx, r *Request) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	body, err := jsonObjectBody(c)
	if err != nil {
		return err
	}
	t, err := h.cfg.Store.UpdateSettingsAt(c.UserContext(), r.Tenant.Slug, version, body, r.Key.Actor())
	if errors.Is(err, tenants.ErrStaleSettings) {
		return errPreconditionFailed
	}
	if err != nil {
		return tenantError(err, "")
	}
	return settingsOut(c, t)
}

// jsonObjectBody is a body that must be one JSON object of any shape (a
// settings document): 415 without a JSON content type, 400 when it is not
// JSON, 422 when it is JSON but not an object. The settings validation
// says the rest.
func jsonObjectBody(c *fiber.Ctx) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil ||
		(mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return nil, &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type", Detail: "The body must be JSON (Content-Type: application/json)."}
	}
	body := c.Request().Body()
	if !json.Valid(body) {
		return nil, BadRequest("malformed_json", "The body is not valid JSON.")
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, Invalid("The body must be a JSON object.", FieldError{Field: "", Code: "invalid_type", Message: "expected a JSON object"})
	}
	return body, nil
}

// settingsHistory pages through the tenant's settings versions.
func (h settingsHandlers) settingsHistory(c *fiber.Ctx, r *Request) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	scope := "settings-history:" + r.Tenant.ID.String()
	before := 0
	if cur := c.Query("cursor"); cur != "" {
		if err := h.cursors.decode(scope, cur, &before); err != nil {
			return err
		}
	}
	list, err := h.cfg.Store.SettingsHistoryBefore(c.UserContext(), r.Tenant.ID, before, limit+1)
	if err != nil {
		return err
	}
	page := Page[SettingsVersionOut]{Items: []SettingsVersionOut{}}
	for i, v := range list {
		if i == limit {
			if page.NextCursor, err = h.cursors.encode(scope, list[i-1].Version); err != nil {
				return err
			}
			break
		}
		doc := v.Settings
		if doc == nil {
			doc = map[string]any{}
		}
		page.Items = append(page.Items, SettingsVersionOut{Version: v.Version, Overrides: doc, ChangedBy: v.ChangedBy, ChangedAt: v.ChangedAt.UTC()})
	}
	return c.JSON(page)
}
