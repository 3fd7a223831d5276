package console

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// The branding form edits HALLPASS_BRANDING field by field (the logo as a
// file upload) instead of as JSON, and previews the hosted sign-in page
// with the draft: its Preview button posts the form into a sandboxed
// iframe, whose document has its own Content-Security-Policy (nothing
// loads but the inline, nonce-bound stylesheet and data: images), so the
// draft's custom CSS never touches the console's own page.

// brandingGroup is the slug of the branding settings form.
const brandingGroup = "branding"

// brandingKey is the setting the form edits.
const brandingKey = "HALLPASS_BRANDING"

// brandingForm is the form's values and their errors, by sub-key
// (product_name, primary_color, logo, custom_css).
type brandingForm struct {
	ProductName, PrimaryColor, CustomCSS string
	// LogoURI is the current logo as a data: URI ("" = none).
	LogoURI string
	// Errors are the problems of each sub-key.
	Errors map[string]string
}

// brandingView is the branding form page.
type brandingView struct {
	Slug     string
	Groups   []*group
	CanEdit  bool
	CSRF     string
	Version  int
	Form     brandingForm
	Problems []string
	// Overridden marks a tenant that set any branding.
	Overridden bool
}

func brandingFormOf(b tenants.Branding) brandingForm {
	f := brandingForm{ProductName: b.ProductName, PrimaryColor: b.PrimaryColor, CustomCSS: b.CustomCSS, Errors: map[string]string{}}
	if b.Logo != nil {
		f.LogoURI = b.Logo.DataURI()
	}
	return f
}

func (h settingsPages) brandingPage(r *request) error {
	return h.renderBranding(r, fiber.StatusOK, brandingFormOf(r.tenant.Settings.Branding), nil)
}

func (h settingsPages) renderBranding(r *request, status int, f brandingForm, problems []string) error {
	t := r.tenant
	_, set := t.Overrides[brandingKey]
	v := brandingView{Slug: t.Slug, Groups: h.catalog.groups, CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		Version: t.SettingsVersion, Form: f, Problems: problems, Overridden: set}
	return h.render(r, status, "Branding settings", brandingPage(v), active("tenants", "settings"),
		crumbs(web.Crumb{Label: "Settings", Href: tenantPath(t.Slug, "settings")}, web.Crumb{Label: "Branding"}))
}

// brandingDraft reads the posted form into the setting's JSON object: the
// current logo stays unless a new file replaces it or remove_logo is set.
// A problem with the upload itself is returned as the logo's error.
func brandingDraft(r *request) (map[string]any, brandingForm, string) {
	cur := r.tenant.Settings.Branding
	f := brandingForm{
		ProductName:  strings.TrimSpace(r.c.FormValue("product_name")),
		PrimaryColor: strings.TrimSpace(r.c.FormValue("primary_color")),
		CustomCSS:    strings.ReplaceAll(r.c.FormValue("custom_css"), "\r\n", "\n"),
		Errors:       map[string]string{},
	}
	obj := map[string]any{}
	if f.ProductName != "" {
		obj["product_name"] = f.ProductName
	}
	if f.PrimaryColor != "" {
		obj["primary_color"] = f.PrimaryColor
	}
	if strings.TrimSpace(f.CustomCSS) != "" {
		obj["custom_css"] = f.CustomCSS
	}
	if cur.Logo != nil && r.c.FormValue("remove_logo") != "1" {
		f.LogoURI = cur.Logo.DataURI()
	}
	uri, logoErr := uploadedLogo(r.c)
	if uri != "" {
		f.LogoURI = uri
	}
	if f.LogoURI != "" {
		obj["logo"] = f.LogoURI
	}
	return obj, f, logoErr
}

// uploadedLogo is the posted logo_file as a data: URI ("" when none was
// chosen). The type is the one the bytes show, so the setting's check
// names what the file really is (an SVG is refused there, by name).
func uploadedLogo(c *fiber.Ctx) (string, string) {
	fh, err := c.FormFile("logo_file")
	if err != nil || fh.Size == 0 {
		return "", ""
	}
	if fh.Size > tenants.MaxLogoBytes {
		return "", fmt.Sprintf("must be at most %d KiB (the file is %d bytes)", tenants.MaxLogoBytes>>10, fh.Size)
	}
	file, err := fh.Open()
	if err != nil {
		return "", "could not be read"
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, tenants.MaxLogoBytes+1))
	if err != nil {
		return "", "could not be read"
	}
	ct, _, _ := strings.Cut(http.DetectContentType(data), ";")
	if strings.HasSuffix(strings.ToLower(fh.Filename), ".svg") || strings.Contains(string(data[:min(len(data), 512)]), "<svg") {
		ct = "image/svg+xml"
	}
	return "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(data), ""
}

