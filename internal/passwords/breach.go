package passwords

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBreachURL is the base of Have I Been Pwned's Pwned Passwords API.
const DefaultBreachURL = "https://api.pwnedpasswords.com"

// BreachTimeout bounds one breached-password lookup: a signup waits for it,
// so a slow service must not hold the request for long.
const BreachTimeout = 2 * time.Second

// maxBreachResponse bounds the body read from the service; a real answer
// (with padding) is a few tens of KiB.
const maxBreachResponse = 4 << 20

// ErrBreachUnavailable wraps every failure to get an answer from the
// breached-password service.
var ErrBreachUnavailable = errors.New("passwords: breached-password service unavailable")

// BreachChecker looks passwords up in Have I Been Pwned's Pwned Passwords
// corpus by k-anonymity: only the first five hex digits of the password's
// SHA-1 are sent (GET {BaseURL}/range/{prefix}, with Add-Padding so the
// answer's size says nothing either), and the remaining 35 are compared
// with every suffix in the answer, in constant time.
type BreachChecker struct {
	// BaseURL is the API's base, without a trailing slash.
	BaseURL string
	// Client makes the requests; its Timeout bounds each lookup.
	Client *http.Client
	// Log receives a warning whenever the service cannot answer and a
	// password is accepted unchecked.
	Log *slog.Logger
}

// NewBreachChecker returns a checker for the API at baseURL (""
// = DefaultBreachURL) with BreachTimeout, logging to log (nil = slog.Default).
func NewBreachChecker(baseURL string, log *slog.Logger) *BreachChecker {
	if baseURL == "" {
		baseURL = DefaultBreachURL
	}
	if log == nil {
		log = slog.Default()
	}
	return &BreachChecker{BaseURL: strings.TrimSuffix(baseURL, "/"), Client: &http.Client{Timeout: BreachTimeout}, Log: log}
}

// Breached reports whether password appears in the corpus. An error wraps
// ErrBreachUnavailable and never contains the password, its hash or the
// prefix sent.
func (b *BreachChecker) Breached(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(password))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := digest[:5], []byte(digest[5:])

	ctx, cancel := context.WithTimeout(ctx, BreachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.BaseURL+"/range/"+prefix, nil)
	if err != nil {
		return false, fmt.Errorf("%w: bad base URL", ErrBreachUnavailable)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "hallpass")
	client := b.Client
	if client == nil {
		client = &http.Client{Timeout: BreachTimeout}
	}
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL carries the prefix: leave it out
		}
		return false, fmt.Errorf("%w: %v", ErrBreachUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%w: status %d", ErrBreachUnavailable, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBreachResponse+1))
	if err != nil {
		return false, fmt.Errorf("%w: reading the answer: %v", ErrBreachUnavailable, err)
	}
	if len(body) > maxBreachResponse {
		return false, fmt.Errorf("%w: answer larger than %d bytes", ErrBreachUnavailable, maxBreachResponse)
	}
	return matchRange(body, suffix)
}

// matchRange scans a range answer ("SUFFIX:COUNT" lines) for suffix. Every
// line is compared, whatever matched before, and padding lines (count 0)
// never match.
func matchRange(body, suffix []byte) (bool, error) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		hash, count, ok := bytes.Cut(line, []byte(":"))
		n, err := strconv.ParseUint(string(count), 10, 64)
		if !ok || err != nil || len(hash) != len(suffix) {
			return false, fmt.Errorf("%w: malformed answer", ErrBreachUnavailable)
		}
		seen := 0
		if n > 0 {
			seen = 1
		}
		found |= subtle.ConstantTimeCompare(bytes.ToUpper(hash), suffix) & seen
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("%w: malformed answer: %v", ErrBreachUnavailable, err)
	}
	return found == 1, nil
}
