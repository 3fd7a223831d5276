package account

import (
	"encoding/json"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/tenants"
)

// body is the request's JSON object (api.Body).
type body = api.Body

func parseBody(c *fiber.Ctx) (body, error) { return api.ParseBody(c) }

type loginInput struct{ identity.LoginInput }

// parseLogin mirrors allauth's LoginInput: only the login methods' fields
// exist; a single method makes its field required; exactly one identifier.
func parseLogin(c *fiber.Ctx, s *tenants.Settings) (*loginInput, error) {
	b, err := parseBody(c)
	if err != nil {
		return nil, err
	}
	var errs []api.ErrorItem
	given := map[string]string{}
	for _, m := range []string{"username", "email", "phone"} {
		if !slices.Contains(s.LoginMethods, m) {
			continue
		}
		v, present, e := b.Str(m)
		switch {
		case e != nil:
			errs = append(errs, *e)
		case present && v != "":
			if m == "email" {
				norm, ie := identity.NormalizeEmail("email", v, s.EmailMaxLength)
				if ie != nil {
					errs = append(errs, item(ie))
					continue
				}
				v = norm
			}
			given[m] = v
		case len(s.LoginMethods) == 1:
			errs = append(errs, item(identity.NewError(m, "required")))
		}
	}
	password, present, e := b.Str("password")
	if e != nil {
		errs = append(errs, *e)
	} else if !present || password == "" {
		errs = append(errs, item(identity.NewError("password", "required")))
	}
	if len(errs) > 0 {
		return nil, &api.InputError{Errors: errs}
	}
	if len(given) != 1 {
		return nil, api.FormError("invalid_login", "Invalid login.")
	}
	in := &loginInput{}
	for m, v := range given {
		in.Method, in.Value = m, v
	}
	if in.Method == "phone" {
		return nil, api.FormError("invalid_login", "Invalid login.")
	}
	in.Password = password
	return in, nil
}

// parseSignup reads the signup fields, allauth's and the tenant's declared
// ones (HALLPASS_USER_FIELDS with "signup": true, flat in the body as a
// custom signup form's); validation against ACCOUNT_SIGNUP_FIELDS, the
// declared fields and the account rules happens in identity.
func parseSignup(c *fiber.Ctx, s *tenants.Settings) (identity.SignupInput, error) {
	var in identity.SignupInput
	b, err := parseBody(c)
	if err != nil {
		return in, err
	}
	in.Profile = b.Values(s.UserFields.Signup().Names())
	var errs []api.ErrorItem
	for _, f := range []struct {
		name    string
		value   *string
		present *bool
	}{{"email", &in.Email, &in.HasEmail}, {"username", &in.Username, &in.HasUsername}, {"password", &in.Password, &in.HasPassword}} {
		v, present, e := b.Str(f.name)
		if e != nil {
			errs = append(errs, *e)
			continue
		}
		*f.value, *f.present = v, present
	}
	if len(errs) > 0 {
		return in, &api.InputError{Errors: errs}
	}
	return in, nil
}

// parseKey reads {key} from a verification POST.
func parseKey(c *fiber.Ctx) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	key, present, e := b.Str("key")
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if !present || key == "" {
		return "", &api.InputError{Errors: []api.ErrorItem{item(identity.NewError("key", "required"))}}
	}
	return key, nil
}

func item(e *identity.Error) api.ErrorItem {
	return api.ErrorItem{Message: e.Message, Code: e.Code, Param: e.Param}
}

// parsePassword reads POST auth/reauthenticate's {password} (an absent one
// is the domain's to refuse).
func parsePassword(c *fiber.Ctx) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	password, _, e := b.Str("password")
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	return password, nil
}

// changePasswordInput is POST account/password/change's body.
type changePasswordInput struct {
	Current, New string
	// HasCurrent: current_password was sent (a user without a usable
	// password sets one without it).
	HasCurrent bool
}

func parseChangePassword(c *fiber.Ctx) (changePasswordInput, error) {
	var in changePasswordInput
	b, err := parseBody(c)
	if err != nil {
		return in, err
	}
	var e1, e2 *api.ErrorItem
	in.Current, in.HasCurrent, e1 = b.Str("current_password")
	in.New, _, e2 = b.Str("new_password")
	if e1 != nil || e2 != nil {
		return in, &api.InputError{Errors: nonNil(e1, e2)}
	}
	return in, nil
}

// parseResetPassword reads POST auth/password/reset's {key, password}.
func parseResetPassword(c *fiber.Ctx) (key, password string, err error) {
	b, err := parseBody(c)
	if err != nil {
		return "", "", err
	}
	key, _, e1 := b.Str("key")
	password, _, e2 := b.Str("password")
	if e1 != nil || e2 != nil {
		return "", "", &api.InputError{Errors: nonNil(e1, e2)}
	}
	return key, password, nil
}

// parseCode reads POST auth/code/confirm's {code} (an absent one is the
// domain's to refuse).
func parseCode(c *fiber.Ctx) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	code, _, e := b.Str("code")
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	return code, nil
}

// parsePrimaryEmail reads PATCH account/email's {email, primary: true}.
func parsePrimaryEmail(c *fiber.Ctx) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	email, _, e := b.Str("email")
	var primary bool
	if raw, ok := b["primary"]; !ok || json.Unmarshal(raw, &primary) != nil || !primary {
		item := api.ErrorItem{Param: "primary", Code: "invalid", Message: "Enter a valid value."}
		if !ok {
			item = api.ErrorItem{Param: "primary", Code: "required", Message: "This field is required."}
		}
		return "", &api.InputError{Errors: nonNil(e, &item)}
	}
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	return email, nil
}

// parseField reads one required string field.
func parseField(c *fiber.Ctx, name string) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	v, present, e := b.Str(name)
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if !present || v == "" {
		return "", &api.InputError{Errors: []api.ErrorItem{item(identity.NewError(name, "required"))}}
	}
	return v, nil
}

func nonNil(items ...*api.ErrorItem) []api.ErrorItem {
	var out []api.ErrorItem
	for _, i := range items {
		if i != nil {
			out = append(out, *i)
		}
	}
	return out
}
