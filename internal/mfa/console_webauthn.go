package mfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ConsoleWebAuthnUser is a console user in a WebAuthn ceremony. The user
// handle is the 16 bytes of their uuid.
type ConsoleWebAuthnUser struct {
	// ID is the console user's id.
	ID uuid.UUID
	// Name is their email address.
	Name string
	// Credentials are their WebAuthn credentials.
	Credentials []webauthn.Credential
}

// WebAuthnID is the user handle: the uuid's bytes.
func (u *ConsoleWebAuthnUser) WebAuthnID() []byte { return u.ID[:] }

// WebAuthnName is the user entity's name (the email address).
func (u *ConsoleWebAuthnUser) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName is the user entity's display name (the email address).
func (u *ConsoleWebAuthnUser) WebAuthnDisplayName() string { return u.Name }

// WebAuthnCredentials are the user's credentials.
func (u *ConsoleWebAuthnUser) WebAuthnCredentials() []webauthn.Credential { return u.Credentials }

// WebAuthnUser loads a console user's credentials for a ceremony; name is
// their email address.
func (s *ConsoleStore) WebAuthnUser(ctx context.Context, userID uuid.UUID, name string) (*ConsoleWebAuthnUser, error) {
	list, err := s.list(ctx, s.pool, `SELECT `+consoleColumns+` FROM console_authenticators
		WHERE user_id = $1 AND type = 'webauthn' ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	u := &ConsoleWebAuthnUser{ID: userID, Name: name}
	for _, a := range list {
		u.Credentials = append(u.Credentials, a.wa.Credential)
	}
	return u, nil
}

// Console ceremony kinds: a tenant's ceremony state never passes for a
// console one, nor the reverse.
const (
	consoleRegistration = "console-registration"
	consoleLogin        = "console-login"
)

// consoleCeremony is the state kept between a console ceremony's halves.
type consoleCeremony struct {
	Ceremony     string               `json:"ceremony"`
	UserID       uuid.UUID            `json:"user_id"`
	Passwordless bool                 `json:"passwordless,omitempty"`
	Session      webauthn.SessionData `json:"session"`
}

func parseConsoleState(state []byte, ceremony string) (*consoleCeremony, bool) {
	var st consoleCeremony
	if err := json.Unmarshal(state, &st); err != nil || st.Ceremony != ceremony || st.Session.Challenge == "" ||
		st.Session.Expires.IsZero() {
		return nil, false
	}
	return &st, true
}

// BeginConsoleRegistration starts adding a WebAuthn credential for a
// console user, as BeginRegistration: the creation options JSON (the
// publicKey object) and the state to keep server-side, bound to the
// session, for FinishRegistration. A passwordless credential (a passkey)
// needs a resident key and user verification.
func BeginConsoleRegistration(cfg *webauthn.Config, user *ConsoleWebAuthnUser, passwordless bool) (optionsJSON, state []byte, err error) {
	optionsJSON, session, err := beginRegistration(cfg, user, user.Credentials, passwordless)
	if err != nil {
		return nil, nil, err
	}
	state, err = json.Marshal(consoleCeremony{Ceremony: consoleRegistration, UserID: user.ID, Passwordless: passwordless, Session: *session})
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: encode state: %w", err)
	}
	return optionsJSON, state, nil
}

// FinishRegistration completes BeginConsoleRegistration with the browser's
// credential (PublicKeyCredential.toJSON()) and stores it, as
// Store.FinishRegistration: origin, RP id, challenge, user and attestation
// are verified; name "" gets allauth's default name, longer than 100
// characters is an *Error max_length (param "name"); any other failure is an
// *Error incorrect_code.
func (s *ConsoleStore) FinishRegistration(ctx context.Context, cfg *webauthn.Config, user *ConsoleWebAuthnUser,
	state, credentialJSON []byte, name string) (*Authenticator, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	st, ok := parseConsoleState(state, consoleRegistration)
	if !ok || st.UserID != user.ID {
		return nil, incorrectCode("")
	}
	cred, passwordless, err := createCredential(cfg, user, st.Session, st.Passwordless, credentialJSON)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{Type: TypeWebAuthn}
	err = s.inUserTx(ctx, user.ID, func(tx pgx.Tx) error {
		if name == "" {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM console_authenticators WHERE user_id = $1 AND type = 'webauthn'`,
				user.ID).Scan(&n); err != nil {
				return fmt.Errorf("mfa: count console webauthn: %w", err)
			}
			name = DefaultWebAuthnName(n)
		}
		a.wa = &webauthnData{Name: name, Credential: *cred, Passwordless: passwordless}
		return s.insert(ctx, tx, user.ID, a, a.wa, cred.ID)
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

