package assembly

import (
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/pguuid"
)

// TunePool applies the server's Postgres pool settings to cfg, parsed from
// rawURL: a 5 s connect timeout, and unless the URL sets pool_max_conns a
// pool sized for the server's concurrency; uuid.UUID arguments are encoded
// without pgx's failed first attempt (internal/pguuid).
func TunePool(cfg *pgxpool.Config, rawURL string) {
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.AfterConnect = pguuid.AfterConnect
	if !strings.Contains(rawURL, "pool_max_conns") {
		// pgxpool's default (4 on two cores) queues most requests; Postgres
		// handles far more concurrent short queries than that.
		cfg.MaxConns = int32(max(20, 8*runtime.GOMAXPROCS(0)))
	}
}

// TuneRedis applies the server's Redis client settings to opt. Redis holds
// caches and pending flows: when it stalls, calls fail fast and fall back
// (Postgres for sessions, a per-node limiter) rather than hold requests for
// go-redis's default 3 s; context deadlines bound every call.
func TuneRedis(opt *redis.Options) {
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 500 * time.Millisecond
	opt.WriteTimeout = 500 * time.Millisecond
	opt.PoolTimeout = time.Second
	// One dial attempt per command: go-redis's default of 5 with 100 ms
	// backoff would hold every request half a second while Redis is down.
	opt.DialerRetries = 1
	opt.MaxRetries = 1
}
