package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// quickstartView is the quickstart page: where the tenant's API lives and
// requests that work against it as shown.
type quickstartView struct {
	APIBase, HostBase string
	JWKSURL           string
	Client            string // the client the examples use ("app" or "browser")
	ConfigCurl        string
	SignupCurl        string
	SignupNote        string
	JWT               bool
}

func (h *Console) quickstart(r *request) error {
	t := r.tenant
	s := t.Settings
	base := h.apiBase(t.Slug)
	v := quickstartView{APIBase: base, HostBase: h.hostBase(t.Slug), JWKSURL: base + "/.well-known/jwks.json", JWT: s.TokenStrategy == tenants.TokenStrategyJWT}
	v.Client = "app"
	if !s.HasClient("app") {
		v.Client = "browser"
	}
	api := base + "/_allauth/" + v.Client + "/v1"
	v.ConfigCurl = "curl -s " + api + "/config"
	body := map[string]string{}
	if _, ok := s.SignupField("email"); ok {
		body["email"] = "ada@example.com"
	}
	if _, ok := s.SignupField("username"); ok {
		body["username"] = "ada"
	}
	if _, ok := s.SignupField("password1"); ok {
		body["password"] = "tame-otter-sings-41"
	}
	raw, _ := json.Marshal(body)
	switch {
	case !s.SignupOpen:
		v.SignupNote = "Signup is closed (HALLPASS_SIGNUP_OPEN is false): this request answers 403."
	case v.Client == "browser":
		v.SignupNote = "Only the browser client is enabled, which needs the csrftoken cookie and X-CSRFToken header first (GET config sets it); enable the app client in HEADLESS_CLIENTS for plain curl."
	}
	v.SignupCurl = "curl -s -X POST " + api + "/auth/signup \\\n  -H 'Content-Type: application/json' \\\n  -d '" + string(raw) + "'"
	return h.render(r, fiber.StatusOK, "Quickstart", quickstartPage(v), active("tenants", "quickstart"), crumbs(web.Crumb{Label: "Quickstart"}))
}

// auditPageSize is the length of one audit log page; auditMaxPages bounds
// how far back the console pages (audit.List has no cursor yet).
const (
	auditPageSize = 50
	auditMaxPages = 20
)

// auditRow is one audit event as shown.
type auditRow struct {
	At                    time.Time
	Actor, Action, Target string
	IP                    string
	Diff                  []DiffLine
	Details               string
}

type auditView struct {
	Rows   []auditRow
	Page   int
	More   bool
	Capped bool
}

func (h *Console) auditPage(r *request) error {
	page, _ := strconv.Atoi(r.c.Query("page"))
	page = max(1, min(page, auditMaxPages))
	events, err := audit.List(r.ctx(), h.cfg.Pool, r.tenant.ID, page*auditPageSize+1)
	if err != nil {
		return err
	}
	v := auditView{Page: page}
	if len(events) > page*auditPageSize {
		v.More = page < auditMaxPages
		v.Capped = page == auditMaxPages
		events = events[:page*auditPageSize]
	}
	start := min((page-1)*auditPageSize, len(events))
	events = events[start:]
	emails, err := h.users.Emails(r.ctx(), actorIDs(events))
	if err != nil {
		return err
	}
	for _, e := range events {
		row := auditRow{At: e.At, Actor: actorName(e.Actor, emails), Action: e.Action, Target: e.Target, IP: e.IP}
		if e.Action == "tenant.settings.update" {
			before, _ := e.Details["before"].(map[string]any)
			after, _ := e.Details["after"].(map[string]any)
			row.Diff = diffOverrides(before, after)
			if ver, ok := e.Details["version"]; ok {
				row.Details = fmt.Sprintf("version %v", ver)
			}
		} else if len(e.Details) > 0 {
			row.Details = compactJSON(e.Details)
		}
		v.Rows = append(v.Rows, row)
	}
	return h.render(r, fiber.StatusOK, "Audit log", auditLogPage(v, r.tenant.Slug), active("tenants", "audit"), crumbs(web.Crumb{Label: "Audit log"}))
}

