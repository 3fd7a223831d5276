package mfa

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/tenants"
)

// factorRows is one owner's authenticators inside a transaction: a tenant
// user's (Store) or a console user's (ConsoleStore). The checks that use a
// factor (a TOTP code, a recovery code) are the same for both; only the
// rows differ.
type factorRows interface {
	// lock reads the owner's authenticator of type typ for update;
	// ErrNotFound when there is none.
	lock(ctx context.Context, tx pgx.Tx, typ string) (*Authenticator, error)
	// saveUse stores a's new payload and records the use.
	saveUse(ctx context.Context, tx pgx.Tx, a *Authenticator, payload any) error
}

// useFactor locks the owner's authenticator of type typ, lets accept take
// the code (changing the authenticator's payload, which it returns), and
// records the use, all in one transaction. It answers an *Error
// incorrect_code (param "code") when there is no such authenticator or
// accept refuses.
func useFactor(ctx context.Context, pool *pgxpool.Pool, rows factorRows, typ string, accept func(*Authenticator) (payload any, ok bool)) (*Authenticator, error) {
	var out *Authenticator
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		a, err := rows.lock(ctx, tx, typ)
		if errors.Is(err, ErrNotFound) {
			return incorrectCode("code")
		}
		if err != nil {
			return err
		}
		payload, ok := accept(a)
		if !ok {
			return incorrectCode("code")
		}
		if err := rows.saveUse(ctx, tx, a, payload); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// useTOTP checks a TOTP code against the owner's authenticator; each code
// passes once (the replay counter).
func useTOTP(ctx context.Context, pool *pgxpool.Pool, rows factorRows, code string, now func() time.Time, settings *tenants.Settings) (*Authenticator, error) {
	return useFactor(ctx, pool, rows, TypeTOTP, func(a *Authenticator) (any, bool) {
		counter, ok := validateTOTP(a.totp.Secret, code, now(), settings, a.totp.LastCounter)
		if !ok {
			return nil, false
		}
		a.totp.LastCounter = &counter
		return a.totp, true
	})
}

// useRecoveryCode spends one of the owner's recovery codes (see
// recoveryData.spend).
func useRecoveryCode(ctx context.Context, pool *pgxpool.Pool, rows factorRows, code string) (*Authenticator, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 128 {
		return nil, incorrectCode("code")
	}
	return useFactor(ctx, pool, rows, TypeRecoveryCodes, func(a *Authenticator) (any, bool) {
		if !a.rc.spend(code) {
			return nil, false
		}
		a.UnusedCodeCount = a.rc.unused()
		return a.rc, true
	})
}

// tenantFactors are a tenant user's authenticators.
type tenantFactors struct {
	s        *Store
	tenantID uuid.UUID
	userID   int64
}

func (f tenantFactors) lock(ctx context.Context, tx pgx.Tx, typ string) (*Authenticator, error) {
	return f.s.scan(f.tenantID, tx.QueryRow(ctx, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 AND type = $3 FOR UPDATE`, f.tenantID, f.userID, typ), true)
}

func (f tenantFactors) saveUse(ctx context.Context, tx pgx.Tx, a *Authenticator, payload any) error {
	return f.s.update(ctx, tx, f.tenantID, a, payload, true)
}

// consoleFactors are a console user's authenticators.
type consoleFactors struct {
	s      *ConsoleStore
	userID uuid.UUID
}

func (f consoleFactors) lock(ctx context.Context, tx pgx.Tx, typ string) (*Authenticator, error) {
	a, _, err := f.s.scan(tx.QueryRow(ctx, `SELECT `+consoleColumns+` FROM console_authenticators
		WHERE user_id = $1 AND type = $2 FOR UPDATE`, f.userID, typ))
	return a, err
}

func (f consoleFactors) saveUse(ctx context.Context, tx pgx.Tx, a *Authenticator, payload any) error {
	return f.s.update(ctx, tx, f.userID, a, payload, true)
}
