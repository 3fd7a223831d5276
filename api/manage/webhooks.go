package manage

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// WebhookOut is one of a tenant's webhook endpoints (never its secret).
type WebhookOut struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	// Events are the event types it receives; empty: every type.
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// DisabledReason says why a disabled endpoint is (410, five days of
	// failures, or the tenant).
	DisabledReason string `json:"disabled_reason,omitempty"`
	// FailingSince is the first failed attempt since the last success.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// PreviousSecretExpiresAt is when the secret rotated out stops
	// signing beside the current one.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// WebhookWithSecret is an endpoint just created, or whose secret was just
// rotated, with its signing secret: shown this once, never again.
type WebhookWithSecret struct {
	WebhookOut
	Secret string `json:"secret" doc:"The signing secret (whsec_…): keep it, it is not shown again."`
}

// WebhookList is every webhook endpoint of a tenant, oldest first.
type WebhookList struct {
	Items []WebhookOut `json:"items"`
}

// WebhookCreate is the body that creates an endpoint.
type WebhookCreate struct {
	URL         string   `json:"url"`
	Events      []string `json:"events,omitempty" doc:"Event types to receive; empty or absent: all."`
	Description string   `json:"description,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true."`
}

// WebhookUpdate changes the fields it holds.
type WebhookUpdate struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Description *string   `json:"description,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty" doc:"true also clears the failure record of an endpoint the platform disabled."`
}

// WebhookAttemptOut is one entry of an endpoint's delivery log.
type WebhookAttemptOut struct {
	// ID is the entry's id, a decimal string.
	ID        string    `json:"id"`
	MessageID uuid.UUID `json:"message_id" doc:"The webhook-id header of the message."`
	EventType string    `json:"event_type"`
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome" doc:"delivered, failed, or skipped (the endpoint was disabled)."`
	// ResponseStatus is the receiver's HTTP status (absent: no answer).
	ResponseStatus *int  `json:"response_status,omitempty"`
	LatencyMS      int64 `json:"latency_ms"`
	// ResponseExcerpt is the start of the receiver's answer (8 KiB at most).
	ResponseExcerpt string `json:"response_excerpt"`
	Error           string `json:"error,omitempty"`
	Trigger         string `json:"trigger" doc:"auto (the event), redeliver, or test."`
}

// WebhookQueued says how many messages were queued.
type WebhookQueued struct {
	Queued int `json:"queued"`
	// MessageID is the test message's id (send test event only).
	MessageID *uuid.UUID `json:"message_id,omitempty"`
}

// WebhookRedeliver is the body that redelivers an endpoint's failed
// messages created at or after Since.
type WebhookRedeliver struct {
	Since time.Time `json:"since"`
}

// WebhookEventType is one event type of the catalog: what causes it and
// the JSON Schema of its payload's data.
type WebhookEventType struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// WebhookEventTypeList is the catalog of event types.
type WebhookEventTypeList struct {
	Items []WebhookEventType `json:"items"`
}

