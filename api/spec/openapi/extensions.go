// What Hallpass serves beyond allauth's API, described in the same
// document. These are not corrections (allauth has no counterpart): each
// is tagged ExtensionTag and marked x-hallpass-extension, so a reader
// tells them from allauth's own.

package openapi

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// ExtensionTag is the tag of Hallpass's own operations.
const ExtensionTag = "Hallpass extensions"

// ExtensionMark is the specification extension set on every part Hallpass
// adds (value true).
const ExtensionMark = "x-hallpass-extension"

// ProfilePath is the account/profile endpoint's path in the document.
const ProfilePath = "/_allauth/{client}/v1/account/profile"

// Schema names AddExtensions defines; the tenant's document narrows
// Profile, ProfileChange and UserField's users to its declared fields.
const (
	SchemaUserField             = "UserField"
	SchemaHallpassConfiguration = "HallpassConfiguration"
	SchemaProfile               = "Profile"
	SchemaProfileChange         = "ProfileChange"
	SchemaProfileResponse       = "ProfileResponse"
)

var marked = map[string]any{ExtensionMark: true}

func ref(name string) *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
}

func typed(t string) *openapi3.Schema {
	return &openapi3.Schema{Type: &openapi3.Types{t}}
}

func object(props openapi3.Schemas, required ...string) *openapi3.Schema {
	s := typed(openapi3.TypeObject)
	s.Properties, s.Required = props, required
	return s
}

