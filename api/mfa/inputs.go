package mfa

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/tenants"
)

// body is the request's JSON object.
type body struct{ api.Body }

func parse(c *fiber.Ctx) (body, error) {
	b, err := api.ParseBody(c)
	return body{b}, err
}

// str reads an optional string field.
func (b body) str(name string) (string, error) {
	s, _, e := b.Str(name)
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	return s, nil
}

// credential returns the raw PublicKeyCredential.toJSON() object.
func (b body) credential() ([]byte, error) {
	raw, ok := b.Body["credential"]
	if !ok || string(raw) == "null" {
		return nil, api.FieldError("credential", "required", "This field is required.")
	}
	var probe map[string]any
	if json.Unmarshal(raw, &probe) != nil {
		return nil, api.FieldError("credential", "invalid", "Enter a valid value.")
	}
	return raw, nil
}

// ids reads a list of authenticator ids.
func (b body) ids(name string) ([]int64, error) {
	var out []int64
	raw, ok := b.Body[name]
	if !ok {
		return nil, api.FieldError(name, "required", "This field is required.")
	}
	if json.Unmarshal(raw, &out) != nil {
		return nil, api.FieldError(name, "invalid", "Enter a list of ids.")
	}
	return out, nil
}

// parseCode reads {code}: a TOTP or recovery code, required.
func parseCode(c *fiber.Ctx) (string, error) {
	b, err := parse(c)
	if err != nil {
		return "", err
	}
	code, err := b.str("code")
	if err != nil {
		return "", err
	}
	if code == "" {
		return "", api.FieldError("code", "required", "This field is required.")
	}
	return code, nil
}

// parseTrust reads POST auth/2fa/trust's {trust: bool}.
func parseTrust(c *fiber.Ctx) (bool, error) {
	b, err := parse(c)
	if err != nil {
		return false, err
	}
	var trust bool
	if raw, ok := b.Body["trust"]; !ok || json.Unmarshal(raw, &trust) != nil {
		return false, api.FieldError("trust", "required", "This field is required.")
	}
	return trust, nil
}

// parseRename reads PUT account/authenticators/webauthn's {id, name}.
func parseRename(c *fiber.Ctx) (id int64, name string, err error) {
	b, err := parse(c)
	if err != nil {
		return 0, "", err
	}
	if raw, ok := b.Body["id"]; !ok || json.Unmarshal(raw, &id) != nil {
		return 0, "", api.FieldError("id", "required", "This field is required.")
	}
	name, err = b.str("name")
	return id, name, err
}

// parseDelete reads DELETE account/authenticators/webauthn's
// {authenticators: [id, ...]}.
func parseDelete(c *fiber.Ctx) ([]int64, error) {
	b, err := parse(c)
	if err != nil {
		return nil, err
	}
	return b.ids("authenticators")
}

// registration is a registration ceremony's answer: {name?, credential}.
type registration struct {
	name       string
	credential []byte
}

func parseRegistration(c *fiber.Ctx) (registration, error) {
	var in registration
	b, err := parse(c)
	if err != nil {
		return in, err
	}
	if in.name, err = b.str("name"); err != nil {
		return in, err
	}
	in.credential, err = b.credential()
	return in, err
}

// parseAssertion reads an assertion ceremony's answer: {credential}.
func parseAssertion(c *fiber.Ctx) ([]byte, error) {
	b, err := parse(c)
	if err != nil {
		return nil, err
	}
	return b.credential()
}

// parsePasskeySignup reads POST auth/webauthn/signup: the signup fields
// (the tenant's declared ones too), without a password.
func parsePasskeySignup(c *fiber.Ctx, s *tenants.Settings) (identity.SignupInput, error) {
	in := identity.SignupInput{Passkey: true}
	b, err := parse(c)
	if err != nil {
		return in, err
	}
	in.Profile = b.Body.Values(s.UserFields.Signup().Names())
	if in.Email, err = b.str("email"); err != nil {
		return in, err
	}
	if in.Username, err = b.str("username"); err != nil {
		return in, err
	}
	_, in.HasEmail = b.Body["email"]
	_, in.HasUsername = b.Body["username"]
	return in, nil
}