// BeginConsoleLogin starts a WebAuthn assertion for the console. With a
// user (the second sign-in step) their credentials are allowed and user
// verification is preferred; with nil (passkey sign-in, the passkey being
// the only factor) allowCredentials is empty and user verification is
// required, so the passkey is itself two factors. The state goes to
// FinishLogin, kept as BeginConsoleRegistration's.
func BeginConsoleLogin(cfg *webauthn.Config, user *ConsoleWebAuthnUser) (optionsJSON, state []byte, err error) {
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	st := consoleCeremony{Ceremony: consoleLogin}
	switch {
	case user == nil:
		assertion, session, err = rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	case len(user.Credentials) > 0:
		st.UserID = user.ID
		assertion, session, err = rp.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationPreferred))
	default:
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: begin console login: %w", err)
	}
	if optionsJSON, err = json.Marshal(assertion.Response); err != nil {
		return nil, nil, fmt.Errorf("mfa: encode request options: %w", err)
	}
	st.Session = *session
	if state, err = json.Marshal(st); err != nil {
		return nil, nil, fmt.Errorf("mfa: encode state: %w", err)
	}
	return optionsJSON, state, nil
}

// FinishLogin verifies an assertion against the state of
// BeginConsoleLogin, as Store.FinishLogin: origin, RP id, challenge, user
// verification when required, signature, a counter that must increase
// (unless it stays 0), and a ceremony that already passed is refused.
// userID is the user the ceremony was started for, uuid.Nil for a passkey
// sign-in: then the credential is looked up by id and the assertion's user
// handle must name its owner. It returns the authenticator, its use
// recorded, and its owner; failures are an *Error incorrect_code (param
// "credential").
func (s *ConsoleStore) FinishLogin(ctx context.Context, cfg *webauthn.Config, state, credentialJSON []byte, userID uuid.UUID) (*Authenticator, uuid.UUID, error) {
	fail := incorrectCode("credential")
	st, ok := parseConsoleState(state, consoleLogin)
	if !ok || st.UserID != userID {
		return nil, uuid.Nil, fail
	}
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, uuid.Nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON)
	if err != nil || len(parsed.RawID) == 0 || len(parsed.RawID) > 1023 {
		return nil, uuid.Nil, fail
	}
	now := s.now()
	digest := sha256.Sum256([]byte(st.Session.Challenge))
	var out *Authenticator
	var owner uuid.UUID
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := `SELECT ` + consoleColumns + ` FROM console_authenticators WHERE type = 'webauthn' AND credential_id = $1`
		args := []any{parsed.RawID}
		if userID != uuid.Nil {
			q += ` AND user_id = $2`
			args = append(args, userID)
		}
		a, who, err := s.scan(tx.QueryRow(ctx, q+` FOR UPDATE`, args...))
		if errors.Is(err, ErrNotFound) {
			return fail
		}
		if err != nil {
			return err
		}
		if userID == uuid.Nil && !bytes.Equal(parsed.Response.UserHandle, who[:]) {
			return fail
		}
		for _, seen := range a.wa.Seen {
			if bytes.Equal(seen.Digest, digest[:]) {
				return fail
			}
		}
		others, err := s.list(ctx, tx, `SELECT `+consoleColumns+` FROM console_authenticators
			WHERE user_id = $1 AND type = 'webauthn' AND id <> $2 ORDER BY created_at, id`, who, a.ID)
		if err != nil {
			return err
		}
		user := &ConsoleWebAuthnUser{ID: who, Credentials: []webauthn.Credential{a.wa.Credential}}
		for _, o := range others {
			user.Credentials = append(user.Credentials, o.wa.Credential)
		}
		var cred *webauthn.Credential
		if userID == uuid.Nil {
			cred, err = rp.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return user, nil }, st.Session, parsed)
		} else {
			cred, err = rp.ValidateLogin(user, st.Session, parsed)
		}
		if err != nil || cred.Authenticator.CloneWarning || !bytes.Equal(cred.ID, a.wa.Credential.ID) {
			return fail
		}
		a.wa.Credential.Authenticator.SignCount = cred.Authenticator.SignCount
		a.wa.Credential.Flags = cred.Flags
		a.wa.Seen = appendSeen(a.wa.Seen, seenChallenge{Digest: digest[:], Expires: st.Session.Expires.Unix()}, now)
		if err := s.update(ctx, tx, who, a, a.wa, true); err != nil {
			return err
		}
		out, owner = a, who
		return nil
	})
	if err != nil {
		return nil, uuid.Nil, err
	}
	return out, owner, nil
}

// RenameWebAuthn renames one of the console user's WebAuthn credentials:
// an *Error invalid_choice (param "id") for an id that is not theirs,
// required / max_length (param "name") for a bad name.
func (s *ConsoleStore) RenameWebAuthn(ctx context.Context, userID uuid.UUID, id int64, name string) (*Authenticator, error) {
	var out *Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		a, _, err := s.scan(tx.QueryRow(ctx, `SELECT `+consoleColumns+` FROM console_authenticators
			WHERE user_id = $1 AND id = $2 AND type = 'webauthn' FOR UPDATE`, userID, id))
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
		out = a
		return s.update(ctx, tx, userID, a, a.wa, false)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebAuthn removes one of the console user's WebAuthn credentials,
// then the recovery codes if no other factor is left; it returns what was
// removed. ErrNotFound if the id is not one of theirs.
func (s *ConsoleStore) DeleteWebAuthn(ctx context.Context, userID uuid.UUID, id int64) ([]*Authenticator, error) {
	var out []*Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		var err error
		out, err = s.deleteTx(ctx, tx, userID, `type = 'webauthn' AND id = $2`, id)
		if err == nil && len(out) == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
