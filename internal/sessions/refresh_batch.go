package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rotation is what spending a refresh token reads: the spent token's
// session, family and expiry, and the session's user.
type rotation struct {
	sessionID []byte
	family    uuid.UUID
	expiresAt time.Time
	userID    int64
}

// rotateAlone spends jti and records its successor in a statement of its
// own; pgx.ErrNoRows when the token is not usable.
func rotateAlone(ctx context.Context, pool *pgxpool.Pool, tenantID, jti, nextJTI uuid.UUID, nextExpires time.Time) (rotation, error) {
	var r rotation
	err := pool.QueryRow(ctx, sqlRotateRefresh, tenantID, jti, nextJTI, nextExpires).Scan(&r.sessionID, &r.family, &r.expiresAt, &r.userID)
	return r, err
}

// rotator is the rotation batcher of the sessions' pool.
func (s *Store) rotator() *rotateBatcher { return s.rotations }

// rotateBatcher gathers the refresh-token rotations of concurrent requests
// into one statement (group commit): one round trip, one executor run and
// one commit for many rotations instead of one each, which halves the
// Postgres CPU of a rotation under load (BenchmarkRotate). A lone request
// goes out at once, in the single-token statement; requests arriving while
// batches are in flight ride the next one. The statement matches each token
// by its own tenant and jti, so a batch may mix tenants.
type rotateBatcher struct {
	pool *pgxpool.Pool
	q    batchQueue[*rotateReq]
}

// Rotation batch bounds: at most rotateWorkers statements in flight, each
// spending at most maxRotateBatch tokens. With 32 clients, 4 workers make
// batches of about 10 (2 make them of 13 and save a little more Postgres
// CPU, 8 of 7 and save less).
// rotateTimeout bounds a batch's statement, which runs on behalf of several
// requests and so under none of their contexts.
const (
	rotateWorkers  = 4
	maxRotateBatch = 64
	rotateTimeout  = 5 * time.Second
)

func newRotateBatcher(pool *pgxpool.Pool) *rotateBatcher {
	b := &rotateBatcher{pool: pool}
	b.q = batchQueue[*rotateReq]{workers: rotateWorkers, maxBatch: maxRotateBatch, serve: b.serve}
	return b
}

// rotateReq is one rotation waiting for its batch.
type rotateReq struct {
	// ctx is the request's: a request whose context ended before its batch
	// went out is not spent.
	ctx         context.Context
	tenantID    uuid.UUID
	jti         uuid.UUID
	nextJTI     uuid.UUID
	nextExpires time.Time
	res         rotation
	err         error
	done        chan struct{}
}

// errRotateAlone tells a request that its batch failed as a whole (and was
// rolled back) and that it must go again in a statement of its own.
var errRotateAlone = errors.New("rotate alone")

// rotate spends jti and records its successor; pgx.ErrNoRows when the token
// is not usable (see UseRefresh).
func (b *rotateBatcher) rotate(ctx context.Context, tenantID, jti, nextJTI uuid.UUID, nextExpires time.Time) (rotation, error) {
	r := &rotateReq{ctx: ctx, tenantID: tenantID, jti: jti, nextJTI: nextJTI, nextExpires: nextExpires, done: make(chan struct{}, 1)}
	if !b.q.submit(ctx, r) {
		return rotation{}, ctx.Err()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		// The worker still owns r and answers into its buffered channel.
		return rotation{}, ctx.Err()
	}
	if errors.Is(r.err, errRotateAlone) {
		return rotateAlone(ctx, b.pool, tenantID, jti, nextJTI, nextExpires)
	}
	return r.res, r.err
}

// serve runs one batch and answers each of its requests.
func (b *rotateBatcher) serve(batch []*rotateReq) {
	b.run(batch)
	for _, r := range batch {
		r.done <- struct{}{}
	}
}

// run spends the batch's tokens and sets each request's result.
func (b *rotateBatcher) run(batch []*rotateReq) {
	// A request given up before its batch went out is not spent.
	live := make([]*rotateReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		r := live[0]
		r.res, r.err = rotateAlone(r.ctx, b.pool, r.tenantID, r.jti, r.nextJTI, r.nextExpires)
		return
	}
	// In key order, so that two batches lock the rows they share (replays
	// of one token) in the same order.
	slices.SortFunc(live, func(x, y *rotateReq) int {
		if c := bytes.Compare(x.tenantID[:], y.tenantID[:]); c != 0 {
			return c
		}
		return bytes.Compare(x.jti[:], y.jti[:])
	})
	// A token presented twice in one batch (a concurrent replay) goes out
	// once; the other copy is answered "not usable" once the batch has
	// committed, so UseRefresh finds the token spent and revokes its family,
	// successor included, as when two statements meet on the row lock.
	sent := make([]*rotateReq, 0, len(live))
	var twice []*rotateReq
	for i, r := range live {
		if i > 0 && r.tenantID == live[i-1].tenantID && r.jti == live[i-1].jti {
			twice = append(twice, r)
			continue
		}
		sent = append(sent, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rotateTimeout)
	defer cancel()
	err := b.spend(ctx, sent)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The statement failed as a whole (a deadlock with a logout's
		// cascade, say) and nothing of it was applied: each request goes
		// again on its own.
		err = errRotateAlone
	}
	if err != nil {
		for _, r := range sent {
			r.res, r.err = rotation{}, err
		}
	}
	for _, r := range twice {
		r.err = err
		if err == nil {
			r.err = pgx.ErrNoRows
		}
	}
}

// spend runs sqlRotateBatch for sent and sets the result of each request:
// the rotation, or pgx.ErrNoRows when its token was not usable.
func (b *rotateBatcher) spend(ctx context.Context, sent []*rotateReq) error {
	tenants := make([]uuid.UUID, len(sent))
	jtis := make([]uuid.UUID, len(sent))
	nexts := make([]uuid.UUID, len(sent))
	expires := make([]time.Time, len(sent))
	for i, r := range sent {
		tenants[i], jtis[i], nexts[i], expires[i] = r.tenantID, r.jti, r.nextJTI, r.nextExpires
	}
	rows, err := b.pool.Query(ctx, sqlRotateBatch, tenants, jtis, nexts, expires)
	if err != nil {
		return err
	}
	defer rows.Close()
	res := make([]rotation, len(sent))
	spent := make([]bool, len(sent))
	for rows.Next() {
		var i int
		var r rotation
		if err := rows.Scan(&i, &r.sessionID, &r.family, &r.expiresAt, &r.userID); err != nil {
			return err
		}
		if i < 1 || i > len(sent) {
			return fmt.Errorf("rotate batch: row %d of %d", i, len(sent))
		}
		res[i-1], spent[i-1] = r, true
	}
	// Once the rows are read, the statement has committed: only now may a
	// token be reported spent, or not usable.
	if err := rows.Err(); err != nil {
		return err
	}
	for i, r := range sent {
		r.res, r.err = res[i], nil
		if !spent[i] {
			r.err = pgx.ErrNoRows
		}
	}
	return nil
}
