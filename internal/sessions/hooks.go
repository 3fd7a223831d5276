package sessions

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InTx is work the domain does in the transaction that writes a session
// to Postgres: recording the change as an event (internal/events), so the
// event commits exactly when the session row does.
type InTx func(ctx context.Context, tx pgx.Tx) error

// Ended is a session that an end just deleted, as an event names it.
type Ended struct {
	UserID   int64
	PublicID int64
	Client   string
}

// EndHook runs in the transaction that deletes sessions, given what it
// deleted (never empty); an error rolls the end back.
type EndHook func(ctx context.Context, tx pgx.Tx, ended []Ended) error

// OnSave queues fn to run in the transaction of the session's next save to
// Postgres (the insert of a session that just logged in: fn sees its
// PublicID and State). Queued work is dropped when the session is not
// saved to Postgres (the request fails, the session ends first).
func (s *Session) OnSave(fn InTx) { s.onSave = append(s.onSave, fn) }

// runOnSave runs and clears the work queued by OnSave.
func (s *Session) runOnSave(ctx context.Context, tx pgx.Tx) error {
	fns := s.onSave
	s.onSave = nil
	for _, fn := range fns {
		if err := fn(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// OnEnd queues hook to run in the transaction that deletes the session's
// row when it ends (Store.Logout): the user's own logout, recorded as an
// event. Queued work is dropped when the session has no row.
func (s *Session) OnEnd(hook EndHook) { s.onEnd = append(s.onEnd, hook) }

// endHook is the work OnEnd queued, as one hook (nil: none), and clears it.
func (s *Session) endHook() EndHook {
	hooks := s.onEnd
	s.onEnd = nil
	if len(hooks) == 0 {
		return nil
	}
	return func(ctx context.Context, tx pgx.Tx, ended []Ended) error {
		for _, h := range hooks {
			if err := h(ctx, tx, ended); err != nil {
				return err
			}
		}
		return nil
	}
}

// endWith deletes the sessions sql selects (returning id, user_id,
// public_id, client) and runs hook on them in the same transaction; nil
// hook: no transaction. It returns the deleted storage keys.
func endWith(ctx context.Context, pool *pgxpool.Pool, hook EndHook, sql string, args ...any) ([][]byte, error) {
	if hook == nil {
		rows, err := pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
			var id []byte
			var e Ended
			err := r.Scan(&id, &e.UserID, &e.PublicID, &e.Client)
			return id, err
		})
	}
	var ids [][]byte
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var ended []Ended
		ids, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
			var id []byte
			var e Ended
			err := r.Scan(&id, &e.UserID, &e.PublicID, &e.Client)
			ended = append(ended, e)
			return id, err
		})
		if err != nil || len(ended) == 0 {
			return err
		}
		return hook(ctx, tx, ended)
	})
	return ids, err
}

// sqlEndReturning is what the ends return for endWith.
const sqlEndReturning = ` RETURNING id, user_id, public_id, client`

// EndUserSessionsWith is EndUserSessions (keep nil: every session) with
// hook run in the transaction of the delete: an operator signing a user
// out everywhere, recorded as one event per session.
func (s *Store) EndUserSessionsWith(ctx context.Context, tenantID uuid.UUID, userID int64, keep []byte, hook EndHook) error {
	ids, err := endWith(ctx, s.pool, hook, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND ($3::bytea IS NULL OR id <> $3)`+
		sqlEndReturning, tenantID, userID, keep)
	if err != nil {
		return fmt.Errorf("sessions: end user sessions: %w", err)
	}
	if keep != nil {
		ids = append(ids, keep)
	}
	// Best effort, as before: the Postgres rows are gone, and a lookup that
	// misses Redis finds nothing.
	_ = s.dropUserEntries(ctx, tenantID, userID, ids)
	return nil
}

// doneRow is a row already scanned: Scan reports how that went.
type doneRow struct{ err error }

func (r doneRow) Scan(...any) error { return r.err }
