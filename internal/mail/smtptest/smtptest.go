// Package smtptest runs a small, real SMTP server on 127.0.0.1 for tests:
// it accepts what go-mail submits (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT; no AUTH, no TLS), records every message and decodes its text part.
// It can be stopped and restarted on the same port, to play an SMTP outage,
// and can refuse DATA with a 4xx, to play a transient failure.
package smtptest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxMessageSize bounds one message's DATA.
const maxMessageSize = 10 << 20

// Received is one message the server accepted.
type Received struct {
	// From is the envelope sender (MAIL FROM), without angle brackets.
	From string
	// To are the envelope recipients (RCPT TO), without angle brackets.
	To []string
	// Data is the message as transmitted, dot-unstuffed, with CRLF line ends.
	Data []byte
	// Header is the parsed message header (nil if the data did not parse).
	Header netmail.Header
	// MessageID is the Message-ID header, angle brackets included.
	MessageID string
	// Subject is the decoded Subject header.
	Subject string
	// Text is the decoded text/plain part ("" if none).
	Text string
	// HTML is the decoded text/html part ("" if none).
	HTML string
	// ParseError says why the data could not be decoded, if it could not.
	ParseError error
}

// Server is a running test SMTP server.
type Server struct {
	addr string

	mu          sync.Mutex
	ln          net.Listener
	conns       map[net.Conn]struct{}
	msgs        []Received
	rejectData  bool
	rejected    int
	connections int
	wg          sync.WaitGroup
}

// Start starts a server on 127.0.0.1 on a free port; it is stopped when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Listen starts a server that lives until Stop, for a test binary to share
// across its tests.
func Listen() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s := &Server{addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	s.serve(ln)
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server as a HALLPASS_SMTP_URL: smtp://127.0.0.1:port.
func (s *Server) URL() string { return "smtp://" + s.addr }

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor waits until at least n messages have been accepted and returns
// them all; it fails the test if that takes longer than timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: got %d message(s) within %v, want %d", len(msgs), timeout, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// RejectData makes the server answer DATA with "451 4.3.0" (a transient
// failure) while on is true.
func (s *Server) RejectData(on bool) {
	s.mu.Lock()
	s.rejectData = on
	s.mu.Unlock()
}

// Rejected is how many DATA commands the server has refused.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Connections is how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Stop closes the listener and every open connection: clients then fail to
// connect, as when the SMTP server is down. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.wg.Wait()
}

// Restart listens again on the same address after Stop. Recorded messages
// are kept.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.ln != nil
	s.mu.Unlock()
	if running {
		return nil
	}
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("smtptest: restart on %s: %w", s.addr, err)
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.ln != ln { // stopped meanwhile
				s.mu.Unlock()
				_ = c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.connections++
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.session(c)
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
		}
	}()
}

// session speaks SMTP on one connection.
func (s *Server) session(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			if _, err := w.WriteString(l + "\r\n"); err != nil {
				return false
			}
		}
		return w.Flush() == nil
	}
	if !reply("220 smtptest ESMTP ready") {
		return
	}
	var (
		from    string
		hasFrom bool
		rcpts   []string
	)
	reset := func() { from, hasFrom, rcpts = "", false, nil }
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		line, err := readLine(r)
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		var ok bool
		switch verb {
		case "EHLO":
			reset()
			ok = reply("250-smtptest greets "+arg, "250-8BITMIME", "250-SMTPUTF8", "250 SIZE 10485760")
		case "HELO":
			reset()
			ok = reply("250 smtptest greets " + arg)
		case "MAIL":
			addr, good := pathArg(arg, "FROM:")
			switch {
			case !good:
				ok = reply("501 5.5.4 Syntax: MAIL FROM:<address>")
			case hasFrom:
				ok = reply("503 5.5.1 Sender already given")
			default:
				from, hasFrom = addr, true
				ok = reply("250 2.1.0 Ok")
			}
		case "RCPT":
			addr, good := pathArg(arg, "TO:")
			switch {
			case !hasFrom:
				ok = reply("503 5.5.1 Need MAIL first")
			case !good || addr == "":
				ok = reply("501 5.5.4 Syntax: RCPT TO:<address>")
			default:
				rcpts = append(rcpts, addr)
				ok = reply("250 2.1.5 Ok")
			}
		case "DATA":
			if len(rcpts) == 0 {
				ok = reply("503 5.5.1 Need RCPT first")
				break
			}
			s.mu.Lock()
			refuse := s.rejectData
			if refuse {
				s.rejected++
			}
			s.mu.Unlock()
			if refuse {
				reset()
				ok = reply("451 4.3.0 Temporarily unable to accept mail, try again later")
				break
			}
			if !reply("354 End data with <CR><LF>.<CR><LF>") {
				return
			}
			data, err := readData(r)
			if err != nil {
				if errors.Is(err, errTooBig) {
					reset()
					ok = reply("552 5.3.4 Message too big")
					break
				}
				return
			}
			msg := parse(data)
			msg.From, msg.To = from, rcpts
			s.mu.Lock()
			s.msgs = append(s.msgs, msg)
			n := len(s.msgs)
			s.mu.Unlock()
			reset()
			ok = reply(fmt.Sprintf("250 2.0.0 Ok: queued as %d", n))
		case "RSET":
			reset()
			ok = reply("250 2.0.0 Ok")
		case "NOOP":
			ok = reply("250 2.0.0 Ok")
		case "VRFY":
			ok = reply("252 2.1.5 Cannot VRFY user")
		case "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			ok = reply("502 5.5.2 Command not recognized")
		}
		if !ok {
			return
		}
	}
}

var errTooBig = errors.New("smtptest: message too big")

// readLine reads one command line without its line end.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) > 4096 {
		return "", errors.New("smtptest: command line too long")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readData reads DATA up to the lone "." line, undoing dot-stuffing, and
// returns it with CRLF line ends.
func readData(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	tooBig := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".")
		if buf.Len()+len(line) > maxMessageSize {
			tooBig = true
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
	}
	if tooBig {
		return nil, errTooBig
	}
	return buf.Bytes(), nil
}

// pathArg parses "FROM:<addr> PARAMS" (or "TO:..."), returning addr.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	path, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(path, "<") || !strings.HasSuffix(path, ">") {
		return "", false
	}
	return path[1 : len(path)-1], true
}

// parse decodes a message's header, subject and text parts.
func parse(data []byte) Received {
	rc := Received{Data: data}
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		rc.ParseError = err
		return rc
	}
	rc.Header = m.Header
	rc.MessageID = m.Header.Get("Message-Id")
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(m.Header.Get("Subject")); err == nil {
		rc.Subject = subj
	} else {
		rc.Subject = m.Header.Get("Subject")
	}
	rc.ParseError = walk(&rc, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return rc
}

// walk decodes one MIME entity, descending into multiparts, and keeps the
// first text/plain and text/html parts.
func walk(rc *Received, contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("smtptest: content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: multipart: %w", err)
			}
			if err := walk(rc, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("smtptest: decode %s: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && rc.Text == "":
		rc.Text = text
	case mediaType == "text/html" && rc.HTML == "":
		rc.HTML = text
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies are wrapped with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
