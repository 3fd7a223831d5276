package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// TenantByID finds a tenant by id, for the operations that know only the
// id (an operator's action, a second factor's change) and must render the
// user as the tenant's settings say (tenants.Store.GetByID).
type TenantByID func(ctx context.Context, id uuid.UUID) (*tenants.Tenant, error)

// SetEvents makes every flow and operator action append its event
// (internal/events) with log, in the transaction of the change; tenant
// resolves the tenants of the operations that know only an id. A nil log
// (the default) records nothing.
func (a *Accounts) SetEvents(log *events.Log, tenant TenantByID) {
	a.Events, a.tenantByID = log, tenant
}

// loginFailedEvents is how often login.failed may be sent per user: once a
// minute, so a brute force cannot flood the tenant's receivers.
var loginFailedEvents = []ratelimit.Rule{{Amount: 1, Period: time.Minute, Per: ratelimit.PerUser}}

// userObject renders data.user: allauth's headless user object, with the
// keys of the tenant's HALLPASS_USER_SERIALIZER, plus public_metadata (never
// private_metadata), as q (the change's transaction) sees the user now.
// active reports the user's is_active; ErrUserNotFound if there is none.
func (a *Deps) userObject(ctx context.Context, q queryRower, t *tenants.Tenant, userID int64) (obj json.RawMessage, active bool, err error) {
	var username, hash, primary string
	var public map[string]any
	err = q.QueryRow(ctx, `SELECT coalesce(u.username, ''), u.password_hash, u.is_active, coalesce((SELECT e.email FROM email_addresses e
		WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND e.is_primary), ''), u.public_metadata
		FROM users u WHERE u.tenant_id = $1 AND u.id = $2`, t.ID, userID).Scan(&username, &hash, &active, &primary, &public)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, ErrUserNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("identity: event user: %w", err)
	}
	v := userdata.View{ID: userID, Display: (&User{Username: username}).Display(), Email: primary, HasUsablePassword: passwords.IsUsable(hash)}
	if t.Settings.UserModelUsernameField != "" {
		v.Username = username
	}
	extra := map[string]any{}
	if ex := t.Settings.UserSerializer; !ex.Empty() {
		u, err := a.userInput(ctx, q, t, userID)
		if err != nil {
			return nil, false, err
		}
		out, failed := ex.Render(&userdata.Input{User: u, Tenant: userdata.Tenant{Slug: t.Slug, Name: t.Name}, Now: a.now()})
		a.exprFailures.Report(t.Slug, "HALLPASS_USER_SERIALIZER", failed)
		if len(out) > 0 {
			if err := json.Unmarshal(out, &extra); err != nil {
				return nil, false, fmt.Errorf("identity: event user serializer: %w", err)
			}
		}
	}
	if public == nil {
		public = map[string]any{}
	}
	extra[userdata.PublicMetadata] = public
	if v.Extra, err = json.Marshal(extra); err != nil {
		return nil, false, fmt.Errorf("identity: event user: %w", err)
	}
	obj, err = json.Marshal(v)
	return obj, active, err
}

// emit appends event typ about userID in tx, data.user rendered in tx (the
// user as the change leaves them) and data's other keys beside it. Without
// an event log it does nothing.
func (a *Deps) emit(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, userID int64, typ string, data map[string]any) error {
	if a.Events == nil {
		return nil
	}
	u, _, err := a.userObject(ctx, tx, t, userID)
	if err != nil {
		return err
	}
	return a.emitUser(ctx, tx, t.ID, u, typ, data)
}

// emitUser appends event typ with data.user = user (a snapshot taken
// earlier in tx: a deleted user as they were).
func (a *Deps) emitUser(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, user json.RawMessage, typ string, data map[string]any) error {
	if a.Events == nil {
		return nil
	}
	d := make(map[string]any, len(data)+1)
	for k, v := range data {
		d[k] = v
	}
	d["user"] = user
	return a.Events.Emit(ctx, tx, tenantID, typ, d)
}

// tenant resolves tenantID for an event (nil, nil without events: nothing
// will be rendered).
func (a *Deps) tenant(ctx context.Context, tenantID uuid.UUID) (*tenants.Tenant, error) {
	if a.Events == nil {
		return nil, nil
	}
	if a.tenantByID == nil {
		return nil, errors.New("identity: events need a tenant lookup (SetEvents)")
	}
	return a.tenantByID(ctx, tenantID)
}

