package events

import "encoding/json"

// TypeInfo describes one event type for the catalog the API serves: its
// name, what causes it, and the JSON Schema of its payload's data object.
type TypeInfo struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// obj is a JSON Schema object (built as Go maps, rendered once).
type obj = map[string]any

// userSchema is data.user: allauth's headless user object (the keys the
// tenant's HALLPASS_USER_SERIALIZER adds are allowed beside them) plus
// public_metadata. private_metadata is never sent.
var userSchema = obj{
	"type":     "object",
	"required": []string{"id", "display", "has_usable_password", "public_metadata"},
	"properties": obj{
		"id":                  obj{"type": "integer", "minimum": 1},
		"display":             obj{"type": "string"},
		"email":               obj{"type": "string"},
		"username":            obj{"type": "string"},
		"has_usable_password": obj{"type": "boolean"},
		"public_metadata":     obj{"type": "object"},
		"private_metadata":    false,
	},
}

// emailSchema is an address as the headless API's email list shows it.
var emailSchema = obj{
	"type":     "object",
	"required": []string{"email", "verified", "primary"},
	"properties": obj{
		"email":    obj{"type": "string", "minLength": 1},
		"verified": obj{"type": "boolean"},
		"primary":  obj{"type": "boolean"},
	},
	"additionalProperties": false,
}

// methodsSchema is allauth's list of authentication records, as the
// session response's "methods".
var methodsSchema = obj{
	"type": "array",
	"items": obj{
		"type":     "object",
		"required": []string{"method", "at"},
		"properties": obj{
			"method": obj{"type": "string", "minLength": 1},
			"at":     obj{"type": "number"},
		},
	},
}

var authenticatorSchema = obj{
	"type":     "object",
	"required": []string{"id", "type"},
	"properties": obj{
		"id":   obj{"type": "integer"},
		"type": obj{"enum": []string{"totp", "recovery_codes", "webauthn"}},
	},
	"additionalProperties": false,
}

var accountSchema = obj{
	"type":     "object",
	"required": []string{"provider", "uid"},
	"properties": obj{
		"provider": obj{"type": "string", "minLength": 1},
		"uid":      obj{"type": "string", "minLength": 1},
	},
	"additionalProperties": false,
}

// data builds the schema of a data object with user and the given
// properties, all required.
func data(props obj) obj {
	p := obj{"user": userSchema}
	req := []string{"user"}
	for k, v := range props {
		p[k] = v
		req = append(req, k)
	}
	return obj{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"type":                 "object",
		"required":             req,
		"properties":           p,
		"additionalProperties": false,
	}
}

var catalog = []struct {
	typ, desc string
	schema    obj
}{
	{UserCreated, "A user was created: by signing up (source signup), by signing up with a provider (provider_signup), or by an operator in the console or through the management API (admin).",
		data(obj{"source": obj{"enum": []string{"signup", "provider_signup", "admin"}}})},
	{UserUpdated, "A user's username, profile or metadata changed (by the user, an operator or the management API). changed names what changed (username, profile.<field>, public_metadata, private_metadata), never a private value.",
		data(obj{"changed": obj{"type": "array", "minItems": 1, "items": obj{"type": "string"}}})},
	{UserDeleted, "A user was deleted; user is the user as they were just before.", data(nil)},
	{UserDisabled, "A user was disabled (they can no longer sign in; their sessions ended).", data(nil)},
	{UserEnabled, "A disabled user was enabled again.", data(nil)},
	{EmailAdded, "An address was added to a user's account (not yet verified unless verified says so).", data(obj{"email": emailSchema})},
	{EmailVerified, "One of a user's addresses was verified.", data(obj{"email": emailSchema})},
	{EmailRemoved, "An address was removed from a user's account.", data(obj{"email": emailSchema})},
	{EmailPrimaryChanged, "A user's primary address changed; previous is the former primary address (\"\" when there was none).",
		data(obj{"email": emailSchema, "previous": obj{"type": "string"}})},
	{PasswordChanged, "A user's password changed: changed by the user knowing the old one (kind change), set where there was none (set), or set by an operator (admin).",
		data(obj{"kind": obj{"enum": []string{"change", "set", "admin"}}})},
	{PasswordReset, "A user reset a forgotten password (by key or code).", data(nil)},
	{SessionCreated, "A user signed in (or signed up and was signed in). session.methods lists how, as the headless session response's methods.",
		data(obj{"session": obj{
			"type":     "object",
			"required": []string{"id", "client", "methods"},
			"properties": obj{
				"id":      obj{"type": "integer"},
				"client":  obj{"enum": []string{"browser", "app"}},
				"methods": methodsSchema,
			},
			"additionalProperties": false,
		}})},
	{SessionEnded, "A user's session ended: the user logged out (logout), ended it from their session list (user), or an operator or the management API ended it (admin). Sessions that expire or end because the user was disabled or deleted send no event.",
		data(obj{
			"session": obj{
				"type":                 "object",
				"required":             []string{"id"},
				"properties":           obj{"id": obj{"type": "integer"}},
				"additionalProperties": false,
			},
			"reason": obj{"enum": []string{"logout", "user", "admin"}},
		})},
	{MFAEnabled, "A second factor was activated (TOTP, recovery codes, a WebAuthn key).", data(obj{"authenticator": authenticatorSchema})},
	{MFADisabled, "A second factor was removed.", data(obj{"authenticator": authenticatorSchema})},
	{SocialConnected, "A provider account was connected to the user.", data(obj{"account": accountSchema})},
	{SocialDisconnected, "A provider account was disconnected from the user.", data(obj{"account": accountSchema})},
	{LoginFailed, "A sign-in as the user was refused (wrong password or code, locked account). At most one per user per minute: the event says attempts are being made, not how many.",
		data(obj{"method": obj{"type": "string"}, "reason": obj{"type": "string"}})},
}

var rendered = renderCatalog()

func renderCatalog() []TypeInfo {
	out := make([]TypeInfo, len(catalog))
	for i, c := range catalog {
		s, err := json.Marshal(c.schema)
		if err != nil {
			panic("events: catalog schema " + c.typ + ": " + err.Error())
		}
		out[i] = TypeInfo{Type: c.typ, Description: c.desc, Schema: s}
	}
	return out
}

// Catalog lists every event type with its description and the JSON Schema
// (draft 2020-12) of its data object, in Types' order (a fresh slice; the
// schemas are shared and must not be modified).
func Catalog() []TypeInfo { return append([]TypeInfo(nil), rendered...) }

// Schema returns the JSON Schema of typ's data object (nil for an unknown
// type).
func Schema(typ string) json.RawMessage {
	for _, c := range rendered {
		if c.Type == typ {
			return c.Schema
		}
	}
	return nil
}