// AddExtensions adds Hallpass's extensions to allauth's (corrected)
// document: the account/profile endpoint (GET and POST), and config's
// "hallpass" object with the declared user fields. LoadConformant does not
// call it (the allauth document stays allauth's); the tenant's served
// document does.
func AddExtensions(doc *openapi3.T) error {
	if doc.Components == nil || doc.Components.Schemas == nil {
		return fmt.Errorf("openapi: no component schemas")
	}
	for _, name := range []string{SchemaUserField, SchemaHallpassConfiguration, SchemaProfile, SchemaProfileChange, SchemaProfileResponse} {
		if doc.Components.Schemas[name] != nil {
			return fmt.Errorf("openapi: schema %s exists already", name)
		}
	}
	if doc.Paths.Value(ProfilePath) != nil {
		return fmt.Errorf("openapi: %s exists already", ProfilePath)
	}
	cfg, err := componentSchema(doc, "ConfigurationResponse")
	if err != nil {
		return err
	}
	data := cfg.Properties["data"]
	if data == nil || data.Value == nil || data.Value.Properties["account"] == nil {
		return fmt.Errorf("ConfigurationResponse has no data.account")
	}

	fieldType := typed(openapi3.TypeString)
	fieldType.Enum = []any{"string", "boolean", "integer", "date", "choice"}
	name := typed(openapi3.TypeString)
	name.Pattern = "^[a-z][a-z0-9_]{0,39}$"
	choices := typed(openapi3.TypeArray)
	choices.Items = openapi3.NewSchemaRef("", typed(openapi3.TypeString))
	userField := object(openapi3.Schemas{
		"name":          openapi3.NewSchemaRef("", name),
		"type":          openapi3.NewSchemaRef("", fieldType),
		"required":      openapi3.NewSchemaRef("", typed(openapi3.TypeBoolean)),
		"max_length":    openapi3.NewSchemaRef("", typed(openapi3.TypeInteger)),
		"choices":       openapi3.NewSchemaRef("", choices),
		"signup":        openapi3.NewSchemaRef("", typed(openapi3.TypeBoolean)),
		"user_editable": openapi3.NewSchemaRef("", typed(openapi3.TypeBoolean)),
	}, "name", "type", "required", "signup", "user_editable")
	userField.Description = "A user field the tenant declares (HALLPASS_USER_FIELDS). max_length is given for string fields, " +
		"choices for choice fields. Signup fields are accepted by the signup endpoints as top-level keys; user_editable " +
		"fields can be changed by the user through account/profile."
	userField.Extensions = marked
	fields := typed(openapi3.TypeArray)
	fields.Items = ref(SchemaUserField)
	hallpass := object(openapi3.Schemas{"user_fields": openapi3.NewSchemaRef("", fields)}, "user_fields")
	hallpass.Description = "What Hallpass adds to allauth's configuration; present only when the tenant declares user fields."
	hallpass.Extensions = marked
	data.Value.Properties["hallpass"] = ref(SchemaHallpassConfiguration)

	profile := typed(openapi3.TypeObject)
	profile.Description = "The user's values of the tenant's declared fields (HALLPASS_USER_FIELDS); a field without a value is absent."
	change := typed(openapi3.TypeObject)
	change.Description = "Values of user_editable declared fields, flat; null clears a field. Any other key is refused (unknown, not_editable)."
	metadata := typed(openapi3.TypeObject)
	metadata.Description = "The user's public metadata: readable by the user, written only by the tenant's backend."
	metadata.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(true)}
	response := object(openapi3.Schemas{
		"status": ref("StatusOK"),
		"data": openapi3.NewSchemaRef("", object(openapi3.Schemas{
			"profile":         ref(SchemaProfile),
			"public_metadata": openapi3.NewSchemaRef("", metadata),
		}, "profile", "public_metadata")),
	}, "status", "data")
	response.Extensions = marked
	doc.Components.Schemas[SchemaUserField] = openapi3.NewSchemaRef("", userField)
	doc.Components.Schemas[SchemaHallpassConfiguration] = openapi3.NewSchemaRef("", hallpass)
	doc.Components.Schemas[SchemaProfile] = openapi3.NewSchemaRef("", profile)
	doc.Components.Schemas[SchemaProfileChange] = openapi3.NewSchemaRef("", change)
	doc.Components.Schemas[SchemaProfileResponse] = openapi3.NewSchemaRef("", response)

	ok := openapi3.NewResponse().WithDescription("The user's profile and public metadata.").
		WithContent(openapi3.NewContentWithJSONSchemaRef(ref(SchemaProfileResponse)))
	// Each operation its own list: a tenant's document edits them in place.
	params := func() openapi3.Parameters {
		return openapi3.Parameters{{Ref: "#/components/parameters/Client"}, {Ref: "#/components/parameters/SessionToken"}}
	}
	get := &openapi3.Operation{
		Tags:    []string{ExtensionTag},
		Summary: "Get the user's profile",
		Description: "A Hallpass extension. The logged-in user's values of the tenant's declared fields " +
			"(HALLPASS_USER_FIELDS) and public metadata. Private metadata is never shown.",
		OperationID: "hallpass_get_profile",
		Parameters:  params(),
		Responses: openapi3.NewResponses(
			openapi3.WithStatus(200, &openapi3.ResponseRef{Value: ok}),
			openapi3.WithStatus(401, &openapi3.ResponseRef{Ref: "#/components/responses/Authentication"}),
		),
		Extensions: marked,
	}
	get.Responses.Delete("default")
	post := &openapi3.Operation{
		Tags:    []string{ExtensionTag},
		Summary: "Change the user's profile",
		Description: "A Hallpass extension. Sets the user_editable declared fields given (null clears one); " +
			"no reauthentication is needed. A refused value is a 400 whose error names the field (param) with " +
			"Django's code (required, invalid, max_length, invalid_choice) or unknown / not_editable; nothing is changed then.",
		OperationID: "hallpass_change_profile",
		Parameters:  params(),
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithContent(openapi3.NewContentWithJSONSchemaRef(ref(SchemaProfileChange)))},
		Responses: openapi3.NewResponses(
			openapi3.WithStatus(200, &openapi3.ResponseRef{Value: ok}),
			openapi3.WithStatus(400, &openapi3.ResponseRef{Ref: "#/components/responses/Error"}),
			openapi3.WithStatus(401, &openapi3.ResponseRef{Ref: "#/components/responses/Authentication"}),
		),
		Extensions: marked,
	}
	post.Responses.Delete("default")
	doc.Paths.Set(ProfilePath, &openapi3.PathItem{Get: get, Post: post, Extensions: marked})
	doc.Tags = append(doc.Tags, &openapi3.Tag{Name: ExtensionTag, Extensions: marked,
		Description: "Endpoints Hallpass serves beyond django-allauth's headless API."})
	return nil
}
