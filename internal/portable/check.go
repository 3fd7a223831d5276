package portable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/identity/bulk"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// Bounds of the columns a user's fields go to.
const (
	maxSourceID = 255
	maxUsername = 150 // Django's AbstractUser.username
	maxEmail    = 254 // Django's EmailField
	maxProvider = 200
	maxUID      = 191
	maxHash     = 1024
)

// checked is a user converted to the rows the owning packages write.
type checked struct {
	user    bulk.ImportUser
	socials []social.ImportAccount
	auths   []mfa.ImportAuthenticator
}

// Check reports what is wrong with u for a tenant with settings, without
// the database: the first problem found, phrased for an import report;
// nil when the writer would try to write u (it may still clash with the
// tenant's other users). Importers run it on every row, also in a dry run.
func Check(u *User, settings *tenants.Settings) error {
	_, err := check(u, 0, settings, time.Now())
	return err
}

func check(u *User, idx int, settings *tenants.Settings, now time.Time) (*checked, error) {
	if u.SourceID == "" || len(u.SourceID) > maxSourceID || !pgtext.Valid(u.SourceID) {
		return nil, fmt.Errorf("source_id must be 1 to %d bytes of text", maxSourceID)
	}
	c := &checked{user: bulk.ImportUser{
		Index: idx, SourceID: u.SourceID, Username: u.Username, IsActive: u.IsActive,
		DateJoined: u.DateJoined, LastLogin: u.LastLogin,
	}}
	if u.Username != "" {
		key, err := address.UsernameKey(u.Username)
		if err != nil || len(u.Username) > maxUsername {
			return nil, fmt.Errorf("username %q is not a valid username", u.Username)
		}
		c.user.UsernameKey = key
	}
	if c.user.DateJoined.IsZero() {
		c.user.DateJoined = now
	}
	if len(u.PasswordHash) > maxHash || !pgtext.Valid(u.PasswordHash) {
		return nil, errors.New("password hash is too long or not text")
	}
	if err := passwords.CheckHash(u.PasswordHash); err != nil {
		return nil, fmt.Errorf("password hash: %s", hashFormat(u.PasswordHash, err))
	}
	c.user.PasswordHash = u.PasswordHash
	if c.user.PasswordHash == "" {
		c.user.PasswordHash = "!"
	}
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]byte
	}{{userdata.Profile, u.Profile, &c.user.Profile}, {userdata.PublicMetadata, u.PublicMetadata, &c.user.PublicMetadata},
		{userdata.PrivateMetadata, u.PrivateMetadata, &c.user.PrivateMetadata}} {
		raw := bytes.TrimSpace(d.raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		if _, err := userdata.ParseDocument(d.name, raw); err != nil {
			return nil, fmt.Errorf("%s: %v", d.name, err)
		}
		*d.dst = raw
	}
	primaries := 0
	seen := map[string]bool{}
	for _, e := range u.Emails {
		key, err := address.EmailKey(e.Email)
		if err != nil || len(e.Email) > maxEmail {
			return nil, fmt.Errorf("email %q is not a valid address", e.Email)
		}
		if seen[key] {
			return nil, fmt.Errorf("email %q is listed twice", e.Email)
		}
		seen[key] = true
		if e.Primary {
			primaries++
		}
		c.user.Emails = append(c.user.Emails, bulk.ImportEmail{Email: address.Stored(e.Email), EmailKey: key, Verified: e.Verified, Primary: e.Primary})
	}
	if primaries > 1 {
		return nil, errors.New("more than one primary email")
	}
	accounts := map[[2]string]bool{}
	for _, s := range u.Socials {
		if s.Provider == "" || len(s.Provider) > maxProvider || !pgtext.Valid(s.Provider) ||
			s.UID == "" || len(s.UID) > maxUID || !pgtext.Valid(s.UID) {
			return nil, fmt.Errorf("social account %q/%q: provider and uid must be text of 1 to %d and %d bytes", s.Provider, s.UID, maxProvider, maxUID)
		}
		if accounts[[2]string{s.Provider, s.UID}] {
			return nil, fmt.Errorf("social account %s/%s is listed twice", s.Provider, s.UID)
		}
		accounts[[2]string{s.Provider, s.UID}] = true
		extra, err := extraData(s.ExtraData)
		if err != nil {
			return nil, fmt.Errorf("social account %s/%s: extra_data %v", s.Provider, s.UID, err)
		}
		c.socials = append(c.socials, social.ImportAccount{Index: idx, Provider: s.Provider, UID: s.UID, ExtraData: extra,
			LastLogin: s.LastLogin, DateJoined: s.DateJoined})
	}
	types := map[string]bool{}
	for _, a := range u.Authenticators {
		if a.Type != TypeWebAuthn && types[a.Type] {
			return nil, fmt.Errorf("two %s authenticators", a.Type)
		}
		types[a.Type] = true
		ia := mfa.ImportAuthenticator{Index: idx, Type: a.Type, Data: a.Data, CreatedAt: a.CreatedAt, LastUsedAt: a.LastUsedAt}
		if err := ia.PrepareImport(settings); err != nil {
			return nil, fmt.Errorf("%s authenticator: %v", a.Type, err)
		}
		c.auths = append(c.auths, ia)
	}
	return c, nil
}

// extraData is a social account's extra data as jsonb takes it: an
// object, NULs dropped (as social stores what a provider says).
func extraData(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return []byte("{}"), nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("is not a JSON object")
	}
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw, nil
	}
	return pgtext.Marshal(m)
}

// hashFormat says why a hash is refused, naming its algorithm when it
// has one (the part before the first "$", when it looks like a name), never
// the hash itself.
func hashFormat(hash string, err error) string {
	msg := strings.TrimPrefix(err.Error(), passwords.ErrUnknownHashFormat.Error()+": ")
	name, _, found := strings.Cut(hash, "$")
	if !found || !algorithmName.MatchString(name) {
		return msg + " (no algorithm prefix)"
	}
	return fmt.Sprintf("%s (algorithm %q)", msg, name)
}

var algorithmName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
