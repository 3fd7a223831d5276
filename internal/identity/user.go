package identity

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/sessions"
)

// User is one account of a tenant.
type User struct {
	ID           int64
	Username     string // "" when the tenant has no usernames
	PasswordHash string
	IsActive     bool
	DateJoined   time.Time
	LastLogin    *time.Time
	// FailedLogins counts wrong passwords since the last success or reset.
	FailedLogins int
	// PrimaryEmail is the user's primary address, "" if none.
	PrimaryEmail string
	// MatchedEmail is, for a user found by address (Store.UsersByEmail),
	// that address as the user stored it: the one to mail, whatever the
	// lookup's spelling. "" otherwise.
	MatchedEmail string
}

// Summary is what an authentication response shows of the user (the form
// cached with its sessions).
func (u *User) Summary() *sessions.User {
	return &sessions.User{ID: u.ID, Username: u.Username, PrimaryEmail: u.PrimaryEmail, UsablePassword: u.HasUsablePassword(), Active: u.IsActive}
}

// HasUsablePassword reports whether the user can log in with a password.
func (u *User) HasUsablePassword() bool { return passwords.IsUsable(u.PasswordHash) }

// Display is how allauth shows a user: the username, else Django's
// verbose name for the model.
func (u *User) Display() string {
	if u.Username != "" {
		return u.Username
	}
	return "user"
}

// EmailAddress is one address of a user.
type EmailAddress struct {
	ID       int64
	UserID   int64
	Email    string
	Verified bool
	Primary  bool
}

// EmailKey is the comparison form of an address (address.EmailKey):
// case-insensitive, yet never the key of two different addresses (no ß→ss,
// ſ→s or ligature folding; IDNA domains in A-label form). An address with no
// key (invalid) matches nothing.
func EmailKey(email string) (string, error) { return address.EmailKey(email) }

// UsernameKey is the comparison form of a username (address.UsernameKey).
func UsernameKey(username string) (string, error) { return address.UsernameKey(username) }

// SameEmail reports whether two addresses are one (both valid, one key).
func SameEmail(a, b string) bool { return address.SameEmail(a, b) }

// sameEmail reports whether two addresses (typed or stored) are one: equal
// emailKey.
func sameEmail(a, b string) bool { return emailKey(a) == emailKey(b) }

// emailKey is the key of an address for queries and locks: EmailKey, or,
// for an address with no key (one stored before the rules of
// address.EmailKey, see migration 00013), a form no valid key can take (a
// key never holds a space), so that it matches only itself.
func emailKey(email string) string {
	if k, err := address.EmailKey(email); err == nil {
		return k
	}
	return " " + email
}

// usernameKey is UsernameKey for queries, with emailKey's fallback.
func usernameKey(username string) string {
	if k, err := address.UsernameKey(username); err == nil {
		return k
	}
	return " " + username
}

// NormalizeEmail validates an address the way Django's EmailField does
// (trimmed, a single plain address, at most maxLen characters), and as
// address.EmailKey requires (valid UTF-8 with no control or format
// characters, a domain IDNA accepts unchanged but for case), and returns the
// form allauth stores: NFC and lower-cased (along 1:1 case pairs only; see
// package address). Invalid bytes are refused, never replaced by U+FFFD.
func NormalizeEmail(param, email string, maxLen int) (string, *Error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", NewError(param, "required")
	}
	if maxLen > 0 && utf8.RuneCountInString(e) > maxLen {
		return "", NewError(param, "max_length", maxLen)
	}
	if !address.ValidText(e) {
		return "", NewError(param, "invalid_email")
	}
	e = norm.NFC.String(e)
	addr, err := mail.ParseAddress(e)
	at := strings.LastIndexByte(e, '@')
	if err != nil || addr.Address != e || at < 1 || !strings.Contains(e[at+1:], ".") {
		return "", NewError(param, "invalid_email")
	}
	if _, err := address.EmailKey(e); err != nil {
		return "", NewError(param, "invalid_email")
	}
	stored := address.Stored(e)
	if maxLen > 0 && utf8.RuneCountInString(stored) > maxLen {
		return "", NewError(param, "max_length", maxLen)
	}
	return stored, nil
}

var usernamePattern = regexp.MustCompile(`^[\p{L}\p{N}_.@+-]+$`)

// UsernameRules are the tenant's username settings.
type UsernameRules struct {
	MinLength      int
	Blacklist      []string
	PreserveCasing bool
}

// NormalizeUsername validates a username as Django's UnicodeUsernameValidator
// and allauth's clean_username do, after NFC (invalid UTF-8 and U+FFFD are
// refused), and lower-cases it (along 1:1 case pairs, as UsernameKey)
// unless casing is preserved. Unlike Django it does not apply NFKC: ſam and
// ﬁn stay themselves, different usernames from sam and fin.
func NormalizeUsername(param, username string, rules UsernameRules) (string, *Error) {
	u := strings.TrimSpace(username)
	if u == "" {
		return "", NewError(param, "required")
	}
	if !address.ValidText(u) {
		return "", NewError(param, "invalid_username")
	}
	u = norm.NFC.String(u)
	n := utf8.RuneCountInString(u)
	if n > 150 {
		return "", NewError(param, "max_length", 150)
	}
	if n < max(rules.MinLength, 1) {
		return "", NewError(param, "min_length", max(rules.MinLength, 1))
	}
	if !usernamePattern.MatchString(u) {
		return "", NewError(param, "invalid_username")
	}
	if blacklisted(rules.Blacklist, u) {
		return "", NewError(param, "username_blacklisted")
	}
	if !rules.PreserveCasing {
		u = address.CaseKey(u)
	}
	return u, nil
}

// blacklisted reports whether a username is on the blacklist, compared by
// UsernameKey.
func blacklisted(list []string, username string) bool {
	k := usernameKey(username)
	for _, b := range list {
		if bk, err := address.UsernameKey(strings.TrimSpace(b)); err == nil && bk == k {
			return true
		}
	}
	return false
}

// usernameBase derives a username from an email address, as allauth's
// generate_unique_username does when signup asks for no username: the local
// part, restricted to allowed characters, or "user".
func usernameBase(email string) string {
	local, _, _ := strings.Cut(email, "@")
	var b strings.Builder
	for _, r := range strings.ToLower(local) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_.@+-", r)) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" {
		return "user"
	}
	if len(s) > 140 {
		s = s[:140]
	}
	return s
}
