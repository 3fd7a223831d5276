// Package ratelimit holds allauth's rate-limit vocabulary: the actions it
// limits, their default rates, and the "amount/period/per" rule format of
// ACCOUNT_RATE_LIMITS.
package ratelimit

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rule allows at most Amount uses of an action within Period, counted per
// client IP, per authenticated user or per action-specific key (e.g. the
// email address a reset is requested for).
type Rule struct {
	Amount int
	Period time.Duration
	Per    string
}

// What a rule counts against.
const (
	PerIP   = "ip"
	PerUser = "user"
	PerKey  = "key"
)

// The actions allauth rate-limits (the keys of ACCOUNT_RATE_LIMITS).
const (
	ActionChangePassword       = "change_password"
	ActionChangePhone          = "change_phone"
	ActionConfirmEmail         = "confirm_email"
	ActionLogin                = "login"
	ActionLoginFailed          = "login_failed"
	ActionManageEmail          = "manage_email"
	ActionReauthenticate       = "reauthenticate"
	ActionRequestLoginCode     = "request_login_code"
	ActionResetPassword        = "reset_password"
	ActionResetPasswordFromKey = "reset_password_from_key"
	ActionSignup               = "signup"
	ActionVerifyPhone          = "verify_phone"
)

// actionInfo records what allauth passes when it consumes an action: a rule
// "per key" on an action consumed without a key (or "per user" on one that
// can be consumed anonymously) makes allauth raise ImproperlyConfigured at
// request time, so such rules are rejected up front instead.
type actionInfo struct {
	hasKey  bool
	hasUser bool
}

var actions = map[string]actionInfo{
	ActionChangePassword:       {hasUser: true},
	ActionChangePhone:          {hasUser: true},
	ActionConfirmEmail:         {hasKey: true},
	ActionLogin:                {},
	ActionLoginFailed:          {hasKey: true},
	ActionManageEmail:          {hasUser: true},
	ActionReauthenticate:       {hasUser: true},
	ActionRequestLoginCode:     {hasKey: true},
	ActionResetPassword:        {hasKey: true},
	ActionResetPasswordFromKey: {},
	ActionSignup:               {},
	ActionVerifyPhone:          {hasKey: true},
}

// Actions lists the rate-limited actions, sorted.
func Actions() []string {
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// CheckAction reports whether rules can be used for action: the action must
// be one allauth limits, and each rule must count against something allauth
// supplies when consuming that action.
func CheckAction(action string, rules []Rule) error {
	info, ok := actions[action]
	if !ok {
		return fmt.Errorf("unknown rate-limit action %q (known: %s)", action, strings.Join(Actions(), ", "))
	}
	for _, r := range rules {
		switch {
		case r.Per == PerKey && !info.hasKey:
			return fmt.Errorf("%s: %q counts per key, but %s has no key (use ip)", action, r, action)
		case r.Per == PerUser && !info.hasUser:
			return fmt.Errorf("%s: %q counts per user, but %s can happen before login (use ip)", action, r, action)
		}
	}
	return nil
}

// Rates of ACCOUNT_RATE_LIMITS that depend on other settings. allauth builds
// login_failed from the legacy ACCOUNT_LOGIN_ATTEMPTS_LIMIT/TIMEOUT (5/300)
// and confirm_email from ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN (180 s) unless
// email verification is by code, where a resend must not wait minutes.
const (
	DefaultLoginFailedRate          = "10/m/ip,5/300s/key"
	DefaultConfirmEmailRate         = "1/180s/key"
	DefaultConfirmEmailRateCodeMode = "1/10s/key"
)

// DefaultRates returns allauth 65.16.1's default ACCOUNT_RATE_LIMITS for
// email verification by link (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED off).
func DefaultRates() map[string]string {
	return DefaultRatesFor(false)
}

// DefaultRatesFor returns allauth's default ACCOUNT_RATE_LIMITS given whether
// email verification is by code. Each call returns a fresh map.
func DefaultRatesFor(emailVerificationByCode bool) map[string]string {
	confirm := DefaultConfirmEmailRate
	if emailVerificationByCode {
		confirm = DefaultConfirmEmailRateCodeMode
	}
	return map[string]string{
		ActionChangePassword:       "5/m/user",
		ActionChangePhone:          "1/m/user",
		ActionManageEmail:          "10/m/user",
		ActionResetPassword:        "20/m/ip,5/m/key",
		ActionReauthenticate:       "10/m/user",
		ActionResetPasswordFromKey: "20/m/ip",
		ActionSignup:               "20/m/ip",
		ActionLogin:                "30/m/ip",
		ActionRequestLoginCode:     "20/m/ip,3/m/key",
		ActionLoginFailed:          DefaultLoginFailedRate,
		ActionConfirmEmail:         confirm,
		ActionVerifyPhone:          "1/30s/key,3/m/ip",
	}
}

// ParseRules parses allauth's comma-separated rule list, e.g.
// "10/m/ip,5/300s/key". Blank input means no limit and yields no rules.
func ParseRules(s string) ([]Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	rules := make([]Rule, 0, len(parts))
	for _, part := range parts {
		r, err := ParseRule(part)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ParseRule parses one "amount/period[/per]" rule. The period is an optional
// decimal count followed by s, m, h or d ("m" = one minute, "300s", "1.5h");
// per defaults to ip, as in allauth.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rule{}, errors.New("empty rate-limit rule (stray comma?)")
	}
	fields := strings.Split(s, "/")
	if len(fields) != 2 && len(fields) != 3 {
		return Rule{}, fmt.Errorf("rate-limit rule %q: want amount/period/per, e.g. 10/m/ip", s)
	}
	r := Rule{Per: PerIP}
	if !digits.MatchString(fields[0]) {
		return Rule{}, fmt.Errorf("rate-limit rule %q: amount %q is not a whole number", s, fields[0])
	}
	amount, err := strconv.Atoi(fields[0])
	if err != nil || amount < 1 {
		// Zero would refuse every request: that is an outage, not a limit.
		return Rule{}, fmt.Errorf("rate-limit rule %q: amount must be between 1 and %d", s, maxInt)
	}
	r.Amount = amount
	if r.Period, err = parsePeriod(fields[1]); err != nil {
		return Rule{}, fmt.Errorf("rate-limit rule %q: %w", s, err)
	}
	if len(fields) == 3 {
		r.Per = fields[2]
		if r.Per != PerIP && r.Per != PerUser && r.Per != PerKey {
			return Rule{}, fmt.Errorf("rate-limit rule %q: per must be ip, user or key, not %q", s, r.Per)
		}
	}
	return r, nil
}

const maxInt = int(^uint(0) >> 1)

var (
	digits        = regexp.MustCompile(`^[0-9]+$`)
	periodPattern = regexp.MustCompile(`^([0-9]+\.?[0-9]*|\.[0-9]+)?([smhd])$`)
)

var periodUnits = map[string]time.Duration{
	"s": time.Second,
	"m": time.Minute,
	"h": time.Hour,
	"d": 24 * time.Hour,
}

// parsePeriod follows allauth's parse_duration (the number is a float and
// may be omitted), computed exactly so that String round-trips.
func parsePeriod(s string) (time.Duration, error) {
	m := periodPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("period %q: want an optional number followed by s, m, h or d", s)
	}
	unit := periodUnits[m[2]]
	if m[1] == "" {
		return unit, nil
	}
	n, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("period %q is not a number", s)
	}
	n.Mul(n, new(big.Rat).SetInt64(int64(unit)))
	if !n.IsInt() {
		return 0, fmt.Errorf("period %q is finer than a nanosecond", s)
	}
	ns := n.Num()
	if ns.Sign() <= 0 {
		// A zero window forgets every hit at once, so it would never limit.
		return 0, fmt.Errorf("period %q must be longer than zero", s)
	}
	if !ns.IsInt64() {
		return 0, fmt.Errorf("period %q is too long", s)
	}
	return time.Duration(ns.Int64()), nil
}

