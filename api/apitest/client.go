package apitest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/mail/smtptest"
)

// Client is a frontend: it keeps what allauth's JavaScript client keeps
// (the app's session token, the browser's cookies) and sends what it sends
// (X-Session-Token; the csrftoken cookie echoed in X-CSRFToken).
type Client struct {
	env     *Env
	Kind    string
	Token   string
	cookies map[string]string
}

// Client returns a fresh frontend of kind "app" or "browser".
func (e *Env) Client(kind string) *Client {
	return &Client{env: e, Kind: kind, cookies: map[string]string{}}
}

// Do sends a request relative to /_allauth/{client}/v1/; extra headers are
// name, value pairs.
func (c *Client) Do(method, path, body string, headers ...string) *Response {
	c.env.T.Helper()
	var h []string
	if c.Kind == "app" && c.Token != "" {
		h = append(h, "X-Session-Token", c.Token)
	}
	if c.Kind == "browser" {
		if method != "GET" && method != "HEAD" && c.cookies["csrftoken"] == "" {
			c.Do("GET", "config", "") // as allauth frontends do, to get the CSRF cookie
		}
		if len(c.cookies) > 0 {
			var parts []string
			for k, v := range c.cookies {
				parts = append(parts, k+"="+v)
			}
			h = append(h, "Cookie", strings.Join(parts, "; "))
		}
		if method != "GET" && method != "HEAD" {
			h = append(h, "X-CSRFToken", c.cookies["csrftoken"])
		}
	}
	res := c.env.Do(c.Kind, method, path, body, append(h, headers...)...)
	if tok, ok := res.Path("meta.session_token").(string); ok {
		c.Token = tok
	}
	if res.Code == http.StatusGone {
		c.Token = ""
	}
	for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now())) {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res
}

// Clone returns a second frontend holding this one's session (its token
// and cookies), for tests that send requests of one session in parallel:
// a Client itself is not safe for concurrent use.
func (c *Client) Clone() *Client {
	out := &Client{env: c.env, Kind: c.Kind, Token: c.Token, cookies: make(map[string]string, len(c.cookies))}
	for k, v := range c.cookies {
		out.cookies[k] = v
	}
	return out
}

// Cookie returns a cookie the browser holds.
func (c *Client) Cookie(name string) string { return c.cookies[name] }

// SetCookie plants a cookie (e.g. another tenant's session).
func (c *Client) SetCookie(name, value string) { c.cookies[name] = value }

// WaitMail waits for this tenant's n-th mail (1-based) to reach the SMTP
// listener, at most 3 s, and returns it.
func (e *Env) WaitMail(t testing.TB, n int) smtptest.Received {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		mine := e.Mails()
		if len(mine) >= n {
			return mine[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s: got %d mail(s) within 3s, want %d", e.Tenant.Slug, len(mine), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Mails returns the mail this tenant has sent so far, in arrival order.
func (e *Env) Mails() []smtptest.Received {
	var out []smtptest.Received
	for _, m := range e.Mail.Messages() {
		if m.Header != nil && m.Header.Get(mail.TenantHeader) == e.Tenant.ID.String() {
			out = append(out, m)
		}
	}
	return out
}

// WaitMailTo waits for this tenant's n-th mail (1-based) to one address:
// the outbox worker sends concurrently, so mails to different addresses
// may arrive in any order.
func (e *Env) WaitMailTo(t testing.TB, to string, n int) smtptest.Received {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var mine []smtptest.Received
		for _, m := range e.Mails() {
			if len(m.To) > 0 && m.To[0] == to {
				mine = append(mine, m)
			}
		}
		if len(mine) >= n {
			return mine[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s: %d mail(s) to %s within 3s, want %d", e.Tenant.Slug, len(mine), to, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ErrorCode is the first error code of a response ("" when none).
func (r *Response) ErrorCode() string {
	errs, _ := r.JSON["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	code, _ := errs[0].(map[string]any)["code"].(string)
	return code
}

// Burst sends n requests of fe's session in parallel, each from its own
// Clone, and counts the answers by status and error code
// ("400 incorrect_code", "409 "): how attacks that race a counter are
// replayed.
func Burst(fe *Client, n int, req func(c *Client, i int) *Response) map[string]int {
	out := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	clients := make([]*Client, n)
	for i := range clients {
		clients[i] = fe.Clone()
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := req(clients[i], i)
			mu.Lock()
			out[fmt.Sprintf("%d %s", r.Code, r.ErrorCode())]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return out
}
