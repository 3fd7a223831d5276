package tenants

import (
	"slices"

	"github.com/hallpass/hallpass/internal/userdata"
)

// The hosted HEADLESS_ADAPTER (internal/userdata): declared profile fields,
// and CEL expressions that extend allauth's user object and access tokens.
// The fields come first: the expressions are checked against them.
var userDataSpecs = []settingSpec{
	{
		key:  "HALLPASS_USER_FIELDS",
		dflt: `[]`,
		decode: func(p *parser, v any) error {
			fs, err := userdata.ParseFields(v)
			if err == nil {
				p.s.UserFields = fs
			}
			return err
		},
		encode: func(s *Settings) any { return s.UserFields.Encode() },
	},
	exprSetting("HALLPASS_USER_SERIALIZER", userdata.ReservedNames, func(s *Settings) **userdata.Exprs { return &s.UserSerializer }),
	exprSetting("HALLPASS_JWT_CLAIMS", userdata.ReservedClaims, func(s *Settings) **userdata.Exprs { return &s.JWTClaims }),
}

// exprSetting is an object of CEL expressions, compiled and type-checked
// when the settings are parsed (so when saved, and once per version when
// loaded), never per request.
func exprSetting(key string, reserved []string, field func(*Settings) **userdata.Exprs) settingSpec {
	return settingSpec{
		key:  key,
		dflt: `{}`,
		decode: func(p *parser, v any) error {
			if p.bad["HALLPASS_USER_FIELDS"] {
				return nil // reported once, on the fields
			}
			ex, err := userdata.ParseExprs(v, userdata.CompileOptions{Reserved: slices.Clone(reserved), Fields: p.s.UserFields})
			if err == nil {
				*field(p.s) = ex
			}
			return err
		},
		encode: func(s *Settings) any {
			out := map[string]any{}
			for k, v := range (*field(s)).Source() {
				out[k] = v
			}
			return out
		},
	}
}
