package mfa

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// WebAuthnUser is the user side of a WebAuthn ceremony. Its user handle is
// the decimal user id, as allauth's (user_pk_to_url_str), so passkeys
// registered there keep working after an import that keeps user ids.
type WebAuthnUser struct {
	// TenantID and ID are the tenant's and the user's ids.
	TenantID uuid.UUID
	ID       int64
	// Name is allauth's user entity name: the email address, else username.
	Name string
	// DisplayName is allauth's user_display.
	DisplayName string
	// Credentials are the user's WebAuthn credentials (for excludeCredentials
	// and allowCredentials).
	Credentials []webauthn.Credential
	// legacyHandle: the credential in use was registered with the decimal
	// user id as its handle.
	legacyHandle bool
}

// WebAuthnID is the user handle: the tenant's id (16 bytes) then the user's
// (8 bytes, big-endian). User ids repeat across tenants, and tenants may
// share a relying party id (localhost, one company's frontend domain); a
// passkey manager keeps one credential per relying party and handle, so a
// handle of the user id alone would let a registration in one tenant
// replace the passkey of another tenant's user. Credentials registered
// before ids were per tenant carry the decimal user id (unique then), which
// FinishLogin still accepts.
func (u *WebAuthnUser) WebAuthnID() []byte {
	if u.legacyHandle {
		return legacyUserHandle(u.ID)
	}
	return userHandle(u.TenantID, u.ID)
}

func userHandle(tenantID uuid.UUID, userID int64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 24), tenantID[:]...), uint64(userID))
}

func legacyUserHandle(userID int64) []byte { return []byte(strconv.FormatInt(userID, 10)) }

// WebAuthnName is the user entity's name.
func (u *WebAuthnUser) WebAuthnName() string {
	if u.Name == "" {
		return strconv.FormatInt(u.ID, 10)
	}
	return u.Name
}

// WebAuthnDisplayName is the user entity's display name.
func (u *WebAuthnUser) WebAuthnDisplayName() string {
	if u.DisplayName == "" {
		return u.WebAuthnName()
	}
	return u.DisplayName
}

// WebAuthnCredentials are the user's credentials.
func (u *WebAuthnUser) WebAuthnCredentials() []webauthn.Credential { return u.Credentials }

// WebAuthnUser loads a user's WebAuthn credentials into a WebAuthnUser for
// BeginRegistration or BeginLogin. name and displayName are the user's
// identifier (email, else username) and display string.
func (s *Store) WebAuthnUser(ctx context.Context, tenantID uuid.UUID, userID int64, name, displayName string) (*WebAuthnUser, error) {
	list, err := s.query(ctx, s.pool, tenantID, true, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 AND type = 'webauthn' ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, err
	}
	u := &WebAuthnUser{TenantID: tenantID, ID: userID, Name: name, DisplayName: displayName}
	for _, a := range list {
		u.Credentials = append(u.Credentials, a.wa.Credential)
	}
	return u, nil
}

// Ceremony kinds recorded in a state.
const (
	ceremonyRegistration = "registration"
	ceremonyLogin        = "login"
)

// ceremonyState is what the caller keeps between the two halves of a
// ceremony: go-webauthn's session data and what it was started for.
type ceremonyState struct {
	Ceremony     string               `json:"ceremony"`
	UserID       int64                `json:"user_id,omitempty"`
	Passwordless bool                 `json:"passwordless,omitempty"`
	Session      webauthn.SessionData `json:"session"`
}

func parseState(state []byte, ceremony string) (*ceremonyState, bool) {
	var st ceremonyState
	if err := json.Unmarshal(state, &st); err != nil || st.Ceremony != ceremony || st.Session.Challenge == "" ||
		st.Session.Expires.IsZero() {
		return nil, false
	}
	return &st, true
}

// relyingParty builds go-webauthn for a tenant's relying party, with the
// ceremony timeouts enforced (a state expires with its options' timeout) and
// extension outputs the browser adds unasked ignored, as python-fido2 does.
func relyingParty(cfg *webauthn.Config) (*webauthn.WebAuthn, error) {
	if cfg == nil {
		return nil, errors.New("mfa: no webauthn config")
	}
	c := *cfg
	c.Timeouts.Login.Enforce = true
	c.Timeouts.Registration.Enforce = true
	c.ExtensionsUnsolicitedOutputPolicy = protocol.UnsolicitedOutputPolicyIgnore
	rp, err := webauthn.New(&c)
	if err != nil {
		return nil, fmt.Errorf("mfa: webauthn: %w", err)
	}
	return rp, nil
}

