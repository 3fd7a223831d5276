package social

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// redirectInput is the provider redirect form (allauth's
// RedirectToProviderForm).
type redirectInput struct {
	Provider    string
	CallbackURL string
	Process     string
}

// maxFormValue bounds each field of the redirect form.
const maxFormValue = 2048

// parseRedirect reads the form fields; the first problem found is returned
// as allauth's code (required, invalid_choice, invalid_url).
func parseRedirect(c *fiber.Ctx) (redirectInput, string) {
	in := redirectInput{Provider: c.FormValue("provider"), CallbackURL: c.FormValue("callback_url"), Process: c.FormValue("process")}
	switch {
	case in.Provider == "" || in.CallbackURL == "" || in.Process == "":
		return in, "required"
	case len(in.Provider) > maxFormValue || len(in.CallbackURL) > maxFormValue:
		return in, "max_length"
	case in.Process != domain.ProcessLogin && in.Process != domain.ProcessConnect:
		return in, "invalid_choice"
	case !api.SafeRedirect(c, in.CallbackURL):
		return in, "invalid_url"
	}
	return in, ""
}

// tokenInput is POST auth/provider/token's body before the provider checks.
type tokenInput struct {
	Provider string
	Process  string
	Token    any
}

// parseToken reads {provider, process, token} as allauth's
// ProviderTokenInput fields; the token itself is checked by
// social.CheckTokenInput.
func parseToken(c *fiber.Ctx) (tokenInput, error) {
	var in tokenInput
	b, err := api.ParseBody(c)
	if err != nil {
		return in, err
	}
	var errs []api.ErrorItem
	provider, present, e := b.Str("provider")
	switch {
	case e != nil:
		errs = append(errs, *e)
	case !present || provider == "":
		errs = append(errs, required("provider"))
	}
	process, present, e := b.Str("process")
	switch {
	case e != nil:
		errs = append(errs, *e)
	case !present || process == "":
		errs = append(errs, required("process"))
	case process != domain.ProcessLogin && process != domain.ProcessConnect:
		errs = append(errs, api.ErrorItem{Param: "process", Code: "invalid_choice",
			Message: "Select a valid choice. " + process + " is not one of the available choices."})
	}
	raw, ok := b["token"]
	if !ok || string(raw) == "null" {
		errs = append(errs, required("token"))
	} else if json.Unmarshal(raw, &in.Token) != nil {
		errs = append(errs, api.Items(domain.ErrInvalidToken)...)
	}
	if len(errs) > 0 {
		return in, &api.InputError{Errors: errs}
	}
	in.Provider, in.Process = provider, process
	return in, nil
}

// parseSignup reads the provider signup form: email and username (a
// password is not part of it), and the tenant's declared signup fields.
func parseSignup(c *fiber.Ctx, s *tenants.Settings) (identity.SocialSignupInput, error) {
	var in identity.SocialSignupInput
	b, err := api.ParseBody(c)
	if err != nil {
		return in, err
	}
	in.Profile = b.Values(s.UserFields.Signup().Names())
	var errs []api.ErrorItem
	var e *api.ErrorItem
	if in.Email, in.HasEmail, e = b.Str("email"); e != nil {
		errs = append(errs, *e)
	}
	if in.Username, in.HasUsername, e = b.Str("username"); e != nil {
		errs = append(errs, *e)
	}
	if len(errs) > 0 {
		return in, &api.InputError{Errors: errs}
	}
	return in, nil
}

// parseDisconnect reads DELETE account/providers: {provider, account}.
func parseDisconnect(c *fiber.Ctx) (provider, account string, err error) {
	b, err := api.ParseBody(c)
	if err != nil {
		return "", "", err
	}
	var errs []api.ErrorItem
	for _, f := range []struct {
		name string
		into *string
	}{{"provider", &provider}, {"account", &account}} {
		v, present, e := b.Str(f.name)
		switch {
		case e != nil:
			errs = append(errs, *e)
		case !present || v == "":
			errs = append(errs, required(f.name))
		default:
			*f.into = v
		}
	}
	if len(errs) > 0 {
		return "", "", &api.InputError{Errors: errs}
	}
	return provider, account, nil
}

func required(param string) api.ErrorItem {
	return api.ErrorItem{Param: param, Code: "required", Message: "This field is required."}
}
