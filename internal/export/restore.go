package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// UserWriter writes a batch of users into a tenant (portable.Writer).
type UserWriter interface {
	Write(ctx context.Context, tenant *tenants.Tenant, batch []portable.User) (portable.BatchReport, error)
}

// UserSource gives users one by one: a Reader (a verified export) or a
// LineReader (the management API's body). Next returns io.EOF at the end.
type UserSource interface {
	Next() (*portable.User, error)
	// Line is the number of the line Next last read.
	Line() int64
}

// Report is what an import did.
type Report struct {
	Created        int `json:"created"`
	Updated        int `json:"updated"`
	Emails         int `json:"emails"`
	SocialAccounts int `json:"social_accounts"`
	Authenticators int `json:"authenticators"`
	// Batches is how many batches committed.
	Batches int `json:"batches"`
	// Lines is how many lines were read.
	Lines int64 `json:"lines"`
	// Skipped are the users (or lines) not written, with why.
	Skipped []Skipped `json:"skipped"`
}

// Skipped is one line an import did not write.
type Skipped struct {
	Line     int64  `json:"line"`
	SourceID string `json:"source_id,omitempty"`
	Reason   string `json:"reason"`
}

// MaxSkipped bounds the skipped lines a report lists; the rest are counted.
const MaxSkipped = 1000

// WriteUsers reads src to its end and writes its users into tenant in
// batches of batch users, each batch in one transaction (w). A bad line of a
// LineReader is skipped with its reason; any other error stops the import
// (the batches before it stay written: a re-run updates them, by source id).
// progress, when set, is called after each batch.
func WriteUsers(ctx context.Context, src UserSource, tenant *tenants.Tenant, w UserWriter, batch int, progress func(Report)) (Report, error) {
	var rep Report
	users := make([]portable.User, 0, batch)
	lines := make([]int64, 0, batch)
	flush := func() error {
		if len(users) == 0 {
			return nil
		}
		br, err := w.Write(ctx, tenant, users)
		if err != nil {
			return fmt.Errorf("the batch of lines %d to %d was not written: %w", lines[0], lines[len(lines)-1], err)
		}
		rep.Batches++
		rep.Created += br.Created
		rep.Updated += br.Updated
		rep.Emails += br.Emails
		rep.SocialAccounts += br.Socials
		rep.Authenticators += br.Authenticators
		for _, s := range br.Skipped {
			line := int64(0)
			if s.Index >= 0 && s.Index < len(lines) {
				line = lines[s.Index]
			}
			rep.skip(Skipped{Line: line, SourceID: s.SourceID, Reason: s.Reason})
		}
		users, lines = users[:0], lines[:0]
		if progress != nil {
			progress(rep)
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		u, err := src.Next()
		rep.Lines = src.Line()
		var bad *badLine
		switch {
		case errors.Is(err, io.EOF):
			return rep, flush()
		case errors.As(err, &bad):
			rep.skip(Skipped{Line: bad.line, SourceID: bad.sourceID, Reason: bad.reason})
			continue
		case err != nil:
			return rep, err
		}
		users, lines = append(users, *u), append(lines, src.Line())
		if len(users) == batch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
}

func (r *Report) skip(s Skipped) {
	if len(r.Skipped) < MaxSkipped {
		r.Skipped = append(r.Skipped, s)
	}
}

// badLine is a line a LineReader skips.
type badLine struct {
	line             int64
	sourceID, reason string
}

func (e *badLine) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

// LineReader reads user lines without an export's envelope: each line is
// {"user": {...}} (as in an export) or a bare portable.User, authenticator
// data in clear. Blank lines are ignored. A line that is not a user is
// skipped with its reason; only reading the stream can fail the import.
type LineReader struct {
	br *bufio.Reader
	n  int64
}

// NewLineReader reads user lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Line is the number of the last line read.
func (r *LineReader) Line() int64 { return r.n }

// Next returns the next user.
func (r *LineReader) Next() (*portable.User, error) {
	for {
		raw, err := r.read()
		if err != nil {
			return nil, err
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		return r.decode(raw)
	}
}

func (r *LineReader) read() ([]byte, error) {
	var buf []byte
	for {
		part, err := r.br.ReadSlice('\n')
		buf = append(buf, part...)
		if len(buf) > MaxLine {
			// Skip the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.br.ReadSlice('\n')
			}
			r.n++
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, &badLine{line: r.n, reason: fmt.Sprintf("longer than %d bytes", MaxLine)}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil || (errors.Is(err, io.EOF) && len(buf) > 0):
			r.n++
			return buf, nil
		default:
			return nil, err
		}
	}
}

func (r *LineReader) decode(raw []byte) (*portable.User, error) {
	var env struct {
		User       *portable.User  `json:"user"`
		Header     json.RawMessage `json:"header"`
		Settings   json.RawMessage `json:"settings"`
		Checkpoint json.RawMessage `json:"checkpoint"`
		Trailer    json.RawMessage `json:"trailer"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &badLine{line: r.n, reason: "not a JSON object: " + err.Error()}
	}
	if env.Header != nil || env.Settings != nil || env.Checkpoint != nil || env.Trailer != nil {
		return nil, &badLine{line: r.n, reason: "a line of a full export (its secrets are sealed under a passphrase): import the file with `hallpass import hallpass`"}
	}
	u := env.User
	if u == nil {
		u = &portable.User{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(u); err != nil {
			return nil, &badLine{line: r.n, reason: "not a user: " + err.Error()}
		}
	}
	for i, a := range u.Authenticators {
		if len(a.Data) > 0 && a.Data[0] == '"' {
			return nil, &badLine{line: r.n, sourceID: u.SourceID, reason: fmt.Sprintf("authenticator %d is sealed: import a full export with `hallpass import hallpass`", i)}
		}
	}
	return u, nil
}