// beginRegistration is the registration ceremony's start for any user
// (tenant or console): a passwordless credential (a passkey) requires a
// resident key and user verification, otherwise both are discouraged (as
// allauth); existing credentials are excluded and credProps is requested.
func beginRegistration(cfg *webauthn.Config, user webauthn.User, existing []webauthn.Credential, passwordless bool) ([]byte, *webauthn.SessionData, error) {
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	sel := protocol.AuthenticatorSelection{
		ResidentKey:        protocol.ResidentKeyRequirementDiscouraged,
		RequireResidentKey: protocol.ResidentKeyNotRequired(),
		UserVerification:   protocol.VerificationDiscouraged,
	}
	if passwordless {
		sel = protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	for _, c := range existing {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := rp.BeginRegistration(user,
		webauthn.WithAuthenticatorSelection(sel),
		webauthn.WithExclusions(exclude),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: begin registration: %w", err)
	}
	optionsJSON, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: encode creation options: %w", err)
	}
	return optionsJSON, session, nil
}

// BeginRegistration starts adding a WebAuthn credential (allauth's
// begin_registration). It returns the browser's
// PublicKeyCredentialCreationOptions as JSON — the API answers
// `{"creation_options": {"publicKey": <optionsJSON>}}` — and the ceremony
// state, which the caller keeps server-side, bound to the session, and
// hands to FinishRegistration once (delete it when read). A passwordless
// credential (a passkey) requires a resident key and user verification;
// otherwise both are discouraged, as allauth. The user's existing
// credentials are excluded and the credProps extension is requested.
func BeginRegistration(cfg *webauthn.Config, user *WebAuthnUser, passwordless bool) (optionsJSON, state []byte, err error) {
	optionsJSON, session, err := beginRegistration(cfg, user, user.Credentials, passwordless)
	if err != nil {
		return nil, nil, err
	}
	state, err = json.Marshal(ceremonyState{Ceremony: ceremonyRegistration, UserID: user.ID,
		Passwordless: passwordless, Session: *session})
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: encode state: %w", err)
	}
	return optionsJSON, state, nil
}

// checkName cleans a credential name as Django's CharField(max_length=100)
// does; empty is returned as "".
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n > maxNameLength {
		return "", maxLengthError("name", maxNameLength, n)
	}
	return name, nil
}

// DefaultWebAuthnName is allauth's generate_authenticator_name for a user
// who has n WebAuthn credentials: "Master key", "Backup key", "Key nr. 3", …
func DefaultWebAuthnName(n int) string {
	switch n {
	case 0:
		return "Master key"
	case 1:
		return "Backup key"
	}
	return fmt.Sprintf("Key nr. %d", n+1)
}

