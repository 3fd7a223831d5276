package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// SignupInput is a validated-shape signup request (fields present as sent).
type SignupInput struct {
	Email, Username, Password          string
	HasEmail, HasUsername, HasPassword bool
	// Passkey is a passkey signup (MFA_PASSKEY_SIGNUP_ENABLED): no password;
	// the signup ends by registering a passkey.
	Passkey bool
	// Profile holds the values sent for the tenant's signup fields
	// (HALLPASS_USER_FIELDS with "signup": true), JSON-decoded, keyed by
	// field name; an absent field is absent here.
	Profile map[string]any
}

// Signup creates an account and starts its login, as allauth's SignupView:
// the session ends up logged in, or holding the pending verify_email stage.
func (a *Signups) Signup(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in SignupInput, req Request) error {
	s := t.Settings
	if sess.Authenticated() {
		return ErrConflict
	}
	if !s.SignupOpen {
		return ErrSignupClosed
	}
	if err := a.sessionOps.Limit(ctx, t, "signup", req, sess, ""); err != nil {
		return err
	}
	emailField, hasEmailField := field(s, "email")
	email, username, errs := signupIdentity(s, SocialSignupInput{Email: in.Email, HasEmail: in.HasEmail, Username: in.Username, HasUsername: in.HasUsername},
		hasEmailField, emailField.Required)
	pwField, wantsPassword := field(s, "password1")
	if in.Passkey {
		wantsPassword, in.Password = false, ""
	}
	if wantsPassword {
		if in.HasPassword && in.Password != "" {
			errs = append(errs, a.pw.validateNewPassword(ctx, t, "password", in.Password)...)
		} else if pwField.Required {
			errs = append(errs, NewError("password", "required"))
		}
	}
	profile, perrs := signupProfile(s, in.Profile)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return errs
	}
	decoy := false
	if email != "" && s.UniqueEmail {
		taken, err := a.Store.EmailTaken(ctx, t.ID, email)
		if err != nil {
			return err
		}
		if taken {
			if !s.PreventEnumeration || (s.EmailVerification != tenants.EmailVerificationMandatory && !s.PreventEnumerationStrict) {
				errs = append(errs, NewError("email", "email_taken"))
			} else {
				decoy = true
			}
		}
	}
	if e, err := a.usernameFree(ctx, t, username); err != nil {
		return err
	} else if e != nil {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return errs
	}
	// Hash even for the decoy, so its timing matches a real signup.
	hash := "!" // Django's unusable password
	if in.Password != "" {
		var err error
		if hash, err = a.Hasher.Hash(in.Password); err != nil {
			return err
		}
	}
	if decoy {
		return a.preventEnumeration(ctx, t, sess, email, req)
	}
	userID, err := a.Store.NextUserID(ctx, t.ID)
	if err != nil {
		return err
	}
	var user *User
	var addr *EmailAddress
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if email != "" {
			if err := lockEmail(ctx, tx, t.ID, email); err != nil {
				return err
			}
			if s.UniqueEmail {
				if taken, err := emailTaken(ctx, tx, t.ID, email, 0); err != nil {
					return err
				} else if taken {
					return Errors{NewError("email", "email_taken")}
				}
			}
		}
		if username == "" && s.UserModelUsernameField != "" {
			var err error
			if username, err = a.uniqueUsername(ctx, tx, t, email); err != nil {
				return err
			}
		}
		var err error
		user, addr, err = insertUser(ctx, tx, t.ID, NewUser{ID: userID, Username: username, PasswordHash: hash, Email: email, Profile: profile})
		if err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, user.ID, events.UserCreated, map[string]any{"source": "signup"}); err != nil {
			return err
		}
		if err := a.pipeline.startLogin(ctx, tx, t, sess, user, addr, email, true, req); err != nil {
			return err
		}
		sess.State.Login.PasskeySignup = in.Passkey
		return nil
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

// signupProfile checks the values a signup sent for the tenant's signup
// fields (userdata.ModeSignup): the profile to create the user with (nil
// when the tenant declares no signup fields), or an error per refused
// field, named by the field, with Django's code.
func signupProfile(s *tenants.Settings, values map[string]any) (map[string]any, Errors) {
	if len(s.UserFields.Signup()) == 0 {
		return nil, nil
	}
	profile, err := s.UserFields.Apply(userdata.ModeSignup, nil, values)
	if err == nil {
		return profile, nil
	}
	var errs Errors
	var fes userdata.FieldErrors
	var fe *userdata.FieldError
	switch {
	case errors.As(err, &fes):
		for _, e := range fes {
			errs = append(errs, &Error{Code: e.Code, Param: e.Param, Message: e.Message})
		}
	case errors.As(err, &fe):
		errs = Errors{{Code: fe.Code, Param: fe.Param, Message: fe.Message}}
	default:
		errs = Errors{{Code: "invalid", Param: userdata.Profile, Message: err.Error()}}
	}
	return nil, errs
}

