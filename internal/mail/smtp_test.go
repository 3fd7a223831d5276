package mail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/mail/smtptest"
)

func TestNewSMTPSenderURLs(t *testing.T) {
	for _, ok := range []string{
		"smtp://localhost:1025",
		"smtp://user:p%40ss@mail.example.test:587",
		"smtp+starttls://user:pass@mail.example.test",
		"smtps://user:pass@mail.example.test:465?insecure_skip_verify=1",
		"smtp://mailpit:1025?auth=plain-noenc",
	} {
		s, err := NewSMTPSender(ok)
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if strings.Contains(s.String(), "pass") && strings.Contains(ok, "pass") {
			t.Errorf("String() shows the password: %s", s)
		}
	}
	for _, bad := range []string{
		"", "localhost:25", "http://mail.example.test", "smtp://", "smtp://host:0", "smtp://host:99999",
		"smtp://host?insecure_skip_verify=maybe", "smtp://host?tls=off",
	} {
		if _, err := NewSMTPSender(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSMTPSenderTextOnly(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSMTPSender(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	text := "Line one\n.leading dot\n\nCode:\n\n123456\n" + strings.Repeat("long line ", 20) + "\nümlaut\n"
	err = s.Send(context.Background(), id, Message{
		TenantID: uuid.New(), Kind: KindLoginCode, To: "x@example.test",
		FromAddress: "no-reply@acme.test", Subject: "[Ümlaut] Sign-In\r\nCode", Text: text,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, 1, time.Second)[0]
	if m.ParseError != nil {
		t.Fatal(m.ParseError)
	}
	if m.Text != text || m.HTML != "" {
		t.Errorf("text %q (want %q), html %q", m.Text, text, m.HTML)
	}
	if m.Subject != "[Ümlaut] Sign-In Code" {
		t.Errorf("subject %q", m.Subject)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if m.MessageID != "<"+MessageID(id)+">" {
		t.Errorf("Message-ID %q", m.MessageID)
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted %q", m.Header.Get("Auto-Submitted"))
	}
}
