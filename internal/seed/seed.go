// Package seed bulk-loads synthetic tenants, users, their primary email
// addresses and sessions with COPY, for load tests and query-plan checks at
// realistic table sizes (`hallpass seed`, hpbench -seeded, the EXPLAIN tests).
//
// Tenant i is "{prefix}{i:05d}"; its user j has username "u{j}" and the
// verified primary address "u{j}@{slug}.test"; every user has the same
// password hash (the caller hashes one password once). Users are spread
// evenly over the tenants.
package seed

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/identity/bulk"
	sessionbulk "github.com/hallpass/hallpass/internal/sessions/bulk"
	"github.com/hallpass/hallpass/tenants"
)

// Bounds on a seed run.
const (
	MaxTenants = 100_000
	MaxUsers   = 10_000_000
)

// Options describe what to load.
type Options struct {
	// Prefix starts every seeded tenant's slug (default "seed-").
	Prefix  string
	Tenants int
	Users   int
	// SessionsPerUser authenticated sessions per user (random token hashes
	// nobody holds: they give the sessions table its size).
	SessionsPerUser int
	// Settings is every seeded tenant's settings document ({} if empty).
	// It is stored as given: the caller validates it (tenants.ParseSettings).
	Settings json.RawMessage
	// PasswordHash is every user's encoded password hash.
	PasswordHash string
}

// Stats is what a run loaded and how long it took.
type Stats struct {
	Tenants  int           `json:"tenants"`
	Users    int           `json:"users"`
	Sessions int           `json:"sessions"`
	Took     time.Duration `json:"took_ns"`
}

var prefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// Slug is the slug of seeded tenant i.
func Slug(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// Email is the address of user j of the tenant with slug.
func Email(slug string, j int) string { return "u" + strconv.Itoa(j) + "@" + slug + ".test" }

// UsersPerTenant is how many users tenant i of a run with these options holds.
func (o Options) UsersPerTenant(i int) int {
	n := o.Users / o.Tenants
	if i < o.Users%o.Tenants {
		n++
	}
	return n
}

func (o *Options) check() error {
	if o.Prefix == "" {
		o.Prefix = "seed-"
	}
	if len(o.Settings) == 0 {
		o.Settings = json.RawMessage(`{}`)
	}
	switch {
	case !prefixPattern.MatchString(o.Prefix):
		return fmt.Errorf("seed: prefix %q: lower-case letters, digits and '-', at most 41", o.Prefix)
	case o.Tenants < 1 || o.Tenants > MaxTenants:
		return fmt.Errorf("seed: tenants %d: must be 1..%d", o.Tenants, MaxTenants)
	case o.Users < 0 || o.Users > MaxUsers:
		return fmt.Errorf("seed: users %d: must be 0..%d", o.Users, MaxUsers)
	case o.SessionsPerUser < 0 || o.SessionsPerUser > 10:
		return fmt.Errorf("seed: sessions per user %d: must be 0..10", o.SessionsPerUser)
	case o.Users > 0 && o.PasswordHash == "":
		return errors.New("seed: a password hash is required")
	case !json.Valid(o.Settings):
		return errors.New("seed: settings are not JSON")
	}
	return nil
}

// Load replaces the tenants whose slug starts with the prefix (and, by the
// foreign keys' cascade, everything they own) with a fresh set, in one
// transaction: COPY for tenants, users, addresses and sessions, then
// ANALYZE so the planner sees the new sizes. Each tenant numbers its users
// from 1 (see migrations/00018); the tenants are new, so no server can be
// inserting users into them meanwhile, and their id counters are set once
// the users are in.
func Load(ctx context.Context, pool *pgxpool.Pool, o Options) (Stats, error) {
	start := time.Now()
	if err := o.check(); err != nil {
		return Stats{}, err
	}
	st := Stats{Tenants: o.Tenants, Users: o.Users}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tenants.DeleteBySlugPrefix(ctx, tx, o.Prefix); err != nil {
			return fmt.Errorf("seed: clear: %w", err)
		}
		ids := make([]uuid.UUID, o.Tenants)
		slugs := make([]string, o.Tenants)
		list := make([]tenants.SeedTenant, o.Tenants)
		for i := range ids {
			ids[i], slugs[i] = uuid.New(), Slug(o.Prefix, i)
			list[i] = tenants.SeedTenant{ID: ids[i], Slug: slugs[i], Name: slugs[i], Settings: o.Settings}
		}
		if _, err := tenants.CopyTenants(ctx, tx, list); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if o.Users == 0 {
			return nil
		}
		// users: (tenant, j) in order; user j of a tenant gets id j+1.
		type pos struct{ t, j int }
		walk := func() func() (pos, bool) {
			t, j := 0, 0
			return func() (pos, bool) {
				for t < o.Tenants && j >= o.UsersPerTenant(t) {
					t, j = t+1, 0
				}
				if t == o.Tenants {
					return pos{}, false
				}
				j++
				return pos{t, j - 1}, true
			}
		}
		userID := func(p pos) int64 { return int64(p.j) + 1 }
		next := walk()
		if _, err := bulk.Users(ctx, tx, func() (bulk.User, bool) {
			p, ok := next()
			if !ok {
				return bulk.User{}, false
			}
			// "u<j>" is its own key (ASCII, lower case).
			name := "u" + strconv.Itoa(p.j)
			return bulk.User{TenantID: ids[p.t], ID: userID(p), Username: name, UsernameKey: name, PasswordHash: o.PasswordHash}, true
		}); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if err := bulk.SetIDCounters(ctx, tx, ids); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		next = walk()
		if _, err := bulk.Addresses(ctx, tx, func() (bulk.Address, bool) {
			p, ok := next()
			if !ok {
				return bulk.Address{}, false
			}
			// An ASCII lower-case address is its own key.
			e := Email(slugs[p.t], p.j)
			return bulk.Address{TenantID: ids[p.t], UserID: userID(p), Email: e, EmailKey: e, Verified: true, Primary: true}, true
		}); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if o.SessionsPerUser == 0 {
			return nil
		}
		next = walk()
		var cur pos
		left := 0
		expires := time.Now().Add(14 * 24 * time.Hour)
		n, err := sessionbulk.Sessions(ctx, tx, func() (sessionbulk.Session, bool) {
			if left == 0 {
				p, ok := next()
				if !ok {
					return sessionbulk.Session{}, false
				}
				cur, left = p, o.SessionsPerUser
			}
			left--
			id := make([]byte, 32)
			_, _ = rand.Read(id)
			return sessionbulk.Session{TenantID: ids[cur.t], ID: id, UserID: userID(cur), Client: "app", ExpiresAt: expires}, true
		})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		st.Sessions = int(n)
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	if err := tenants.Analyze(ctx, pool); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	if err := bulk.Analyze(ctx, pool); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	if err := sessionbulk.Analyze(ctx, pool); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	st.Took = time.Since(start)
	return st, nil
}
