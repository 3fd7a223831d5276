package account_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hallpass/hallpass/api/apitest"
)

// hostileUserAgents are User-Agent values Postgres text cannot take as
// they are: cut at 512 bytes in the middle of "é", a raw 0xFF byte. (A NUL
// never gets this far: the HTTP server refuses it in a header value.)
var hostileUserAgents = map[string]string{
	"split rune": strings.Repeat("a", 511) + "é",
	"raw 0xff":   "Agent/1.0 \xff\xfe",
	"long runes": strings.Repeat("é", 2000),
}

// TestHostileUserAgentStored: logging in with any of these is a normal
// login (200), and the sessions list shows the stored value as valid UTF-8
// without NUL, at most 512 bytes. Before the fix each was a 500 from
// Postgres (invalid byte sequence for encoding "UTF8").
func TestHostileUserAgentStored(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"USERSESSIONS_TRACK_ACTIVITY": true}))
			fe := loggedIn(t, env, client, "ua@example.com")
			for name, ua := range hostileUserAgents {
				other := env.Client(client)
				res := other.Do("POST", "auth/login", `{"email":"ua@example.com","password":"`+pw+`"}`, "User-Agent", ua)
				if res.Code != 200 {
					t.Errorf("%s: login → %d: %s", name, res.Code, res.Body)
					continue
				}
				// A session check with the same agent touches the stored row.
				if res := other.Do("GET", "auth/session", "", "User-Agent", ua); res.Code != 200 {
					t.Errorf("%s: session → %d: %s", name, res.Code, res.Body)
				}
			}
			res := fe.Do("GET", "auth/sessions", "").Status(200)
			if !utf8.Valid(res.Body) {
				t.Fatalf("sessions list is not UTF-8: %q", res.Body)
			}
			list, _ := res.Path("data").([]any)
			if len(list) != 1+len(hostileUserAgents) {
				t.Fatalf("want %d sessions: %s", 1+len(hostileUserAgents), res.Body)
			}
			for _, s := range list {
				ua, _ := s.(map[string]any)["user_agent"].(string)
				if !utf8.ValidString(ua) || strings.ContainsRune(ua, 0) || strings.ContainsRune(ua, utf8.RuneError) && !strings.Contains(ua, "Agent/1.0") || len(ua) > 512 {
					t.Errorf("stored user agent %q", ua)
				}
			}
		})
	}
}