func actorIDs(events []audit.Event) []uuid.UUID {
	var ids []uuid.UUID
	for _, e := range events {
		if rest, ok := strings.CutPrefix(e.Actor, "console:"); ok {
			if id, err := uuid.Parse(rest); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func actorName(a string, emails map[uuid.UUID]string) string {
	if rest, ok := strings.CutPrefix(a, "console:"); ok {
		if id, err := uuid.Parse(rest); err == nil && emails[id] != "" {
			return emails[id] + " (console)"
		}
	}
	return a
}

type inboxView struct {
	Mail []mail.DevMail
}

func (h *Console) inboxPage(r *request) error {
	if h.inbox == nil {
		return errNotFound
	}
	ms, err := h.inbox.List(r.ctx(), r.tenant.ID, 50)
	if err != nil {
		return err
	}
	return h.render(r, fiber.StatusOK, "Dev inbox", inboxPage(inboxView{Mail: ms}), active("tenants", "inbox"), crumbs(web.Crumb{Label: "Dev inbox"}))
}

// keysView is the signing keys page.
type keysView struct {
	Slug       string
	Keys       []*tenants.SigningKey
	JWKS       string
	JWKSURL    string
	JWT        bool
	Imported   bool
	Algorithm  string
	Algorithms []string
	CanEdit    bool
	CSRF       string
	Error      string
}

func (h *Console) keysViewOf(r *request) (keysView, error) {
	t := r.tenant
	v := keysView{Slug: t.Slug, JWKSURL: h.apiBase(t.Slug) + "/.well-known/jwks.json", JWT: t.Settings.TokenStrategy == tenants.TokenStrategyJWT,
		Imported: t.Settings.JWTPrivateKey != "", Algorithm: t.Settings.JWTAlgorithm, CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		Algorithms: []string{"RS256", "RS384", "RS512", "ES256", "EdDSA", "HS256", "HS384", "HS512"}}
	keys, err := h.keys.List(r.ctx(), t)
	if err != nil {
		return v, err
	}
	v.Keys = keys
	doc, _, err := h.keys.JWKS(r.ctx(), t)
	if err != nil {
		return v, err
	}
	var parsed any
	if json.Unmarshal(doc, &parsed) == nil {
		v.JWKS = pretty(parsed)
	} else {
		v.JWKS = string(doc)
	}
	return v, nil
}

func (h *Console) keysPage(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	v, err := h.keysViewOf(r)
	if err != nil {
		return err
	}
	return h.renderKeys(r, fiber.StatusOK, v)
}

func (h *Console) renderKeys(r *request, status int, v keysView) error {
	return h.render(r, status, "Signing keys", keysPage(v), active("tenants", "keys"), crumbs(web.Crumb{Label: "Signing keys"}))
}

// keyDelays are the publish delays the rotate form offers.
var keyDelays = map[string]time.Duration{"0": 0, "5m": 5 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour}

// rotateKey generates a new key: published at once, signing after the
// chosen delay (so verifiers' cached JWKS learn it first).
func (h *Console) rotateKey(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	alg := r.c.FormValue("alg")
	delay, ok := keyDelays[r.c.FormValue("delay")]
	var err error
	if !ok {
		err = errors.New("choose a publish delay from the list")
	} else {
		var key *tenants.SigningKey
		key, err = h.keys.Rotate(r.ctx(), r.tenant, alg, delay, actor(r.user))
		if err == nil {
			msg := "New " + key.Alg + " key " + key.Kid + " is published in the JWKS"
			if key.State == tenants.KeyActive {
				msg += " and signs new tokens now."
			} else {
				msg += "; it starts signing at " + key.ActivateAt.UTC().Format("2006-01-02 15:04 MST") + "."
			}
			return h.redirectWith(r, tenantPath(r.tenant.Slug, "keys"), Flash{Kind: "success", Message: msg})
		}
		if !errors.Is(err, tenants.ErrImportedKey) && !errors.Is(err, tenants.ErrUnsupportedAlgorithm) {
			return err
		}
	}
	v, verr := h.keysViewOf(r)
	if verr != nil {
		return verr
	}
	v.Error = "Not rotated: " + err.Error()
	return h.renderKeys(r, fiber.StatusUnprocessableEntity, v)
}

// retireKey stops a key signing; the kid is looked up among this tenant's
// keys only, so another tenant's kid is simply not found.
func (h *Console) retireKey(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	kid := r.c.Params("kid")
	err := h.keys.Retire(r.ctx(), r.tenant, kid, actor(r.user))
	switch {
	case err == nil:
		return h.redirectWith(r, tenantPath(r.tenant.Slug, "keys"), Flash{Kind: "success", Message: "Key " + kid + " retired: it signs nothing new, and stays in the JWKS until the tokens it signed have expired."})
	case errors.Is(err, tenants.ErrKeyNotFound):
		return errNotFound
	case errors.Is(err, tenants.ErrImportedKey), strings.Contains(err.Error(), "already retired"):
		v, verr := h.keysViewOf(r)
		if verr != nil {
			return verr
		}
		v.Error = "Not retired: " + err.Error()
		return h.renderKeys(r, fiber.StatusUnprocessableEntity, v)
	}
	return err
}

func stateBadge(state string) string {
	switch state {
	case tenants.KeyActive:
		return "badge-success"
	case tenants.KeyNext:
		return "badge-accent"
	}
	return ""
}
