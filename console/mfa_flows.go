package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pending sign-ins (console_login_flows): a password that passed for a user
// with a second factor, or a passkey sign-in that has not shown its passkey
// yet. The browser holds the flow's random token in a cookie and only its
// SHA-256 is stored, so the flow cannot be finished from another browser.
const (
	// flowCookieName holds the pending sign-in's token.
	flowCookieName = "hp_console_mfa"
	// flowTTL is how long a pending sign-in waits for its second factor.
	flowTTL = 5 * time.Minute
	// flowMaxFailures is how many wrong codes or passkeys end a flow (back
	// to the password), on top of the per-address limit of the password step.
	flowMaxFailures = 5
)

// errNoFlow means the cookie names no live pending sign-in.
var errNoFlow = errors.New("console: no pending sign-in")

// loginFlow is one pending sign-in.
type loginFlow struct {
	// UserID is who typed their password; uuid.Nil for a passkey sign-in.
	UserID uuid.UUID
	// CSRF is the secret the flow's forms post back.
	CSRF string
	// Next is the console path to go to once signed in.
	Next string
	// WebAuthnState is the pending assertion; nil when none was started.
	WebAuthnState []byte
	Failures      int
	ExpiresAt     time.Time

	hash []byte
}

// loginFlows stores pending sign-ins in Postgres.
type loginFlows struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// create starts a pending sign-in and returns the cookie value to set.
// Expired flows of every user are pruned here.
func (f *loginFlows) create(ctx context.Context, userID uuid.UUID, next string) (string, *loginFlow, error) {
	token := randomToken()
	now := f.now().UTC()
	fl := &loginFlow{UserID: userID, CSRF: randomToken(), Next: next, ExpiresAt: now.Add(flowTTL), hash: hashToken(token)}
	var user *uuid.UUID
	if userID != uuid.Nil {
		user = &userID
	}
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_login_flows WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_login_flows (token_hash, user_id, csrf_token, next, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, fl.hash, user, fl.CSRF, next, now, fl.ExpiresAt)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("console: start sign-in flow: %w", err)
	}
	return token, fl, nil
}

// lookup returns the live flow named by a cookie value; errNoFlow if there
// is none (absent, unknown, expired, used).
func (f *loginFlows) lookup(ctx context.Context, token string) (*loginFlow, error) {
	if len(token) != 43 {
		return nil, errNoFlow
	}
	fl := &loginFlow{hash: hashToken(token)}
	var user *uuid.UUID
	err := f.pool.QueryRow(ctx, `SELECT user_id, csrf_token, next, webauthn_state, failures, expires_at
		FROM console_login_flows WHERE token_hash = $1 AND expires_at > $2`, fl.hash, f.now().UTC()).
		Scan(&user, &fl.CSRF, &fl.Next, &fl.WebAuthnState, &fl.Failures, &fl.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoFlow
	}
	if err != nil {
		return nil, fmt.Errorf("console: sign-in flow: %w", err)
	}
	if user != nil {
		fl.UserID = *user
	}
	return fl, nil
}

// setWebAuthn keeps the flow's pending assertion (nil clears it).
func (f *loginFlows) setWebAuthn(ctx context.Context, fl *loginFlow, state []byte) error {
	if _, err := f.pool.Exec(ctx, `UPDATE console_login_flows SET webauthn_state = $2 WHERE token_hash = $1`, fl.hash, state); err != nil {
		return fmt.Errorf("console: sign-in flow state: %w", err)
	}
	fl.WebAuthnState = state
	return nil
}

// takeWebAuthn returns and clears the flow's pending assertion in one
// step, so one ceremony is answered once; nil when there is none.
func (f *loginFlows) takeWebAuthn(ctx context.Context, fl *loginFlow) ([]byte, error) {
	var state []byte
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT webauthn_state FROM console_login_flows WHERE token_hash = $1 FOR UPDATE`, fl.hash).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && state == nil) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE console_login_flows SET webauthn_state = NULL WHERE token_hash = $1`, fl.hash)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("console: sign-in flow state: %w", err)
	}
	fl.WebAuthnState = nil
	return state, nil
}

// failed counts a wrong second factor; at flowMaxFailures the flow ends
// and ended is true.
func (f *loginFlows) failed(ctx context.Context, fl *loginFlow) (ended bool, err error) {
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE console_login_flows SET failures = failures + 1 WHERE token_hash = $1 RETURNING failures`,
			fl.hash).Scan(&fl.Failures)
		if errors.Is(err, pgx.ErrNoRows) {
			ended = true
			return nil
		}
		if err != nil {
			return err
		}
		if fl.Failures >= flowMaxFailures {
			ended = true
			_, err = tx.Exec(ctx, `DELETE FROM console_login_flows WHERE token_hash = $1`, fl.hash)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("console: sign-in flow failure: %w", err)
	}
	return ended, nil
}

// consume ends the flow as it opens a session; false when it was already
// used or has expired meanwhile (a second request racing the first).
func (f *loginFlows) consume(ctx context.Context, fl *loginFlow) (bool, error) {
	tag, err := f.pool.Exec(ctx, `DELETE FROM console_login_flows WHERE token_hash = $1 AND expires_at > $2`, fl.hash, f.now().UTC())
	if err != nil {
		return false, fmt.Errorf("console: end sign-in flow: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