// FinishRegistration completes BeginRegistration with the browser's
// credential (PublicKeyCredential.toJSON(): base64url id, rawId,
// response.clientDataJSON / attestationObject / transports,
// clientExtensionResults, authenticatorAttachment) and stores it as a
// webauthn authenticator of user: origin, RP id, challenge, user and
// attestation are verified. name "" gets allauth's default name; longer
// than 100 characters is an *Error max_length (param "name"). Any other
// failure — bad JSON, wrong origin, another ceremony's state, a credential
// already registered in the tenant — is an *Error incorrect_code with no
// param, as allauth's form. Recovery codes are not generated here: call
// EnsureRecoveryCodes next (not for passkey signup), as allauth.
func (s *Store) FinishRegistration(ctx context.Context, tenantID uuid.UUID, cfg *webauthn.Config, user *WebAuthnUser,
	state, credentialJSON []byte, name string) (*Authenticator, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	st, ok := parseState(state, ceremonyRegistration)
	if !ok || st.UserID != user.ID {
		return nil, incorrectCode("")
	}
	cred, passwordless, err := createCredential(cfg, user, st.Session, st.Passwordless, credentialJSON)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{UserID: user.ID, Type: TypeWebAuthn}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, user.ID); err != nil {
			return err
		}
		if name == "" {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM authenticators WHERE tenant_id = $1 AND user_id = $2 AND type = 'webauthn'`,
				tenantID, user.ID).Scan(&n); err != nil {
				return fmt.Errorf("mfa: count webauthn: %w", err)
			}
			name = DefaultWebAuthnName(n)
		}
		a.wa = &webauthnData{Name: name, Credential: *cred, Passwordless: passwordless}
		if err := s.insert(ctx, tx, tenantID, a, a.wa, cred.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, EventAuthenticatorAdd, a)
	})
	if isUniqueViolation(err) {
		return nil, incorrectCode("")
	}
	if err != nil {
		return nil, err
	}
	a.Name, a.Passwordless, a.Credential, a.CredentialID = a.wa.Name, a.wa.Passwordless, &a.wa.Credential, cred.ID
	return a, nil
}

// createCredential verifies a registration response (credentialJSON)
// against its ceremony's session: origin, RP id, challenge, user and
// attestation. It returns the credential and whether it is a passkey (nil:
// not known); residentRequired says the ceremony required a resident key.
// A response that does not verify is an *Error incorrect_code with no param.
func createCredential(cfg *webauthn.Config, user webauthn.User, session webauthn.SessionData, residentRequired bool,
	credentialJSON []byte) (*webauthn.Credential, *bool, error) {
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credentialJSON)
	if err != nil {
		return nil, nil, incorrectCode("")
	}
	cred, err := rp.CreateCredential(user, session, parsed)
	if err != nil || len(cred.ID) == 0 || len(cred.ID) > 1023 {
		return nil, nil, incorrectCode("")
	}
	cred.Authenticator.CloneWarning = false
	var passwordless *bool
	switch {
	case cred.Extensions.RK != nil:
		passwordless = new(*cred.Extensions.RK)
	case residentRequired:
		// A resident key was required, so the credential is one.
		passwordless = new(true)
	}
	return cred, passwordless, nil
}

// RenameWebAuthn renames one of the user's WebAuthn credentials (PUT
// account/authenticators/webauthn). Errors are *Error values as allauth's
// UpdateWebAuthnInput: invalid_choice (param "id") for an id that is not
// the user's credential, required / max_length (param "name").
func (s *Store) RenameWebAuthn(ctx context.Context, tenantID uuid.UUID, userID, id int64, name string) (*Authenticator, error) {
	var out *Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		a, err := s.scan(tenantID, tx.QueryRow(ctx, `SELECT `+columns+` FROM authenticators
			WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND type = 'webauthn' FOR UPDATE`, tenantID, userID, id), true)
		if errors.Is(err, ErrNotFound) {
			return &Error{Code: CodeInvalidChoice, Param: "id", Message: invalidChoiceMessage}
		}
		if err != nil {
			return err
		}
		clean, err := checkName(name)
		if err != nil {
			return err
		}
		if clean == "" {
			return NewError("name", CodeRequired)
		}
		a.wa.Name, a.Name = clean, clean
		if err := s.update(ctx, tx, tenantID, a, a.wa, false); err != nil {
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

// DeleteWebAuthn removes WebAuthn credentials of the user (DELETE
// account/authenticators/webauthn) and then the recovery codes if no other
// authenticator is left. Every id must be one of the user's WebAuthn
// credentials, else nothing is removed and the answer is an *Error
// invalid_choice (param "authenticators"); an empty list is required. It
// returns what was removed (metadata only).
func (s *Store) DeleteWebAuthn(ctx context.Context, tenantID uuid.UUID, userID int64, ids []int64) ([]*Authenticator, error) {
	if len(ids) == 0 {
		return nil, NewError("authenticators", CodeRequired)
	}
	var out []*Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM authenticators WHERE tenant_id = $1 AND user_id = $2
			AND type = 'webauthn' AND id = ANY($3)`, tenantID, userID, ids)
		if err != nil {
			return fmt.Errorf("mfa: find webauthn: %w", err)
		}
		owned, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("mfa: find webauthn: %w", err)
		}
		for _, id := range ids {
			if !slices.Contains(owned, id) {
				return &Error{Code: CodeInvalidChoice, Param: "authenticators",
					Message: fmt.Sprintf(invalidMultipleChoiceMessageTmpl, id)}
			}
		}
		out, err = s.deleteTx(ctx, tx, tenantID, userID, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
