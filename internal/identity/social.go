package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// MethodSocialAccount is the authentication record of a provider login.
const MethodSocialAccount = "socialaccount"

// Social account errors with allauth's codes (non-field errors, as
// allauth raises them from the forms' clean).
var (
	errConnectedOther  = NewError("", "connected_other")
	errAccountNotFound = NewError("", "account_not_found")
)

// maxSocialEmails bounds how many provider addresses a signup keeps.
const maxSocialEmails = 5

// SocialLoginFlow runs allauth's provider login (process "login"): a known
// provider account logs its user in; otherwise, with email authentication,
// the local account holding a verified provider address; otherwise a new
// account is signed up automatically, or the session is left with a pending
// provider signup. A logged-in session is logged out first, as allauth does.
// The stages (verify_email with SOCIALACCOUNT_EMAIL_VERIFICATION, MFA) follow
// as for any login.
func (a *SocialLogins) SocialLoginFlow(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in sessions.SocialLogin, req Request) error {
	in.Emails = usableSocialEmails(in.Emails, t.Settings.EmailMaxLength)
	sess.State.SocialSignup = nil
	sess.Changed()
	if sess.Authenticated() {
		if err := a.Sessions.Logout(ctx, sess); err != nil {
			return err
		}
	}
	user, viaEmail, err := a.lookupSocial(ctx, t, in)
	if err != nil {
		return err
	}
	if user == nil {
		return a.socialSignup(ctx, t, sess, in, req)
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if viaEmail != "" {
			if err := a.acceptEmailAuthentication(ctx, tx, t, user, viaEmail); err != nil {
				return err
			}
			if t.Settings.SocialAccountEmailAuthenticationAutoConnect {
				_, added, err := a.Social.Connect(ctx, tx, t.ID, user.ID, in.Provider, in.UID, in.Extra)
				if err != nil {
					return err
				}
				if added {
					if err := a.emit(ctx, tx, t, user.ID, events.SocialConnected, socialData(in.Provider, in.UID)); err != nil {
						return err
					}
				}
			}
		}
		a.pipeline.RecordMethod(sess, sessions.AuthRecord{Method: MethodSocialAccount, Provider: in.Provider, UID: in.UID})
		return a.pipeline.startLoginVerifying(ctx, tx, t, sess, user, nil, "", false, req, t.Settings.EffectiveSocialAccountEmailVerification())
	})
	if err != nil {
		return err
	}
	if viaEmail != "" && !user.HasUsablePassword() {
		// The wiped password also ended the user's other sessions.
		if err := a.Sessions.EndUserSessions(ctx, t.ID, user.ID, sess.ID()); err != nil {
			return err
		}
	}
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// lookupSocial finds the local user of a provider login: by the connected
// account (whose extra_data is refreshed), else by a verified provider
// address when email authentication is on. viaEmail is that address.
func (a *SocialLogins) lookupSocial(ctx context.Context, t *tenants.Tenant, in sessions.SocialLogin) (user *User, viaEmail string, err error) {
	acc, err := a.Social.TouchLogin(ctx, t.ID, in.Provider, in.UID, in.Extra)
	switch {
	case err == nil:
		user, err := a.Store.User(ctx, t.ID, acc.UserID)
		return user, "", err
	case !errors.Is(err, social.ErrAccountNotFound):
		return nil, "", err
	}
	if !in.EmailAuthentication {
		return nil, "", nil
	}
	for _, e := range in.Emails {
		if !e.Verified {
			continue
		}
		users, err := a.Store.UsersByEmail(ctx, t.ID, e.Address)
		if err != nil {
			return nil, "", err
		}
		if len(users) > 0 {
			return users[0], e.Address, nil
		}
	}
	return nil, "", nil
}

