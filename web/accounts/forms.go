package accounts

import (
	"net/http"
	"strings"

	"github.com/hallpass/hallpass/internal/failure"
)

// Field is one form field: its input, label and the errors tied to it.
type Field struct {
	// Name is the input's name (allauth's form field names: login,
	// password1, …); ID defaults to Django's "id_" + Name.
	Name, ID string
	Label    string
	// Type is the input type ("text", "email", "password", "hidden",
	// "checkbox"); Value what it holds (kept on error, except passwords).
	Type, Value string
	// Autocomplete is the autocomplete token ("username", "new-password").
	Autocomplete string
	// Inputmode, when set, is the input's inputmode ("numeric").
	Inputmode string
	// Help is a hint shown under the input.
	Help     string
	Required bool
	// Checked is a checkbox's state.
	Checked bool
	// Errors are the messages tied to the field (aria-describedby).
	Errors []string
	// Autofocus marks the field that takes focus: the first with an error,
	// else the first of the form (Form.Focus).
	Autofocus bool
}

// InputID is the input's id.
func (f Field) InputID() string {
	if f.ID != "" {
		return f.ID
	}
	return "id_" + f.Name
}

// ErrorID is the id of the field's error list.
func (f Field) ErrorID() string { return f.InputID() + "_error" }

// HelpID is the id of the field's hint.
func (f Field) HelpID() string { return f.InputID() + "_help" }

// DescribedBy is the aria-describedby of the input: its errors, then its hint.
func (f Field) DescribedBy() string {
	var ids []string
	if len(f.Errors) > 0 {
		ids = append(ids, f.ErrorID())
	}
	if f.Help != "" {
		ids = append(ids, f.HelpID())
	}
	return strings.Join(ids, " ")
}

// Form is a page's form: where it posts, its fields and the errors not
// tied to one field.
type Form struct {
	// Action is where it posts (a path under the tenant's base, with the
	// prefix); Submit labels the button.
	Action, Submit string
	// CSRF is the request's token (Request.CSRF).
	CSRF string
	// Next is carried in a hidden field when set.
	Next   string
	Fields []Field
	// Hidden are extra hidden inputs, name → value.
	Hidden [][2]string
	// Errors are the form's own errors (allauth's non-field errors).
	Errors []string
	// Params maps the domain's error params to this form's field names
	// ("password" → "password1"); unmapped params are the form's own.
	Params map[string]string
	// Secondary, when set, is rendered under the button (links to other pages).
	Secondary []Link
}

// Link is a link under a form.
type Link struct {
	Href, Label string
}

// Field returns the named field, or nil.
func (f *Form) Field(name string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// Value is the named field's value ("" when absent).
func (f *Form) Value(name string) string {
	if fl := f.Field(name); fl != nil {
		return fl.Value
	}
	return ""
}

// Invalid reports whether the form holds any error.
func (f *Form) Invalid() bool {
	if len(f.Errors) > 0 {
		return true
	}
	for _, fl := range f.Fields {
		if len(fl.Errors) > 0 {
			return true
		}
	}
	return false
}

// AddError ties msg to the field param names (through Params), or to the
// form when no field has that name.
func (f *Form) AddError(param, msg string) {
	if p, ok := f.Params[param]; ok {
		param = p
	}
	if fl := f.Field(param); fl != nil && param != "" {
		fl.Errors = append(fl.Errors, msg)
		return
	}
	f.Errors = append(f.Errors, msg)
}

// Fail puts a domain refusal's errors on the form (allauth's messages, each
// on its field) and reports true; any other error (a store down, a bug) is
// left to the caller, and Fail reports false.
func (f *Form) Fail(err error) bool {
	r, ok := failure.AsRefusal(err)
	if !ok {
		return false
	}
	details := r.Details()
	for _, d := range details {
		msg := d.Message
		if msg == "" {
			msg = statusMessage(r.HTTPStatus())
		}
		f.AddError(d.Param, msg)
	}
	if len(details) == 0 {
		f.Errors = append(f.Errors, statusMessage(r.HTTPStatus()))
	}
	return true
}

// statusMessage words a refusal that carries no message of its own.
func statusMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too many failed attempts. Try again later."
	case http.StatusConflict:
		return "This action is not possible right now."
	case http.StatusUnauthorized:
		return "Please sign in again."
	case http.StatusForbidden:
		return "You are not allowed to do this."
	}
	return "Something went wrong. Please try again."
}

// Focus marks the field that takes focus: the first with an error, or,
// without errors, the first visible one.
func (f *Form) Focus() {
	for i := range f.Fields {
		f.Fields[i].Autofocus = false
	}
	first := -1
	for i, fl := range f.Fields {
		if fl.Type == "hidden" {
			continue
		}
		if first < 0 {
			first = i
		}
		if len(fl.Errors) > 0 {
			f.Fields[i].Autofocus = true
			return
		}
	}
	if first >= 0 && len(f.Errors) == 0 {
		f.Fields[first].Autofocus = true
	}
}

// Fill sets each field's value from the posted form (passwords excepted:
// a page never sends a password back).
func (f *Form) Fill(r *Request) {
	for i := range f.Fields {
		fl := &f.Fields[i]
		switch fl.Type {
		case "password":
		case "checkbox":
			fl.Checked = r.Form(fl.Name) != ""
		default:
			fl.Value = r.Form(fl.Name)
		}
	}
}
