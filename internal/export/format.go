// Package export writes and reads a tenant's portable export: JSON Lines
// with a header, the tenant's settings, one line per user
// (portable.User), periodic checkpoints and a trailer (docs/EXPORT.md).
//
// Secrets (authenticator payloads, settings secrets when asked for) are
// sealed under a key derived from a passphrase with argon2id
// (XChaCha20-Poly1305); every line is chained into an HMAC-SHA256 digest
// under a second key from the same passphrase, which the checkpoints and the
// trailer carry, so that a reader detects a wrong passphrase at the header,
// a truncated file at its end and an altered line at the next checkpoint.
// Writing and reading stream: one line is in memory at a time.
package export

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
)

// Format and Version name the file format in its header.
const (
	Format  = "hallpass-export"
	Version = 1
)

// Settings secrets modes (Options.SettingsSecrets, Header.SettingsSecrets).
const (
	// SecretsOmit leaves settings secrets out of the file (the default).
	SecretsOmit = "omit"
	// SecretsSealed seals them under the passphrase's key.
	SecretsSealed = "sealed"
)

// Header is a file's first line.
type Header struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Tenant  string    `json:"tenant"`
	Created time.Time `json:"created"`
	KDF     KDF       `json:"kdf"`
	// Check is an HMAC under the digest key that proves the passphrase.
	Check string `json:"check"`
	// SettingsSecrets is SecretsOmit or SecretsSealed.
	SettingsSecrets string `json:"settings_secrets"`
}

// Counts are what a file holds.
type Counts struct {
	Users          int64 `json:"users"`
	Emails         int64 `json:"emails"`
	SocialAccounts int64 `json:"social_accounts"`
	Authenticators int64 `json:"authenticators"`
}

// Checkpoint carries the digest of every line before it, so that an
// altered line is found within CheckpointEvery lines.
type Checkpoint struct {
	// Line is the number of lines before this one.
	Line int64 `json:"line"`
	// Digest is the HMAC chain over those lines, hex.
	Digest string `json:"digest"`
}

// Trailer is a file's last line.
type Trailer struct {
	Counts
	// Lines is the number of lines before the trailer.
	Lines int64 `json:"lines"`
	// Digest is the HMAC chain over those lines, hex.
	Digest string `json:"digest"`
}

// Line is one line of a file: exactly one field is set.
type Line struct {
	Header     *Header         `json:"header,omitempty"`
	Settings   json.RawMessage `json:"settings,omitempty"`
	User       *portable.User  `json:"user,omitempty"`
	Checkpoint *Checkpoint     `json:"checkpoint,omitempty"`
	Trailer    *Trailer        `json:"trailer,omitempty"`
}

// kind names the line's one field, or "" when it has none or several.
func (l *Line) kind() string {
	kind, n := "", 0
	for name, set := range map[string]bool{"header": l.Header != nil, "settings": l.Settings != nil, "user": l.User != nil,
		"checkpoint": l.Checkpoint != nil, "trailer": l.Trailer != nil} {
		if set {
			kind, n = name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return kind
}

// CheckpointEvery is how many lines separate checkpoints.
const CheckpointEvery = 1000

// MaxLine bounds one line (a user with three 8 KB documents, addresses,
// accounts and passkeys fits many times over).
const MaxLine = 4 << 20

// chain is the running digest: d(0) = HMAC(k, label), d(n) = HMAC(k, d(n-1)
// ‖ n ‖ line n), so that lines cannot be reordered, dropped or altered.
type chain struct {
	key []byte
	sum []byte
	n   int64
}

func newChain(key []byte) *chain {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hallpass-export v1 digest chain"))
	return &chain{key: key, sum: m.Sum(nil)}
}

func (c *chain) add(line []byte) {
	c.n++
	m := hmac.New(sha256.New, c.key)
	m.Write(c.sum)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(c.n))
	m.Write(n[:])
	m.Write(line)
	c.sum = m.Sum(c.sum[:0])
}

func (c *chain) digest() string { return hex.EncodeToString(c.sum) }

// authenticatorContext binds a sealed authenticator to its user and place.
func authenticatorContext(sourceID string, i int, typ string) string {
	return fmt.Sprintf("user:%s:authenticator:%d:%s", sourceID, i, typ)
}

// settingsContext binds a sealed settings secret to its path.
func settingsContext(path string) string { return "settings:" + path }

// LineError is a problem with one line of a file.
type LineError struct {
	// Line is the 1-based line number.
	Line int64
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }
