package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// config is the process configuration, read from HALLPASS_* variables.
type config struct {
	DatabaseURL string
	RedisURL    string
	Listen      string
	BaseDomain  string
	PublicURL   string
	// Addressing is PublicURL and BaseDomain checked: every tenant URL the
	// server emits is built from it.
	Addressing    *tenants.Addressing
	MasterKey     string
	OldMasterKeys []string
	SMTPURL       string
	LogLevel      slog.Level
	LogFormat     string
	// TrustedProxies lists the platform's reverse proxies (IPs or CIDRs).
	TrustedProxies []string
	// HIBPURL is the base of the Pwned Passwords API that tenants with
	// HALLPASS_PASSWORD_BREACH_CHECK ask (HALLPASS_HIBP_URL).
	HIBPURL string
	// SocialPrivateNetworks lets tenants' identity providers live on
	// loopback or private addresses (HALLPASS_SOCIAL_ALLOW_PRIVATE_NETWORKS=1,
	// for on-premises providers); off, server_url cannot reach the
	// platform's own network.
	SocialPrivateNetworks bool
	// WebhookPrivateNetworks lets webhook endpoints use http and reach
	// loopback and private addresses
	// (HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS=1, for development and
	// on-premises receivers); off, they must be https and public.
	WebhookPrivateNetworks bool
	// TenantsPerUser is how many tenants a console user who is not a
	// platform admin may create (HALLPASS_CONSOLE_TENANTS_PER_USER); 0, the
	// default, leaves tenant creation to platform admins.
	TenantsPerUser int
	// SessionLocalCache bounds the sessions kept in the process's memory
	// (HALLPASS_SESSION_LOCAL_CACHE; 0 turns the local layer off, so every
	// session check asks Redis).
	SessionLocalCache int
	// Retention of sent mail (HALLPASS_OUTBOX_RETENTION), of mail never
	// sent (HALLPASS_OUTBOX_UNSENT_RETENTION) and of audit events
	// (HALLPASS_AUDIT_RETENTION); 0 keeps the janitor's default.
	SentMailRetention, UnsentMailRetention, AuditRetention time.Duration
	// TenantPendingLimit is how many anonymous states (pending sessions,
	// provider redirect states) one tenant may hold in Redis at once
	// (HALLPASS_TENANT_PENDING_LIMIT, default quota.DefaultPendingCeiling).
	TenantPendingLimit int
	// RequestTimeout bounds each request, its Postgres and Redis calls
	// included (HALLPASS_REQUEST_TIMEOUT, a Go duration, default
	// server.DefaultRequestTimeout; below server.ConnTimeout).
	RequestTimeout time.Duration
	// ManageRateLimit is each API key's budget on the management API
	// (HALLPASS_MANAGE_RATE_LIMIT, "REQUESTS/PERIOD", e.g. "1000/1m";
	// default manage.DefaultRateLimit).
	ManageRateLimit manage.RateLimit
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseURL: getenv("HALLPASS_DATABASE_URL"),
		RedisURL:    getenv("HALLPASS_REDIS_URL"),
		Listen:      orDefault(getenv("HALLPASS_LISTEN"), "127.0.0.1:8000"),
		BaseDomain:  strings.ToLower(orDefault(getenv("HALLPASS_BASE_DOMAIN"), "localhost")),
		PublicURL:   getenv("HALLPASS_PUBLIC_URL"),
		MasterKey:   getenv("HALLPASS_MASTER_KEY"),
		SMTPURL:     getenv("HALLPASS_SMTP_URL"),
		LogFormat:   orDefault(getenv("HALLPASS_LOG_FORMAT"), "json"),
		HIBPURL:     strings.TrimSuffix(orDefault(getenv("HALLPASS_HIBP_URL"), passwords.DefaultBreachURL), "/"),
	}
	c.SocialPrivateNetworks = getenv("HALLPASS_SOCIAL_ALLOW_PRIVATE_NETWORKS") == "1"
	c.WebhookPrivateNetworks = getenv("HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS") == "1"
	c.SessionLocalCache = sessions.DefaultLocalCacheEntries
	if v := getenv("HALLPASS_SESSION_LOCAL_CACHE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("HALLPASS_SESSION_LOCAL_CACHE %q: must be a number of sessions (0 turns it off)", v)
		}
		c.SessionLocalCache = n
	}
	if v := getenv("HALLPASS_CONSOLE_TENANTS_PER_USER"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return c, fmt.Errorf("HALLPASS_CONSOLE_TENANTS_PER_USER %q: must be a number of tenants, 0-1000 (0: only platform admins create tenants)", v)
		}
		c.TenantsPerUser = n
	}
	for _, r := range []struct {
		name string
		into *time.Duration
	}{
		{"HALLPASS_OUTBOX_RETENTION", &c.SentMailRetention},
		{"HALLPASS_OUTBOX_UNSENT_RETENTION", &c.UnsentMailRetention},
		{"HALLPASS_AUDIT_RETENTION", &c.AuditRetention},
	} {
		if v := getenv(r.name); v != "" {
			d, err := parseRetention(v)
			if err != nil {
				return c, fmt.Errorf("%s %q: %w", r.name, v, err)
			}
			*r.into = d
		}
	}
	c.TenantPendingLimit = quota.DefaultPendingCeiling
	if v := getenv("HALLPASS_TENANT_PENDING_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("HALLPASS_TENANT_PENDING_LIMIT %q: must be a positive number of pending states per tenant", v)
		}
		c.TenantPendingLimit = n
	}
	c.RequestTimeout = server.DefaultRequestTimeout
	if v := getenv("HALLPASS_REQUEST_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d >= server.ConnTimeout {
			return c, fmt.Errorf("HALLPASS_REQUEST_TIMEOUT %q: must be a Go duration above 0 and below %s (e.g. \"15s\")", v, server.ConnTimeout)
		}
		c.RequestTimeout = d
	}
	c.ManageRateLimit = manage.DefaultRateLimit
	if v := getenv("HALLPASS_MANAGE_RATE_LIMIT"); v != "" {
		l, err := manage.ParseRateLimit(v)
		if err != nil {
			return c, fmt.Errorf("HALLPASS_MANAGE_RATE_LIMIT %q: %w", v, err)
		}
		c.ManageRateLimit = l
	}
	if tp := getenv("HALLPASS_TRUSTED_PROXIES"); tp != "" {
		for _, p := range strings.Split(tp, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
	}
	if old := getenv("HALLPASS_MASTER_KEYS_OLD"); old != "" {
		c.OldMasterKeys = strings.Split(old, ",")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	addr, err := tenants.NewAddressing(c.PublicURL, c.BaseDomain)
	if err != nil {
		return c, fmt.Errorf("HALLPASS_PUBLIC_URL %q, HALLPASS_BASE_DOMAIN %q: %w", c.PublicURL, c.BaseDomain, err)
	}
	c.Addressing = addr
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("HALLPASS_LOG_LEVEL"), "info"))); err != nil {
		return c, fmt.Errorf("HALLPASS_LOG_LEVEL: %w", err)
	}
	if h, err := url.Parse(c.HIBPURL); err != nil || (h.Scheme != "http" && h.Scheme != "https") || h.Host == "" {
		return c, fmt.Errorf("HALLPASS_HIBP_URL %q: must be an absolute http(s) URL", c.HIBPURL)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("HALLPASS_LOG_FORMAT %q: must be json or text", c.LogFormat)
	}
	return c, nil
}

func (c config) require(names ...string) error {
	values := map[string]string{
		"HALLPASS_DATABASE_URL": c.DatabaseURL,
		"HALLPASS_REDIS_URL":    c.RedisURL,
		"HALLPASS_MASTER_KEY":   c.MasterKey,
	}
	var missing []string
	for _, n := range names {
		if values[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing configuration: %s (run `make services` and load .data/env)", strings.Join(missing, ", "))
	}
	return nil
}

// parseRetention reads a retention period: a whole number of days ("7d",
// "400d") or a Go duration ("36h"), at least an hour.
func parseRetention(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, errors.New("must be a number of days (\"30d\") or a duration (\"36h\")")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, errors.New("must be a number of days (\"30d\") or a duration (\"36h\")")
		}
	}
	if d < time.Hour {
		return 0, errors.New("must be at least an hour")
	}
	return d, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
