package conformance_test

import (
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/userdata"
)

// sampleValue is a valid JSON value of a declared field.
func sampleValue(f userdata.Field) string {
	switch f.Type {
	case userdata.TypeBoolean:
		return "true"
	case userdata.TypeInteger:
		return "36"
	case userdata.TypeDate:
		return `"1990-01-02"`
	case userdata.TypeChoice:
		return `"` + f.Choices[0] + `"`
	}
	return `"Ada"`
}

// declaredSignupValues are the tenant's signup fields (HALLPASS_USER_FIELDS
// with "signup": true) as a signup body's members, each with a valid value.
func (w *walker) declaredSignupValues() []string {
	var out []string
	for _, f := range w.settings().UserFields.Signup() {
		out = append(out, `"`+f.Name+`":`+sampleValue(f))
	}
	return out
}

// walkDeclaredSignupErrors (a tenant with a required signup field) signs
// up without the field, then with a value of the wrong type: 400s naming
// the field, before the walk's real signup.
func (w *walker) walkDeclaredSignupErrors(f *frontend) {
	fields := w.settings().UserFields.Signup()
	if !slices.ContainsFunc(fields, func(f userdata.Field) bool { return f.Required }) {
		return
	}
	var plain []string
	for _, part := range strings.Split(strings.Trim(w.signupBody(w.user, w.email, w.password), "{}"), ",") {
		if !slices.ContainsFunc(fields, func(f userdata.Field) bool { return strings.HasPrefix(part, `"`+f.Name+`":`) }) {
			plain = append(plain, part)
		}
	}
	f.want(400, "POST", "auth/signup", "{"+strings.Join(plain, ",")+"}")
	wrong := append(slices.Clone(plain), `"`+fields[0].Name+`":{"not":"a value"}`)
	f.want(400, "POST", "auth/signup", "{"+strings.Join(wrong, ",")+"}")
}

// walkProfile reads the user's profile (GET account/profile, a Hallpass
// extension), changes the fields the user may edit, and sends a key that is
// no declared field (400).
func (w *walker) walkProfile(f *frontend) {
	res := f.want(200, "GET", "account/profile", "")
	for _, fl := range w.settings().UserFields.Signup() {
		if res.Path("data.profile."+fl.Name) == nil {
			w.t.Fatalf("%s/%s: the signup's %s is not in the profile: %s", w.config, w.client, fl.Name, res.Body)
		}
	}
	f.want(400, "POST", "account/profile", `{"not_declared":1}`)
	var set []string
	for _, fl := range w.settings().UserFields {
		if fl.UserEditable {
			set = append(set, `"`+fl.Name+`":`+sampleValue(fl))
		} else {
			f.want(400, "POST", "account/profile", `{"`+fl.Name+`":`+sampleValue(fl)+`}`) // not_editable
		}
	}
	f.want(200, "POST", "account/profile", "{"+strings.Join(set, ",")+"}")
}
