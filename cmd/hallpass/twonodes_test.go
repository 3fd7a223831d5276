package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/testenv"
)

// node is one `hallpass serve` sharing the test database and Redis with
// the others: its own pools, caches and listener, nothing shared in memory.
type node struct{ base string }

func startNode(t *testing.T) node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	env := map[string]string{
		"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t),
		"HALLPASS_REDIS_URL":    os.Getenv("HALLPASS_TEST_REDIS_URL"),
		"HALLPASS_MASTER_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"HALLPASS_LISTEN":       addr,
		"HALLPASS_LOG_LEVEL":    "error",
	}
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return node{base: "http://" + addr}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node on %s did not come up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends an app-client request to slug's headless API on n and returns
// the status and decoded body.
func (n node) call(t *testing.T, slug, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, n.base+"/t/"+slug+"/_allauth/app/v1/"+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Session-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func jsonAt(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, _ := cur.(map[string]any)
		cur = mm[k]
	}
	return cur
}

// Two server processes share one Postgres and Redis: a logout, a change of
// the user's primary address and a deactivation-by-logout on one are seen by
// the other on its very next request. Each node keeps the sessions it
// checks in its own memory (HALLPASS_SESSION_LOCAL_CACHE, on by default);
// the change's request answers only once every node has dropped its copy
// (internal/sessions/localcache.go).
func TestTwoNodesShareSessions(t *testing.T) {
	slug := testenv.Slug("two")
	if code, _, errOut := hallpass(t, `{"ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_SIGNUP_FIELDS":["email*","password1*"],"ACCOUNT_EMAIL_VERIFICATION":"none","ACCOUNT_RATE_LIMITS":false}`,
		nil, "tenant", "create", slug, "--settings", "-"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	a, b := startNode(t), startNode(t)

	code, res := a.call(t, slug, "POST", "auth/signup", "", `{"email":"kim@example.com","password":"correct horse battery"}`)
	token, _ := jsonAt(res, "meta", "session_token").(string)
	if code != 200 || token == "" {
		t.Fatalf("signup on A: %d %v", code, res)
	}
	// B knows the session A created (and from then on, from its memory).
	for _, n := range []node{b, a, b} {
		if code, res := n.call(t, slug, "GET", "auth/session", token, ""); code != 200 || jsonAt(res, "data", "user", "email") != "kim@example.com" {
			t.Fatalf("GET auth/session on %s: %d %v", n.base, code, res)
		}
	}
	// A change on A shows on B at once.
	if code, res := a.call(t, slug, "POST", "account/email", token, `{"email":"kim2@example.com"}`); code != 200 {
		t.Fatalf("add email on A: %d %v", code, res)
	}
	if code, res := a.call(t, slug, "PATCH", "account/email", token, `{"email":"kim2@example.com","primary":true}`); code != 200 {
		t.Fatalf("primary on A: %d %v", code, res)
	}
	if code, res := b.call(t, slug, "GET", "auth/session", token, ""); code != 200 || jsonAt(res, "data", "user", "email") != "kim2@example.com" {
		t.Fatalf("B after A changed the primary address: %d %v", code, res)
	}
	// A second session, logged out on B: A answers 410 on the next request.
	code, res = b.call(t, slug, "POST", "auth/login", "", `{"email":"kim2@example.com","password":"correct horse battery"}`)
	second, _ := jsonAt(res, "meta", "session_token").(string)
	if code != 200 || second == "" {
		t.Fatalf("login on B: %d %v", code, res)
	}
	if code, _ := a.call(t, slug, "GET", "auth/session", second, ""); code != 200 {
		t.Fatalf("A does not see B's login: %d", code)
	}
	if code, res := b.call(t, slug, "DELETE", "auth/session", second, ""); code != 401 {
		t.Fatalf("logout on B: %d %v", code, res)
	}
	if code, res := a.call(t, slug, "GET", "auth/session", second, ""); code != 410 {
		t.Fatalf("A after logout on B: %d %v", code, res)
	}
	// The first session is untouched, on both.
	for _, n := range []node{a, b} {
		if code, _ := n.call(t, slug, "GET", "auth/session", token, ""); code != 200 {
			t.Fatalf("first session on %s: %d", n.base, code)
		}
	}
	// And the other way round.
	if code, _ := a.call(t, slug, "DELETE", "auth/session", token, ""); code != 401 {
		t.Fatalf("logout on A: %d", code)
	}
	if code, _ := b.call(t, slug, "GET", "auth/session", token, ""); code != 410 {
		t.Fatalf("B after logout on A: %d", code)
	}
}