// acceptEmailAuthentication protects a login by email authentication: when
// the matched address is not verified on the local account, whoever added it
// there may not own it, so the account's password is wiped (allauth's
// wipe_password) and only the provider login remains.
func (a *SocialLogins) acceptEmailAuthentication(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, user *User, email string) error {
	var verified bool
	err := tx.QueryRow(ctx, `SELECT coalesce(bool_or(verified), false) FROM email_addresses
		WHERE tenant_id = $1 AND user_id = $2 AND email_folded = $3`, t.ID, user.ID, emailKey(email)).Scan(&verified)
	if err != nil {
		return fmt.Errorf("identity: email authentication: %w", err)
	}
	if verified || !user.HasUsablePassword() {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = '!' WHERE tenant_id = $1 AND id = $2`, t.ID, user.ID); err != nil {
		return fmt.Errorf("identity: wipe password: %w", err)
	}
	user.PasswordHash = "!"
	return nil
}

// socialSignup signs a new provider account up (allauth's process_signup):
// refused when signup is closed; automatic when SOCIALACCOUNT_AUTO_SIGNUP is
// on, the provider's address is usable and no signup field is required; otherwise the signup form is left
// pending. A taken address under enumeration prevention with mandatory
// verification is answered as a real signup would be.
func (a *SocialLogins) socialSignup(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in sessions.SocialLogin, req Request) error {
	s := t.Settings
	if !s.SignupOpen {
		return ErrSignupClosed
	}
	// A required signup field (HALLPASS_USER_FIELDS) has no value a
	// provider could give: the user completes the signup form.
	auto := s.SocialAccountAutoSignup && !requiresSignupField(s)
	email := ""
	if len(in.Emails) > 0 {
		email = in.Emails[0].Address
	}
	if auto && email != "" && s.UniqueEmail {
		taken, err := a.Store.EmailTaken(ctx, t.ID, email)
		if err != nil {
			return err
		}
		switch {
		case !taken:
		case !s.PreventEnumeration:
			auto = false
		case s.EmailVerification == tenants.EmailVerificationMandatory:
			return a.signups.preventEnumeration(ctx, t, sess, email, req)
		case !s.PreventEnumerationStrict:
			auto = false
		}
	} else if auto && email == "" && s.SocialAccountEmailRequired {
		auto = false
	}
	if !auto {
		sess.State.SocialSignup = &sessions.PendingSocialSignup{SocialLogin: in, StartedAt: a.now()}
		sess.Changed()
		return nil
	}
	username := ""
	if s.UserModelUsernameField != "" && in.Username != "" {
		if u, e := NormalizeUsername("username", in.Username, UsernameRules{MinLength: s.UsernameMinLength, Blacklist: s.UsernameBlacklist,
			PreserveCasing: s.PreserveUsernameCasing}); e == nil {
			taken, err := usernameTaken(ctx, a.Store.pool, t.ID, u)
			if err != nil {
				return err
			}
			if !taken {
				username = u
			}
		}
	}
	return a.createSocialUser(ctx, t, sess, in, email, username, nil, req)
}

// requiresSignupField reports whether the tenant declares a required signup field.
func requiresSignupField(s *tenants.Settings) bool {
	return slices.ContainsFunc(s.UserFields.Signup(), func(f userdata.Field) bool { return f.Required })
}

// createSocialUser creates the account of a provider signup (no usable
// password), with the provider's addresses (verified as the provider says,
// unless another account verified them first), connects the provider
// account, and starts the login as a signup.
func (a *SocialLogins) createSocialUser(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in sessions.SocialLogin, email, username string,
	profile map[string]any, req Request) error {
	s := t.Settings
	userID, err := a.Store.NextUserID(ctx, t.ID)
	if err != nil {
		return err
	}
	var user *User
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if email != "" {
			if err := lockEmail(ctx, tx, t.ID, email); err != nil {
				return err
			}
			if s.UniqueEmail && !s.PreventEnumerationStrict {
				if taken, err := emailTaken(ctx, tx, t.ID, email, 0); err != nil {
					return err
				} else if taken {
					return Errors{NewError("email", "email_taken")}
				}
			}
		}
		if username == "" && s.UserModelUsernameField != "" {
			src := email
			if src == "" {
				src = in.Username
			}
			var err error
			if username, err = a.signups.uniqueUsername(ctx, tx, t, src); err != nil {
				return err
			}
		}
		var addr *EmailAddress
		var err error
		user, addr, err = insertUser(ctx, tx, t.ID, NewUser{ID: userID, Username: username, PasswordHash: "!", Email: email, Profile: profile})
		if err != nil {
			return err
		}
		if addr != nil && providerVerified(in.Emails, email) {
			if _, err := markVerified(ctx, tx, t.ID, addr, s.UniqueEmail); err != nil {
				return err
			}
		}
		if err := a.addProviderEmails(ctx, tx, t, user, in.Emails, email); err != nil {
			return err
		}
		if _, _, err := a.Social.Connect(ctx, tx, t.ID, user.ID, in.Provider, in.UID, in.Extra); err != nil {
			if errors.Is(err, social.ErrConnectedOther) {
				return errConnectedOther
			}
			return err
		}
		if err := a.emit(ctx, tx, t, user.ID, events.UserCreated, map[string]any{"source": "provider_signup"}); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, user.ID, events.SocialConnected, socialData(in.Provider, in.UID)); err != nil {
			return err
		}
		sess.State.SocialSignup = nil
		a.pipeline.RecordMethod(sess, sessions.AuthRecord{Method: MethodSocialAccount, Provider: in.Provider, UID: in.UID})
		return a.pipeline.startLoginVerifying(ctx, tx, t, sess, user, addr, email, true, req, s.EffectiveSocialAccountEmailVerification())
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return Errors{e}
		}
		return err
	}
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// usableSocialEmails keeps the provider's addresses that are valid ones
// (NormalizeEmail), in their stored form, once each (by EmailKey, the
// provider's flags of both spellings joined), in the provider's order. An address a provider sends that Hallpass would refuse
// from a user (invalid UTF-8, a domain IDNA would rewrite such as
// victim@ſtrasse.de) is dropped: it matches, connects and stores nothing.
func usableSocialEmails(emails []sessions.SocialEmail, maxLen int) []sessions.SocialEmail {
	var out []sessions.SocialEmail
	seen := map[string]int{}
	for _, e := range emails {
		norm, err := NormalizeEmail("email", e.Address, maxLen)
		if err != nil {
			continue
		}
		k := emailKey(norm)
		if i, ok := seen[k]; ok {
			// One address given twice: what the provider said of either holds.
			out[i].Verified = out[i].Verified || e.Verified
			out[i].Primary = out[i].Primary || e.Primary
			continue
		}
		seen[k] = len(out)
		e.Address = norm
		out = append(out, e)
	}
	return out
}

// providerVerified reports whether the provider vouched for email.
func providerVerified(emails []sessions.SocialEmail, email string) bool {
	return slices.ContainsFunc(emails, func(e sessions.SocialEmail) bool { return e.Verified && sameEmail(e.Address, email) })
}

// addProviderEmails keeps the provider's other addresses on a new account
// (allauth's setup_user_email), skipping ones another account holds when
// addresses are unique.
func (a *SocialLogins) addProviderEmails(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, user *User, emails []sessions.SocialEmail, primary string) error {
	kept := 0
	for _, e := range emails {
		if kept >= maxSocialEmails || sameEmail(e.Address, primary) {
			continue
		}
		if _, err := NormalizeEmail("email", e.Address, t.Settings.EmailMaxLength); err != nil {
			continue
		}
		if err := lockEmail(ctx, tx, t.ID, e.Address); err != nil {
			return err
		}
		if t.Settings.UniqueEmail {
			if taken, err := emailTaken(ctx, tx, t.ID, e.Address, 0); err != nil {
				return err
			} else if taken {
				continue
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
			VALUES ($1, $2, $3, $4, $5, false) ON CONFLICT DO NOTHING`, t.ID, user.ID, e.Address, emailKey(e.Address), e.Verified); err != nil {
			return fmt.Errorf("identity: provider email: %w", err)
		}
		kept++
	}
	return nil
}

