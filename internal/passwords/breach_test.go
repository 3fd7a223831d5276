package passwords

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
