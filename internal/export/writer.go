package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// Options configure a Writer.
type Options struct {
	// Tenant is the exported tenant's slug.
	Tenant string
	// Passphrase derives the file's keys; at least 8 bytes.
	Passphrase []byte
	// KDF are the derivation's parameters; zero means DefaultKDF. The salt
	// is always fresh.
	KDF KDF
	// SettingsSecrets is SecretsOmit (default) or SecretsSealed.
	SettingsSecrets string
	// Now is the header's creation time; zero means time.Now.
	Now time.Time
}

// MinPassphrase is the shortest passphrase accepted.
const MinPassphrase = 8

// Writer writes one file: NewWriter writes the header, WriteSettings the
// settings (once, first), WriteUser a user, Close the trailer.
type Writer struct {
	w        *bufio.Writer
	keys     *keys
	chain    *chain
	secrets  string
	counts   Counts
	settings bool
	closed   bool
}

// NewWriter derives the file's keys and writes its header to w.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	if len(opts.Passphrase) < MinPassphrase {
		return nil, fmt.Errorf("export: the passphrase must be at least %d bytes", MinPassphrase)
	}
	switch opts.SettingsSecrets {
	case "":
		opts.SettingsSecrets = SecretsOmit
	case SecretsOmit, SecretsSealed:
	default:
		return nil, fmt.Errorf("export: settings secrets %q: want %s or %s", opts.SettingsSecrets, SecretsOmit, SecretsSealed)
	}
	kdf := opts.KDF
	if kdf.Name == "" {
		kdf = DefaultKDF
	}
	kdf, err := kdf.withSalt()
	if err != nil {
		return nil, err
	}
	k, err := kdf.derive(opts.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	ew := &Writer{w: bufio.NewWriterSize(w, 64<<10), keys: k, chain: newChain(k.mac), secrets: opts.SettingsSecrets}
	h := &Header{Format: Format, Version: Version, Tenant: opts.Tenant, Created: now.UTC().Truncate(time.Second),
		KDF: kdf, Check: k.checkValue(), SettingsSecrets: opts.SettingsSecrets}
	return ew, ew.line(&Line{Header: h})
}

// line encodes l, chains it and writes it; a checkpoint follows every
// CheckpointEvery lines.
func (w *Writer) line(l *Line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("export: encode line %d: %w", w.chain.n+1, err)
	}
	w.chain.add(b)
	if _, err := w.w.Write(append(b, '\n')); err != nil {
		return err
	}
	if l.Trailer == nil && (w.chain.n+1)%CheckpointEvery == 0 {
		return w.line(&Line{Checkpoint: &Checkpoint{Line: w.chain.n, Digest: w.chain.digest()}})
	}
	return nil
}

// WriteSettings writes the tenant's settings overrides (secrets in clear,
// as tenants.Tenant.Overrides holds them): secrets are left out or sealed
// as the Options said. It must come right after NewWriter.
func (w *Writer) WriteSettings(overrides map[string]any) error {
	if w.settings || w.chain.n != 1 {
		return errors.New("export: settings are written once, right after the header")
	}
	w.settings = true
	doc, err := tenants.MapSecrets(overrides, func(path, value string) (string, error) {
		if w.secrets == SecretsOmit {
			return "", nil
		}
		return w.keys.seal([]byte(value), settingsContext(path))
	})
	if err != nil {
		return fmt.Errorf("export: settings: %w", err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("export: settings: %w", err)
	}
	return w.line(&Line{Settings: raw})
}

// WriteUser writes one user; each authenticator's data is sealed, bound to
// the user's SourceID and its place in the list.
func (w *Writer) WriteUser(u *portable.User) error {
	if !w.settings {
		return errors.New("export: settings come before users")
	}
	if w.closed {
		return errors.New("export: writer closed")
	}
	out := *u
	out.Authenticators = make([]portable.Authenticator, len(u.Authenticators))
	for i, a := range u.Authenticators {
		sealed, err := w.keys.seal(a.Data, authenticatorContext(u.SourceID, i, a.Type))
		if err != nil {
			return err
		}
		a.Data, _ = json.Marshal(sealed)
		out.Authenticators[i] = a
	}
	if len(out.Authenticators) == 0 {
		out.Authenticators = nil
	}
	w.counts.Users++
	w.counts.Emails += int64(len(u.Emails))
	w.counts.SocialAccounts += int64(len(u.Socials))
	w.counts.Authenticators += int64(len(u.Authenticators))
	return w.line(&Line{User: &out})
}

// Counts are what was written so far.
func (w *Writer) Counts() Counts { return w.counts }

// Close writes the trailer and flushes; it does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if !w.settings {
		return errors.New("export: no settings written")
	}
	w.closed = true
	if err := w.line(&Line{Trailer: &Trailer{Counts: w.counts, Lines: w.chain.n, Digest: w.chain.digest()}}); err != nil {
		return err
	}
	return w.w.Flush()
}
