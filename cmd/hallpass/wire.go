package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// deps are the long-lived parts every command shares.
type deps struct {
	log    *slog.Logger
	pool   *pgxpool.Pool
	redis  *redis.Client
	sealer *seal.Sealer
	store  *tenants.Store
	bus    *tenants.Bus
}

func (c *cli) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.cfg.LogLevel}
	if c.cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(c.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(c.stderr, opts))
}

// connect opens Postgres and Redis and builds the stores. Redis is required
// when needRedis; otherwise (CLI edits) it is used when reachable, so running
// servers hear about the change at once, and skipped with a warning if not.
func (c *cli) connect(ctx context.Context, needRedis bool) (*deps, error) {
	need := []string{"HALLPASS_DATABASE_URL", "HALLPASS_MASTER_KEY"}
	if needRedis {
		need = append(need, "HALLPASS_REDIS_URL")
	}
	if err := c.cfg.require(need...); err != nil {
		return nil, err
	}
	d := &deps{log: c.logger()}
	key, err := seal.ParseKey(c.cfg.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("HALLPASS_MASTER_KEY: %w", err)
	}
	var old [][]byte
	for i, o := range c.cfg.OldMasterKeys {
		k, err := seal.ParseKey(o)
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_MASTER_KEYS_OLD[%d]: %w", i, err)
		}
		old = append(old, k)
	}
	if d.sealer, err = seal.New(key, old...); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(c.cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("HALLPASS_DATABASE_URL: %w", err)
	}
	assembly.TunePool(pcfg, c.cfg.DatabaseURL)
	if d.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.pool.Ping(pingCtx); err != nil {
		d.pool.Close()
		return nil, fmt.Errorf("postgres at %s is not reachable: %w", redactURL(c.cfg.DatabaseURL), err)
	}
	if c.cfg.RedisURL != "" {
		opt, err := redis.ParseURL(c.cfg.RedisURL)
		if err != nil {
			d.pool.Close()
			return nil, fmt.Errorf("HALLPASS_REDIS_URL: %w", err)
		}
		assembly.TuneRedis(opt)
		d.redis = redis.NewClient(opt)
		if err := d.redis.Ping(pingCtx).Err(); err != nil {
			if needRedis {
				d.close()
				return nil, fmt.Errorf("redis at %s is not reachable: %w", redactURL(c.cfg.RedisURL), err)
			}
			d.log.Warn("redis not reachable; running servers will see this change when their cache expires", "err", err)
			_ = d.redis.Close()
			d.redis = nil
		} else {
			d.bus = tenants.NewBus(d.redis, "", d.log)
		}
	}
	var pub tenants.Publisher
	if d.bus != nil {
		pub = d.bus
	}
	d.store = tenants.NewStore(d.pool, d.sealer, pub)
	return d, nil
}

func (d *deps) close() {
	if d.redis != nil {
		_ = d.redis.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
}

// redactURL hides the password in a connection URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
