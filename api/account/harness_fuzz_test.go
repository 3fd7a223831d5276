package account_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// The fuzz tests of this package (issue #11) drive the real server in
// process: the input parsers are unexported, so arbitrary bodies and header
// values go through HTTP, as a client would send them. They need the test
// Postgres and Redis:
//
//	set -a && . .data/test.env && set +a
//	go test -run '^$' -fuzz '^FuzzLoginInput$' -fuzztime 60s ./api/account/
//
// Each fuzz function builds its tenant and server once (outside f.Fuzz), so
// an iteration is one in-process request. Rate limits are off in the fuzz
// tenants: a 429 would hide the input handling behind it.
//
// Every answer must be allauth's envelope: never a 5xx, a JSON object whose
// "status" is the HTTP status, a 400 with a non-empty "errors" list of
// {code, message[, param]}, and (checked by apitest) the shape allauth's
// OpenAPI specification gives the endpoint.

const fuzzPassword = "correct horse battery staple"

// fuzzServer is one tenant on one server, and the values of this process
// that fuzz inputs may refer to by placeholder (keys and codes differ per
// process: each fuzz worker builds its own tenant).
type fuzzServer struct {
	env  *apitest.Env
	csrf string            // the browser client's CSRF token
	vals map[string]string // placeholder ("{key}") → value
}

func newFuzzServer(f *testing.F, settings apitest.Settings) *fuzzServer {
	s := apitest.Settings{"ACCOUNT_RATE_LIMITS": false}
	for k, v := range settings {
		s[k] = v
	}
	env := apitest.New(f, s)
	browser := env.Client("browser")
	browser.Do("GET", "config", "").Status(200)
	csrf := browser.Cookie("csrftoken")
	if csrf == "" {
		f.Fatal("no CSRF cookie from GET config")
	}
	return &fuzzServer{env: env, csrf: csrf, vals: map[string]string{}}
}

// expand replaces the placeholders in s by this process's values, each with
// its byte at pos (modulo its length) XORed with edit first, so the fuzzer
// can alter real keys and tokens, not only wrap them (edit 0: intact).
func (s *fuzzServer) expand(in string, pos uint16, edit byte) string {
	for name, v := range s.vals {
		if !strings.Contains(in, name) || v == "" {
			continue
		}
		if edit != 0 {
			b := []byte(v)
			b[int(pos)%len(b)] ^= edit
			v = string(b)
		}
		in = strings.ReplaceAll(in, name, v)
	}
	return in
}

// do sends one request as client ("app" or "browser") and checks the answer.
// headers are name, value pairs; a value a client could not send (control
// characters, too long) skips the input.
func (s *fuzzServer) do(t *testing.T, client, method, path, body string, headers ...string) *apitest.Response {
	t.Helper()
	for i := 1; i < len(headers); i += 2 {
		// A value no client could send is made sendable, so every input
		// still exercises the server.
		headers[i] = sendable(headers[i])
	}
	if client == "browser" && method != "GET" {
		headers = append(headers, "Cookie", "csrftoken="+s.csrf, "X-CSRFToken", s.csrf)
	}
	e := *s.env // the Env reports to this iteration's t, not to the F
	e.T = t
	res := e.Do(client, method, path, body, headers...)
	checkEnvelope(t, method+" "+path, body, headers, res, true)
	return res
}

