package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// CollectPostgres reports pool's statistics (pgxpool.Stat) at every scrape.
func (r *Registry) CollectPostgres(pool *pgxpool.Pool) {
	r.Collect("postgres", func(e *Emitter) {
		s := pool.Stat()
		e.Gauge("hallpass_pg_pool_acquired_conns", "Postgres connections currently checked out of the pool.", float64(s.AcquiredConns()))
		e.Gauge("hallpass_pg_pool_idle_conns", "Idle Postgres connections in the pool.", float64(s.IdleConns()))
		e.Gauge("hallpass_pg_pool_constructing_conns", "Postgres connections being opened.", float64(s.ConstructingConns()))
		e.Gauge("hallpass_pg_pool_total_conns", "Postgres connections in the pool (acquired, idle and constructing).", float64(s.TotalConns()))
		e.Gauge("hallpass_pg_pool_max_conns", "Maximum size of the Postgres pool.", float64(s.MaxConns()))
		e.Counter("hallpass_pg_pool_acquires_total", "Successful acquires from the Postgres pool.", float64(s.AcquireCount()))
		e.Counter("hallpass_pg_pool_acquire_seconds_total", "Total time spent acquiring Postgres connections.", s.AcquireDuration().Seconds())
		e.Counter("hallpass_pg_pool_empty_acquires_total", "Acquires that had to wait because the pool was empty.", float64(s.EmptyAcquireCount()))
		e.Counter("hallpass_pg_pool_empty_acquire_wait_seconds_total", "Total time acquires waited on an empty pool.", s.EmptyAcquireWaitTime().Seconds())
		e.Counter("hallpass_pg_pool_canceled_acquires_total", "Acquires canceled by their context.", float64(s.CanceledAcquireCount()))
		e.Counter("hallpass_pg_pool_new_conns_total", "Postgres connections opened.", float64(s.NewConnsCount()))
	})
}

// CollectRedis reports client's pool statistics (PoolStats) at every scrape.
func (r *Registry) CollectRedis(client *redis.Client) {
	r.Collect("redis", func(e *Emitter) {
		s := client.PoolStats()
		e.Counter("hallpass_redis_pool_hits_total", "Times a free Redis connection was found in the pool.", float64(s.Hits))
		e.Counter("hallpass_redis_pool_misses_total", "Times no free Redis connection was in the pool.", float64(s.Misses))
		e.Counter("hallpass_redis_pool_timeouts_total", "Times waiting for a Redis connection timed out.", float64(s.Timeouts))
		e.Counter("hallpass_redis_pool_waits_total", "Times a Redis connection was waited for.", float64(s.WaitCount))
		e.Counter("hallpass_redis_pool_wait_seconds_total", "Total time spent waiting for Redis connections.", float64(s.WaitDurationNs)/1e9)
		e.Gauge("hallpass_redis_pool_total_conns", "Redis connections in the pool.", float64(s.TotalConns))
		e.Gauge("hallpass_redis_pool_idle_conns", "Idle Redis connections in the pool.", float64(s.IdleConns))
		e.Counter("hallpass_redis_pool_stale_conns_total", "Stale Redis connections removed from the pool.", float64(s.StaleConns))
	})
}
