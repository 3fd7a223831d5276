package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
)

// RotationOverlap is how long a rotated-out secret still signs deliveries,
// beside the new one, so the receiver can switch without losing one.
const RotationOverlap = 24 * time.Hour

// MaxDescription bounds an endpoint's description.
const MaxDescription = 500

// MaxEndpoints bounds a tenant's endpoints (each event is queued once per
// subscribed endpoint, in the transaction of the change).
const MaxEndpoints = 50

// ErrNotFound is an endpoint, message or delivery that does not exist, or
// is another tenant's.
var ErrNotFound = errors.New("webhooks: not found")

// ErrTooMany is a tenant at MaxEndpoints creating another.
var ErrTooMany = &InputError{Field: "", Code: "too_many_endpoints", Message: fmt.Sprintf("a tenant has at most %d endpoints", MaxEndpoints)}

// Endpoint is where a tenant's events are posted.
type Endpoint struct {
	TenantID    uuid.UUID
	ID          uuid.UUID
	URL         string
	Description string
	// Events are the event types it receives; empty: all.
	Events []string
	// Enabled endpoints receive events; DisabledReason says why one is not.
	Enabled        bool
	DisabledReason string
	// FailingSince is the first failure of the current run of failures.
	FailingSince *time.Time
	// PreviousSecretUntil is when the rotated-out secret stops signing
	// (nil: no rotation in progress).
	PreviousSecretUntil *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Subscribes reports whether e receives events of type typ.
func (e Endpoint) Subscribes(typ string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, typ)
}

// EndpointInput is a new endpoint, or (with nil fields left alone) a change.
type EndpointInput struct {
	URL         *string
	Description *string
	Events      *[]string
	Enabled     *bool
}

const endpointColumns = `tenant_id, id, url, description, events, enabled, disabled_reason, failing_since,
	CASE WHEN previous_secret_expires_at > clock_timestamp() THEN previous_secret_expires_at END, created_at, updated_at`

