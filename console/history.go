package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/web"
)

// historyEntry is one settings version with what it changed.
type historyEntry struct {
	Version   int
	ChangedBy string
	ChangedAt time.Time
	// Diff compares the version's overrides with the previous version's.
	Diff    []DiffLine
	First   bool
	Current bool
}

// historyView is the settings history page.
type historyView struct {
	Slug    string
	Groups  []*group
	Entries []historyEntry
	// Before is the version this page started below (0 = newest); Next the
	// cursor of the next page (0 = last page).
	Before, Next int
}

func (v historyView) pageURL(before int) string {
	p := tenantPath(v.Slug, "settings/history")
	if before > 0 {
		p += "?before=" + strconv.Itoa(before)
	}
	return p
}

// settingsHistory lists the tenant's settings versions, newest first, each
// with its diff against the one before (secrets redacted: a version that
// changed only a secret shows no visible difference).
func (h settingsPages) settingsHistory(r *request) error {
	ctx := r.ctx()
	versions, err := h.store.SettingsHistory(ctx, r.tenant.ID)
	if err != nil {
		return err
	}
	v := historyView{Slug: r.tenant.Slug, Groups: h.catalog.groups}
	v.Before, _ = strconv.Atoi(r.c.Query("before"))
	start := 0
	if v.Before > 0 {
		for start < len(versions) && versions[start].Version >= v.Before {
			start++
		}
	}
	end := min(start+pageSize, len(versions))
	if end < len(versions) {
		v.Next = versions[end-1].Version
	}
	var ids []uuid.UUID
	for _, ver := range versions[start:end] {
		if rest, ok := strings.CutPrefix(ver.ChangedBy, "console:"); ok {
			if id, err := uuid.Parse(rest); err == nil {
				ids = append(ids, id)
			}
		}
	}
	emails, err := h.users.Emails(ctx, ids)
	if err != nil {
		return err
	}
	for i := start; i < end; i++ {
		ver := versions[i]
		e := historyEntry{Version: ver.Version, ChangedBy: actorName(ver.ChangedBy, emails), ChangedAt: ver.ChangedAt,
			Current: ver.Version == r.tenant.SettingsVersion}
		prev := map[string]any{}
		if i+1 < len(versions) {
			prev = versions[i+1].Settings
		} else {
			e.First = true
		}
		e.Diff = diffOverrides(prev, ver.Settings)
		v.Entries = append(v.Entries, e)
	}
	return h.render(r, fiber.StatusOK, "Settings history", settingsHistoryPage(v), active("tenants", "settings"),
		crumbs(web.Crumb{Label: "Settings", Href: tenantPath(r.tenant.Slug, "settings")}, web.Crumb{Label: "History"}))
}

func versionLabel(e historyEntry) string {
	s := fmt.Sprintf("Version %d", e.Version)
	if e.Current {
		s += " (current)"
	}
	return s
}
