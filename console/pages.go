package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/clientip"
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

func (h toolPages) quickstart(r *request) error {
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

// auditPageSize is the length of one audit log page.
const auditPageSize = 50

// auditRow is one audit event as shown.
type auditRow struct {
	At                    time.Time
	Actor, Action, Target string
	IP                    string
	Diff                  []DiffLine
	Details               string
}

type auditView struct {
	Slug string
	Rows []auditRow
	// Before is the cursor this page started at ("" = newest); Next the
	// cursor of the next page ("" = last page).
	Before, Next string
}

// auditPage shows the tenant's audit log a page at a time, newest first,
// paged by cursor (audit.ListBefore), so events recorded while someone
// pages neither shift nor repeat the older pages.
func (h toolPages) auditPage(r *request) error {
	before, err := audit.ParseCursor(r.c.Query("before"))
	if err != nil {
		return errNotFound
	}
	events, err := audit.ListBefore(r.ctx(), h.cfg.Pool, r.tenant.ID, before, auditPageSize+1)
	if err != nil {
		return err
	}
	v := auditView{Slug: r.tenant.Slug, Before: before.String()}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		v.Next = events[auditPageSize-1].Cursor().String()
	}
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
	return h.render(r, fiber.StatusOK, "Audit log", auditLogPage(v), active("tenants", "audit"), crumbs(web.Crumb{Label: "Audit log"}))
}

// auditExportBatch is how many events one query of the export reads.
const auditExportBatch = 500

// auditLine is one event of the JSON lines export.
type auditLine struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Details map[string]any `json:"details"`
}

// auditExport downloads the tenant's whole audit log as JSON lines, newest
// first, one event per line (secrets were redacted when recorded). It is
// read in batches with the same cursor as the page, and streamed.
func (h toolPages) auditExport(r *request) error {
	t := r.tenant
	// A first batch before answering, so a database failure is a proper
	// error page rather than a truncated download.
	first, err := audit.ListBefore(r.ctx(), h.cfg.Pool, t.ID, audit.Cursor{}, auditExportBatch)
	if err != nil {
		return err
	}
	if err := h.auditTenant(r.ctx(), t.ID, actor(r.user), "audit.export", t.Slug, clientip.Peer(r.c), map[string]any{"format": "jsonl"}); err != nil {
		return err
	}
	c := r.c
	c.Set(fiber.HeaderContentType, "application/x-ndjson; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+t.Slug+`-audit-`+h.now().UTC().Format("20060102-150405")+`.jsonl"`)
	pool, log := h.cfg.Pool, h.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		batch := first
		for len(batch) > 0 {
			for _, e := range batch {
				if err := enc.Encode(auditLine{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP, Details: e.Details}); err != nil {
					return
				}
			}
			if err := w.Flush(); err != nil || len(batch) < auditExportBatch {
				return // the client went away, or that was the last batch
			}
			next, err := audit.ListBefore(ctx, pool, t.ID, batch[len(batch)-1].Cursor(), auditExportBatch)
			if err != nil {
				log.Error("audit export failed", "tenant", t.Slug, "err", err)
				return
			}
			batch = next
		}
	})
	return nil
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

func (h toolPages) inboxPage(r *request) error {
	if h.inbox == nil {
		return errNotFound
	}
	ms, err := h.inbox.List(r.ctx(), r.tenant.ID, 50)
	if err != nil {
		return err
	}
	if !r.canOwn() {
		// An invitation's link grants its role to whoever follows it: only
		// those who may invite (owners) see them, or a viewer could make
		// themselves owner.
		ms = slices.DeleteFunc(ms, func(m mail.DevMail) bool { return m.Kind == mail.KindConsoleInvitation })
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
	// ImportError explains a refused key import (the key is never echoed).
	ImportError string
}

func (h toolPages) keysViewOf(r *request) (keysView, error) {
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

func (h toolPages) keysPage(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	v, err := h.keysViewOf(r)
	if err != nil {
		return err
	}
	return h.renderKeys(r, fiber.StatusOK, v)
}

func (h toolPages) renderKeys(r *request, status int, v keysView) error {
	return h.render(r, status, "Signing keys", keysPage(v), active("tenants", "keys"), crumbs(web.Crumb{Label: "Signing keys"}))
}

// keyDelays are the publish delays the rotate form offers.
var keyDelays = map[string]time.Duration{"0": 0, "5m": 5 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour}

// rotateKey generates a new key: published at once, signing after the
// chosen delay (so verifiers' cached JWKS learn it first).
func (h toolPages) rotateKey(r *request) error {
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
func (h toolPages) retireKey(r *request) error {
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

// importKey stores a customer's own signing key: a PEM private key, or the
// shared secret of an HS algorithm, written with its algorithm to
// HEADLESS_JWT_PRIVATE_KEY and HEADLESS_JWT_ALGORITHM through the settings
// (validated, sealed at rest, versioned and audited with the secret
// redacted). The key is write-only: no page shows it again, and a refused
// one is not echoed back into the form.
func (h toolPages) importKey(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	alg := r.c.FormValue("alg")
	key := strings.TrimSpace(r.c.FormValue("key"))
	fail := func(msg string) error {
		v, err := h.keysViewOf(r)
		if err != nil {
			return err
		}
		v.ImportError = "Not imported: " + msg
		return h.renderKeys(r, fiber.StatusUnprocessableEntity, v)
	}
	v, err := h.keysViewOf(r)
	if err != nil {
		return err
	}
	if !slices.Contains(v.Algorithms, alg) {
		return fail("choose an algorithm from the list.")
	}
	if key == "" {
		return fail("paste a PEM private key, or the shared secret for an HS algorithm.")
	}
	raw, err := json.Marshal(map[string]string{"HEADLESS_JWT_PRIVATE_KEY": key, "HEADLESS_JWT_ALGORITHM": alg})
	if err != nil {
		return err
	}
	after, err := h.store.UpdateSettings(r.ctx(), r.tenant.Slug, raw, actor(r.user))
	if err != nil {
		byKey, problems, ok := settingsErrors(err)
		if !ok {
			return err
		}
		for _, k := range sortedKeys(byKey) {
			problems = append(problems, k+" "+byKey[k])
		}
		return fail(strings.Join(problems, "; ") + ".")
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "keys"), Flash{Kind: "success", Message: fmt.Sprintf(
		"Your %s key is imported (settings version %d) and signs new tokens. It is stored sealed and is never shown again.", alg, after.SettingsVersion)})
}

// clearImportedKey removes HEADLESS_JWT_PRIVATE_KEY: the platform generates
// and rotates the keys again.
func (h toolPages) clearImportedKey(r *request) error {
	if h.keys == nil {
		return errNotFound
	}
	if r.tenant.Settings.JWTPrivateKey == "" {
		return h.redirectWith(r, tenantPath(r.tenant.Slug, "keys"), Flash{Kind: "info", Message: "No imported key: the platform manages the keys already."})
	}
	after, err := h.store.UpdateSettings(r.ctx(), r.tenant.Slug, []byte(`{"HEADLESS_JWT_PRIVATE_KEY": null}`), actor(r.user))
	if err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "keys"), Flash{Kind: "success", Message: fmt.Sprintf(
		"The imported key is removed (settings version %d): the platform generates and rotates the keys from now on.", after.SettingsVersion)})
}
