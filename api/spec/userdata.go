package spec

import (
	"fmt"
	"maps"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hallpass/hallpass/api/spec/openapi"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// fieldSchema describes the values a declared field takes; nullable when
// null stands for "no value" (an optional field, or any field a user
// clears).
func fieldSchema(f userdata.Field, nullable bool) *openapi3.SchemaRef {
	s := &openapi3.Schema{Nullable: nullable, Extensions: map[string]any{openapi.ExtensionMark: true}}
	switch f.Type {
	case userdata.TypeString:
		s.Type = &openapi3.Types{openapi3.TypeString}
		s.MaxLength = openapi3.Ptr(uint64(f.MaxLength))
	case userdata.TypeBoolean:
		s.Type = &openapi3.Types{openapi3.TypeBoolean}
	case userdata.TypeInteger:
		s.Type = &openapi3.Types{openapi3.TypeInteger}
	case userdata.TypeDate:
		s.Type, s.Format = &openapi3.Types{openapi3.TypeString}, "date"
	case userdata.TypeChoice:
		s.Type = &openapi3.Types{openapi3.TypeString}
		for _, c := range f.Choices {
			s.Enum = append(s.Enum, c)
		}
		if nullable {
			s.Enum = append(s.Enum, nil)
		}
	}
	s.Description = fmt.Sprintf("Declared field %q (%s).", f.Name, f.Type)
	return openapi3.NewSchemaRef("", s)
}

// addUserData writes the tenant's declared fields and serializer keys into
// its document: the signup fields as properties of the signup bodies
// (BaseSignup, shared by local, provider and passkey signup; required as
// declared), the fields in Profile, the user_editable ones as ProfileChange
// (which takes no other key), and HALLPASS_USER_SERIALIZER's keys as
// properties of User (typed where type-checking knows the result's type).
func addUserData(doc *openapi3.T, s *tenants.Settings) error {
	schemas := doc.Components.Schemas
	base := schemas["BaseSignup"]
	if base == nil || base.Value == nil {
		return fmt.Errorf("spec: no BaseSignup")
	}
	for _, f := range s.UserFields.Signup() {
		base.Value.Properties[f.Name] = fieldSchema(f, !f.Required)
		if f.Required {
			base.Value.Required = append(base.Value.Required, f.Name)
		}
	}
	profile := *schemas[openapi.SchemaProfile].Value
	change := *schemas[openapi.SchemaProfileChange].Value
	profile.Properties, change.Properties = openapi3.Schemas{}, openapi3.Schemas{}
	for _, f := range s.UserFields {
		profile.Properties[f.Name] = fieldSchema(f, false)
		if f.UserEditable {
			change.Properties[f.Name] = fieldSchema(f, true)
		}
	}
	// Any key that is not an editable field is refused (400).
	change.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	schemas[openapi.SchemaProfile] = openapi3.NewSchemaRef("", &profile)
	schemas[openapi.SchemaProfileChange] = openapi3.NewSchemaRef("", &change)
	if ex := s.UserSerializer; !ex.Empty() {
		user := schemas["User"]
		if user == nil || user.Value == nil {
			return fmt.Errorf("spec: no User")
		}
		u := *user.Value
		u.Properties = maps.Clone(u.Properties)
		for _, k := range ex.Keys() {
			p := &openapi3.Schema{Extensions: map[string]any{openapi.ExtensionMark: true},
				Description: "Added by the tenant's HALLPASS_USER_SERIALIZER: " + ex.Source()[k]}
			if t := ex.JSONType(k); t != "" {
				p.Type = &openapi3.Types{t}
			}
			u.Properties[k] = openapi3.NewSchemaRef("", p)
		}
		schemas["User"] = openapi3.NewSchemaRef("", &u)
	}
	return nil
}
