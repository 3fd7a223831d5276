package console_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/tenants"
)

// A customer's own key is imported through the settings: validated, then
// signing, and never shown again by any page; a refused key is not echoed
// back. Removing it hands the keys back to the platform.
func TestImportKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("import")
	admin := e.user("import-admin", false)
	e.grant(tn, admin, console.RoleAdmin)
	b := e.session(admin)
	keys := "/console/t/" + tn.Slug + "/keys"

	b.get(keys).status(200).contains("Import your own key", `data-testid="import-key"`)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	body := strings.Split(strings.TrimSpace(keyPEM), "\n")[1] // a line of the key itself
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	b.post(keys+"/import", url.Values{"alg": {"ES256"}, "key": {pubPEM}}).status(422).
		contains(`data-testid="import-error"`, "is a public key; the private key is needed").lacks(strings.Split(pubPEM, "\n")[1])
	b.post(keys+"/import", url.Values{"alg": {"HS256"}, "key": {"too short"}}).status(422).contains("at least 32 bytes").lacks("too short<")
	b.post(keys+"/import", url.Values{"alg": {"RS256"}, "key": {keyPEM}}).status(422).contains("Not imported", "RS256").lacks(body)
	b.post(keys+"/import", url.Values{"alg": {"XX1"}, "key": {keyPEM}}).status(422).contains("choose an algorithm")
	b.post(keys+"/import", url.Values{"alg": {"ES256"}, "key": {" "}}).status(422).contains("paste a PEM private key")
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("a refused import wrote version %d", v)
	}

	b.post(keys+"/import", url.Values{"alg": {"ES256"}, "key": {"\n" + keyPEM + "\n"}}).status(303)
	tn = e.reload(tn.Slug)
	if tn.Settings.JWTPrivateKey != strings.TrimSpace(keyPEM) || tn.Settings.JWTAlgorithm != "ES256" {
		t.Fatalf("settings after import: alg %q, key set %v", tn.Settings.JWTAlgorithm, tn.Settings.JWTPrivateKey != "")
	}
	page := b.get(keys).status(200).contains("Your ES256 key is imported", "comes from HEADLESS_JWT_PRIVATE_KEY", "Replace the imported key",
		`data-testid="clear-imported-key"`)
	page.lacks(body)
	if _, err := e.keys.Signing(ctx, tn); err != nil {
		t.Fatalf("the imported key does not sign: %v", err)
	}
	list, err := e.keys.List(ctx, tn)
	if err != nil || len(list) == 0 || list[0].Source != tenants.KeySourceSettings {
		t.Fatalf("keys %+v, %v", list, err)
	}
	for _, p := range []string{"/settings/json", "/settings/headless", "/settings/history", "/audit"} {
		b.get("/console/t/" + tn.Slug + p).status(200).lacks(body)
	}

	b.post(keys+"/import/clear", nil).status(303)
	if e.reload(tn.Slug).Settings.JWTPrivateKey != "" {
		t.Fatal("the imported key stayed")
	}
	b.get(keys).status(200).contains("The imported key is removed", "Import your own key")
	b.post(keys+"/import/clear", nil).status(303)
	b.get(keys).status(200).contains("No imported key")
}

// The history lists every settings version with its diff against the one
// before, newest first, a page at a time.
func TestSettingsHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("history")
	owner := e.user("history-owner", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	b.post("/console/t/"+tn.Slug+"/settings/codes", url.Values{"version": {"1"}, "s:ACCOUNT_LOGIN_BY_CODE_ENABLED": {"false", "true"}}).status(303)
	for i := range 26 {
		if _, err := e.store.UpdateSettings(ctx, tn.Slug, fmt.Appendf(nil, `{"ACCOUNT_PASSWORD_MIN_LENGTH": %d}`, 8+i), "cli"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.UpdateSettings(ctx, tn.Slug, []byte(`{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": "a-shared-secret-of-at-least-32-bytes!"}`), "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UpdateSettings(ctx, tn.Slug, []byte(`{"HEADLESS_JWT_PRIVATE_KEY": "another-shared-secret-of-32-bytes-or-more"}`), "cli"); err != nil {
		t.Fatal(err)
	}
	hist := "/console/t/" + tn.Slug + "/settings/history"
	first := b.get(hist).status(200).contains(`data-testid="tab-history"`, "Version 30 (current)", "No visible change",
		"HEADLESS_JWT_PRIVATE_KEY", "&lt;redacted&gt;", "ACCOUNT_PASSWORD_MIN_LENGTH", `data-testid="next-page"`).lacks("shared-secret", "Version 5<")
	if n := strings.Count(first.Body, `data-testid="history-entry"`); n != 25 {
		t.Fatalf("first page has %d versions", n)
	}
	next := regexpFind(t, first.Body, `href="([^"]+)" data-testid="next-page"`)
	second := b.get(next).status(200).contains("Version 5", "Version 4", "Version 2", "Version 1", "The first version", owner.Email+" (console)",
		"ACCOUNT_LOGIN_BY_CODE_ENABLED", "← Newest").lacks(`data-testid="next-page"`, "Version 6<")
	if !strings.Contains(second.Body, "<div class=\"diff-before\">8</div><div class=\"diff-after\">9</div>") {
		t.Fatalf("version 4 should change the minimum length from 8 to 9:\n%s", excerpt(second.Body))
	}
}

// The audit log pages by cursor: newer events do not shift older pages, a
// malformed cursor is not found, and the export downloads every event as
// JSON lines, newest first.
func TestAuditPagingAndExport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("auditlog")
	viewer := e.user("auditlog-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		for i := range 70 {
			if err := audit.Record(ctx, tx, audit.Event{TenantID: tn.ID, Actor: "cli", Action: fmt.Sprintf("test.event.%03d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.session(viewer)
	log := "/console/t/" + tn.Slug + "/audit"
	first := b.get(log).status(200).contains("test.event.069", "test.event.020", `data-testid="audit-export"`).lacks("test.event.019")
	next := strings.ReplaceAll(regexpFind(t, first.Body, `href="([^"]+)" data-testid="next-page"`), "&amp;", "&")
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Event{TenantID: tn.ID, Actor: "cli", Action: "test.event.late"})
	}); err != nil {
		t.Fatal(err)
	}
	b.get(next).status(200).contains("test.event.019", "test.event.000", "tenant.create", "← Newest").lacks("test.event.020", "test.event.late", `data-testid="next-page"`)
	b.get(log + "?before=garbage").status(404)
	b.get(log + "?before=1.999999999").status(200).contains("No older events")

	res := b.get(log + "/export").status(200)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Fatalf("content type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, tn.Slug+"-audit-") {
		t.Fatalf("content disposition %q", cd)
	}
	var actions []string
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	for sc.Scan() {
		var line struct {
			ID      int64          `json:"id"`
			At      time.Time      `json:"at"`
			Action  string         `json:"action"`
			Details map[string]any `json:"details"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if line.ID == 0 || line.At.IsZero() || line.Details == nil {
			t.Fatalf("incomplete line %q", sc.Text())
		}
		actions = append(actions, line.Action)
	}
	if len(actions) != 73 || actions[0] != "test.event.late" || actions[1] != "test.event.069" || actions[72] != "tenant.create" {
		t.Fatalf("exported %d events: %v", len(actions), actions)
	}
	if !slices.Contains(e.auditActions(tn.ID), "audit.export") {
		t.Fatal("the export is not audited")
	}
}
