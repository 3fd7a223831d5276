package login

import (
	"context"

	"github.com/hallpass/hallpass/tenants"
)

// Stage is one step of the login pipeline a method takes part in: its key
// and when a login is left pending at it.
type Stage struct {
	// Key is the stage's key (StageVerifyEmail, StageMFAAuthenticate, ...).
	Key string
	// Applies reports whether the login stops at the stage, pending until
	// the user passes it. Nil for a stage the pipeline does not enter by
	// itself: verify_email is entered by the primary authentication, before
	// the pipeline continues after it.
	Applies func(ctx context.Context, l Pending) (bool, error)
}

// Pending is what a stage sees of a login in progress.
type Pending struct {
	Settings *tenants.Settings
	// Client is "browser" or "app".
	Client string
	// Passkey is set when the login is a passkey's; Signup when it follows a
	// signup; MFADone once mfa_authenticate was passed; PasskeySignup while
	// a passkey signup waits for its passkey.
	Passkey, Signup, MFADone, PasskeySignup bool
	// NeedsSecondFactor reports whether the user must pass a second factor
	// now: MFA is installed, the user has TOTP or WebAuthn and the browser
	// is not trusted.
	NeedsSecondFactor func(ctx context.Context) (bool, error)
}

// The stages the methods share.
var (
	// VerifyEmail is verify_email, of the methods that prove an address
	// (password, code). The primary authentication enters it.
	VerifyEmail = Stage{Key: StageVerifyEmail}
	// MFAAuthenticate is mfa_authenticate, of the second factors: a user
	// with TOTP or WebAuthn passes one, unless the login is a passkey's or
	// follows a signup, or the browser is trusted.
	MFAAuthenticate = Stage{Key: StageMFAAuthenticate, Applies: func(ctx context.Context, l Pending) (bool, error) {
		if l.Passkey || l.Signup {
			return false, nil
		}
		return l.NeedsSecondFactor(ctx)
	}}
	// MFATrust is mfa_trust: after a second factor, a browser may be
	// trusted (MFA_TRUST_ENABLED).
	MFATrust = Stage{Key: StageMFATrust, Applies: func(_ context.Context, l Pending) (bool, error) {
		return l.MFADone && l.Client == "browser" && l.Settings.MFATrustEnabled, nil
	}}
)
