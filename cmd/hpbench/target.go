package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// errNotLoopback is returned for any address that is not this machine's
// loopback: the load generator only ever sends traffic to loopback.
var errNotLoopback = errors.New("not a loopback address")

// loopbackTarget checks a base URL (http://host:port, no path beyond "/")
// and returns the loopback ip:port to dial and the Host to send. A host name
// must resolve only to loopback addresses; the resolved address is what is
// dialled, so a later DNS change cannot redirect the traffic.
func loopbackTarget(ctx context.Context, raw string, lookup func(context.Context, string) ([]net.IPAddr, error)) (dial, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return "", "", fmt.Errorf("%q: only http:// targets (loopback) are supported", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("%q: give a base URL: http://host:port", raw)
	}
	name, port := u.Hostname(), u.Port()
	if name == "" || port == "" {
		return "", "", fmt.Errorf("%q: host and port are required", raw)
	}
	ip, err := resolveLoopback(ctx, name, lookup)
	if err != nil {
		return "", "", fmt.Errorf("%q: %w", raw, err)
	}
	return net.JoinHostPort(ip.String(), port), u.Host, nil
}

// resolveLoopback returns name's address if name is, or resolves only to,
// loopback addresses.
func resolveLoopback(ctx context.Context, name string, lookup func(context.Context, string) ([]net.IPAddr, error)) (net.IP, error) {
	if ip := net.ParseIP(name); ip != nil {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("%s: %w", name, errNotLoopback)
		}
		return ip, nil
	}
	if lookup == nil {
		lookup = net.DefaultResolver.LookupIPAddr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s resolves to nothing", name)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return nil, fmt.Errorf("%s resolves to %s: %w", name, a.IP, errNotLoopback)
		}
	}
	return addrs[0].IP, nil
}

// loopbackDatabase checks that a Postgres URL names only loopback hosts or
// a local unix socket (and no fallback elsewhere).
func loopbackDatabase(ctx context.Context, raw string) error {
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			continue // unix socket: local by definition
		}
		if _, err := resolveLoopback(ctx, h, nil); err != nil {
			return fmt.Errorf("database host: %w", err)
		}
	}
	return nil
}
