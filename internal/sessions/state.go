package sessions

import (
	json "github.com/goccy/go-json"
	"slices"
	"time"
)

// AuthRecord is one entry of allauth's authentication log for a session
// (`methods` in responses): which method, when, and its details.
type AuthRecord struct {
	Method          string  `json:"method"`
	At              float64 `json:"at"`
	Email           string  `json:"email,omitempty"`
	Username        string  `json:"username,omitempty"`
	Reauthenticated bool    `json:"reauthenticated,omitempty"`
	// MFA records: the authenticator's type and id; passwordless for a
	// passkey login.
	Type         string `json:"type,omitempty"`
	ID           int64  `json:"id,omitempty"`
	Passwordless bool   `json:"passwordless,omitempty"`
	// Social records: the provider (sub-id) and the account uid.
	Provider string `json:"provider,omitempty"`
	UID      string `json:"uid,omitempty"`
}

// PendingLogin is a login (or signup) that has stages left to pass; it
// lives in the unauthenticated session until it completes or times out.
type PendingLogin struct {
	// UserID is 0 for the decoy login enumeration prevention runs when a
	// signup uses a taken address.
	UserID    int64     `json:"uid"`
	Email     string    `json:"email,omitempty"`
	Signup    bool      `json:"signup,omitempty"`
	Stage     string    `json:"stage"`
	StartedAt time.Time `json:"started_at"`
	// Passkey marks a login by passkey: it needs no further MFA stage.
	Passkey bool `json:"passkey,omitempty"`
	// MFADone records that mfa_authenticate passed in this login (the trust
	// stage may follow).
	MFADone bool `json:"mfa_done,omitempty"`
	// PasskeySignup marks a signup that ends by registering a passkey.
	PasskeySignup bool `json:"passkey_signup,omitempty"`
}

// CodeProcess is a one-time-code flow bound to a session: email
// verification, login by code, or password reset by code. UserID 0 marks
// the decoy run for an unknown address (enumeration prevention).
type CodeProcess struct {
	// ID names the process's attempt counter (newProcessID).
	ID       string `json:"id,omitempty"`
	UserID   int64  `json:"uid"`
	EmailID  int64  `json:"email_id,omitempty"`
	Email    string `json:"email"`
	CodeHash string `json:"code_hash"`
	// Attempts is how many attempts were taken when this copy of the
	// session was saved; the count that decides is in Redis (takeAttempt).
	Attempts  int       `json:"attempts"`
	Resends   int       `json:"resends"`
	Confirmed bool      `json:"confirmed,omitempty"`
	Expires   time.Time `json:"expires"`
}

// State is what a session holds, allauth's session keys as fields.
type State struct {
	UserID  int64         `json:"uid,omitempty"`
	Methods []AuthRecord  `json:"methods,omitempty"`
	Login   *PendingLogin `json:"login,omitempty"`
	// EmailCode is an email verification by code.
	EmailCode *CodeProcess `json:"email_code,omitempty"`
	LoginCode *CodeProcess `json:"login_code,omitempty"`
	ResetCode *CodeProcess `json:"reset_code,omitempty"`
	// EmailChanges counts address changes during a pending verification
	// (ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE).
	EmailChanges int `json:"email_changes,omitempty"`
	// PendingTOTP is the sealed TOTP secret offered for activation.
	PendingTOTP string `json:"totp,omitempty"`
	// Ceremonies holds WebAuthn ceremony states by purpose, each used once.
	Ceremonies map[string][]byte `json:"ceremonies,omitempty"`
	// SocialSignup is a provider login waiting for the signup form.
	SocialSignup *PendingSocialSignup `json:"social_signup,omitempty"`
	// OAuthFlows are the hashes of the provider redirect flows this session
	// started and has not finished (at most MaxOAuthFlows, newest last).
	OAuthFlows []string `json:"oauth_flows,omitempty"`
}

// empty reports whether the state holds nothing (TestSessionStateEmpty
// checks that every field counts).
func (s State) empty() bool {
	return s.UserID == 0 && len(s.Methods) == 0 && s.Login == nil && s.EmailCode == nil && s.LoginCode == nil && s.ResetCode == nil &&
		s.EmailChanges == 0 && s.PendingTOTP == "" && len(s.Ceremonies) == 0 && s.SocialSignup == nil && len(s.OAuthFlows) == 0
}

// The state is stored as its JSON encoding, whole: in Redis inside a cache
// entry (cached.State), and in Postgres as the sessions row's data, except
// the two fields with columns of their own (user_id, methods). durable and
// fromDurable are the Postgres side; a field is persisted by being in the
// struct (TestSessionStateRoundTrip fills every field and reads it back
// through each path).

// durable returns what a sessions row stores of the state: the methods
// column and the data column (everything else but the user).
func (s State) durable() (methods, data []byte) {
	methods, _ = json.Marshal(s.Methods)
	rest := s
	rest.UserID, rest.Methods = 0, nil
	data, _ = json.Marshal(rest)
	return methods, data
}

// fromDurable rebuilds the state from a sessions row's columns.
func fromDurable(userID int64, methods, data []byte) State {
	var s State
	if len(data) > 0 {
		_ = json.Unmarshal(data, &s)
	}
	s.UserID, s.Methods = userID, nil
	_ = json.Unmarshal(methods, &s.Methods)
	return s
}

// clone copies the state deep enough that changing the copy (a request's
// session) cannot change the original (a cache entry shared by requests):
// every slice, map and pointer is copied; with a flow in progress, through
// the state's JSON encoding, which holds every field (TestSessionStateCloneSharesNothing,
// TestSessionStateRoundTrip).
func (s State) clone() State {
	out := s
	out.Methods = slices.Clone(s.Methods)
	out.OAuthFlows = slices.Clone(s.OAuthFlows)
	if s.Login != nil || s.EmailCode != nil || s.LoginCode != nil || s.ResetCode != nil || s.Ceremonies != nil || s.SocialSignup != nil {
		// A flow in progress: rare on the hot path, so the simplest deep
		// copy there is.
		var deep State
		raw, _ := json.Marshal(s)
		_ = json.Unmarshal(raw, &deep)
		deep.Methods, deep.OAuthFlows = out.Methods, out.OAuthFlows
		return deep
	}
	return out
}

// SocialEmail is an address a provider gave for its account.
type SocialEmail struct {
	Address  string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// SocialLogin is a provider account presented to log in or to connect
// (allauth's SocialLogin): who it is at the provider and what the provider
// said about them.
type SocialLogin struct {
	// Provider is the app's sub-id.
	Provider string `json:"provider"`
	UID      string `json:"uid"`
	// Emails are primary first (the first is the signup address).
	Emails   []SocialEmail  `json:"emails,omitempty"`
	Username string         `json:"username,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
	// EmailAuthentication logs into the local account holding one of the
	// provider's verified addresses (SOCIALACCOUNT_EMAIL_AUTHENTICATION or
	// the app's email_authentication).
	EmailAuthentication bool `json:"email_auth,omitempty"`
}

// PendingSocialSignup is a provider login that needs the signup form
// (allauth's pending sociallogin): SOCIALACCOUNT_AUTO_SIGNUP is off, or the
// provider's address is missing or taken.
type PendingSocialSignup struct {
	SocialLogin
	StartedAt time.Time `json:"started_at"`
}

// MaxOAuthFlows is how many provider redirect flows one session keeps open