// UserEvent appends event typ about userID in tx, for the packages that
// change a user without owning users (internal/mfa): data.user is added to
// data. Without an event log it does nothing.
func (a *Accounts) UserEvent(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64, typ string, data map[string]any) error {
	if a.Events == nil {
		return nil
	}
	t, err := a.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	return a.emit(ctx, tx, t, userID, typ, data)
}

// emailData is an address as events show it.
func emailData(e *EmailAddress) map[string]any {
	return map[string]any{"email": e.Email, "verified": e.Verified, "primary": e.Primary}
}

// Reasons a session.ended gives.
const (
	endedLogout  = "logout"
	endedByUser  = "user"
	endedByAdmin = "admin"
)

// sessionEnded returns the hook recording session.ended (reason) for each
// session an end deletes, nil without an event log. A user who is gone or
// disabled gets none: their user.deleted or user.disabled says it.
func (a *Deps) sessionEnded(t *tenants.Tenant, reason string) sessions.EndHook {
	if a.Events == nil {
		return nil
	}
	return func(ctx context.Context, tx pgx.Tx, ended []sessions.Ended) error {
		users := map[int64]json.RawMessage{}
		for _, e := range ended {
			u, ok := users[e.UserID]
			if !ok {
				obj, active, err := a.userObject(ctx, tx, t, e.UserID)
				if errors.Is(err, ErrUserNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if active {
					u = obj
				}
				users[e.UserID] = u
			}
			if u == nil {
				continue
			}
			if err := a.emitUser(ctx, tx, t.ID, u, events.SessionEnded, map[string]any{
				"session": map[string]any{"id": e.PublicID}, "reason": reason}); err != nil {
				return err
			}
		}
		return nil
	}
}

// sessionCreated queues session.created on sess, to commit with the
// session's row when it is saved (sessions.Session.OnSave): the session's
// public id and the methods of the login (allauth's "methods").
func (a *Deps) sessionCreated(t *tenants.Tenant, sess *sessions.Session) {
	if a.Events == nil {
		return
	}
	sess.OnSave(func(ctx context.Context, tx pgx.Tx) error {
		methods := sess.State.Methods
		if methods == nil {
			methods = []sessions.AuthRecord{}
		}
		return a.emit(ctx, tx, t, sess.State.UserID, events.SessionCreated, map[string]any{
			"session": map[string]any{"id": sess.PublicID, "client": sess.Client, "methods": methods}})
	})
}

// loginFailed appends login.failed for u (method, reason) in its own
// transaction, at most once per user per minute (loginFailedEvents): the
// event says someone is trying, not how often.
func (a *Deps) loginFailed(ctx context.Context, t *tenants.Tenant, userID int64, method, reason string) error {
	if a.Events == nil {
		return nil
	}
	if a.Limiter != nil {
		ok, err := a.Limiter.Allow(ctx, t.ID, "event_login_failed", loginFailedEvents, ratelimit.Subject{User: strconv.FormatInt(userID, 10)})
		if err != nil || !ok {
			return err
		}
	}
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		return a.emit(ctx, tx, t, userID, events.LoginFailed, map[string]any{"method": method, "reason": reason})
	})
}

// socialData is a provider account as events show it.
func socialData(provider, uid string) map[string]any {
	return map[string]any{"account": map[string]any{"provider": provider, "uid": uid}}
}

// collectVerified reads the addresses an UPDATE ... SET verified = true
// RETURNING email, is_primary just verified.
func collectVerified(rows pgx.Rows) ([]EmailAddress, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
		e := EmailAddress{Verified: true}
		err := r.Scan(&e.Email, &e.Primary)
		return e, err
	})
}

// emitVerified appends email.verified for each address a code proved.
func (a *Deps) emitVerified(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, userID int64, done []EmailAddress) error {
	for i := range done {
		if err := a.emit(ctx, tx, t, userID, events.EmailVerified, map[string]any{"email": emailData(&done[i])}); err != nil {
			return err
		}
	}
	return nil
}
