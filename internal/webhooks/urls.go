package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hallpass/hallpass/internal/egress"
)

// MaxURLLength bounds an endpoint URL.
const MaxURLLength = 2048

// InputError is an endpoint refused at save: Field names the input at
// fault ("url", "events", "description"), Code is stable for clients.
type InputError struct {
	Field   string
	Code    string
	Message string
}

func (e *InputError) Error() string { return "webhooks: " + e.Field + ": " + e.Message }

// Resolver looks host names up (*net.Resolver is one; tests answer from a
// map).
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// URLPolicy decides which endpoint URLs are allowed.
type URLPolicy struct {
	// AllowPrivate lets endpoints use http and reach loopback, private
	// and link-local addresses (HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS).
	AllowPrivate bool
	// Resolver resolves host names at save (net.DefaultResolver when nil).
	Resolver Resolver
}

// CheckURL normalises raw and refuses it unless it is an absolute https
// URL (http too with AllowPrivate) with no credentials, whose host
// resolves, and only to public addresses unless AllowPrivate.
func (p URLPolicy) CheckURL(ctx context.Context, raw string) (string, error) {
	bad := func(code, msg string) error { return &InputError{Field: "url", Code: code, Message: msg} }
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", bad("required", "the endpoint URL is required")
	}
	if len(raw) > MaxURLLength {
		return "", bad("too_long", fmt.Sprintf("at most %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", bad("invalid_url", "an absolute URL such as https://api.example.com/webhooks")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowPrivate:
	default:
		return "", bad("insecure_url", "the URL must use https")
	}
	if u.User != nil {
		return "", bad("invalid_url", "the URL must not carry a user name or password")
	}
	u.Fragment, u.RawFragment = "", ""
	host := u.Hostname()
	if p.AllowPrivate {
		return u.String(), nil
	}
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return "", bad("unresolvable_host", host+" does not resolve to an address")
	}
	for _, a := range addrs {
		if !egress.Public(a) {
			return "", bad("private_address", host+" resolves to "+a.String()+", which is not a public address")
		}
	}
	return u.String(), nil
}

func (p URLPolicy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, errors.New("no address")
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			return nil, errors.New("bad address")
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// ErrForbiddenAddress is a delivery refused because the endpoint's host
// resolved, at connection time, to an address that is not public.
var ErrForbiddenAddress = errors.New("webhooks: endpoint address is not public")

// dialControl refuses, unless allowPrivate, a connection to an address
// that is not public: it sees the address actually dialled, after DNS
// resolution, so a name that resolved to a public address at save and to
// a private one now is refused.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	if allowPrivate {
		return nil
	}
	return egress.DialControl(ErrForbiddenAddress)
}
