package failure

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Unavailable reports whether err means a backing store could not be
// reached or cannot serve right now (as opposed to a bug): the request's
// deadline, a refused or reset connection, any network error, Postgres
// failing to connect, shutting down or in recovery, an error pgx deems safe
// to retry, and Redis out of connections, loading its data, failing over or
// with its cluster down. Both the headless API and the console answer these
// 503.
func Unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash, cannot connect now.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	return redisUnavailable(err)
}

// redisUnavailable: Redis (or its client) cannot serve now; a reply such as
// redis.Nil or a script error is an answer, not an outage.
func redisUnavailable(err error) bool {
	return errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) || errors.Is(err, redis.ErrClosed) ||
		redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsReadOnlyError(err) || redis.IsMaxClientsError(err)
}