// brandingPost saves the form as one HALLPASS_BRANDING value (removing
// the override when the form is empty).
func (h settingsPages) brandingPost(r *request) error {
	t := r.tenant
	if v, _ := strconv.Atoi(r.c.FormValue("version")); v != t.SettingsVersion {
		return h.renderBranding(r, fiber.StatusConflict, brandingFormOf(t.Settings.Branding), []string{staleMessage(t)})
	}
	obj, f, logoErr := brandingDraft(r)
	if logoErr != "" {
		f.Errors["logo"] = logoErr
		return h.renderBranding(r, fiber.StatusUnprocessableEntity, f, nil)
	}
	cur := t.Settings.Document()[brandingKey]
	if canonical(obj) == canonical(cur) {
		return h.redirectWith(r, tenantPath(t.Slug, "settings/"+brandingGroup), Flash{Kind: "info", Message: "Nothing changed: the form matched the current settings."})
	}
	var val any = obj
	if len(obj) == 0 {
		val = nil // back to the default, not a pinned {}
	}
	raw, err := json.Marshal(map[string]any{brandingKey: val})
	if err != nil {
		return err
	}
	after, err := h.store.UpdateSettings(r.ctx(), t.Slug, raw, actor(r.user))
	if err != nil {
		list := tenants.SettingsErrorList(err)
		if list == nil {
			return err
		}
		var problems []string
		for _, e := range list {
			sub, reason, ok := strings.Cut(e.Reason, ": ")
			if e.Key == brandingKey && ok && f.Errors[sub] == "" && brandingSubKey(sub) {
				f.Errors[sub] = reason
				continue
			}
			problems = append(problems, e.Error())
		}
		return h.renderBranding(r, fiber.StatusUnprocessableEntity, f, problems)
	}
	diff := diffDocs(t.Settings.Document(), after.Settings.Document())
	return h.redirectWith(r, tenantPath(t.Slug, "settings/"+brandingGroup), Flash{Kind: "success",
		Message: fmt.Sprintf("Saved as settings version %d; %s. The change is in the audit log.", after.SettingsVersion, changedCount(diff)), Diff: diff})
}

func brandingSubKey(k string) bool {
	switch k {
	case "product_name", "primary_color", "logo", "custom_css":
		return true
	}
	return false
}

// brandingPreview renders the hosted sign-in page's look with the saved
// branding (GET) or the posted draft (POST), for the form's iframe. A
// draft that does not parse shows its errors instead.
func (h settingsPages) brandingPreview(r *request) error {
	t := r.tenant
	b := t.Settings.Branding
	var problems []string
	if r.c.Method() == fiber.MethodPost {
		obj, _, logoErr := brandingDraft(r)
		if logoErr != "" {
			problems = append(problems, "logo: "+logoErr)
		}
		raw, err := json.Marshal(map[string]any{brandingKey: obj})
		if err != nil {
			return err
		}
		draft, err := tenants.ParseSettings(raw)
		if err != nil {
			for _, e := range tenants.SettingsErrorList(err) {
				problems = append(problems, e.Reason)
			}
		} else {
			b = draft.Branding
		}
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	n := base64.RawStdEncoding.EncodeToString(nonce)
	c := r.c
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+n+"'; img-src data:; form-action 'none'; "+
		"frame-ancestors 'self'; base-uri 'none'")
	c.Set("X-Frame-Options", "SAMEORIGIN")
	name := b.ProductName
	if name == "" {
		name = t.Name
	}
	return writeHTML(c, fiber.StatusOK, brandingPreviewDoc(previewDoc{Nonce: n, Name: name, Branding: b, Problems: problems}))
}

// previewDoc is what the preview document shows.
type previewDoc struct {
	Nonce    string
	Name     string
	Branding tenants.Branding
	Problems []string
}

// previewBaseCSS is the hosted pages' own stylesheet (web/static's
// accounts.css), inlined in the preview so the draft's colours and custom
// CSS apply to the same rules and class names as on the real pages.
var previewBaseCSS = sync.OnceValue(func() string {
	b, _ := fs.ReadFile(web.Static(), "accounts.css")
	return string(b)
})

// previewStyle is the preview's one style element. Raw is safe here: the
// nonce is base64, and the stylesheet is the constant base plus a branding
// that parsed, whose custom CSS cannot contain "</style".
func previewStyle(d previewDoc) string {
	return `<style nonce="` + d.Nonce + `">` + previewBaseCSS() + "\n" + d.Branding.Stylesheet() + "</style>"
}
