package identity

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePwned is a stand-in for api.pwnedpasswords.com serving a tiny corpus,
// with HIBP's answer format: upper-case suffixes, CRLF, and padding lines
// with count 0. It records the paths and headers it was sent.
type fakePwned struct {
	*httptest.Server
	mu       sync.Mutex
	paths    []string
	padding  []string
	breached map[string]int // password -> count
	extra    []string       // lines added to every answer
}

func newFakePwned(t *testing.T, breached map[string]int) *fakePwned {
	f := &fakePwned{breached: breached}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.padding = append(f.padding, r.Header.Get("Add-Padding"))
		f.mu.Unlock()
		prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
		if !ok || len(prefix) != 5 {
			http.NotFound(w, r)
			return
		}
		var lines []string
		for pw, n := range f.breached {
			d := sha1Hex(pw)
			if d[:5] == prefix {
				lines = append(lines, fmt.Sprintf("%s:%d", d[5:], n))
			}
		}
		lines = append(lines, f.extra...)
		// Padding: random-looking suffixes with count 0.
		lines = append(lines, strings.Repeat("A", 35)+":0", strings.Repeat("B", 35)+":0")
		_, _ = fmt.Fprint(w, strings.Join(lines, "\r\n"))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePwned) requests() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...), append([]string(nil), f.padding...)
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// The checker finds a listed password, passes an unlisted one, sends only
// the five-digit prefix with Add-Padding, and never counts padding.
func TestBreachCheckerLookup(t *testing.T) {
	f := newFakePwned(t, map[string]int{"correct horse battery": 42})
	b := NewBreachChecker(f.URL+"/", nil)
	ctx := context.Background()

	got, err := b.Breached(ctx, "correct horse battery")
	if err != nil || !got {
		t.Fatalf("listed password: %v, %v; want true", got, err)
	}
	got, err = b.Breached(ctx, "a password nobody has used 7f3c")
	if err != nil || got {
		t.Fatalf("unlisted password: %v, %v; want false", got, err)
	}
	paths, padding := f.requests()
	for i, p := range paths {
		if len(p) != len("/range/")+5 || strings.ContainsAny(p[len("/range/"):], "abcdef") {
			t.Errorf("request %d: path %q, want /range/ and five upper-case hex digits", i, p)
		}
		if padding[i] != "true" {
			t.Errorf("request %d: Add-Padding %q", i, padding[i])
		}
	}
	if want := "/range/" + sha1Hex("correct horse battery")[:5]; paths[0] != want {
		t.Fatalf("path %q, want %q", paths[0], want)
	}

	// A suffix listed with count 0 is padding, not a breach.
	f.extra = []string{sha1Hex("padded password here")[5:] + ":0"}
	f.breached["padded password here"] = 0
	if got, err := b.Breached(ctx, "padded password here"); err != nil || got {
		t.Fatalf("padding line matched: %v, %v", got, err)
	}
}

func TestBreachMatchRange(t *testing.T) {
	suffix := []byte(sha1Hex("x")[5:])
	lower := strings.ToLower(string(suffix))
	tests := []struct {
		name    string
		body    string
		want    bool
		wantErr bool
	}{
		{"match", string(suffix) + ":3\r\n" + strings.Repeat("C", 35) + ":1", true, false},
		{"lower-case answer", lower + ":3", true, false},
		{"match last of many", strings.Repeat("D", 35) + ":9\n" + string(suffix) + ":1\n", true, false},
		{"no match", strings.Repeat("E", 35) + ":5", false, false},
		{"padding only", string(suffix) + ":0", false, false},
		{"empty", "", false, false},
		{"no count", string(suffix), false, true},
		{"short suffix", "ABC:1", false, true},
		{"html error page", "<html>rate limited</html>", false, true},
	}
	for _, tc := range tests {
		got, err := matchRange([]byte(tc.body), suffix)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBreachUnavailable) {
			t.Errorf("%s: error %v does not wrap ErrBreachUnavailable", tc.name, err)
		}
	}
}