// String returns the rule in canonical form: the largest unit that divides
// the period evenly, a bare unit for one of it, and per always spelled out
// ("5/300s/key" becomes "5/5m/key").
func (r Rule) String() string {
	return fmt.Sprintf("%d/%s/%s", r.Amount, formatPeriod(r.Period), r.Per)
}

// FormatRules joins rules into the comma-separated form ParseRules reads.
func FormatRules(rules []Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func formatPeriod(d time.Duration) string {
	for _, u := range []string{"d", "h", "m", "s"} {
		size := periodUnits[u]
		if d%size != 0 {
			continue
		}
		if d == size {
			return u
		}
		return strconv.FormatInt(int64(d/size), 10) + u
	}
	// Sub-second precision: exact decimal seconds.
	frac := strings.TrimRight(fmt.Sprintf("%09d", int64(d%time.Second)), "0")
	return fmt.Sprintf("%d.%ss", int64(d/time.Second), frac)
}

// Hallpass's own rate-limited actions (the keys of HALLPASS_RATE_LIMITS):
// requests that store state in Redis for a client that is not logged in,
// which allauth leaves unlimited.
const (
	// ActionProviderRedirect is POST auth/provider/redirect: each one
	// stores a provider flow's state (and a session to bind it to).
	ActionProviderRedirect = "provider_redirect"
	// ActionAnonymousSession is any request that stores a new anonymous
	// session (a pending login, signup, code, passkey challenge, provider
	// signup...), whatever the endpoint.
	ActionAnonymousSession = "anonymous_session"
)

// HallpassActions lists Hallpass's own rate-limited actions, sorted.
func HallpassActions() []string {
	return []string{ActionAnonymousSession, ActionProviderRedirect}
}

// DefaultHallpassRates returns the default HALLPASS_RATE_LIMITS, in
// allauth's style: a redirect as often as allauth allows a signup (20/m/ip),
// new anonymous sessions as often as it allows a login attempt (30/m/ip).
// Each call returns a fresh map.
func DefaultHallpassRates() map[string]string {
	return map[string]string{
		ActionProviderRedirect: "20/m/ip",
		ActionAnonymousSession: "30/m/ip",
	}
}

// CheckHallpassAction reports whether rules can be used for one of
// Hallpass's own actions: they happen before login and have no key, so
// every rule counts per IP.
func CheckHallpassAction(action string, rules []Rule) error {
	if !slices.Contains(HallpassActions(), action) {
		return fmt.Errorf("unknown rate-limit action %q (known: %s)", action, strings.Join(HallpassActions(), ", "))
	}
	for _, r := range rules {
		if r.Per != PerIP {
			return fmt.Errorf("%s: %q counts per %s, but %s happens before login and has no key (use ip)", action, r, r.Per, action)
		}
	}
	return nil
}
