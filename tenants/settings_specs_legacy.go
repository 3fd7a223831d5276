package tenants

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hallpass/hallpass/internal/ratelimit"
)

// legacyLoginMethods derives ACCOUNT_LOGIN_METHODS from the legacy
// ACCOUNT_AUTHENTICATION_METHOD (default "username").
func legacyLoginMethods(p *parser) []string {
	m, _ := p.legacy["ACCOUNT_AUTHENTICATION_METHOD"].(string)
	switch m {
	case "email":
		return []string{"email"}
	case "username_email":
		return []string{"username", "email"}
	}
	return []string{"username"}
}

// LegacyAuthenticationMethod is allauth's deprecated AUTHENTICATION_METHOD
// getter: the legacy value that login methods correspond to ("" if none).
// The headless config shows it as authentication_method.
func LegacyAuthenticationMethod(methods []string) string {
	email, username := slices.Contains(methods, "email"), slices.Contains(methods, "username")
	switch {
	case email && username:
		return "username_email"
	case email:
		return "email"
	case username:
		return "username"
	}
	return ""
}

// legacySignupFields derives ACCOUNT_SIGNUP_FIELDS from the legacy settings,
// exactly as allauth's SIGNUP_FIELDS property does.
func legacySignupFields(p *parser) []SignupField {
	flag := func(key string, dflt bool) bool {
		if b, ok := p.legacy[key].(bool); ok {
			return b
		}
		return dflt
	}
	username := flag("ACCOUNT_USERNAME_REQUIRED", true)
	email := flag("ACCOUNT_EMAIL_REQUIRED", false)
	email2 := flag("ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE", false)
	password2 := flag("ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE", flag("ACCOUNT_SIGNUP_PASSWORD_VERIFICATION", true))

	fields := []SignupField{{Name: "email", Required: email}}
	if email2 {
		fields = append(fields, SignupField{Name: "email2", Required: email})
	}
	if username {
		fields = append(fields, SignupField{Name: "username", Required: true})
	}
	fields = append(fields, SignupField{Name: "password1", Required: true})
	if password2 {
		fields = append(fields, SignupField{Name: "password2", Required: true})
	}
	return fields
}

// legacyLoginFailedRules are the login_failed rules allauth derives from
// ACCOUNT_LOGIN_ATTEMPTS_LIMIT/TIMEOUT; nil when either is 0 (no limit).
func legacyLoginFailedRules(p *parser) []ratelimit.Rule {
	limit, ok := p.legacy["ACCOUNT_LOGIN_ATTEMPTS_LIMIT"].(int)
	if !ok {
		limit = 5
	}
	timeout, ok := p.legacy["ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT"].(int)
	if !ok {
		timeout = 300
	}
	if limit == 0 || timeout == 0 {
		return nil
	}
	return mustRules(fmt.Sprintf("10/m/ip,%d/%ds/key", limit, timeout))
}

// legacyConfirmEmailRules are the confirm_email rules allauth derives from
// ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN; nil when it is 0. Code mode ignores it.
func legacyConfirmEmailRules(p *parser) []ratelimit.Rule {
	if p.s.EmailVerificationByCodeEnabled {
		return mustRules(ratelimit.DefaultConfirmEmailRateCodeMode)
	}
	cooldown, ok := p.legacy["ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN"].(int)
	if !ok {
		cooldown = 180
	}
	if cooldown == 0 {
		return nil
	}
	return mustRules(fmt.Sprintf("1/%ds/key", cooldown))
}

// defaultRateLimits is allauth's RATE_LIMITS before user overrides.
func defaultRateLimits(p *parser) map[string][]ratelimit.Rule {
	out := map[string][]ratelimit.Rule{}
	for action, rate := range ratelimit.DefaultRatesFor(p.s.EmailVerificationByCodeEnabled) {
		out[action] = mustRules(rate)
	}
	setOrDelete := func(action string, rules []ratelimit.Rule) {
		if rules == nil {
			delete(out, action)
		} else {
			out[action] = rules
		}
	}
	setOrDelete(ratelimit.ActionLoginFailed, legacyLoginFailedRules(p))
	setOrDelete(ratelimit.ActionConfirmEmail, legacyConfirmEmailRules(p))
	return out
}

// mustRules parses rules built from constants and validated integers.
func mustRules(s string) []ratelimit.Rule {
	rules, err := ratelimit.ParseRules(s)
	if err != nil {
		panic("tenants: bad built-in rate limit " + s + ": " + err.Error())
	}
	return rules
}

// defaultHallpassRateLimits is HALLPASS_RATE_LIMITS before overrides.
func defaultHallpassRateLimits() map[string][]ratelimit.Rule {
	out := map[string][]ratelimit.Rule{}
	for action, rate := range ratelimit.DefaultHallpassRates() {
		out[action] = mustRules(rate)
	}
	return out
}

// boundRules checks each rule against MaxRateLimitAmount and
// MaxRateLimitPeriod (a counter's size and Redis TTL); a stored document's
// rules are clamped to them instead.
func (p *parser) boundRules(key, action string, rules []ratelimit.Rule) ([]ratelimit.Rule, error) {
	for i, r := range rules {
		if r.Amount <= MaxRateLimitAmount && r.Period <= MaxRateLimitPeriod {
			continue
		}
		err := fmt.Errorf("%s: %q: the amount must be at most %d and the period at most a day, 1d (a rule's counters are kept in Redis for its period)",
			action, r, MaxRateLimitAmount)
		if !p.stored {
			return nil, err
		}
		rules = slices.Clone(rules)
		rules[i].Amount, rules[i].Period = min(r.Amount, MaxRateLimitAmount), min(r.Period, MaxRateLimitPeriod)
		p.clampTo(key, err, fmt.Sprintf("%q", rules[i]))
	}
	return rules, nil
}

// decodeRateLimits merges a rate-limits document (ACCOUNT_RATE_LIMITS,
// HALLPASS_RATE_LIMITS) over the defaults: false disables every limit (nil
// map); an action set to false, null or "" loses its limit. check says
// which actions and rules key accepts.
func (p *parser) decodeRateLimits(key string, v any, defaults map[string][]ratelimit.Rule, check func(string, []ratelimit.Rule) error) (map[string][]ratelimit.Rule, error) {
	if v == false {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, typeError("an object of action: rules, or false", v)
	}
	var errs []error
	for _, action := range sortedKeys(m) {
		var rules []ratelimit.Rule
		switch rv := m[action].(type) {
		case nil:
		case bool:
			if rv {
				errs = append(errs, fmt.Errorf("%s: must be a rule string such as \"10/m/ip\", or false", action))
				continue
			}
		case string:
			var err error
			if rules, err = ratelimit.ParseRules(rv); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", action, err))
				continue
			}
		default:
			errs = append(errs, fmt.Errorf("%s: must be a rule string such as \"10/m/ip\", or false, not %s", action, describeJSON(rv)))
			continue
		}
		if err := check(action, rules); err != nil {
			errs = append(errs, err)
			continue
		}
		var err error
		if rules, err = p.boundRules(key, action, rules); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(rules) == 0 {
			delete(defaults, action)
		} else {
			defaults[action] = rules
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return defaults, nil
}
