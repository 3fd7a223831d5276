package tenants

import (
	"encoding/json"
)

func boolSetting(key, dflt string, field func(*Settings) *bool) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				*field(p.s) = b
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// intSetting is a whole number of at least lo, and at most its bound in
// settingBounds if it has one.
func intSetting(key, dflt string, lo int, field func(*Settings) *int) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, lo)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				*field(p.s) = n
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// stringSetting decodes a string; check, if given, validates and may
// normalise it.
func stringSetting(key, dflt string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			str, err := asString(v)
			if err == nil && check != nil {
				str, err = check(str)
			}
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// nullableStringSetting is a setting whose allauth default is None; null and
// "" both mean "not set" and are stored as "".
func nullableStringSetting(key string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "null",
		decode: func(p *parser, v any) error {
			str, err := asNullableString(v)
			if err == nil && str != "" && check != nil {
				str, err = check(str)
			}
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return nullIfEmpty(*field(s)) },
	}
}

// guardedStringSetting is a string (null meaning "" when dflt is "null")
// that check guards against reaching outside the tenant: a document being
// written is refused, a stored one gets the default back (recorded as a
// clamp).
func guardedStringSetting(key, dflt string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			var str string
			var err error
			if dflt == "null" {
				str, err = asNullableString(v)
			} else {
				str, err = asString(v)
			}
			if err != nil {
				return err
			}
			if str, err = check(str); err != nil {
				if !p.stored {
					return err
				}
				safe, _ := mustJSON(dflt).(string)
				p.clampTo(key, err, jsonText(mustJSON(dflt)))
				str = safe
			}
			*field(p.s) = str
			return nil
		},
		encode: func(s *Settings) any {
			if dflt == "null" {
				return nullIfEmpty(*field(s))
			}
			return *field(s)
		},
	}
}

func enumSetting(key, dflt string, field func(*Settings) *string, allowed ...string) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			str, err := asEnum(v, allowed...)
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// countSetting is allauth's *_SUPPORTS_RESEND / *_SUPPORTS_CHANGE: false
// means 0, true means 2, a number is the count itself.
func countSetting(key string, field func(*Settings) *int) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "false",
		decode: func(p *parser, v any) error {
			if b, ok := v.(bool); ok {
				*field(p.s) = map[bool]int{false: 0, true: 2}[b]
				return nil
			}
			if _, ok := v.(json.Number); !ok {
				return typeError("true, false or a count", v)
			}
			n, err := asMinInt(v, 0)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				*field(p.s) = n
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// codeFormatSetting is a per-flow code format. As in allauth, a given format
// replaces ALLAUTH_USER_CODE_FORMAT as a whole rather than merging with it;
// alias names a legacy key that may supply it instead.
func codeFormatSetting(key, alias string, field func(*Settings) *UserCodeFormat) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			f, err := decodeCodeFormat(v)
			if err == nil {
				*field(p.s) = f
			}
			return err
		},
		derive: func(p *parser) {
			*field(p.s) = p.s.UserCodeFormat
			if f, ok := p.legacy[alias].(UserCodeFormat); ok {
				*field(p.s) = f
			}
		},
		encode: func(s *Settings) any { return encodeCodeFormat(*field(s)) },
	}
}

func originsSetting(key string, field func(*Settings) *[]string) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "[]",
		decode: func(p *parser, v any) error {
			origins, err := decodeOrigins(v)
			if err == nil {
				*field(p.s) = origins
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(*field(s)) },
	}
}

func legacyBoolSetting(key string) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				p.legacy[key] = b
			}
			return err
		},
	}
}

func legacyIntSetting(key string, lo int) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, lo)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				p.legacy[key] = n
			}
			return err
		},
	}
}
