package identity

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
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
}

// Summary is what an authentication response shows of the user (the form
// cached with its sessions).
func (u *User) Summary() *SessionUser {
	return &SessionUser{ID: u.ID, Username: u.Username, PrimaryEmail: u.PrimaryEmail, UsablePassword: u.HasUsablePassword(), Active: u.IsActive}
}

// HasUsablePassword reports whether the user can log in with a password.
func (u *User) HasUsablePassword() bool { return IsUsablePassword(u.PasswordHash) }

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

var folder = cases.Fold()

// FoldEmail is the comparison form of an address: case-insensitive as
// allauth compares them.
func FoldEmail(email string) string { return folder.String(strings.TrimSpace(email)) }

// FoldUsername is the comparison form of a username.
func FoldUsername(username string) string { return folder.String(username) }

// NormalizeEmail validates an address the way Django's EmailField does
// (trimmed, a single plain address, at most maxLen characters) and lower-cases
// it, as allauth stores addresses.
func NormalizeEmail(param, email string, maxLen int) (string, *Error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", NewError(param, "required")
	}
	if maxLen > 0 && utf8.RuneCountInString(e) > maxLen {
		return "", NewError(param, "max_length", maxLen)
	}
	addr, err := mail.ParseAddress(e)
	at := strings.LastIndexByte(e, '@')
	if err != nil || addr.Address != e || at < 1 || !strings.Contains(e[at+1:], ".") || strings.ContainsAny(e, " \t\r\n") {
		return "", NewError(param, "invalid_email")
	}
	return strings.ToLower(e), nil
}

var usernamePattern = regexp.MustCompile(`^[\p{L}\p{N}_.@+-]+$`)

// UsernameRules are the tenant's username settings.
type UsernameRules struct {
	MinLength      int
	Blacklist      []string
	PreserveCasing bool
}

// NormalizeUsername validates a username as Django's UnicodeUsernameValidator
// and allauth's clean_username do, and lower-cases it unless casing is preserved.
func NormalizeUsername(param, username string, rules UsernameRules) (string, *Error) {
	u := strings.TrimSpace(username)
	if u == "" {
		return "", NewError(param, "required")
	}
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
	for _, b := range rules.Blacklist {
		if FoldUsername(b) == FoldUsername(u) {
			return "", NewError(param, "username_blacklisted")
		}
	}
	if !rules.PreserveCasing {
		u = strings.ToLower(u)
	}
	return u, nil
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
