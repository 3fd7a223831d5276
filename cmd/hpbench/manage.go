package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
)

// manageSlug is the tenant of scenario (g).
const manageSlug = "bench-manage"

// manageRateEnv, when set to a positive number of requests a second, runs
// (g)'s open loop at that rate instead of at OpenFraction of the peak.
const manageRateEnv = "HPBENCH_MANAGE_RATE"

// routeManageUser labels (g)'s requests in the server's metrics.
const routeManageUser = `route="/api/v1/tenants/:slug/users/:id"`

// manageKey mints a tenant key for (g) straight into the server's
// database, as `hallpass apikey create` would (the server's key cache
// fills on first use).
func (d *db) manageKey(ctx context.Context, slug string) (string, error) {
	t, err := d.store.Get(ctx, slug)
	if err != nil {
		return "", err
	}
	_, secret, err := apikeys.NewStore(d.pool).Create(ctx, audit.Actor{Name: "hpbench"},
		apikeys.NewKey{TenantID: t.ID, Name: "hpbench", Scopes: []string{string(apikeys.UsersRead), string(apikeys.UsersWrite)}})
	return secret, err
}

// (g) GET /api/v1/tenants/{slug}/users/{id} with an API key: the
// management API's read path (key from the node's cache, tenant from the
// tenant cache, the user, their addresses and second-factor types in one
// Postgres round trip, overlapping the rate limit's Redis one), closed
// loop to its peak, then open loop at OpenFraction of it.
func (b *bencher) manage(ctx context.Context) error {
	if err := b.db.ensureTenant(ctx, manageSlug, baseSettings()); err != nil {
		return err
	}
	key, err := b.db.manageKey(ctx, manageSlug)
	if err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	auth := []string{"Authorization", "Bearer " + key}
	status, user, err := b.c.call("POST", "/api/v1/tenants/"+manageSlug+"/users", map[string]any{"emails": []map[string]any{
		{"email": "g-" + b.runID + "@bench.example", "verified": true, "primary": true}}}, auth...)
	if err != nil {
		return err
	}
	id, _ := user["id"].(float64)
	if status != 201 || id <= 0 {
		return fmt.Errorf("create the bench user: status %d: %v", status, user)
	}
	path := "/api/v1/tenants/" + manageSlug + "/users/" + strconv.FormatInt(int64(id), 10)
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		ops[i] = b.c.expect(b.c.request("GET", path, nil, auth...), 200)
	}
	peak, err := b.measure(ctx, "g", "management API: get user", "GET "+path, routeManageUser, ops, 0, b.limits())
	if err != nil || b.cfg.OpenFraction <= 0 || peak.OKRPS <= 0 {
		return err
	}
	open := make([]op, b.cfg.Concurrency)
	for i := range open {
		open[i] = b.c.expect(b.c.request("GET", path, nil, auth...), 200)
	}
	name, rate := fmt.Sprintf("management API: get user at %.0f%% of peak", 100*b.cfg.OpenFraction), b.cfg.OpenFraction*peak.OKRPS
	// A fixed rate compares two builds at the same load on a machine whose
	// peak wanders between runs (an A/B run, not `make bench`).
	if v, err := strconv.ParseFloat(os.Getenv(manageRateEnv), 64); err == nil && v > 0 {
		name, rate = fmt.Sprintf("management API: get user at %.0f/s", v), v
	}
	_, err = b.measure(ctx, "g", name, "GET "+path, routeManageUser, open, rate, b.limits())
	return err
}
