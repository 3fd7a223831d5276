package identity

import (
	"context"
	"log/slog"

	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/tenants"
)

// ValidatePassword applies the password rules (Validate) as allauth
// reports them: one error per rule broken, on param, with Django's codes and
// messages.
func ValidatePassword(param, password string, minLength int) Errors {
	var errs Errors
	for _, v := range passwords.Validate(password, minLength) {
		if v.Limit > 0 {
			errs = append(errs, NewError(param, v.Code, v.Limit))
		} else {
			errs = append(errs, NewError(param, v.Code))
		}
	}
	return errs
}

// breachedMessage tells the user why a password that passed every other
// rule is refused (NIST SP 800-63B asks for the reason); the code stays
// Django's password_too_common, which allauth frontends already handle.
const breachedMessage = "This password has appeared in a data breach and cannot be used. Please choose another."

// validateNewPassword applies ValidatePassword with the tenant's minimum
// and then, with HALLPASS_PASSWORD_BREACH_CHECK and a checker wired, the
// breach check. The service is asked only about passwords the local rules
// accept, and when it cannot answer the password is accepted (fail-open)
// with a warning logged: an outage of a third party must not stop signups.
func (a *Passwords) validateNewPassword(ctx context.Context, t *tenants.Tenant, param, password string) Errors {
	errs := ValidatePassword(param, password, t.Settings.PasswordMinLength)
	if len(errs) > 0 || !t.Settings.PasswordBreachCheck || a.Breach == nil {
		return errs
	}
	breached, err := a.Breach.Breached(ctx, password)
	if err != nil {
		log := a.Breach.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "password breach check skipped: service unavailable, password accepted unchecked",
			"tenant", t.Slug, "err", err)
		return nil
	}
	if breached {
		return Errors{{Code: "password_too_common", Param: param, Message: breachedMessage}}
	}
	return nil
}
