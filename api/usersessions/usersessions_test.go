package usersessions_test

import (
	"fmt"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const pw = "correct horse battery"

// settings are an email-login tenant without verification, with extra.
func settings(extra apitest.Settings) apitest.Settings {
	out := apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// loggedIn signs up a user and returns the logged-in client.
func loggedIn(t *testing.T, env *apitest.Env, client, email string) *apitest.Client {
	t.Helper()
	fe := env.Client(client)
	fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw+`"}`).Status(200)
	return fe
}

func TestUserSessions(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, settings(apitest.Settings{"USERSESSIONS_TRACK_ACTIVITY": true}))
			fe := loggedIn(t, env, client, "jon@example.com")
			other := env.Client("app")
			other.Do("POST", "auth/login", `{"email":"jon@example.com","password":"`+pw+`"}`, "User-Agent", "Other/1.0").Status(200)
			res := fe.Do("GET", "auth/sessions", "").Status(200)
			list := res.Path("data").([]any)
			if len(list) != 2 {
				t.Fatalf("%s", res.Body)
			}
			var otherID, mine float64
			for _, s := range list {
				m := s.(map[string]any)
				if m["last_seen_at"] == nil {
					t.Fatalf("track activity: %s", res.Body)
				}
				if m["is_current"] == true {
					mine = m["id"].(float64)
				} else {
					otherID = m["id"].(float64)
				}
			}
			fe.Do("DELETE", "auth/sessions", `{"sessions":[999999999]}`).Status(400)
			res = fe.Do("DELETE", "auth/sessions", fmt.Sprintf(`{"sessions":[%d]}`, int64(otherID))).Status(200)
			if len(res.Path("data").([]any)) != 1 {
				t.Fatalf("%s", res.Body)
			}
			other.Do("GET", "auth/session", "").Status(410)
			fe.Do("DELETE", "auth/sessions", fmt.Sprintf(`{"sessions":[%d]}`, int64(mine))).Status(401)
			if client == "app" {
				fe.Do("GET", "auth/session", "").Status(410)
			} else {
				fe.Do("GET", "auth/session", "").Status(401)
			}
		})
	}
	t.Run("app not installed", func(t *testing.T) {
		env := apitest.New(t, settings(apitest.Settings{"HALLPASS_APPS": []string{"mfa"}}))
		fe := loggedIn(t, env, "app", "kay@example.com")
		fe.Do("GET", "auth/sessions", "").Status(404)
	})
}
