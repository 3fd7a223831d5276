package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/userdata"
)

// A user's own data beyond allauth's fields (internal/userdata): the
// profile of the tenant's declared fields, public_metadata and
// private_metadata. The user page shows each in a JSON editor; admins and
// owners save one document at a time, checked by the page's script and
// again, as the management API's are, by identity.Profiles.Update
// (userdata.ModeBackend), audited as the console user.

// maxEditorBytes bounds a posted document before it is parsed: far above
// what any document may hold (userdata.MaxDocumentBytes), so the answer
// names the real limit.
const maxEditorBytes = 64 << 10

// userDoc is one of a user's documents in its editor.
type userDoc struct {
	// Name is the document's name (userdata.Profile, PublicMetadata,
	// PrivateMetadata); Title and Hint say what it is.
	Name, Title, Hint string
	// Text is the editor's content: the stored document, or what was
	// posted when it was refused.
	Text string
	// Fields are the declared fields (the profile only).
	Fields []userdata.Field
	// Errors name what was refused (a field or the document).
	Errors []string
}

// userDocs are the user's documents as stored, in the editors' order.
func userDocs(d *identity.UserData, fields userdata.Fields) []userDoc {
	return []userDoc{
		{Name: userdata.Profile, Title: "Profile", Text: pretty(d.Profile), Fields: fields,
			Hint: "The fields HALLPASS_USER_FIELDS declares (user.profile in expressions). Saving checks every value against its field; a field left out is removed."},
		{Name: userdata.PublicMetadata, Title: "Public metadata", Text: pretty(d.PublicMetadata),
			Hint: "Read by the user and your frontend (user.public_metadata in expressions); written only by your backend and here."},
		{Name: userdata.PrivateMetadata, Title: "Private metadata", Text: pretty(d.PrivateMetadata),
			Hint: "Only your backend reads it: never in a headless response, a token or an expression."},
	}
}

// fieldSummary describes a declared field in a few words.
func fieldSummary(f userdata.Field) string {
	parts := []string{f.Type}
	if f.Required {
		parts = append(parts, "required")
	}
	if f.MaxLength > 0 {
		parts = append(parts, fmt.Sprintf("at most %d characters", f.MaxLength))
	}
	if len(f.Choices) > 0 {
		parts = append(parts, "one of "+strings.Join(f.Choices, ", "))
	}
	if f.UserEditable {
		parts = append(parts, "user editable")
	}
	return strings.Join(parts, ", ")
}

// saveUserData replaces one of the user's documents (form: doc, value).
// A refused document re-renders the page with the posted text and the
// errors beside its editor (422); nothing is written then.
func (h userPages) saveUserData(r *request) error {
	u, err := h.tenantUser(r)
	if err != nil {
		return err
	}
	name := r.c.FormValue("doc")
	if name != userdata.Profile && name != userdata.PublicMetadata && name != userdata.PrivateMetadata {
		return errNotFound
	}
	v, err := h.userViewOf(r, u)
	if err != nil {
		return err
	}
	text := r.c.FormValue("value")
	doc := v.doc(name)
	doc.Text = text
	refuse := func(errs ...string) error {
		doc.Errors = errs
		return h.renderUser(r, fiber.StatusUnprocessableEntity, v)
	}
	if len(text) > maxEditorBytes {
		return refuse(fmt.Sprintf("%s: Must be at most %d bytes as JSON (is %d).", name, userdata.MaxDocumentBytes, len(text)))
	}
	var ch identity.UserDataChange
	switch name {
	case userdata.Profile:
		m, err := decodeObject(text)
		if err != nil {
			return refuse(name + ": Must be a JSON object.")
		}
		// The editor holds the whole profile: a declared field left out is
		// removed.
		for k := range v.stored.Profile {
			if _, kept := m[k]; !kept {
				if _, declared := r.tenant.Settings.UserFields.Lookup(k); declared {
					m[k] = nil
				}
			}
		}
		ch.Profile = m
	default:
		m, err := userdata.ParseDocument(name, []byte(text))
		if err != nil {
			return refuse(fieldMessages(err, "")...)
		}
		if name == userdata.PublicMetadata {
			ch.PublicMetadata = m
		} else {
			ch.PrivateMetadata = m
		}
	}
	after, err := h.accounts.Profiles.Update(r.ctx(), operator(r), r.tenant, u.ID, userdata.ModeBackend, ch)
	if isUserGone(err) {
		return errNotFound
	}
	if msgs := fieldMessages(err, name); msgs != nil {
		return refuse(msgs...)
	}
	if err != nil {
		return err
	}
	target := userPath(r.tenant.Slug, u.ID)
	if pretty(docOf(after, name)) == pretty(docOf(v.stored, name)) {
		return h.redirectWith(r, target, Flash{Kind: "info", Message: "Nothing changed: " + name + " of " + v.Label + " was already so."})
	}
	return h.redirectWith(r, target, Flash{Kind: "success", Message: "Saved " + name + " of " + v.Label + ". The change is in the audit log."})
}

// doc returns the view's editor of the named document.
func (v *userView) doc(name string) *userDoc {
	for i := range v.Data {
		if v.Data[i].Name == name {
			return &v.Data[i]
		}
	}
	panic("console: no editor for " + name) // the caller checked name
}

// docOf is the named document of d.
func docOf(d *identity.UserData, name string) map[string]any {
	switch name {
	case userdata.Profile:
		return d.Profile
	case userdata.PublicMetadata:
		return d.PublicMetadata
	}
	return d.PrivateMetadata
}

// decodeObject reads one JSON object, numbers as json.Number.
func decodeObject(text string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// fieldMessages renders refused values (userdata.FieldError(s)) as
// "profile.first_name: message" (a field of the profile) or
// "public_metadata: message" (a document); nil for other errors.
func fieldMessages(err error, doc string) []string {
	var list []*userdata.FieldError
	var many userdata.FieldErrors
	var one *userdata.FieldError
	switch {
	case errors.As(err, &many):
		list = many
	case errors.As(err, &one):
		list = []*userdata.FieldError{one}
	default:
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		param := e.Param
		if doc == userdata.Profile && param != userdata.Profile {
			param = userdata.Profile + "." + param
		}
		out = append(out, param+": "+e.Message)
	}
	return out
}
