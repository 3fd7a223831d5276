package mfa

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/sessions"
)

// record is the authentication record an authenticator leaves in the
// session's methods (a TOTP has no id there, as in allauth).
func record(a *domain.Authenticator) sessions.AuthRecord {
	rec := sessions.AuthRecord{Method: "mfa", Type: a.Type}
	if a.Type != domain.TypeTOTP {
		rec.ID = a.ID
	}
	return rec
}

// options wraps a WebAuthn ceremony's options as allauth sends them:
// {key: {publicKey: …}}.
func options(key string, opts []byte) map[string]any {
	return map[string]any{key: map[string]any{"publicKey": json.RawMessage(opts)}}
}

// authenticatorsData lists authenticators as allauth does (no recovery
// codes shown).
func authenticatorsData(list []*domain.Authenticator) []map[string]any {
	out := []map[string]any{}
	for _, a := range list {
		out = append(out, a.Data(false))
	}
	return out
}

// conflict is a 409 that carries errors, as allauth's MFA 409s do.
func conflict(code, message string) error {
	return &api.StatusError{Status: fiber.StatusConflict, Errors: []api.ErrorItem{{Message: message, Code: code}}}
}