// uniqueUsername derives a free username from an address, as allauth's
// populate_username does for signups without a username field.
func (a *Signups) uniqueUsername(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, email string) (string, error) {
	base := usernameBase(email)
	if len(base) < t.Settings.UsernameMinLength {
		base = "user"
	}
	candidate := base
	for i := 0; i < 20; i++ {
		taken, err := usernameTaken(ctx, tx, t.ID, candidate)
		if err != nil {
			return "", err
		}
		banned := blacklisted(t.Settings.UsernameBlacklist, candidate)
		if !taken && !banned {
			return candidate, nil
		}
		candidate = fmt.Sprintf("%s%d", base, 1+i*i*7+int(a.now().UnixNano()%97))
	}
	return "", fmt.Errorf("identity: no free username for %q", base)
}

// preventEnumeration answers a signup with a taken address like a real one
// (a pending verify_email stage) and mails the address's owner instead.
func (a *Signups) preventEnumeration(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, email string, req Request) error {
	// The notice is about an existing account: it goes to the address as
	// that account holds it, not to the spelling typed.
	to := email
	if users, err := a.Store.UsersByEmail(ctx, t.ID, email); err != nil {
		return err
	} else if len(users) > 0 {
		to = users[0].MatchedEmail
	}
	err := pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		data := MailData{Email: to, PasswordResetURL: a.frontendURL(t, "account_reset_password", "", req), SignupURL: ""}
		return a.Mail.Queue(ctx, tx, t, MailAccountAlreadyExists, to, data)
	})
	if err != nil {
		return err
	}
	sess.State.Login = &sessions.PendingLogin{Email: email, Signup: true, Stage: StageVerifyEmail, StartedAt: a.now()}
	if t.Settings.EmailVerificationByCodeEnabled {
		// A process whose code nobody knows: every attempt is incorrect.
		sess.State.EmailCode = &sessions.CodeProcess{ID: newProcessID(), Email: email, CodeHash: a.Keys.CodeHash(t.ID, NewUserCode(t.Settings.EmailVerificationByCodeFormat)+"x"),
			Expires: a.now().Add(time.Duration(t.Settings.EmailVerificationByCodeTimeout) * time.Second)}
	}
	sess.Changed()
	return nil
}

// signupIdentity reads a signup form's email and username under the
// tenant's rules: the email when readEmail (normalised; "required" when
// absent and emailRequired), the username when the tenant has that field.
func signupIdentity(s *tenants.Settings, in SocialSignupInput, readEmail, emailRequired bool) (email, username string, errs Errors) {
	if readEmail {
		if in.HasEmail && strings.TrimSpace(in.Email) != "" {
			var e *Error
			if email, e = NormalizeEmail("email", in.Email, s.EmailMaxLength); e != nil {
				errs = append(errs, e)
			}
		} else if emailRequired {
			errs = append(errs, NewError("email", "required"))
		}
	}
	if f, ok := field(s, "username"); ok {
		if in.HasUsername && strings.TrimSpace(in.Username) != "" {
			var e *Error
			if username, e = NormalizeUsername("username", in.Username, UsernameRules{MinLength: s.UsernameMinLength, Blacklist: s.UsernameBlacklist,
				PreserveCasing: s.PreserveUsernameCasing}); e != nil {
				errs = append(errs, e)
			}
		} else if f.Required {
			errs = append(errs, NewError("username", "required"))
		}
	}
	return email, username, errs
}

// usernameFree returns username_taken when another user holds username
// ("" is free).
func (a *Signups) usernameFree(ctx context.Context, t *tenants.Tenant, username string) (*Error, error) {
	if username == "" {
		return nil, nil
	}
	taken, err := usernameTaken(ctx, a.Store.pool, t.ID, username)
	if err != nil || !taken {
		return nil, err
	}
	return NewError("username", "username_taken"), nil
}

func field(s *tenants.Settings, name string) (tenants.SignupField, bool) {
	for _, f := range s.SignupFields {
		if f.Name == name {
			return f, true
		}
	}
	return tenants.SignupField{}, false
}
