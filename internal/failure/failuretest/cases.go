// Package failuretest holds the errors every surface's classification of
// infrastructure failures is tested against (failure.Unavailable: the
// headless API's error mapper and the console's error page), so that both
// are tested with one table.
package failuretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Case is an error and whether it means a store is unavailable.
type Case struct {
	Name        string
	Err         error
	Unavailable bool
}

// redisReply is an error reply from a Redis server, as go-redis returns it
// (a redis.Error).
type redisReply string

func (e redisReply) Error() string { return string(e) }

// RedisError marks the reply as a redis.Error.
func (redisReply) RedisError() {}

// retryable is an error pgx reports as safe to retry: it happened before
// anything reached the server (e.g. a connection that was already closed).
type retryable struct{}

func (retryable) Error() string     { return "conn closed" }
func (retryable) SafeToRetry() bool { return true }

// Cases returns the table: real errors where they can be made without a
// store (a refused dial, a failed Postgres and Redis connection), the
// values the drivers return otherwise.
func Cases(t testing.TB) []Case {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing listens on port 1 of the loopback address.
	_, dialErr := (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:1")
	if dialErr == nil {
		t.Fatal("something listens on 127.0.0.1:1")
	}
	_, pgErr := pgconn.Connect(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2&sslmode=disable")
	var ce *pgconn.ConnectError
	if !errors.As(pgErr, &ce) {
		t.Fatalf("connecting to a closed port: %v, want a *pgconn.ConnectError", pgErr)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 2 * time.Second})
	redisDialErr := rdb.Ping(ctx).Err()
	_ = rdb.Close()
	if redisDialErr == nil {
		t.Fatal("a Redis answers on 127.0.0.1:1")
	}
	return []Case{
		{"request deadline", fmt.Errorf("identity: user: %w", context.DeadlineExceeded), true},
		{"connection refused", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"dial refused", dialErr, true},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "db.internal", IsTimeout: true}, true},
		{"postgres connect", fmt.Errorf("store: %w", pgErr), true},
		{"postgres connection failure 08006", &pgconn.PgError{Code: "08006", Message: "connection failure"}, true},
		{"postgres admin shutdown 57P01", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"postgres crash shutdown 57P02", &pgconn.PgError{Code: "57P02", Message: "terminating connection due to crash"}, true},
		{"postgres cannot connect now 57P03", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, true},
		{"pgx safe to retry", fmt.Errorf("query: %w", retryable{}), true},
		{"redis dial refused", redisDialErr, true},
		{"redis pool timeout", redis.ErrPoolTimeout, true},
		{"redis pool exhausted", redis.ErrPoolExhausted, true},
		{"redis client closed", redis.ErrClosed, true},
		{"redis loading", redisReply("LOADING Redis is loading the dataset in memory"), true},
		{"redis master down", redisReply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{"redis cluster down", redisReply("CLUSTERDOWN The cluster is down"), true},
		{"redis try again", redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"redis read-only replica", redisReply("READONLY You can't write against a read only replica."), true},
		{"redis max clients", redisReply("ERR max number of clients reached"), true},

		{"request cancelled", context.Canceled, false},
		{"postgres unique violation 23505", &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}, false},
		{"postgres serialization failure 40001", &pgconn.PgError{Code: "40001", Message: "could not serialize access"}, false},
		{"postgres no rows", pgx.ErrNoRows, false},
		{"redis nil", redis.Nil, false},
		{"redis script error", redisReply("ERR Error running script (call to f_0): @user_script:1: oops"), false},
		{"redis no script", redis.ErrNoScript, false},
		{"end of file", io.EOF, false},
		{"a bug", errors.New("runtime: something unexpected"), false},
	}
}
