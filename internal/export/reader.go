package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// Reader reads one file: NewReader reads and checks the header and the
// settings, Next returns users one by one and, at the end, checks the
// trailer. An altered line is found at the next checkpoint (at most
// CheckpointEvery lines later), so a caller that must write nothing from an
// altered file reads it twice: Verify, then Next.
type Reader struct {
	br       *bufio.Reader
	keys     *keys
	chain    *chain
	header   Header
	settings map[string]any
	counts   Counts
	// lastCheck is the line of the last checkpoint that matched.
	lastCheck int64
	done      bool
}

// ErrTruncated is returned (in a LineError) when a file ends before its trailer.
var ErrTruncated = errors.New("the file ends before its trailer: it is truncated (the export was cut short or the copy is incomplete)")

// NewReader reads the header, derives the keys from passphrase (checking
// it before anything else is read) and reads the settings line.
func NewReader(r io.Reader, passphrase []byte) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	raw, err := rd.readLine(1)
	if err != nil {
		return nil, err
	}
	var l Line
	if err := json.Unmarshal(raw, &l); err != nil || l.kind() != "header" {
		return nil, &LineError{1, errors.New("not a Hallpass export: the first line is not its header")}
	}
	h := *l.Header
	if h.Format != Format {
		return nil, &LineError{1, fmt.Errorf("not a Hallpass export: format %q", h.Format)}
	}
	if h.Version != Version {
		return nil, &LineError{1, fmt.Errorf("export format version %d: this Hallpass reads version %d", h.Version, Version)}
	}
	if h.SettingsSecrets != SecretsOmit && h.SettingsSecrets != SecretsSealed {
		return nil, &LineError{1, fmt.Errorf("unknown settings_secrets %q", h.SettingsSecrets)}
	}
	if rd.keys, err = h.KDF.derive(passphrase); err != nil {
		return nil, &LineError{1, err}
	}
	if !hmacEqual(rd.keys.checkValue(), h.Check) {
		return nil, ErrWrongPassphrase
	}
	rd.header = h
	rd.chain = newChain(rd.keys.mac)
	rd.chain.add(raw)
	if raw, err = rd.readLine(2); err != nil {
		return nil, err
	}
	l = Line{}
	if err := json.Unmarshal(raw, &l); err != nil || l.kind() != "settings" {
		return nil, &LineError{2, errors.New("the second line is not the settings line")}
	}
	var doc map[string]any
	if err := json.Unmarshal(l.Settings, &doc); err != nil || doc == nil {
		return nil, &LineError{2, errors.New("the settings are not a JSON object")}
	}
	rd.settings, err = tenants.MapSecrets(doc, func(path, value string) (string, error) {
		if !isSealed(value) {
			return value, nil
		}
		pt, err := rd.keys.open(value, settingsContext(path))
		if err != nil {
			return "", fmt.Errorf("settings secret %s: %w", path, err)
		}
		return string(pt), nil
	})
	if err != nil {
		return nil, &LineError{2, err}
	}
	rd.chain.add(raw)
	return rd, nil
}

func hmacEqual(a, b string) bool { return len(a) == len(b) && subtleEqual([]byte(a), []byte(b)) }

// Header is the file's header.
func (r *Reader) Header() Header { return r.header }

// Settings are the tenant's settings overrides, sealed secrets opened
// (omitted ones are absent).
func (r *Reader) Settings() map[string]any { return r.settings }

// Counts are what was read so far; after Next returned io.EOF, the file's.
func (r *Reader) Counts() Counts { return r.counts }

// Line is the number of the last line read.
func (r *Reader) Line() int64 { return r.chain.n }