func (h webhookHandlers) webhookOperations() []Operation {
	if h.cfg.Webhooks == nil {
		return nil
	}
	const base = "/tenants/{slug}/webhooks"
	return []Operation{
		{ID: "listWebhookEventTypes", Method: http.MethodGet, Path: base + "/event-types", Scope: apikeys.WebhooksRead,
			Summary: "List the event types an endpoint can receive, with their JSON Schemas", Status: http.StatusOK,
			Response: WebhookEventTypeList{}, Handle: h.listEventTypes},
		{ID: "listWebhooks", Method: http.MethodGet, Path: base, Scope: apikeys.WebhooksRead,
			Summary: "List a tenant's webhook endpoints", Status: http.StatusOK, Response: WebhookList{}, Handle: h.listWebhooks},
		{ID: "createWebhook", Method: http.MethodPost, Path: base, Scope: apikeys.WebhooksWrite,
			Summary: "Create a webhook endpoint (its secret is in this answer only)", Request: WebhookCreate{}, Status: http.StatusCreated,
			Response: WebhookWithSecret{}, Handle: h.createWebhook},
		{ID: "getWebhook", Method: http.MethodGet, Path: base + "/{id}", Scope: apikeys.WebhooksRead,
			Summary: "Get a webhook endpoint", Status: http.StatusOK, Response: WebhookOut{}, Handle: h.getWebhook},
		{ID: "updateWebhook", Method: http.MethodPatch, Path: base + "/{id}", Scope: apikeys.WebhooksWrite,
			Summary: "Change a webhook endpoint", Request: WebhookUpdate{}, Status: http.StatusOK, Response: WebhookOut{}, Handle: h.updateWebhook},
		{ID: "deleteWebhook", Method: http.MethodDelete, Path: base + "/{id}", Scope: apikeys.WebhooksWrite,
			Summary: "Delete a webhook endpoint (its queued messages are not sent)", Status: http.StatusNoContent, Handle: h.deleteWebhook},
		{ID: "rotateWebhookSecret", Method: http.MethodPost, Path: base + "/{id}/rotate-secret", Scope: apikeys.WebhooksWrite,
			Summary: "Rotate an endpoint's signing secret (the old one signs too for 24 h)", Status: http.StatusOK,
			Response: WebhookWithSecret{}, Handle: h.rotateSecret},
		{ID: "sendWebhookTest", Method: http.MethodPost, Path: base + "/{id}/test", Scope: apikeys.WebhooksWrite,
			Summary: "Send a test event to an endpoint", Status: http.StatusAccepted, Response: WebhookQueued{}, Handle: h.sendTest},
		{ID: "listWebhookAttempts", Method: http.MethodGet, Path: base + "/{id}/attempts", Scope: apikeys.WebhooksRead,
			Summary: "List an endpoint's delivery log, newest first", Status: http.StatusOK, Response: Page[WebhookAttemptOut]{},
			Handle: h.listAttempts},
		{ID: "redeliverWebhookMessage", Method: http.MethodPost, Path: base + "/{id}/messages/{message_id}/redeliver",
			Scope: apikeys.WebhooksWrite, Summary: "Deliver one message to an endpoint again", Status: http.StatusAccepted,
			Response: WebhookQueued{}, Handle: h.redeliverMessage},
		{ID: "redeliverFailedWebhooks", Method: http.MethodPost, Path: base + "/{id}/redeliver", Scope: apikeys.WebhooksWrite,
			Summary: "Deliver again every failed message created since a time", Request: WebhookRedeliver{}, Status: http.StatusAccepted,
			Response: WebhookQueued{}, Handle: h.redeliverFailed},
	}
}

func webhookOut(e webhooks.Endpoint) WebhookOut {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return WebhookOut{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, FailingSince: utc(e.FailingSince), PreviousSecretExpiresAt: utc(e.PreviousSecretUntil),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
}

// webhookError answers the webhook service's refusals.
func webhookError(err error) error {
	var ie *webhooks.InputError
	switch {
	case errors.As(err, &ie) && ie.Code == "too_many_endpoints":
		return &Error{Status: http.StatusConflict, Code: ie.Code, Detail: "The tenant has as many webhook endpoints as it may (" + ie.Message + ")."}
	case errors.As(err, &ie):
		return Invalid("The webhook endpoint is invalid.", FieldError{Field: "/" + ie.Field, Code: ie.Code, Message: ie.Message})
	case errors.Is(err, webhooks.ErrNotFound):
		return NotFound("webhook endpoint")
	}
	return err
}

// endpointID reads the path's {id}; one that is no UUID names nothing.
func endpointID(c *fiber.Ctx, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(name))
	if err != nil {
		if name == "id" {
			return uuid.Nil, NotFound("webhook endpoint")
		}
		return uuid.Nil, NotFound("message")
	}
	return id, nil
}

func (h webhookHandlers) listEventTypes(c *fiber.Ctx, _ *Request) error {
	out := WebhookEventTypeList{Items: []WebhookEventType{}}
	for _, t := range events.Catalog() {
		out.Items = append(out.Items, WebhookEventType{Type: t.Type, Description: t.Description, Schema: t.Schema})
	}
	return c.JSON(out)
}

func (h webhookHandlers) listWebhooks(c *fiber.Ctx, r *Request) error {
	list, err := h.cfg.Webhooks.List(c.UserContext(), r.Tenant.ID)
	if err != nil {
		return err
	}
	out := WebhookList{Items: make([]WebhookOut, 0, len(list))}
	for _, e := range list {
		out.Items = append(out.Items, webhookOut(e))
	}
	return c.JSON(out)
}

