package manage

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// SigningKeyOut is one of a tenant's JWT signing keys: its metadata and
// public JWK, never its private half.
type SigningKeyOut struct {
	Kid         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	Source      string     `json:"source"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivateAt  *time.Time `json:"activate_at,omitempty"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	// PublicJWK is the key as the JWKS publishes it (absent for HMAC).
	PublicJWK map[string]any `json:"public_jwk,omitempty"`
}

// SigningKeyList is every signing key of a tenant, newest first.
type SigningKeyList struct {
	Items []SigningKeyOut `json:"items"`
}

// SigningKeyRotate is the body of a rotation (both fields optional).
type SigningKeyRotate struct {
	// Alg is the new key's algorithm (default: the tenant's
	// HEADLESS_JWT_ALGORITHM).
	Alg string `json:"alg,omitempty"`
	// PublishDelaySeconds publishes the key that long before it starts
	// signing (0: at once).
	PublishDelaySeconds int `json:"publish_delay_seconds,omitempty"`
}

func (h signingKeyHandlers) signingKeyOperations() []Operation {
	return []Operation{
		{ID: "listSigningKeys", Method: http.MethodGet, Path: "/tenants/{slug}/signing-keys", Scope: apikeys.KeysRead,
			Summary: "List a tenant's JWT signing keys", Status: http.StatusOK, Response: SigningKeyList{}, Handle: h.listSigningKeys},
		{ID: "rotateSigningKey", Method: http.MethodPost, Path: "/tenants/{slug}/signing-keys", Scope: apikeys.KeysWrite,
			Summary: "Rotate a tenant's JWT signing key", Request: SigningKeyRotate{}, Status: http.StatusCreated,
			Response: SigningKeyOut{}, Handle: h.rotateSigningKey},
		{ID: "retireSigningKey", Method: http.MethodPost, Path: "/tenants/{slug}/signing-keys/{kid}/retire", Scope: apikeys.KeysWrite,
			Summary: "Retire a signing key", Status: http.StatusNoContent, Handle: h.retireSigningKey},
	}
}

func signingKeyOut(k *tenants.SigningKey) SigningKeyOut {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return SigningKeyOut{Kid: k.Kid, Alg: k.Alg, State: k.State, Source: k.Source, CreatedAt: k.CreatedAt.UTC(),
		ActivateAt: utc(k.ActivateAt), ActivatedAt: utc(k.ActivatedAt), RetiredAt: utc(k.RetiredAt), NotAfter: utc(k.NotAfter),
		PublicJWK: k.PublicJWK}
}

func (h signingKeyHandlers) listSigningKeys(c *fiber.Ctx, r *Request) error {
	list, err := h.cfg.SigningKeys.List(c.UserContext(), r.Tenant)
	if err != nil {
		return err
	}
	out := SigningKeyList{Items: make([]SigningKeyOut, 0, len(list))}
	for _, k := range list {
		out.Items = append(out.Items, signingKeyOut(k))
	}
	return c.JSON(out)
}

// maxPublishDelay bounds a rotation's publish delay (30 days).
const maxPublishDelay = 30 * 24 * 3600

func (h signingKeyHandlers) rotateSigningKey(c *fiber.Ctx, r *Request) error {
	var in SigningKeyRotate
	// An empty body rotates with the defaults.
	if len(c.Request().Body()) > 0 {
		if err := decodeBody(c, &in); err != nil {
			return err
		}
	}
	if in.PublishDelaySeconds < 0 || in.PublishDelaySeconds > maxPublishDelay {
		return Invalid("The publish delay is out of range.", FieldError{Field: "/publish_delay_seconds", Code: "out_of_range",
			Message: "publish_delay_seconds must be from 0 to 2592000"})
	}
	k, err := h.cfg.SigningKeys.Rotate(c.UserContext(), r.Tenant, in.Alg, time.Duration(in.PublishDelaySeconds)*time.Second, r.Key.Actor())
	switch {
	case errors.Is(err, tenants.ErrUnsupportedAlgorithm):
		return Invalid("The algorithm is not supported.", FieldError{Field: "/alg", Code: "unsupported_algorithm", Message: err.Error()})
	case errors.Is(err, tenants.ErrImportedKey):
		return &Error{Status: http.StatusConflict, Code: "imported_key", Detail: err.Error()}
	case err != nil:
		return err
	}
	return c.Status(http.StatusCreated).JSON(signingKeyOut(k))
}

func (h signingKeyHandlers) retireSigningKey(c *fiber.Ctx, r *Request) error {
	err := h.cfg.SigningKeys.Retire(c.UserContext(), r.Tenant, c.Params("kid"), r.Key.Actor())
	switch {
	case errors.Is(err, tenants.ErrKeyNotFound):
		return NotFound("signing key")
	case errors.Is(err, tenants.ErrKeyRetired):
		return &Error{Status: http.StatusConflict, Code: "key_retired", Detail: "The signing key is retired already."}
	case errors.Is(err, tenants.ErrImportedKey):
		return &Error{Status: http.StatusConflict, Code: "imported_key", Detail: err.Error()}
	case err != nil:
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
