package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// tenantCacheTTL bounds staleness if a node misses a pub/sub invalidation.
const tenantCacheTTL = 30 * time.Second

func (c *cli) serve(ctx context.Context) error {
	d, err := c.connect(ctx, true)
	if err != nil {
		return err
	}
	defer d.close()
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.cfg.Listen, err)
	}
	srv, cancelBus := c.buildServer(ctx, d)
	defer cancelBus()
	d.log.Info("hallpass serving", "listen", ln.Addr().String(), "public_url", c.cfg.PublicURL, "base_domain", c.cfg.BaseDomain)
	return srv.Serve(ctx, ln, 25*time.Second)
}

// buildServer wires the tenant cache, its invalidation bus and the HTTP apps.
func (c *cli) buildServer(ctx context.Context, d *deps) (*server.Server, context.CancelFunc) {
	cache := tenants.NewCache(d.store, tenantCacheTTL)
	busCtx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	go d.bus.Run(busCtx, cache, ready)
	select {
	case <-ready:
	case <-time.After(3 * time.Second):
		d.log.Warn("tenant bus not subscribed yet; continuing")
	}
	var platformHosts []string
	if u, err := url.Parse(c.cfg.PublicURL); err == nil {
		platformHosts = append(platformHosts, u.Hostname())
	}
	srv := server.New(server.Config{
		Resolver: tenants.NewResolver(cache, c.cfg.BaseDomain, platformHosts...),
		Log:      d.log,
		Ready: []server.Check{
			{Name: "postgres", Ping: d.store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return d.redis.Ping(ctx).Err() }},
		},
	})
	srv.Platform.Get("/static/*", web.Handler())
	srv.Finish()
	return srv, cancel
}