func (h webhookHandlers) createWebhook(c *fiber.Ctx, r *Request) error {
	var in WebhookCreate
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	input := webhooks.EndpointInput{URL: &in.URL, Description: &in.Description, Enabled: in.Enabled}
	if in.Events != nil {
		input.Events = &in.Events
	}
	e, secret, err := h.cfg.Webhooks.Create(c.UserContext(), r.Tenant.ID, input, r.Actor(c))
	if err != nil {
		return webhookError(err)
	}
	c.Location(Prefix + "/tenants/" + r.Tenant.Slug + "/webhooks/" + e.ID.String())
	return c.Status(http.StatusCreated).JSON(WebhookWithSecret{WebhookOut: webhookOut(e), Secret: secret})
}

func (h webhookHandlers) getWebhook(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	e, err := h.cfg.Webhooks.Get(c.UserContext(), r.Tenant.ID, id)
	if err != nil {
		return webhookError(err)
	}
	return c.JSON(webhookOut(e))
}

func (h webhookHandlers) updateWebhook(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	var in WebhookUpdate
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	e, err := h.cfg.Webhooks.Update(c.UserContext(), r.Tenant.ID, id,
		webhooks.EndpointInput{URL: in.URL, Description: in.Description, Events: in.Events, Enabled: in.Enabled}, r.Actor(c))
	if err != nil {
		return webhookError(err)
	}
	return c.JSON(webhookOut(e))
}

func (h webhookHandlers) deleteWebhook(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	if err := h.cfg.Webhooks.Delete(c.UserContext(), r.Tenant.ID, id, r.Actor(c)); err != nil {
		return webhookError(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h webhookHandlers) rotateSecret(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	e, secret, err := h.cfg.Webhooks.RotateSecret(c.UserContext(), r.Tenant.ID, id, r.Actor(c))
	if err != nil {
		return webhookError(err)
	}
	return c.JSON(WebhookWithSecret{WebhookOut: webhookOut(e), Secret: secret})
}

func (h webhookHandlers) sendTest(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	msg, err := h.cfg.Webhooks.SendTest(c.UserContext(), r.Tenant.ID, id, webhooks.TestPayload(r.Tenant.Slug))
	if err != nil {
		return webhookError(err)
	}
	return c.Status(http.StatusAccepted).JSON(WebhookQueued{Queued: 1, MessageID: &msg})
}

func (h webhookHandlers) listAttempts(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	scope := "webhook-attempts:" + r.Tenant.ID.String() + ":" + id.String()
	var before int64
	if cur := c.Query("cursor"); cur != "" {
		if err := h.cursors.decode(scope, cur, &before); err != nil {
			return err
		}
	}
	if _, err := h.cfg.Webhooks.Get(c.UserContext(), r.Tenant.ID, id); err != nil {
		return webhookError(err)
	}
	list, err := h.cfg.Webhooks.Attempts(c.UserContext(), r.Tenant.ID, id, before, limit+1)
	if err != nil {
		return err
	}
	out := Page[WebhookAttemptOut]{Items: make([]WebhookAttemptOut, 0, min(len(list), limit))}
	for i, a := range list {
		if i == limit {
			next, err := h.cursors.encode(scope, list[i-1].ID)
			if err != nil {
				return err
			}
			out.NextCursor = next
			break
		}
		out.Items = append(out.Items, WebhookAttemptOut{ID: strconv.FormatInt(a.ID, 10), MessageID: a.MessageID, EventType: a.EventType,
			At: a.At.UTC(), Outcome: a.Outcome, ResponseStatus: a.StatusCode, LatencyMS: a.Latency.Milliseconds(),
			ResponseExcerpt: a.Excerpt, Error: a.Error, Trigger: a.Trigger})
	}
	return c.JSON(out)
}

func (h webhookHandlers) redeliverMessage(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	msg, err := endpointID(c, "message_id")
	if err != nil {
		return err
	}
	err = h.cfg.Webhooks.Redeliver(c.UserContext(), r.Tenant.ID, id, msg)
	if errors.Is(err, webhooks.ErrNotFound) {
		return NotFound("message of this webhook endpoint")
	}
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(WebhookQueued{Queued: 1})
}

func (h webhookHandlers) redeliverFailed(c *fiber.Ctx, r *Request) error {
	id, err := endpointID(c, "id")
	if err != nil {
		return err
	}
	var in WebhookRedeliver
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.Since.IsZero() {
		return Invalid("since is required.", FieldError{Field: "/since", Code: "required", Message: "an RFC 3339 date-time"})
	}
	n, err := h.cfg.Webhooks.RedeliverFailed(c.UserContext(), r.Tenant.ID, id, in.Since)
	if err != nil {
		return webhookError(err)
	}
	return c.Status(http.StatusAccepted).JSON(WebhookQueued{Queued: n})
}
