package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	gomail "github.com/wneessen/go-mail"
)

// SMTPTimeout bounds connecting to the SMTP server and each command.
const SMTPTimeout = 10 * time.Second

// SMTPSender delivers messages to an SMTP server (go-mail), one connection
// per message.
type SMTPSender struct {
	host     string
	opts     []gomail.Option
	redacted string
}

// NewSMTPSender configures a sender from HALLPASS_SMTP_URL:
//
//	smtp://[user:pass@]host[:port]          STARTTLS if offered (default port 25)
//	smtp+starttls://[user:pass@]host[:port] STARTTLS required (default port 587)
//	smtps://[user:pass@]host[:port]         implicit TLS (default port 465)
//
// Query parameters: insecure_skip_verify=1 accepts any certificate (for
// development servers only); auth=<mechanism> picks the SMTP AUTH mechanism
// (plain, login, cram-md5, scram-sha-256, plain-noenc, ...) instead of the
// strongest one the server offers. A user name and password in the URL may
// be percent-encoded.
func NewSMTPSender(rawURL string) (*SMTPSender, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil, fmt.Errorf("mail: smtp url: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("mail: smtp url %q: no host", u.Redacted())
	}
	opts := []gomail.Option{gomail.WithTimeout(SMTPTimeout)}
	var port int
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		port = 25
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "smtp+starttls":
		port = 587
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mail: smtp url %q: scheme must be smtp, smtp+starttls or smtps", u.Redacted())
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mail: smtp url %q: bad port", u.Redacted())
		}
	}
	opts = append(opts, gomail.WithPort(port))

	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	auth := gomail.SMTPAuthAutoDiscover
	for key, values := range u.Query() {
		v := ""
		if len(values) > 0 {
			v = values[len(values)-1]
		}
		switch key {
		case "insecure_skip_verify":
			skip, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("mail: smtp url: insecure_skip_verify=%q: %w", v, err)
			}
			tlsConfig.InsecureSkipVerify = skip
		case "auth":
			auth = gomail.SMTPAuthType(strings.ToUpper(v))
		default:
			return nil, fmt.Errorf("mail: smtp url: unknown parameter %q", key)
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))

	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts,
			gomail.WithSMTPAuth(auth),
			gomail.WithUsername(u.User.Username()),
			gomail.WithPassword(pass))
	}
	s := &SMTPSender{host: host, opts: opts, redacted: u.Redacted()}
	// Fail now, not on the first mail, if go-mail rejects the options.
	if _, err := gomail.NewClient(host, opts...); err != nil {
		return nil, fmt.Errorf("mail: smtp url %q: %w", s.redacted, err)
	}
	return s, nil
}

// String returns the server URL with the password hidden, for logs.
func (s *SMTPSender) String() string { return s.redacted }

// TenantHeader carries the tenant id of every message sent.
const TenantHeader = "X-Hallpass-Tenant"

// Send delivers m in one SMTP transaction. The Message-ID is <id@hallpass>,
// the same on every attempt, so a receiver can drop a duplicate.
func (s *SMTPSender) Send(ctx context.Context, id uuid.UUID, m Message) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if m.FromName != "" {
		if err := msg.FromFormat(m.FromName, m.FromAddress); err != nil {
			return fmt.Errorf("mail: from: %w", err)
		}
	} else if err := msg.From(m.FromAddress); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetMessageIDWithValue(MessageID(id))
	msg.SetDate()
	// RFC 3834: tells autoresponders (vacation replies) not to answer.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	// Names the tenant, for bounce handling and support; it is not secret.
	msg.SetGenHeader(gomail.Header(TenantHeader), m.TenantID.String())
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	client, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		// The server answered 250 to the data: the mail is accepted, and
		// what failed came after (RSET, QUIT). Reporting a failure would
		// only make the worker send it again.
		if msg.IsDelivered() {
			return nil
		}
		return fmt.Errorf("mail: smtp %s: %w", s.host, err)
	}
	return nil
}

// oneLine folds line breaks and runs of spaces into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
