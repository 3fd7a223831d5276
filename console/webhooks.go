package console

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/web"
)

// The webhooks pages: a tenant's endpoints (viewers see them and their
// delivery log; admins and owners create, rotate, test, redeliver, enable,
// disable and delete). A signing secret appears once, on the answer to the
// POST that created or rotated it, never in a flash or anywhere else.

// webhooksView is the endpoints page.
type webhooksView struct {
	Slug      string
	Endpoints []webhooks.Endpoint
	Types     []string
	CanEdit   bool
	CSRF      string
	// The create form's input and error.
	URL, Description string
	Checked          map[string]bool
	FormError        string
	// Created is the endpoint just created; Secret its secret, shown once.
	Created *webhooks.Endpoint
	Secret  string
}

// webhookView is one endpoint's page.
type webhookView struct {
	Slug     string
	E        webhooks.Endpoint
	Attempts []webhooks.Attempt
	CanEdit  bool
	CSRF     string
	// Secret is the secret a rotation just made, shown once.
	Secret string
}

func (h webhookPages) webhooksViewOf(r *request) (webhooksView, error) {
	list, err := h.cfg.Webhooks.List(r.ctx(), r.tenant.ID)
	if err != nil {
		return webhooksView{}, err
	}
	return webhooksView{Slug: r.tenant.Slug, Endpoints: list, Types: webhookTypes(), CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		Checked: map[string]bool{}}, nil
}

func (h webhookPages) renderWebhooks(r *request, status int, v webhooksView) error {
	return h.render(r, status, "Webhooks", webhooksPage(v), active("tenants", "webhooks"), crumbs(web.Crumb{Label: "Webhooks"}))
}

func (h webhookPages) webhooksPage(r *request) error {
	if h.cfg.Webhooks == nil {
		return errNotFound
	}
	v, err := h.webhooksViewOf(r)
	if err != nil {
		return err
	}
	return h.renderWebhooks(r, fiber.StatusOK, v)
}

// createWebhook saves an endpoint and answers with its secret, shown once.
func (h webhookPages) createWebhook(r *request) error {
	if h.cfg.Webhooks == nil {
		return errNotFound
	}
	v, err := h.webhooksViewOf(r)
	if err != nil {
		return err
	}
	v.URL, v.Description = strings.TrimSpace(r.c.FormValue("url")), strings.TrimSpace(r.c.FormValue("description"))
	types := []string{}
	for _, t := range r.c.Request().PostArgs().PeekMulti("event") {
		types = append(types, string(t))
		v.Checked[string(t)] = true
	}
	e, secret, err := h.cfg.Webhooks.Create(r.ctx(), r.tenant.ID, webhooks.EndpointInput{URL: &v.URL, Description: &v.Description, Events: &types},
		operator(r))
	var ie *webhooks.InputError
	if errors.As(err, &ie) {
		v.FormError = webhookInputMessage(ie)
		return h.renderWebhooks(r, fiber.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	if v, err = h.webhooksViewOf(r); err != nil {
		return err
	}
	v.Created, v.Secret = &e, secret
	return h.renderWebhooks(r, fiber.StatusOK, v)
}

// webhookInputMessage words a refused endpoint for the form.
func webhookInputMessage(ie *webhooks.InputError) string {
	switch ie.Code {
	case "insecure_url":
		return "The URL must start with https://."
	case "private_address":
		return "The URL's host resolves to a private, loopback or link-local address: " + ie.Message + ". Endpoints must be reachable on the public internet."
	case "unresolvable_host":
		return "The URL's host name does not resolve (" + ie.Message + "). Check the spelling, or publish its DNS record first."
	case "required", "invalid_url":
		return "Enter an absolute URL, such as https://api.example.com/webhooks."
	}
	return strings.ToUpper(ie.Message[:1]) + ie.Message[1:] + "."
}

// webhookTypes are the types the form offers.
func webhookTypes() []string {
	return webhooks.CatalogTypes()
}

// endpointOf loads the route's :id, within the tenant.
func (h webhookPages) endpointOf(r *request) (webhooks.Endpoint, error) {
	if h.cfg.Webhooks == nil {
		return webhooks.Endpoint{}, errNotFound
	}
	id, err := uuid.Parse(r.c.Params("id"))
	if err != nil {
		return webhooks.Endpoint{}, errNotFound
	}
	e, err := h.cfg.Webhooks.Get(r.ctx(), r.tenant.ID, id)
	if errors.Is(err, webhooks.ErrNotFound) {
		return e, errNotFound
	}
	return e, err
}

func (h webhookPages) renderWebhook(r *request, status int, e webhooks.Endpoint, secret string) error {
	attempts, err := h.cfg.Webhooks.Attempts(r.ctx(), r.tenant.ID, e.ID, 0, 100)
	if err != nil {
		return err
	}
	v := webhookView{Slug: r.tenant.Slug, E: e, Attempts: attempts, CanEdit: r.canEdit(), CSRF: r.session.CSRF, Secret: secret}
	return h.render(r, status, "Webhook endpoint", webhookPage(v), active("tenants", "webhooks"),
		crumbs(web.Crumb{Label: "Webhooks", Href: tenantPath(r.tenant.Slug, "webhooks")}, web.Crumb{Label: e.URL}))
}

// webhookPage shows one endpoint and its delivery log, newest first.
func (h webhookPages) webhookPage(r *request) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	return h.renderWebhook(r, fiber.StatusOK, e, "")
}

func webhookPath(slug string, id uuid.UUID) string { return tenantPath(slug, "webhooks/"+id.String()) }

// rotateWebhook gives the endpoint a new secret, shown on this answer only.
func (h webhookPages) rotateWebhook(r *request) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	e, secret, err := h.cfg.Webhooks.RotateSecret(r.ctx(), r.tenant.ID, e.ID, operator(r))
	if err != nil {
		return err
	}
	return h.renderWebhook(r, fiber.StatusOK, e, secret)
}

