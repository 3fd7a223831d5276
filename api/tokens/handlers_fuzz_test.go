package tokens_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// HTTP fuzz tests of the JWT strategy's inputs (issue #11): the
// tokens/refresh body and the Authorization header, against the real server
// (test Postgres and Redis needed: set -a && . .data/test.env && set +a).
// "{refresh}" and "{access}" in an input stand for the real tokens of this
// process (each fuzz worker has its own tenant); the token's byte at pos
// (modulo its length) is XORed with edit first, so the fuzzer alters real
// tokens too (edit 0 leaves them intact).

// jwtFuzzEnv is a JWT tenant without refresh-token rotation (a refresh token
// stays valid, so every iteration can present it) and without rate limits,
// with one user's tokens.
type jwtFuzzEnv struct {
	env             *apitest.Env
	access, refresh string
}

func newJWTFuzzEnv(f *testing.F) *jwtFuzzEnv {
	env := apitest.New(f, apitest.Settings{
		"HEADLESS_TOKEN_STRATEGY":           "jwt",
		"HEADLESS_JWT_ALGORITHM":            "EdDSA",
		"HEADLESS_JWT_ROTATE_REFRESH_TOKEN": false,
		"ACCOUNT_LOGIN_METHODS":             []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":             []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":        "none",
		"ACCOUNT_RATE_LIMITS":               false,
	})
	res := env.Client("app").Do("POST", "auth/signup", `{"email":"jo@example.com","password":"`+password+`"}`).Status(200)
	access, _ := res.Path("meta.access_token").(string)
	refresh, _ := res.Path("meta.refresh_token").(string)
	if access == "" || refresh == "" {
		f.Fatalf("no tokens: %s", res.Body)
	}
	return &jwtFuzzEnv{env: env, access: access, refresh: refresh}
}