// sendableHeaderValue reports whether v can travel as an HTTP/1.1 header
// value (RFC 9110 field-value; obs-text allowed) within a sane size.
// sendable replaces what an HTTP client could not put in a header value
// (control characters) and caps the length.
func sendable(v string) string {
	if sendableHeaderValue(v) {
		return v
	}
	if len(v) > 4096 {
		v = v[:4096]
	}
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

func sendableHeaderValue(v string) bool {
	if len(v) > 4096 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkEnvelope asserts the envelope contract. errorsOn400 is false for the
// endpoints where allauth answers a bare {"status": 400} (tokens/refresh).
func checkEnvelope(t *testing.T, what, body string, headers []string, res *apitest.Response, errorsOn400 bool) {
	t.Helper()
	if res.Code >= 500 {
		t.Fatalf("%s → %d for body %q headers %q:\n%s", what, res.Code, body, headers, res.Body)
	}
	if res.JSON == nil {
		t.Fatalf("%s → %d: the body is not a JSON object (body %q headers %q):\n%s", what, res.Code, body, headers, res.Body)
	}
	if st, ok := res.JSON["status"].(float64); !ok || int(st) != res.Code {
		t.Fatalf("%s → HTTP %d, envelope status %v (body %q headers %q):\n%s", what, res.Code, res.JSON["status"], body, headers, res.Body)
	}
	if res.Code != 400 || !errorsOn400 {
		return
	}
	errs, ok := res.JSON["errors"].([]any)
	if !ok || len(errs) == 0 {
		t.Fatalf("%s → 400 without an errors list (body %q headers %q):\n%s", what, body, headers, res.Body)
	}
	for _, e := range errs {
		m, _ := e.(map[string]any)
		code, _ := m["code"].(string)
		msg, _ := m["message"].(string)
		if code == "" || msg == "" {
			t.Fatalf("%s → 400 with a malformed error %v:\n%s", what, e, res.Body)
		}
		if p, has := m["param"]; has {
			if ps, _ := p.(string); ps == "" {
				t.Fatalf("%s → 400 with an empty param in %v:\n%s", what, e, res.Body)
			}
		}
	}
}

// signupUser signs a user up with the app client and returns its session
// token ("" when the signup is pending a stage) and the response.
func (s *fuzzServer) signupUser(f *testing.F, body string) (string, *apitest.Response) {
	c := s.env.Client("app")
	res := c.Do("POST", "auth/signup", body)
	if res.Code != 200 && res.Code != 401 {
		f.Fatalf("signup %s: %d %s", body, res.Code, res.Body)
	}
	return c.Token, res
}

var (
	fuzzCodeLine = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)
	fuzzLinkKey  = regexp.MustCompile(`https://app\.example\.com/(?:verify|reset)/(\S+)`)
)

// mailMatch waits for the tenant's n-th mail and returns re's first group.
func (s *fuzzServer) mailMatch(f *testing.F, n int, re *regexp.Regexp) string {
	msg := s.env.WaitMail(f, n)
	m := re.FindStringSubmatch(msg.Text)
	if m == nil {
		f.Fatalf("mail %d has no %s: %q", n, re, msg.Text)
	}
	return m[1]
}

// jsonBodies are bodies every endpoint must survive: no body, not JSON, not
// an object, wrong types, nulls, oversized and odd strings.
var jsonBodies = []string{
	"", " ", "{}", "[]", "null", "true", "0", `""`, "{", "}", `{"`, `{"a":}`, `{"a":1,}`, "\x00", "\xff\xfe",
	`{"email":null,"username":null,"password":null,"key":null,"code":null}`,
	`{"email":1,"username":[],"password":{},"key":true,"code":1.5}`,
	`{"email":"` + strings.Repeat("a", 300) + `@example.com"}`, `{"password":"` + strings.Repeat("p", 5000) + `"}`,
	`{"email":"\u0000@example.com","password":"\ud800"}`, `{"email":"a@b","email":"c@d"}`,
	`{"__proto__":{"x":1}}`, `{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
}

// lookAlikeBodies are address normalisation seeds (issue 16): look-alikes
// under full case folding (ß, ſ, ligatures, full-width, İ, KELVIN SIGN),
// A-labels, NFD, invalid UTF-8, controls and bidi overrides, in the email
// and username fields.
func lookAlikeBodies(user string) []string {
	var out []string
	local, domain, _ := strings.Cut(user, "@")
	for _, v := range []string{
		user, strings.ToUpper(user), local + "@xn--strae-oqa.de", local + "@straße.de", local + "@ſtrasse.de",
		local + "@ﬆrasse.de", local + "@ｓtrasse.de", "ſ" + user, "ﬁ" + user, "İ" + user, "\u212a" + user, "e\u0301" + user,
		local + "\xff@" + domain, local + "\u202e@" + domain, local + "\u200b@" + domain, local + "@" + strings.ToUpper(domain) + ".",
		local + "@xn--" + domain, local + "@XN--STRAE-OQA.DE",
	} {
		b, _ := json.Marshal(map[string]string{"email": v, "username": strings.ReplaceAll(v, "@", ""), "password": fuzzPassword})
		out = append(out, string(b), strings.Replace(string(b), `\ufffd`, "\xff", 1))
	}
	return out
}
