package mail

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/testenv"
)

func TestDevInbox(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	var logs syncBuffer
	inbox := NewDevInbox(pool, slog.New(slog.NewTextHandler(&logs, nil)))
	w := fastWorker(t, pool, inbox)

	link := "https://acme.test/verify/dev-link-42"
	confirm := testMessage(t, tenant, "dev@example.test", link)
	subject, text, html, err := Render(KindLoginCode, TemplateData{SiteName: "Acme", Code: "Q7W8E9"})
	if err != nil {
		t.Fatal(err)
	}
	code := Message{TenantID: tenant, Kind: KindLoginCode, To: "dev@example.test", FromAddress: "no-reply@acme.test",
		Subject: subject, Text: text, HTML: html}
	ids := enqueue(t, pool, confirm)
	ids = append(ids, enqueue(t, pool, code)...)
	if sent, err := w.Drain(context.Background()); sent != 2 || err != nil {
		t.Fatalf("Drain: %d, %v", sent, err)
	}
	// A re-delivery (the crash window) is stored once.
	if err := inbox.Send(context.Background(), ids[0], confirm); err != nil {
		t.Fatal(err)
	}

	got, err := inbox.List(context.Background(), tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("List: %d mails, want 2", len(got))
	}
	// The worker sends both at once, so either may be stored first; the
	// list is newest first.
	if got[0].CreatedAt.Before(got[1].CreatedAt) {
		t.Errorf("List order: %v before %v; want newest first", got[0].CreatedAt, got[1].CreatedAt)
	}
	byID := map[uuid.UUID]DevMail{got[0].ID: got[0], got[1].ID: got[1]}
	stored, ok := byID[ids[0]]
	if _, both := byID[ids[1]]; !ok || !both {
		t.Fatalf("stored ids %v, %v; want %v", got[0].ID, got[1].ID, ids)
	}
	if stored.To != "dev@example.test" || stored.Subject != confirm.Subject || stored.Text != confirm.Text ||
		stored.HTML != confirm.HTML || stored.Kind != KindEmailConfirmation || stored.TenantID != tenant {
		t.Errorf("stored mail: %+v", stored)
	}
	if other, err := inbox.List(context.Background(), newTenant(t, pool), 10); err != nil || len(other) != 0 {
		t.Errorf("another tenant's inbox: %d, %v", len(other), err)
	}

	out := logs.String()
	t.Log(out)
	for _, want := range []string{link, "Q7W8E9", "dev@example.test", tenant.String(), "Sign-In Code", "level=INFO"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestLinksAndCodes(t *testing.T) {
	links, codes := linksAndCodes("Hello from Acme!\n\nOpen https://a.test/x?y=1.\n\nQ7W8E9\n\nabc-DEF-123\n\nThanks\nOK\nhttp://b.test/p\n")
	if strings.Join(links, " ") != "https://a.test/x?y=1 http://b.test/p" {
		t.Errorf("links %q", links)
	}
	if strings.Join(codes, " ") != "Q7W8E9 abc-DEF-123" {
		t.Errorf("codes %q", codes)
	}
}