// readLine reads line n (without its newline); a file that ends first is
// truncated.
func (r *Reader) readLine(n int64) ([]byte, error) {
	var buf []byte
	for {
		part, err := r.br.ReadSlice('\n')
		buf = append(buf, part...)
		if len(buf) > MaxLine {
			return nil, &LineError{n, fmt.Errorf("longer than %d bytes", MaxLine)}
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 {
				return nil, &LineError{n, errors.New("the line is cut short (no newline): the file is truncated")}
			}
			return nil, &LineError{n, ErrTruncated}
		default:
			return nil, &LineError{n, err}
		}
	}
}

// Next returns the next user, its authenticators' data opened, or io.EOF
// once the trailer has been read and matched.
func (r *Reader) Next() (*portable.User, error) {
	for {
		if r.done {
			return nil, io.EOF
		}
		n := r.chain.n + 1
		raw, err := r.readLine(n)
		if err != nil {
			return nil, err
		}
		var l Line
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, &LineError{n, fmt.Errorf("not JSON: %v", err)}
		}
		kind := l.kind()
		if (kind == "checkpoint") != (n%CheckpointEvery == 0) && kind != "" {
			return nil, &LineError{n, fmt.Errorf("a %s where the file has no such line: lines were added or removed after the export", kind)}
		}
		switch kind {
		case "checkpoint":
			if l.Checkpoint.Line != n-1 || !hmacEqual(l.Checkpoint.Digest, r.chain.digest()) {
				return nil, r.altered(n)
			}
			r.lastCheck = n
			r.chain.add(raw)
		case "trailer":
			return nil, r.trailer(n, l.Trailer)
		case "user":
			r.chain.add(raw)
			u, err := r.openUser(l.User)
			if err != nil {
				return nil, &LineError{n, err}
			}
			return u, nil
		default:
			return nil, &LineError{n, errors.New("not a user, checkpoint or trailer line")}
		}
	}
}

// altered reports a digest mismatch found at line n.
func (r *Reader) altered(n int64) error {
	return &LineError{n, fmt.Errorf("digest mismatch: lines %d to %d were altered after the export (or the file is from another export)", r.lastCheck+1, n-1)}
}

func (r *Reader) trailer(n int64, t *Trailer) error {
	if t.Lines != n-1 || !hmacEqual(t.Digest, r.chain.digest()) {
		return r.altered(n)
	}
	if t.Counts != r.counts {
		return &LineError{n, fmt.Errorf("the trailer counts %+v, the file holds %+v", t.Counts, r.counts)}
	}
	if rest, _ := r.br.Peek(1); len(rest) > 0 {
		return &LineError{n + 1, errors.New("data after the trailer")}
	}
	r.done = true
	return io.EOF
}

// openUser opens a user's sealed authenticators and counts what it holds.
func (r *Reader) openUser(u *portable.User) (*portable.User, error) {
	for i := range u.Authenticators {
		a := &u.Authenticators[i]
		var sealed string
		if err := json.Unmarshal(a.Data, &sealed); err != nil || !isSealed(sealed) {
			return nil, fmt.Errorf("user %q: authenticator %d is not sealed", u.SourceID, i)
		}
		pt, err := r.keys.open(sealed, authenticatorContext(u.SourceID, i, a.Type))
		if err != nil {
			return nil, fmt.Errorf("user %q: authenticator %d (%s): %w", u.SourceID, i, a.Type, err)
		}
		if !json.Valid(pt) {
			return nil, fmt.Errorf("user %q: authenticator %d (%s): not JSON", u.SourceID, i, a.Type)
		}
		a.Data = bytes.Clone(pt)
	}
	r.counts.Users++
	r.counts.Emails += int64(len(u.Emails))
	r.counts.SocialAccounts += int64(len(u.Socials))
	r.counts.Authenticators += int64(len(u.Authenticators))
	return u, nil
}

// Verify reads the rest of the file, checking every line, its digest and
// the trailer; it returns the file's counts.
func (r *Reader) Verify() (Counts, error) {
	for {
		if _, err := r.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return r.counts, nil
			}
			return r.counts, err
		}
	}
}
