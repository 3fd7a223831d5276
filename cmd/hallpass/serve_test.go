package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

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
