package mfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BeginLogin starts a WebAuthn assertion (allauth's begin_authentication,
// userVerification "preferred"). With a user (the mfa_authenticate stage,
// reauthentication) the user's credentials are allowed and only they pass;
// with nil (passkey login) allowCredentials is empty and the browser offers
// discoverable credentials. It returns the PublicKeyCredentialRequestOptions
// JSON — the API answers `{"request_options": {"publicKey": <optionsJSON>}}`
// — and the state for FinishLogin (same keeping rules as BeginRegistration).
func BeginLogin(cfg *webauthn.Config, user *WebAuthnUser) (optionsJSON, state []byte, err error) {
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	uv := webauthn.WithUserVerification(protocol.VerificationPreferred)
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	st := ceremonyState{Ceremony: ceremonyLogin}
	switch {
	case user == nil:
		assertion, session, err = rp.BeginDiscoverableLogin(uv)
	case len(user.Credentials) > 0:
		st.UserID = user.ID
		assertion, session, err = rp.BeginLogin(user, uv)
	default:
		// allauth still answers with options when the user has no
		// credential; nothing will pass them.
		st.UserID = user.ID
		assertion, session, err = rp.BeginDiscoverableLogin(uv)
		if session != nil {
			session.UserID = user.WebAuthnID()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: begin login: %w", err)
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

// FinishLogin verifies an assertion (PublicKeyCredential.toJSON() of
// navigator.credentials.get) against the state of BeginLogin and returns
// the authenticator it proved, its use recorded. userID is the user the
// ceremony was started for, 0 for a passkey (discoverable) login: then the
// credential is looked up by id within the tenant and the assertion's user
// handle must name its owner (the caller logs in a.UserID). Verified:
// origin, RP id, challenge, user verification when required, the signature,
// and the signature counter — a counter that does not increase (unless it
// stays 0) is refused as a cloned authenticator, and it is stored. A
// ceremony that already succeeded is refused even with a zero counter.
// Failures are an *Error incorrect_code with param "credential".
func (s *Store) FinishLogin(ctx context.Context, tenantID uuid.UUID, cfg *webauthn.Config, state, credentialJSON []byte, userID int64) (*Authenticator, error) {
	fail := incorrectCode("credential")
	st, ok := parseState(state, ceremonyLogin)
	if !ok || st.UserID != userID {
		return nil, fail
	}
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON)
	if err != nil || len(parsed.RawID) == 0 || len(parsed.RawID) > 1023 {
		return nil, fail
	}
	now := s.now()
	digest := sha256.Sum256([]byte(st.Session.Challenge))
	var out *Authenticator
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The credential's row, locked: its counter and seen challenges
		// change under this transaction only.
		q := `SELECT ` + columns + ` FROM authenticators WHERE tenant_id = $1 AND type = 'webauthn' AND credential_id = $2`
		args := []any{tenantID, parsed.RawID}
		if userID != 0 {
			q += ` AND user_id = $3`
			args = append(args, userID)
		}
		a, err := s.scan(tenantID, tx.QueryRow(ctx, q+` FOR UPDATE`, args...), true)
		if errors.Is(err, ErrNotFound) {
			return fail
		}
		if err != nil {
			return err
		}
		handle := parsed.Response.UserHandle
		legacy := len(handle) > 0 && bytes.Equal(handle, legacyUserHandle(a.UserID))
		if userID == 0 && !legacy && !bytes.Equal(handle, userHandle(tenantID, a.UserID)) {
			return fail
		}
		for _, seen := range a.wa.Seen {
			if bytes.Equal(seen.Digest, digest[:]) {
				return fail
			}
		}
		others, err := s.query(ctx, tx, tenantID, true, `SELECT `+columns+` FROM authenticators
			WHERE tenant_id = $1 AND user_id = $2 AND type = 'webauthn' AND id <> $3 ORDER BY created_at, id`, tenantID, a.UserID, a.ID)
		if err != nil {
			return err
		}
		user := &WebAuthnUser{TenantID: tenantID, ID: a.UserID, Credentials: []webauthn.Credential{a.wa.Credential}, legacyHandle: legacy}
		for _, o := range others {
			user.Credentials = append(user.Credentials, o.wa.Credential)
		}
		var cred *webauthn.Credential
		if userID == 0 {
			cred, err = rp.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return user, nil }, st.Session, parsed)
		} else {
			// BeginLogin named the user by its current handle; the query
			// above already tied the credential to that user, so the session
			// names it in the form its credential was made with.
			session := st.Session
			session.UserID = user.WebAuthnID()
			cred, err = rp.ValidateLogin(user, session, parsed)
		}
		if err != nil || cred.Authenticator.CloneWarning || !bytes.Equal(cred.ID, a.wa.Credential.ID) {
			return fail
		}
		a.wa.Credential.Authenticator.SignCount = cred.Authenticator.SignCount
		a.wa.Credential.Flags = cred.Flags
		a.wa.Seen = appendSeen(a.wa.Seen, seenChallenge{Digest: digest[:], Expires: st.Session.Expires.Unix()}, now)
		if err := s.update(ctx, tx, tenantID, a, a.wa, true); err != nil {
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

// maxSeen bounds the remembered challenges of one credential.
const maxSeen = 64

// appendSeen records a challenge, dropping those whose ceremony has expired
// (they fail on expiry anyway) and the oldest beyond maxSeen.
func appendSeen(seen []seenChallenge, c seenChallenge, now time.Time) []seenChallenge {
	seen = slices.DeleteFunc(seen, func(s seenChallenge) bool { return s.Expires < now.Unix() })
	seen = append(seen, c)
	if len(seen) > maxSeen {
		seen = seen[len(seen)-maxSeen:]
	}
	return seen
}
