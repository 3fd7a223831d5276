package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/testenv"
)

// The URL `hallpass demo` prints in its curl line answers as printed once
// `hallpass serve` runs, and serve stops cleanly on cancellation (SIGTERM).
func TestServeAnswersTheDemoCurlLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{
		"HALLPASS_LISTEN":     addr,
		"HALLPASS_PUBLIC_URL": "",
		"HALLPASS_REDIS_URL":  os.Getenv("HALLPASS_TEST_REDIS_URL"),
	}
	code, out, errOut := hallpass(t, "", env, "demo")
	if code != 0 {
		t.Fatalf("demo: %s", errOut)
	}
	m := regexp.MustCompile(`curl -s (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no curl line in %q", out)
	}
	url := m[1]
	if !strings.HasPrefix(url, "http://"+addr+"/t/demo/") {
		t.Fatalf("curl line %q does not point at HALLPASS_LISTEN %s", url, addr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		base := map[string]string{
			"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t),
			"HALLPASS_MASTER_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			"HALLPASS_LOG_LEVEL":    "warn",
		}
		for k, v := range env {
			base[k] = v
		}
		done <- run(ctx, []string{"serve"}, func(k string) string { return base[k] }, strings.NewReader(""), io.Discard, io.Discard)
	}()
	var res *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = http.Get(url)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, res.StatusCode, err)
	}
	res.Body.Close()
	account, _ := body["data"].(map[string]any)["account"].(map[string]any)
	if fmt.Sprint(account["login_methods"]) != "[email]" {
		t.Fatalf("demo config: %v", body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/static/hallpass.css"} {
		r, err := http.Get("http://" + addr + path)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		r.Body.Close()
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// Every HALLPASS_* variable serve reads reaches the assembly's Config, and
// an unset one leaves production's default (a zero field).
func TestServeConfigReachesTheAssembly(t *testing.T) {
	env := map[string]string{
		"HALLPASS_PUBLIC_URL":                     "https://auth.example.com/",
		"HALLPASS_BASE_DOMAIN":                    "Auth.Example.com",
		"HALLPASS_TRUSTED_PROXIES":                "10.0.0.1, 10.1.0.0/16",
		"HALLPASS_HIBP_URL":                       "https://hibp.example/",
		"HALLPASS_TENANT_PENDING_LIMIT":           "77",
		"HALLPASS_SESSION_LOCAL_CACHE":            "500",
		"HALLPASS_SOCIAL_ALLOW_PRIVATE_NETWORKS":  "1",
		"HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
		"HALLPASS_CONSOLE_TENANTS_PER_USER":       "3",
		"HALLPASS_OUTBOX_RETENTION":               "3d",
		"HALLPASS_OUTBOX_UNSENT_RETENTION":        "2d",
		"HALLPASS_AUDIT_RETENTION":                "400d",
		"HALLPASS_SMTP_URL":                       "smtp://127.0.0.1:2525",
		"HALLPASS_REQUEST_TIMEOUT":                "7s",
		"HALLPASS_MANAGE_RATE_LIMIT":              "50/1s",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := &deps{log: slog.New(slog.DiscardHandler)}
	a, err := (&cli{cfg: cfg}).assemblyConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicURL != "https://auth.example.com" || a.BaseDomain != "auth.example.com" ||
		strings.Join(a.TrustedProxies, " ") != "10.0.0.1 10.1.0.0/16" || a.HIBPURL != "https://hibp.example" ||
		a.TenantPendingLimit != 77 || a.SessionLocalCache != 500 || !a.SocialPrivateNetworks || !a.WebhookPrivateNetworks || a.TenantsPerUser != 3 ||
		a.SentMailRetention != 72*time.Hour || a.UnsentMailRetention != 48*time.Hour || a.AuditRetention != 400*24*time.Hour ||
		a.RequestTimeout != 7*time.Second || a.MailSender == nil || a.BenchCeiling ||
		a.ManageRateLimit != (manage.RateLimit{Requests: 50, Period: time.Second}) {
		t.Fatalf("assembly config %+v", a)
	}
	if a.SessionCacheNamespace != "" || a.LimiterTimeout != 0 || a.PasswordHasher != nil || a.SocialEndpoints != nil ||
		a.MailPollInterval != 0 || a.MailBackoffBase != 0 || a.TenantCacheTTL != 0 || a.Webhooks.Queue != "" || a.Webhooks.RetryBase != 0 {
		t.Fatalf("serve sets a test option: %+v", a)
	}

	// Unset: the dev inbox, the local session cache's default size; 0
	// turns the local cache off.
	cfg, err = loadConfig(func(k string) string { return map[string]string{"HALLPASS_SESSION_LOCAL_CACHE": "0"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if a, err = (&cli{cfg: cfg}).assemblyConfig(d); err != nil || a.MailSender != nil || a.SessionLocalCache >= 0 {
		t.Fatalf("HALLPASS_SESSION_LOCAL_CACHE=0: %+v %v", a, err)
	}
	cfg, _ = loadConfig(func(string) string { return "" })
	if a, _ = (&cli{cfg: cfg}).assemblyConfig(d); a.SessionLocalCache != sessions.DefaultLocalCacheEntries {
		t.Fatalf("default local cache %d", a.SessionLocalCache)
	}
	// Unset, the request timeout is today's default; a value that is not a
	// positive duration below the connection's timeout stops the boot.
	if a.RequestTimeout != server.DefaultRequestTimeout {
		t.Fatalf("default request timeout %v", a.RequestTimeout)
	}
	if a.ManageRateLimit != manage.DefaultRateLimit {
		t.Fatalf("default management API rate limit %+v", a.ManageRateLimit)
	}
	for _, bad := range []string{"x", "10", "0/1m", "-5/1m", "10/0s", "10/-1m", "10/x", "/1m"} {
		_, err := loadConfig(func(k string) string { return map[string]string{"HALLPASS_MANAGE_RATE_LIMIT": bad}[k] })
		if err == nil || !strings.Contains(err.Error(), "HALLPASS_MANAGE_RATE_LIMIT") {
			t.Errorf("HALLPASS_MANAGE_RATE_LIMIT=%q: %v", bad, err)
		}
	}
	for _, bad := range []string{"x", "15", "-1s", "0", "0s", "30s", "1h"} {
		_, err := loadConfig(func(k string) string { return map[string]string{"HALLPASS_REQUEST_TIMEOUT": bad}[k] })
		if err == nil || !strings.Contains(err.Error(), "HALLPASS_REQUEST_TIMEOUT") {
			t.Errorf("HALLPASS_REQUEST_TIMEOUT=%q: %v", bad, err)
		}
	}
}
