package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/seal"
)

// authenticatorRows reads, seals and writes rows of `authenticators`; Store's
// operations (listing, TOTP, recovery codes, WebAuthn) build on it.
type authenticatorRows struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	now    func() time.Time
}

const columns = `id, user_id, type, data, created_at, last_used_at`

func sealContext(tenantID uuid.UUID, userID int64, typ string) string {
	return "tenant:" + tenantID.String() + ":authenticator:" + strconv.FormatInt(userID, 10) + ":" + typ
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// scan reads one row; with decode, the sealed data is opened and decoded.
func (s *authenticatorRows) scan(tenantID uuid.UUID, row pgx.Row, decode bool) (*Authenticator, error) {
	var a Authenticator
	var sealed string
	if err := row.Scan(&a.ID, &a.UserID, &a.Type, &sealed, &a.CreatedAt, &a.LastUsedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("mfa: scan authenticator: %w", err)
	}
	if !decode {
		return &a, nil
	}
	raw, err := s.sealer.Open(sealed, sealContext(tenantID, a.UserID, a.Type))
	if err != nil {
		return nil, fmt.Errorf("mfa: open authenticator %d: %w (%w)", a.ID, ErrUnreadable, err)
	}
	if err := decodePayload(&a, raw); err != nil {
		return nil, fmt.Errorf("mfa: decode authenticator %d: %w", a.ID, err)
	}
	return &a, nil
}

// decodePayload fills the typed payload of an opened authenticator (a
// tenant user's or a console user's) and the fields shown from it.
func decodePayload(a *Authenticator, raw []byte) error {
	var err error
	switch a.Type {
	case TypeTOTP:
		a.totp = &totpData{}
		err = json.Unmarshal(raw, a.totp)
	case TypeRecoveryCodes:
		a.rc = &recoveryData{}
		if err = json.Unmarshal(raw, a.rc); err == nil {
			a.TotalCodeCount = len(a.rc.Hashes)
			a.UnusedCodeCount = a.rc.unused()
		}
	case TypeWebAuthn:
		a.wa = &webauthnData{}
		if err = json.Unmarshal(raw, a.wa); err == nil {
			a.Name, a.Passwordless = a.wa.Name, a.wa.Passwordless
			a.Credential, a.CredentialID = &a.wa.Credential, a.wa.Credential.ID
		}
	default:
		err = fmt.Errorf("unknown type %q", a.Type)
	}
	return err
}

func (s *authenticatorRows) query(ctx context.Context, q querier, tenantID uuid.UUID, decode bool, sql string, args ...any) ([]*Authenticator, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("mfa: query authenticators: %w", err)
	}
	defer rows.Close()
	var out []*Authenticator
	for rows.Next() {
		a, err := s.scan(tenantID, rows, decode)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mfa: query authenticators: %w", err)
	}
	return out, nil
}

// seal encodes an authenticator's payload for its row.
func (s *authenticatorRows) seal(tenantID uuid.UUID, userID int64, typ string, payload any) (string, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("mfa: encode: %w", err)
	}
	return s.sealer.Seal(raw, sealContext(tenantID, userID, typ))
}

// insert adds an authenticator row and returns it with its id and creation time.
func (s *authenticatorRows) insert(ctx context.Context, q querier, tenantID uuid.UUID, a *Authenticator, payload any, credentialID []byte) error {
	sealed, err := s.seal(tenantID, a.UserID, a.Type, payload)
	if err != nil {
		return err
	}
	err = q.QueryRow(ctx, `INSERT INTO authenticators (tenant_id, user_id, type, data, credential_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
		tenantID, a.UserID, a.Type, sealed, credentialID, s.now()).Scan(&a.ID, &a.CreatedAt)
	if err != nil {
		return fmt.Errorf("mfa: insert %s: %w", a.Type, err)
	}
	return nil
}

// update rewrites an authenticator's payload, and its last use when used.
func (s *authenticatorRows) update(ctx context.Context, q querier, tenantID uuid.UUID, a *Authenticator, payload any, used bool) error {
	sealed, err := s.seal(tenantID, a.UserID, a.Type, payload)
	if err != nil {
		return err
	}
	var lastUsed *time.Time
	if used {
		now := s.now()
		lastUsed = &now
		a.LastUsedAt = &now
	}
	_, err = q.Exec(ctx, `UPDATE authenticators SET data = $3, last_used_at = coalesce($4, last_used_at)
		WHERE tenant_id = $1 AND id = $2`, tenantID, a.ID, sealed, lastUsed)
	if err != nil {
		return fmt.Errorf("mfa: update %s: %w", a.Type, err)
	}
	return nil
}

// inTx runs fn in a transaction.
func (s *authenticatorRows) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// lockUser serialises changes to one user's authenticators for the rest of
// the transaction (generating codes while deleting the last factor, two
// activations at once).
func lockUser(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenantID.String() + "\x00mfa\x00" + strconv.FormatInt(userID, 10)))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
		return fmt.Errorf("mfa: lock user: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
