package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// Profiles reads and changes what a tenant keeps on its users beyond
// allauth's fields (internal/userdata): the profile of declared fields,
// public_metadata and private_metadata.
type Profiles struct{ *Deps }

// UserData is a user's three documents, never nil.
type UserData struct {
	Profile         map[string]any `json:"profile"`
	PublicMetadata  map[string]any `json:"public_metadata"`
	PrivateMetadata map[string]any `json:"private_metadata"`
}

// UserDataChange is a change to a user's documents; a nil member is left
// as it is.
type UserDataChange struct {
	// Profile sets the fields it names (a nil value removes one), checked
	// against the tenant's HALLPASS_USER_FIELDS for the change's mode.
	Profile map[string]any
	// PublicMetadata and PrivateMetadata replace the whole document.
	PublicMetadata  map[string]any
	PrivateMetadata map[string]any
}

// Empty reports whether the change changes nothing.
func (c UserDataChange) Empty() bool {
	return c.Profile == nil && c.PublicMetadata == nil && c.PrivateMetadata == nil
}

// Data returns a user's documents; ErrUserNotFound if there is no such user.
func (p *Profiles) Data(ctx context.Context, tenantID uuid.UUID, userID int64) (*UserData, error) {
	d, err := readUserData(ctx, p.Store.pool, tenantID, userID, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	return d, err
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readUserData(ctx context.Context, q queryRower, tenantID uuid.UUID, userID int64, lock bool) (*UserData, error) {
	sql := `SELECT profile, public_metadata, private_metadata FROM users WHERE tenant_id = $1 AND id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	d := &UserData{}
	if err := q.QueryRow(ctx, sql, tenantID, userID).Scan(&d.Profile, &d.PublicMetadata, &d.PrivateMetadata); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("identity: user data: %w", err)
	}
	d.fill()
	return d, nil
}

func (d *UserData) fill() {
	for _, m := range []*map[string]any{&d.Profile, &d.PublicMetadata, &d.PrivateMetadata} {
		if *m == nil {
			*m = map[string]any{}
		}
	}
}

// Update applies ch to the user's documents in one transaction, audited:
// mode ModeUser is the user changing their own profile (only user_editable
// fields; audited as the user, user.profile.change), any other mode an
// operator or the tenant's backend (by; user.data.change). The audit event
// lists the documents and profile fields that changed, never their
// values. A refused value is userdata.FieldErrors (each naming its field or
// document) and nothing is written. The user's cached summaries drop.
func (p *Profiles) Update(ctx context.Context, by audit.Actor, t *tenants.Tenant, userID int64, mode userdata.Mode, ch UserDataChange) (*UserData, error) {
	var errs userdata.FieldErrors
	for name, doc := range map[string]map[string]any{userdata.PublicMetadata: ch.PublicMetadata, userdata.PrivateMetadata: ch.PrivateMetadata} {
		if doc == nil {
			continue
		}
		if mode == userdata.ModeUser {
			errs = append(errs, &userdata.FieldError{Param: name, Code: "not_editable", Message: "Only the tenant's backend may change metadata."})
		} else if err := userdata.CheckDocument(name, doc); err != nil {
			errs = append(errs, err.(*userdata.FieldError))
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Param < errs[j].Param })
		return nil, errs
	}
	var out *UserData
	err := pgx.BeginFunc(ctx, p.Store.pool, func(tx pgx.Tx) error {
		cur, err := readUserData(ctx, tx, t.ID, userID, true)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return err
		}
		next := &UserData{Profile: cur.Profile, PublicMetadata: cur.PublicMetadata, PrivateMetadata: cur.PrivateMetadata}
		if ch.Profile != nil {
			if next.Profile, err = t.Settings.UserFields.Apply(mode, cur.Profile, ch.Profile); err != nil {
				return err
			}
		}
		if ch.PublicMetadata != nil {
			next.PublicMetadata = ch.PublicMetadata
		}
		if ch.PrivateMetadata != nil {
			next.PrivateMetadata = ch.PrivateMetadata
		}
		changed := changedParts(cur, next)
		out = next
		if len(changed) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET profile = $3, public_metadata = $4, private_metadata = $5 WHERE tenant_id = $1 AND id = $2`,
			t.ID, userID, next.Profile, next.PublicMetadata, next.PrivateMetadata); err != nil {
			return fmt.Errorf("identity: update user data: %w", err)
		}
		details := map[string]any{"changed": changed}
		if err := p.emit(ctx, tx, t, userID, events.UserUpdated, map[string]any{"changed": changed}); err != nil {
			return err
		}
		if mode == userdata.ModeUser {
			return audit.Record(ctx, tx, userEvent(t.ID, userID, by.IP, "user.profile.change", "", details))
		}
		u, err := scanUser(tx.QueryRow(ctx, sqlUserByID, t.ID, userID))
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, adminEvent(t.ID, by, u, "user.data.change", details))
	})
	if err != nil {
		return nil, err
	}
	_ = p.Sessions.UserChanged(ctx, t.ID, userID)
	return out, nil
}

// changedParts names what differs between two versions: "profile.<field>"
// for each changed field, "public_metadata", "private_metadata".
func changedParts(a, b *UserData) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a.Profile {
		keys[k] = true
	}
	for k := range b.Profile {
		keys[k] = true
	}
	for k := range keys {
		if !jsonEqual(a.Profile[k], b.Profile[k]) {
			out = append(out, "profile."+k)
		}
	}
	sort.Strings(out)
	if !jsonEqual(a.PublicMetadata, b.PublicMetadata) {
		out = append(out, userdata.PublicMetadata)
	}
	if !jsonEqual(a.PrivateMetadata, b.PrivateMetadata) {
		out = append(out, userdata.PrivateMetadata)
	}
	return out
}