// PendingSocialSignup returns the session's pending provider signup, if it
// is within ACCOUNT_LOGIN_TIMEOUT.
func (a *SocialLogins) PendingSocialSignup(t *tenants.Tenant, sess *sessions.Session) *sessions.PendingSocialSignup {
	p := sess.State.SocialSignup
	if p == nil || a.now().Sub(p.StartedAt) > time.Duration(t.Settings.LoginTimeout)*time.Second {
		return nil
	}
	return p
}

// SocialSignupInput is the provider signup form: the fields of
// ACCOUNT_SIGNUP_FIELDS except the password.
type SocialSignupInput struct {
	Email, Username       string
	HasEmail, HasUsername bool
	// Profile holds the values sent for the tenant's signup fields, as
	// SignupInput.Profile.
	Profile map[string]any
}

// CompleteSocialSignup answers POST auth/provider/signup: the form's email
// (required with SOCIALACCOUNT_EMAIL_REQUIRED or a required email field)
// and username complete the pending provider signup. ErrConflict when none
// is pending; ErrSignupClosed when signup closed meanwhile.
func (a *SocialLogins) CompleteSocialSignup(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in SocialSignupInput, req Request) error {
	s := t.Settings
	p := a.PendingSocialSignup(t, sess)
	if p == nil {
		return ErrConflict
	}
	if !s.SignupOpen {
		return ErrSignupClosed
	}
	if err := a.sessionOps.Limit(ctx, t, "signup", req, sess, ""); err != nil {
		return err
	}
	f, hasEmailField := field(s, "email")
	email, username, errs := signupIdentity(s, in, true, s.SocialAccountEmailRequired || (hasEmailField && f.Required))
	profile, perrs := signupProfile(s, in.Profile)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return errs
	}
	if email != "" && s.UniqueEmail {
		taken, err := a.Store.EmailTaken(ctx, t.ID, email)
		if err != nil {
			return err
		}
		if taken {
			errs = append(errs, &Error{Code: "email_taken", Param: "email", Message: fmt.Sprintf(messages["email_taken_social"], providerName(p.Provider, s))})
		}
	}
	if e, err := a.signups.usernameFree(ctx, t, username); err != nil {
		return err
	} else if e != nil {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return errs
	}
	login := p.SocialLogin
	if email != "" && !slices.ContainsFunc(login.Emails, func(e sessions.SocialEmail) bool { return sameEmail(e.Address, email) }) {
		// An address the provider did not give: unverified, and the signup address.
		login.Emails = append([]sessions.SocialEmail{{Address: email, Primary: true}}, login.Emails...)
	} else if email != "" {
		i := slices.IndexFunc(login.Emails, func(e sessions.SocialEmail) bool { return sameEmail(e.Address, email) })
		first := login.Emails[i]
		login.Emails = append([]sessions.SocialEmail{first}, slices.Delete(slices.Clone(login.Emails), i, i+1)...)
	}
	return a.createSocialUser(ctx, t, sess, login, email, username, profile, req)
}

// providerName is the display name of an app sub-id, for messages.
func providerName(subID string, s *tenants.Settings) string {
	if app, ok := s.ProviderApp(subID); ok {
		return providers.Describe(app).Name
	}
	return subID
}
