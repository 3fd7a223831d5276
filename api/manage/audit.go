package manage

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
)

// AuditEventOut is one event of a tenant's audit trail.
type AuditEventOut struct {
	// ID is the event's id, a decimal string (it may exceed JSON's safe
	// integers).
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	IP     string    `json:"ip,omitempty"`
	// Details are the event's particulars, free-form by action.
	Details map[string]any `json:"details"`
}

func (h auditHandlers) auditOperations() []Operation {
	return []Operation{
		{ID: "listAuditEvents", Method: http.MethodGet, Path: "/tenants/{slug}/audit-events", Scope: apikeys.AuditRead,
			Summary: "List a tenant's audit events, newest first (filters: action, actor, target, since, until)",
			Status:  http.StatusOK, Response: Page[AuditEventOut]{}, Handle: h.listAuditEvents,
			Query: []Param{
				{Name: "action", Description: "Only events of this action (\"user.create\")."},
				{Name: "actor", Description: "Only events by this actor (\"apikey:<id>\", an admin's email)."},
				{Name: "target", Description: "Only events about this target."},
				{Name: "since", Type: time.Time{}, Description: "Only events at or after this time (RFC 3339)."},
				{Name: "until", Type: time.Time{}, Description: "Only events before this time (RFC 3339)."},
			}},
	}
}

// auditPosition is an audit cursor's position.
type auditPosition struct {
	At int64 `json:"at"` // unix microseconds
	ID int64 `json:"id"`
}

func (h auditHandlers) listAuditEvents(c *fiber.Ctx, r *Request) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	f := audit.Filter{Action: c.Query("action"), Actor: c.Query("actor"), Target: c.Query("target")}
	var bad []FieldError
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		raw := c.Query(p.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			bad = append(bad, FieldError{Field: p.name, Code: "invalid_time", Message: p.name + " must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z"})
			continue
		}
		*p.dst = t
	}
	if len(bad) > 0 {
		return Invalid("A time filter is not an RFC 3339 time.", bad...)
	}
	// The cursor is bound to the tenant and to the filters: a page of one
	// listing does not continue another.
	scope := "audit:" + r.Tenant.ID.String() + "\x00" + f.Action + "\x00" + f.Actor + "\x00" + f.Target + "\x00" +
		c.Query("since") + "\x00" + c.Query("until")
	var before audit.Cursor
	if cur := c.Query("cursor"); cur != "" {
		var pos auditPosition
		if err := h.cursors.decode(scope, cur, &pos); err != nil {
			return err
		}
		before = audit.Cursor{At: time.UnixMicro(pos.At).UTC(), ID: pos.ID}
	}
	list, err := audit.ListFiltered(c.UserContext(), h.cfg.Pool, r.Tenant.ID, f, before, limit+1)
	if err != nil {
		return err
	}
	page := Page[AuditEventOut]{Items: []AuditEventOut{}}
	for i, e := range list {
		if i == limit {
			last := list[i-1]
			if page.NextCursor, err = h.cursors.encode(scope, auditPosition{At: last.At.UnixMicro(), ID: last.ID}); err != nil {
				return err
			}
			break
		}
		details := e.Details
		if details == nil {
			details = map[string]any{}
		}
		page.Items = append(page.Items, AuditEventOut{ID: strconv.FormatInt(e.ID, 10), At: e.At.UTC(), Actor: e.Actor,
			Action: e.Action, Target: e.Target, IP: e.IP, Details: details})
	}
	return c.JSON(page)
}