// jsonEqual compares two values as JSON (numbers decoded from jsonb are
// float64, from a request json.Number: equal when they encode alike).
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Input reads what the tenant's expressions see of a user (userdata.User),
// in one query, plus the user's MFA types when the tenant has MFA.
// ErrUserNotFound if there is no such user.
func (p *Profiles) Input(ctx context.Context, t *tenants.Tenant, userID int64) (*userdata.User, error) {
	return p.userInput(ctx, p.Store.pool, t, userID)
}

// userInput is Input read with q (a change's transaction sees the change).
func (a *Deps) userInput(ctx context.Context, q queryRower, t *tenants.Tenant, userID int64) (*userdata.User, error) {
	var (
		username, hash, primary string
		joined                  time.Time
		last                    *time.Time
		profile, public         map[string]any
		emails                  []struct {
			Email    string `json:"e"`
			Verified bool   `json:"v"`
			Primary  bool   `json:"p"`
		}
	)
	err := q.QueryRow(ctx, sqlUserInput, t.ID, userID).Scan(&username, &hash, &joined, &last, &profile, &public, &emails)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: user input: %w", err)
	}
	u := userdata.User{ID: userID, Profile: profile, PublicMetadata: public, DateJoined: joined.UTC(),
		HasUsablePassword: passwords.IsUsable(hash)}
	if t.Settings.UserModelUsernameField != "" {
		u.Username = username
	}
	if last != nil {
		u.LastLogin = last.UTC()
	}
	for _, e := range emails {
		u.Emails = append(u.Emails, userdata.Email{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
		if e.Primary {
			primary = e.Email
		}
	}
	u.Email = primary
	u.Display = (&User{Username: username}).Display()
	if a.MFA != nil && slices.Contains(t.Settings.Apps, tenants.AppMFA) {
		types, err := a.MFA.Types(ctx, t.ID, userID)
		if err != nil {
			return nil, fmt.Errorf("identity: user input: %w", err)
		}
		u.MFA = slices.Clone(types)
	}
	return userdata.NewUser(u), nil
}

// sqlUserInput reads a user's fields and addresses for userdata.User ($1
// tenant, $2 user).
const sqlUserInput = `SELECT coalesce(u.username, ''), u.password_hash, u.date_joined, u.last_login, u.profile, u.public_metadata,
	coalesce((SELECT json_agg(json_build_object('e', e.email, 'v', e.verified, 'p', e.is_primary) ORDER BY e.is_primary DESC, e.id)
		FROM email_addresses e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id), '[]')
	FROM users u WHERE u.tenant_id = $1 AND u.id = $2`

// Serialize renders the tenant's HALLPASS_USER_SERIALIZER for a user: the
// keys to merge into allauth's user object (userdata.View.Extra); nil when
// the tenant has no serializer. A key whose expression fails is left out
// and logged, at most once per tenant and minute.
func (p *Profiles) Serialize(ctx context.Context, t *tenants.Tenant, userID int64) (json.RawMessage, error) {
	ex := t.Settings.UserSerializer
	if ex.Empty() {
		return nil, nil
	}
	in, err := p.EvalInput(ctx, t, userID)
	if err != nil {
		return nil, err
	}
	out, failed := ex.Render(in)
	p.exprFailures.Report(t.Slug, "HALLPASS_USER_SERIALIZER", failed)
	return out, nil
}

// Claims evaluates the tenant's HALLPASS_JWT_CLAIMS for a user: the claims
// to add to an access token (nil when the tenant has none). A failing key is
// left out and logged as Serialize's.
func (p *Profiles) Claims(ctx context.Context, t *tenants.Tenant, userID int64) (map[string]any, error) {
	ex := t.Settings.JWTClaims
	if ex.Empty() {
		return nil, nil
	}
	in, err := p.EvalInput(ctx, t, userID)
	if err != nil {
		return nil, err
	}
	out, failed := ex.Eval(in)
	p.exprFailures.Report(t.Slug, "HALLPASS_JWT_CLAIMS", failed)
	return out, nil
}

// EvalInput is everything one evaluation reads: the user (Input), the
// tenant, and now.
func (p *Profiles) EvalInput(ctx context.Context, t *tenants.Tenant, userID int64) (*userdata.Input, error) {
	u, err := p.Input(ctx, t, userID)
	if err != nil {
		return nil, err
	}
	return &userdata.Input{User: u, Tenant: userdata.Tenant{Slug: t.Slug, Name: t.Name}, Now: p.now()}, nil
}

// Render renders the tenant's HALLPASS_USER_SERIALIZER for a user not
// stored yet (a pending provider signup: no id, no profile, no metadata),
// failures logged as Serialize's; nil when the tenant has no serializer.
func (p *Profiles) Render(t *tenants.Tenant, u userdata.User) json.RawMessage {
	ex := t.Settings.UserSerializer
	if ex.Empty() {
		return nil
	}
	out, failed := ex.Render(&userdata.Input{User: userdata.NewUser(u), Tenant: userdata.Tenant{Slug: t.Slug, Name: t.Name}, Now: p.now()})
	p.exprFailures.Report(t.Slug, "HALLPASS_USER_SERIALIZER", failed)
	return out
}