// testWebhook queues a test event; its attempt shows in the log.
func (h webhookPages) testWebhook(r *request) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Webhooks.SendTest(r.ctx(), r.tenant.ID, e.ID, webhooks.TestPayload(r.tenant.Slug)); err != nil {
		return err
	}
	return h.redirectWith(r, webhookPath(r.tenant.Slug, e.ID), Flash{Kind: "success",
		Message: "A test event (webhook.test) is on its way; reload to see the attempt below."})
}

// redeliverWebhook queues one message again (field message), or every
// failed message of the last since_hours hours.
func (h webhookPages) redeliverWebhook(r *request) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	back := webhookPath(r.tenant.Slug, e.ID)
	if m := r.c.FormValue("message"); m != "" {
		id, err := uuid.Parse(m)
		if err != nil {
			return errNotFound
		}
		if err := h.cfg.Webhooks.Redeliver(r.ctx(), r.tenant.ID, e.ID, id); errors.Is(err, webhooks.ErrNotFound) {
			return errNotFound
		} else if err != nil {
			return err
		}
		return h.redirectWith(r, back, Flash{Kind: "success", Message: "Message " + id.String() + " is queued again."})
	}
	hours, err := strconv.Atoi(r.c.FormValue("since_hours"))
	if err != nil || hours < 1 || hours > 24*90 {
		return h.redirectWith(r, back, Flash{Kind: "error", Message: "Choose how far back to redeliver: 1 to 2160 hours."})
	}
	n, err := h.cfg.Webhooks.RedeliverFailed(r.ctx(), r.tenant.ID, e.ID, time.Now().Add(-time.Duration(hours)*time.Hour))
	if err != nil {
		return err
	}
	return h.redirectWith(r, back, Flash{Kind: "success", Message: fmt.Sprintf("%d failed messages of the last %d hours are queued again.", n, hours)})
}

// enableWebhook and disableWebhook switch the endpoint; enabling clears
// its failure record.
func (h webhookPages) enableWebhook(r *request) error  { return h.setEnabled(r, true) }
func (h webhookPages) disableWebhook(r *request) error { return h.setEnabled(r, false) }

func (h webhookPages) setEnabled(r *request, on bool) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Webhooks.Update(r.ctx(), r.tenant.ID, e.ID, webhooks.EndpointInput{Enabled: &on}, operator(r)); err != nil {
		return err
	}
	msg := "The endpoint is disabled: events are no longer queued for it."
	if on {
		msg = "The endpoint is enabled. Redeliver the messages it missed from the form below."
	}
	return h.redirectWith(r, webhookPath(r.tenant.Slug, e.ID), Flash{Kind: "success", Message: msg})
}

// deleteWebhook removes the endpoint; its queued messages are not sent.
func (h webhookPages) deleteWebhook(r *request) error {
	e, err := h.endpointOf(r)
	if err != nil {
		return err
	}
	if err := h.cfg.Webhooks.Delete(r.ctx(), r.tenant.ID, e.ID, operator(r)); err != nil && !errors.Is(err, webhooks.ErrNotFound) {
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "webhooks"), Flash{Kind: "success",
		Message: e.URL + " is deleted, with its delivery log; messages still queued for it will not be sent."})
}

// latency shows an attempt's duration.
func latency(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" }

// statusLabel shows an attempt's HTTP status ("—" without an answer).
func statusLabel(s *int) string {
	if s == nil {
		return "—"
	}
	return strconv.Itoa(*s)
}

// eventsLabel shows an endpoint's subscription.
func eventsLabel(types []string) string {
	if len(types) == 0 {
		return "all events"
	}
	return strings.Join(types, ", ")
}

// excerpt shortens a response excerpt for the log's table.
func excerpt(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
