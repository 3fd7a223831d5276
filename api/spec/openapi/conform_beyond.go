// The corrections found by Hallpass's conformance suite beyond §8.

package openapi

import (
	"fmt"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// authenticationMethodBranch finds the AuthenticationMethod branch with a
// given method enum and required property.
func authenticationMethodBranch(doc *openapi3.T, method, requiredProp string) (*openapi3.Schema, error) {
	am, err := componentSchema(doc, "AuthenticationMethod")
	if err != nil {
		return nil, err
	}
	for _, b := range am.OneOf {
		m := b.Value.Properties["method"]
		if m == nil || m.Value == nil || len(m.Value.Enum) != 1 || m.Value.Enum[0] != method {
			continue
		}
		if requiredProp == "" || slices.Contains(b.Value.Required, requiredProp) {
			return b.Value, nil
		}
	}
	return nil, fmt.Errorf("AuthenticationMethod has no %s branch requiring %q", method, requiredProp)
}

// A password reauthentication record ({method, at, reauthenticated:true})
// also satisfies the login branch (which allows any extra property), so the
// oneOf fails for every reauthenticated session. The login branch is made
// to exclude reauthenticated.
func separatePasswordBranches(doc *openapi3.T) error {
	login, err := authenticationMethodBranch(doc, "password", "")
	if err != nil {
		return err
	}
	if slices.Contains(login.Required, "reauthenticated") {
		return fmt.Errorf("the first password branch is the reauthentication one")
	}
	login.Not = openapi3.NewSchemaRef("", &openapi3.Schema{Required: []string{"reauthenticated"}})
	return nil
}

// The socialaccount record is {method, at, provider, uid}; the spec's branch
// also requires reauthenticated, which allauth never sets for it.
func socialRecordWithoutReauthenticated(doc *openapi3.T) error {
	b, err := authenticationMethodBranch(doc, "socialaccount", "reauthenticated")
	if err != nil {
		return err
	}
	b.Required = slices.DeleteFunc(slices.Clone(b.Required), func(s string) bool { return s == "reauthenticated" })
	return nil
}

// The reauthentication 401 ({user, methods, flows}, is_authenticated true)
// also satisfies AuthenticationResponse (no property is excluded there), so
// the response's oneOf fails for exactly the answer it documents. anyOf
// keeps both shapes without demanding they be disjoint.
func authOrReauthAnyOf(doc *openapi3.T) error {
	resp := doc.Components.Responses["AuthenticationOrReauthentication"]
	if resp == nil || resp.Value == nil {
		return fmt.Errorf("no response AuthenticationOrReauthentication")
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || len(mt.Schema.Value.OneOf) != 2 {
		return fmt.Errorf("AuthenticationOrReauthentication is not a oneOf of two schemas")
	}
	v := mt.Schema.Value
	v.AnyOf, v.OneOf = v.OneOf, nil
	return nil
}

// Endpoints whose 401 is documented as ReauthenticationRequired answer an
// anonymous caller with the plain unauthenticated 401 first (allauth's
// AuthenticatedAPIView; notes §2 "anon 401"): their 401 becomes
// AuthenticationOrReauthentication.
func anonymousOrReauth401(doc *openapi3.T) error {
	both := doc.Components.Responses["AuthenticationOrReauthentication"]
	if both == nil {
		return fmt.Errorf("no response AuthenticationOrReauthentication")
	}
	n := 0
	for _, path := range doc.Paths.InMatchingOrder() {
		for _, op := range doc.Paths.Value(path).Operations() {
			r := op.Responses.Value("401")
			if r != nil && r.Ref == "#/components/responses/ReauthenticationRequired" {
				op.Responses.Set("401", &openapi3.ResponseRef{Ref: "#/components/responses/AuthenticationOrReauthentication", Value: both.Value})
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("no operation answers 401 with ReauthenticationRequired")
	}
	return nil
}

// GET auth/webauthn/signup answers with creation options for the new
// passkey (allauth's SignupWebAuthnView.get returns AddWebAuthnResponse);
// the spec documents request options.
func passkeySignupCreationOptions(doc *openapi3.T) error {
	op, err := operation(doc, "/_allauth/{client}/v1/auth/webauthn/signup", "GET")
	if err != nil {
		return err
	}
	r := op.Responses.Value("200")
	if r == nil || r.Ref != "#/components/responses/WebAuthnRequestOptionsResponse" {
		return fmt.Errorf("GET auth/webauthn/signup 200 is not WebAuthnRequestOptionsResponse")
	}
	creation := doc.Components.Responses["WebAuthnCreationOptionsResponse"]
	if creation == nil {
		return fmt.Errorf("no response WebAuthnCreationOptionsResponse")
	}
	op.Responses.Set("200", &openapi3.ResponseRef{Ref: "#/components/responses/WebAuthnCreationOptionsResponse", Value: creation.Value})
	return nil
}
