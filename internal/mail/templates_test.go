package mail

import (
	"strings"
	"testing"
)

func TestRenderEveryKind(t *testing.T) {
	data := TemplateData{
		SiteName: "Acme", Email: "bob@example.test",
		Link: "https://acme.test/verify/abc-123", Code: "7XK4QP",
		PasswordResetURL: "https://acme.test/reset", SignupURL: "https://acme.test/signup",
		Tenant: "Acme Staging", Role: "admin", Provider: "Google",
	}
	wantLine := map[string]string{
		KindEmailConfirmation:     data.Link,
		KindEmailConfirmationCode: data.Code,
		KindAccountAlreadyExists:  data.PasswordResetURL,
		KindPasswordResetKey:      data.Link,
		KindPasswordResetCode:     data.Code,
		KindLoginCode:             data.Code,
		KindUnknownAccount:        data.SignupURL,
		// Security notices name the account's address in a sentence.
		KindPasswordChanged: data.Email,
		KindPasswordSet:     data.Email,
		KindPasswordReset:   data.Email,
		KindEmailChanged:    data.Email,
		KindEmailDeleted:    data.Email,
		KindEmailConfirmed:  data.Email,
		KindEmailAdded:      data.Email,
		KindNewLogin:        data.Email,
		KindAccountLocked:   data.Email,
		// Provider notices name the provider and the address.
		KindAccountConnected:    data.Provider,
		KindAccountDisconnected: data.Provider,
		// The console invitation carries its link on a line of its own.
		KindConsoleInvitation: data.Link,
	}
	notice := map[string]bool{KindPasswordChanged: true, KindPasswordSet: true, KindPasswordReset: true,
		KindEmailChanged: true, KindEmailDeleted: true, KindEmailConfirmed: true, KindEmailAdded: true, KindNewLogin: true, KindAccountLocked: true,
		KindAccountConnected: true, KindAccountDisconnected: true}
	if len(Kinds()) != len(wantLine) {
		t.Fatalf("Kinds() = %v", Kinds())
	}
	for _, kind := range Kinds() {
		subject, text, html, err := Render(kind, data)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !strings.HasPrefix(subject, "[Acme] ") || len(subject) <= len("[Acme] ") || strings.ContainsAny(subject, "\r\n") {
			t.Errorf("%s: subject %q", kind, subject)
		}
		if notice[kind] && !strings.Contains(text, wantLine[kind]) || !notice[kind] && !hasLine(text, wantLine[kind]) {
			t.Errorf("%s: text has no line %q:\n%s", kind, wantLine[kind], text)
		}
		if !strings.HasPrefix(text, "Hello from Acme!\n\n") || !strings.HasSuffix(text, "Thank you for using Acme!\n") {
			t.Errorf("%s: text lacks greeting or closing:\n%s", kind, text)
		}
		if strings.Contains(text, "\n\n\n") || strings.Contains(text, " \n") {
			t.Errorf("%s: untidy text:\n%q", kind, text)
		}
		if !strings.Contains(html, wantLine[kind]) || !strings.HasPrefix(html, "<!DOCTYPE html>") {
			t.Errorf("%s: html lacks %q:\n%s", kind, wantLine[kind], html)
		}
	}
}

func TestRenderOptionalLinks(t *testing.T) {
	_, text, _, err := Render(KindAccountAlreadyExists, TemplateData{SiteName: "Acme", Email: "bob@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(text, "bob@example.test") || strings.Contains(text, "http") {
		t.Errorf("account_already_exists without reset URL:\n%s", text)
	}
	_, text, _, err = Render(KindUnknownAccount, TemplateData{Email: "bob@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "sign up") || !strings.HasPrefix(text, "Hello!\n") {
		t.Errorf("unknown_account without signup URL or site name:\n%s", text)
	}
	subject, _, _, _ := Render(KindLoginCode, TemplateData{Code: "123456"})
	if subject != "Sign-In Code" {
		t.Errorf("subject without site name: %q", subject)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	hostile := `<script>alert("x")</script> & "Co"`
	subject, text, html, err := Render(KindEmailConfirmation, TemplateData{
		SiteName: hostile + "\r\nBcc: eve@example.test",
		Link:     `https://acme.test/v?a=1&b="><img src=x onerror=alert(1)>`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(subject, "\r\n") {
		t.Errorf("subject has a line break: %q", subject)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "<img") || strings.Contains(html, `"Co"`) {
		t.Errorf("html not escaped:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("html lost the site name:\n%s", html)
	}
	if !strings.Contains(text, hostile) {
		t.Errorf("text part should carry the name as is:\n%s", text)
	}
	_, _, html, err = Render(KindPasswordResetKey, TemplateData{Link: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Errorf("javascript: link in href:\n%s", html)
	}
}

func TestRenderErrors(t *testing.T) {
	if _, _, _, err := Render("no_such_kind", TemplateData{}); err == nil {
		t.Error("unknown kind: no error")
	}
	if _, _, _, err := Render(KindLoginCode, TemplateData{SiteName: "Acme"}); err == nil {
		t.Error("login_code without code: no error")
	}
	if _, _, _, err := Render(KindEmailConfirmation, TemplateData{Link: "https://a.test/x\nInjected"}); err == nil {
		t.Error("link with a line break: no error")
	}
	if _, _, _, err := Render(KindConsoleInvitation, TemplateData{Link: "https://a.test/console/invite/x", Email: "a@b.test", Role: "admin"}); err == nil {
		t.Error("console_invitation without the tenant: no error")
	}
}

// The console invitation names the tenant, the role and the address, and
// escapes a hostile tenant name in its HTML part.
func TestRenderConsoleInvitation(t *testing.T) {
	subject, text, html, err := Render(KindConsoleInvitation, TemplateData{SiteName: "Hallpass", Email: "ada@example.test",
		Link: "https://auth.example.test/console/invite/tok", Tenant: `<b>Acme</b>`, Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "[Hallpass] You're Invited to Manage a Tenant" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"ada@example.test", `"<b>Acme</b>"`, "role viewer", "within 7 days"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !hasLine(text, "https://auth.example.test/console/invite/tok") {
		t.Errorf("text has no link line:\n%s", text)
	}
	if strings.Contains(html, "<b>Acme") || !strings.Contains(html, "&lt;b&gt;Acme") {
		t.Errorf("html does not escape the tenant name:\n%s", html)
	}
}