func (j *jwtFuzzEnv) expand(in string, pos uint16, edit byte) string {
	for name, v := range map[string]string{"{refresh}": j.refresh, "{access}": j.access} {
		if !strings.Contains(in, name) {
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

func (j *jwtFuzzEnv) do(t *testing.T, method, path, body string, headers ...string) *apitest.Response {
	t.Helper()
	e := *j.env // report to this iteration's t
	e.T = t
	res := e.Do("app", method, path, body, headers...)
	if res.Code >= 500 {
		t.Fatalf("%s %s → %d for body %q headers %q:\n%s", method, path, res.Code, body, headers, res.Body)
	}
	if st, ok := res.JSON["status"].(float64); !ok || int(st) != res.Code {
		t.Fatalf("%s %s → HTTP %d, envelope %s (body %q headers %q)", method, path, res.Code, res.Body, body, headers)
	}
	return res
}

// presentedRefresh reads a tokens/refresh body the way allauth's input does
// (the last "refresh_token" wins; a non-string is no token).
func presentedRefresh(body string) string {
	var in struct {
		RefreshToken json.RawMessage `json:"refresh_token"`
	}
	var raw string
	if json.Unmarshal([]byte(body), &in) == nil {
		_ = json.Unmarshal(in.RefreshToken, &raw)
	}
	return raw
}

// FuzzRefreshInput posts arbitrary bodies to tokens/refresh: the answer is
// 200 with a new access token exactly when the body presents the refresh
// token the server issued, byte for byte, and allauth's bare 400 otherwise.
func FuzzRefreshInput(f *testing.F) {
	j := newJWTFuzzEnv(f)
	for _, b := range []string{
		`{"refresh_token":"{refresh}"}`, `{"refresh_token":"{access}"}`, `{"refresh_token":"{refresh}x"}`,
		`{"refresh_token":" {refresh}"}`, `{"refresh_token":"{refresh}="}`, `{"refresh_token":"{refresh}.{refresh}"}`,
		`{"refresh_token":"x","refresh_token":"{refresh}"}`, `{"refresh_token":"{refresh}","refresh_token":1}`,
		`{"refresh_token":["{refresh}"]}`, `{"refresh_token":null}`, `{"refresh_token":""}`, `{"refresh_token":"a.b.c"}`,
		`{"refresh_token":"eyJhbGciOiJub25lIn0.eyJ0b2tlbl91c2UiOiJyZWZyZXNoIn0."}`, `{"Refresh_Token":"{refresh}"}`,
		`{"refresh_token":"{refresh}"} trailing`, `{}`, ``, `null`, `[]`, `{`, "\xff",
		`{"refresh_token":"` + strings.Repeat("a", 9000) + `"}`,
	} {
		f.Add(b, uint16(0), byte(0))
		f.Add(b, uint16(40), byte('A'))
	}
	// The token's last byte, altered: its low bits carry no data.
	f.Add(`{"refresh_token":"{refresh}"}`, uint16(len(j.refresh)-1), byte(0x80))
	f.Fuzz(func(t *testing.T, body string, pos uint16, edit byte) {
		body = j.expand(body, pos, edit)
		res := j.do(t, "POST", "tokens/refresh", body)
		presented := presentedRefresh(body)
		switch res.Code {
		case 200:
			if presented != j.refresh {
				t.Fatalf("tokens/refresh accepted a refresh token the server did not issue:\npresented %q\nissued    %q\nbody %q",
					presented, j.refresh, body)
			}
			if tok, _ := res.Path("data.access_token").(string); tok == "" {
				t.Fatalf("200 without an access token: %s", res.Body)
			}
		case 400:
			if presented == j.refresh && json.Valid([]byte(body)) {
				t.Fatalf("tokens/refresh refused the issued refresh token: body %q → %s", body, res.Body)
			}
		default:
			t.Fatalf("tokens/refresh → %d (want 200 or 400) for body %q: %s", res.Code, body, res.Body)
		}
	})
}

// FuzzBearerInput sends arbitrary Authorization headers to GET auth/session:
// the request is authenticated exactly when the header carries the access
// token the server issued, byte for byte, after the tenant's scheme.
func FuzzBearerInput(f *testing.F) {
	j := newJWTFuzzEnv(f)
	for _, h := range []string{
		"Bearer {access}", "bearer {access}", "BEARER  {access} ", "Bearer {refresh}", "Bearer {access}x", "Bearer x{access}",
		"Bearer {access}=", "Bearer {access}.", "Token {access}", "Bearer", "Bearer ", "{access}", "Basic Zm9vOmJhcg==",
		"Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJ0b2tlbl91c2UiOiJhY2Nlc3MifQ.", "Bearer\t{access}", "",
	} {
		f.Add(h, uint16(0), byte(0))
		f.Add(h, uint16(60), byte('x'))
	}
	f.Add("Bearer {access}", uint16(len(j.access)-1), byte(0x80))
	f.Fuzz(func(t *testing.T, header string, pos uint16, edit byte) {
		header = j.expand(header, pos, edit)
		if !validHeaderValue(header) {
			// What no client could send is made sendable: every input
			// still reaches the server.
			header = strings.Map(func(r rune) rune {
				if r < 0x20 && r != '\t' || r == 0x7f {
					return '?'
				}
				return r
			}, header)
			if len(header) > 4096 {
				header = header[:4096]
			}
		}
		var headers []string
		if header != "" {
			headers = []string{"Authorization", header}
		}
		res := j.do(t, "GET", "auth/session", "", headers...)
		// bearer() in api/headless.go, after HTTP's trimming of the value.
		scheme, cred, _ := strings.Cut(strings.Trim(header, " \t"), " ")
		presented := strings.TrimSpace(cred)
		issued := strings.EqualFold(scheme, "Bearer") && presented == j.access
		switch res.Code {
		case 200:
			if !issued {
				t.Fatalf("authenticated by an access token the server did not issue:\nheader %q\nissued %q", header, j.access)
			}
		case 401:
			if issued {
				t.Fatalf("the issued access token did not authenticate: header %q → %s", header, res.Body)
			}
		default:
			t.Fatalf("GET auth/session → %d (want 200 or 401) for Authorization %q: %s", res.Code, header, res.Body)
		}
	})
}

// validHeaderValue reports whether v can travel as an HTTP/1.1 header value.
func validHeaderValue(v string) bool {
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