func scanEndpoint(row pgx.Row) (Endpoint, error) {
	var e Endpoint
	err := row.Scan(&e.TenantID, &e.ID, &e.URL, &e.Description, &e.Events, &e.Enabled, &e.DisabledReason, &e.FailingSince,
		&e.PreviousSecretUntil, &e.CreatedAt, &e.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	if e.Events == nil {
		e.Events = []string{}
	}
	return e, err
}

// checkInput validates and normalises in; create says every required
// field must be there.
func (s *Service) checkInput(ctx context.Context, in *EndpointInput, create bool) error {
	if in.URL != nil || create {
		raw := ""
		if in.URL != nil {
			raw = *in.URL
		}
		u, err := s.cfg.URLs.CheckURL(ctx, raw)
		if err != nil {
			return err
		}
		in.URL = &u
	}
	if in.Description != nil {
		d := strings.TrimSpace(*in.Description)
		if len(d) > MaxDescription || strings.ContainsAny(d, "\x00") {
			return &InputError{Field: "description", Code: "too_long", Message: fmt.Sprintf("at most %d bytes of text", MaxDescription)}
		}
		in.Description = &d
	}
	if in.Events != nil {
		known := s.cfg.Types()
		seen := map[string]bool{}
		out := []string{}
		for _, t := range *in.Events {
			t = strings.TrimSpace(t)
			if !slices.Contains(known, t) {
				return &InputError{Field: "events", Code: "unknown_event_type",
					Message: fmt.Sprintf("%q is not an event type (GET the event types catalog for the list)", t)}
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		slices.Sort(out)
		in.Events = &out
	}
	return nil
}

func sealContext(tenantID, id uuid.UUID) string {
	return "tenant:" + tenantID.String() + ":webhook:" + id.String()
}

// Create saves a new endpoint and returns it with its signing secret,
// which is never shown again.
func (s *Service) Create(ctx context.Context, tenantID uuid.UUID, in EndpointInput, actor audit.Actor) (Endpoint, string, error) {
	if err := s.checkInput(ctx, &in, true); err != nil {
		return Endpoint{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Endpoint{}, "", err
	}
	secret := NewSecret()
	sealed, err := s.cfg.Sealer.Seal([]byte(secret), sealContext(tenantID, id))
	if err != nil {
		return Endpoint{}, "", err
	}
	desc, events, enabled := "", []string{}, true
	if in.Description != nil {
		desc = *in.Description
	}
	if in.Events != nil {
		events = *in.Events
	}
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	var e Endpoint
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		// One creation at a time per tenant, so the cap holds.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "webhook_endpoints:"+tenantID.String()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooMany
		}
		e, err = scanEndpoint(tx.QueryRow(ctx, `INSERT INTO webhook_endpoints (tenant_id, id, url, description, events, enabled, secret)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+endpointColumns, tenantID, id, *in.URL, desc, events, enabled, sealed))
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor.Name, IP: actor.IP, Action: "webhook.endpoint.create",
			Target: id.String(), Details: map[string]any{"url": e.URL, "events": e.Events}})
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// List returns the tenant's endpoints, oldest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID) ([]Endpoint, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Endpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Get returns one of the tenant's endpoints.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	return scanEndpoint(s.cfg.Pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id))
}

// Update changes the fields in is not nil. Enabling an endpoint clears its
// failure record (its disabled reason and failing-since).
func (s *Service) Update(ctx context.Context, tenantID, id uuid.UUID, in EndpointInput, actor audit.Actor) (Endpoint, error) {
	if err := s.checkInput(ctx, &in, false); err != nil {
		return Endpoint{}, err
	}
	var e Endpoint
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		e, err = scanEndpoint(tx.QueryRow(ctx, `UPDATE webhook_endpoints SET
				url = coalesce($3, url), description = coalesce($4, description), events = coalesce($5, events),
				enabled = coalesce($6, enabled),
				disabled_reason = CASE WHEN $6 THEN '' WHEN NOT $6 AND enabled THEN 'disabled by the tenant' ELSE disabled_reason END,
				failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END,
				updated_at = clock_timestamp()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+endpointColumns,
			tenantID, id, in.URL, in.Description, in.Events, in.Enabled))
		if err != nil {
			return err
		}
		details := map[string]any{}
		if in.URL != nil {
			details["url"] = e.URL
		}
		if in.Events != nil {
			details["events"] = e.Events
		}
		if in.Enabled != nil {
			details["enabled"] = e.Enabled
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor.Name, IP: actor.IP, Action: "webhook.endpoint.update",
			Target: id.String(), Details: details})
	})
	return e, err
}

// Delete removes an endpoint with its delivery log. Its messages still
// queued are not sent: their jobs find no endpoint and are cancelled.
func (s *Service) Delete(ctx context.Context, tenantID, id uuid.UUID, actor audit.Actor) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var url string
		err := tx.QueryRow(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 RETURNING url`, tenantID, id).Scan(&url)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor.Name, IP: actor.IP, Action: "webhook.endpoint.delete",
			Target: id.String(), Details: map[string]any{"url": url}})
	})
}

// RotateSecret gives the endpoint a new signing secret, returned once; the
// old one keeps signing beside it for RotationOverlap.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id uuid.UUID, actor audit.Actor) (Endpoint, string, error) {
	secret := NewSecret()
	sealed, err := s.cfg.Sealer.Seal([]byte(secret), sealContext(tenantID, id))
	if err != nil {
		return Endpoint{}, "", err
	}
	var e Endpoint
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		e, err = scanEndpoint(tx.QueryRow(ctx, `UPDATE webhook_endpoints SET previous_secret = secret,
				previous_secret_expires_at = clock_timestamp() + $4 * interval '1 second', secret = $3, updated_at = clock_timestamp()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+endpointColumns, tenantID, id, sealed, RotationOverlap.Seconds()))
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor.Name, IP: actor.IP, Action: "webhook.endpoint.rotate_secret",
			Target: id.String()})
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}
