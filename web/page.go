package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sync"

	"github.com/a-h/templ"
)

// Page is what the shared layout needs to frame one console page.
type Page struct {
	// Title names the page in the browser tab ("— Hallpass" is appended).
	Title string
	// Static is the path the assets are served under, e.g. "/console/static/".
	Static string
	// Home is the console's root path, e.g. "/console/".
	Home string
	// User is the signed-in user's email; "" renders the signed-out frame.
	User string
	// PlatformAdmin marks a platform admin (shown as a badge).
	PlatformAdmin bool
	// CSRF is the session's form token (for the sign-out form).
	CSRF string
	// Nav is the top navigation; Active is the key of the current entry.
	Nav    []NavItem
	Active string
	// Tenant, when set, adds the tenant's side navigation.
	Tenant *TenantNav
	// Crumbs is the breadcrumb trail above the heading.
	Crumbs []Crumb
	// Flash is a one-time message rendered above the content.
	Flash templ.Component
}

// NavItem is one navigation link.
type NavItem struct {
	Key, Label, Href string
}

// TenantNav is the side navigation of one tenant's pages.
type TenantNav struct {
	Slug, Name string
	// Role is the user's role on the tenant ("platform admin", "owner", ...).
	Role string
	// Active is the key of the current entry.
	Active string
	Items  []NavItem
}

// Crumb is one breadcrumb; the last one has no Href.
type Crumb struct {
	Label, Href string
}

var (
	versionsOnce sync.Once
	versions     map[string]string
)

// AssetURL returns the URL of an embedded asset under prefix with a content
// hash in its query, so a changed file is never served from a stale cache.
func AssetURL(prefix, name string) string {
	versionsOnce.Do(func() {
		versions = map[string]string{}
		_ = fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(Static(), p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			versions[p] = hex.EncodeToString(sum[:6])
			return nil
		})
	})
	if v, ok := versions[name]; ok {
		return prefix + name + "?v=" + v
	}
	return prefix + name
}
