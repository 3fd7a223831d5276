package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
)

// The kinds of mail Render knows, named as allauth names its templates.
const (
	// KindEmailConfirmation asks to confirm an address by following Link.
	KindEmailConfirmation = "email_confirmation"
	// KindEmailConfirmationCode asks to confirm an address by entering Code.
	KindEmailConfirmationCode = "email_confirmation_code"
	// KindAccountAlreadyExists tells the owner of Email that someone tried
	// to sign up with it (sent instead of an error while enumeration
	// prevention is on), with PasswordResetURL when set.
	KindAccountAlreadyExists = "account_already_exists"
	// KindPasswordResetKey carries a password reset Link.
	KindPasswordResetKey = "password_reset_key"
	// KindPasswordResetCode carries a password reset Code.
	KindPasswordResetCode = "password_reset_code"
	// KindLoginCode carries a sign-in Code.
	KindLoginCode = "login_code"
	// KindUnknownAccount answers a reset or code request for an address with
	// no account, with SignupURL when set.
	KindUnknownAccount = "unknown_account"
	// Security notices (ACCOUNT_EMAIL_NOTIFICATIONS) about Email's account.
	KindPasswordChanged = "password_changed"
	KindPasswordSet     = "password_set"
	KindPasswordReset   = "password_reset"
	KindEmailChanged    = "email_changed"
	KindEmailDeleted    = "email_deleted"
	KindEmailConfirmed  = "email_confirmed"
	KindEmailAdded      = "email_added"
	KindNewLogin        = "new_login"
	// KindAccountConnected and KindAccountDisconnected tell Email's owner
	// that a Provider account was connected to, or removed from, theirs.
	KindAccountConnected    = "account_connected"
	KindAccountDisconnected = "account_disconnected"
	// KindAccountLocked tells Email's owner that, after many wrong
	// passwords, password sign-in from new devices and networks is paused.
	KindAccountLocked = "account_locked"
	// KindConsoleInvitation invites Email to manage the tenant named Tenant
	// in the management console with Role, by following Link. SiteName is
	// the platform's name here (the mail comes from the platform, not from
	// the tenant).
	KindConsoleInvitation = "console_invitation"
)

// TemplateData is what the templates may show.
type TemplateData struct {
	// SiteName is the tenant's name: the greeting and the "[SiteName] " subject prefix.
	SiteName string
	// Email is the address the mail is about (account_already_exists, unknown_account).
	Email string
	// Link is the verification or reset link (email_confirmation, password_reset_key).
	Link string
	// Code is the one-time code (the *_code kinds).
	Code string
	// PasswordResetURL is where to reset a password (account_already_exists; optional).
	PasswordResetURL string
	// SignupURL is where to sign up (unknown_account; optional).
	SignupURL string
	// Tenant is the tenant's display name (console_invitation).
	Tenant string
	// Role is the console role offered (console_invitation).
	Role string
	// Provider is a third-party provider's name (account_connected,
	// account_disconnected).
	Provider string
}

//go:embed templates
var templateFS embed.FS

// required lists, for each kind, the TemplateData fields it cannot do without.
var required = map[string][]string{
	KindEmailConfirmation:     {"Link"},
	KindEmailConfirmationCode: {"Code"},
	KindAccountAlreadyExists:  {"Email"},
	KindPasswordResetKey:      {"Link"},
	KindPasswordResetCode:     {"Code"},
	KindLoginCode:             {"Code"},
	KindUnknownAccount:        {"Email"},
	KindPasswordChanged:       {"Email"},
	KindPasswordSet:           {"Email"},
	KindPasswordReset:         {"Email"},
	KindEmailChanged:          {"Email"},
	KindEmailDeleted:          {"Email"},
	KindEmailConfirmed:        {"Email"},
	KindEmailAdded:            {"Email"},
	KindNewLogin:              {"Email"},
	KindAccountConnected:      {"Email", "Provider"},
	KindAccountDisconnected:   {"Email", "Provider"},
	KindAccountLocked:         {"Email"},
	KindConsoleInvitation:     {"Link", "Email", "Tenant", "Role"},
}

type kindTemplates struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

var kinds = parseTemplates()

func parseTemplates() map[string]kindTemplates {
	out := map[string]kindTemplates{}
	for kind := range required {
		subject, err := templateFS.ReadFile("templates/" + kind + "_subject.txt")
		if err != nil {
			panic(err)
		}
		out[kind] = kindTemplates{
			subject: strings.TrimSpace(string(subject)),
			text: texttemplate.Must(texttemplate.New(kind).Option("missingkey=error").ParseFS(templateFS,
				"templates/"+kind+"_message.txt", "templates/base_message.txt")),
			html: htmltemplate.Must(htmltemplate.New(kind).Option("missingkey=error").ParseFS(templateFS,
				"templates/"+kind+"_message.html", "templates/base_message.html", "templates/base_blocks.html")),
		}
	}
	return out
}

// view is what the templates execute on: the data and the final subject.
type view struct {
	TemplateData
	Subject string
}

// Kinds lists the kinds Render knows.
func Kinds() []string {
	return []string{
		KindEmailConfirmation, KindEmailConfirmationCode, KindAccountAlreadyExists,
		KindPasswordResetKey, KindPasswordResetCode, KindLoginCode, KindUnknownAccount,
		KindPasswordChanged, KindPasswordSet, KindPasswordReset, KindEmailChanged, KindEmailDeleted, KindEmailConfirmed,
		KindEmailAdded, KindNewLogin, KindAccountConnected, KindAccountDisconnected, KindAccountLocked, KindConsoleInvitation,
	}
}

// Render renders a kind of mail. The subject carries allauth's default
// "[SiteName] " prefix; the text part shows the link or code on a line of
// its own; the HTML part escapes everything it is given. An unknown kind, or
// a missing link, code or address the kind needs, is an error.
func Render(kind string, data TemplateData) (subject, text, html string, err error) {
	t, ok := kinds[kind]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown mail kind %q", kind)
	}
	if err := checkData(kind, data); err != nil {
		return "", "", "", err
	}
	subject = t.subject
	if site := oneLine(data.SiteName); site != "" {
		subject = "[" + site + "] " + subject
	}
	v := view{TemplateData: data, Subject: subject}
	var tb, hb bytes.Buffer
	if err := t.text.ExecuteTemplate(&tb, kind+"_message.txt", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := t.html.ExecuteTemplate(&hb, kind+"_message.html", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	return subject, tidyText(tb.String()), strings.TrimSpace(hb.String()) + "\n", nil
}

func checkData(kind string, d TemplateData) error {
	for _, field := range required[kind] {
		var v string
		switch field {
		case "Link":
			v = d.Link
		case "Code":
			v = d.Code
		case "Email":
			v = d.Email
		case "Tenant":
			v = d.Tenant
		case "Role":
			v = d.Role
		case "Provider":
			v = d.Provider
		}
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("mail: %s mail needs TemplateData.%s", kind, field)
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("mail: TemplateData.%s contains a line break", field)
		}
	}
	return nil
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// tidyText trims trailing spaces, keeps at most one blank line in a row and
// ends the text with exactly one newline.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	s = blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")
	return strings.TrimSpace(s) + "\n"
}