// Every way of not getting an answer is ErrBreachUnavailable, quickly, and
// the error says nothing of the password (not even the prefix sent).
func TestBreachCheckerUnavailable(t *testing.T) {
	const pw = "correct horse battery"
	prefix := sha1Hex(pw)[:5]
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer status.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	for name, b := range map[string]*BreachChecker{
		"refused":    NewBreachChecker(downURL, nil),
		"status 429": NewBreachChecker(status.URL, nil),
		"timeout":    {BaseURL: slow.URL, Client: &http.Client{Timeout: 200 * time.Millisecond}},
		"bad url":    NewBreachChecker("http://[::1", nil),
	} {
		start := time.Now()
		got, err := b.Breached(context.Background(), pw)
		if got || !errors.Is(err, ErrBreachUnavailable) {
			t.Errorf("%s: %v, %v; want false, ErrBreachUnavailable", name, got, err)
			continue
		}
		if d := time.Since(start); d > BreachTimeout+time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		if msg := err.Error(); strings.Contains(msg, prefix) || strings.Contains(msg, pw) {
			t.Errorf("%s: error leaks the prefix or password: %s", name, msg)
		}
	}
}

// NIST SP 800-63B: at least 8 whatever the tenant asks, 64 and more
// accepted, any characters, a clear error past the maximum.
func TestValidatePasswordLengths(t *testing.T) {
	long := strings.Repeat("é", 4096)
	tests := []struct {
		name     string
		password string
		min      int
		codes    string
	}{
		{"7 with a tenant minimum of 6", "tqxmwzr", 6, "password_too_short"},
		{"8", "tqxmwzrk", 6, ""},
		{"7 under the console's 12", "tqxmwzr", 12, "password_too_short"},
		{"64 characters", strings.Repeat("horse ", 10) + "abcd", 8, ""},
		{"only spaces and symbols", "  !!  ?? ", 8, ""},
		{"4096 characters (8192 bytes)", long, 8, ""},
		{"4097 characters", long + "x", 8, "max_length"},
		{"minimum above the input", "tqxmwzrkvb", 64, "password_too_short"},
		{"common", "password123", 8, "password_too_common"},
	}
	for _, tc := range tests {
		var codes []string
		for _, e := range ValidatePassword("password", tc.password, tc.min) {
			codes = append(codes, e.Code)
			if e.Param != "password" || e.Message == "" {
				t.Errorf("%s: %+v", tc.name, e)
			}
		}
		if got := strings.Join(codes, ","); got != tc.codes {
			t.Errorf("%s: codes %q, want %q", tc.name, got, tc.codes)
		}
	}
	if errs := ValidatePassword("password", "abc", 0); len(errs) != 1 || !strings.Contains(errs[0].Message, "at least 8") {
		t.Fatalf("minimum 0 must still mean 8: %v", errs)
	}
	if errs := ValidatePassword("password", long+"x", 8); !strings.Contains(errs[0].Message, "at most 4096") {
		t.Fatalf("max_length message: %v", errs[0].Message)
	}
}

// The common-password rule ships a real list: tens of thousands of the most
// used passwords (those long enough to matter), found case-insensitively.
func TestCommonPasswordList(t *testing.T) {
	if n := CommonPasswordCount(); n < 10000 {
		t.Fatalf("only %d common passwords", n)
	}
	for _, p := range []string{"iloveyou1", "Password1", "QWERTYUIOP", "sunshine", "baseball1"} {
		errs := ValidatePassword("password", p, 8)
		if len(errs) == 0 || errs[0].Code != "password_too_common" {
			t.Errorf("%q: %v", p, errs)
		}
	}
	if errs := ValidatePassword("password", "violet kettle umbrella", 8); len(errs) != 0 {
		t.Errorf("an uncommon passphrase refused: %v", errs)
	}
}
