package social_test

import (
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// A tenant's required signup field (HALLPASS_USER_FIELDS) has no value a
// provider could give: even with SOCIALACCOUNT_AUTO_SIGNUP, the provider
// login stops at the signup form, whose POST takes the declared fields
// flat beside email: refused values answer 400 naming the field and create
// nothing; good ones are the new user's profile.
func TestProviderSignupDeclaredFields(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env, srv := googleEnv(t, apitest.Settings{"HALLPASS_USER_FIELDS": []map[string]any{
				{"name": "first_name", "type": "string", "required": true, "max_length": 20, "signup": true, "user_editable": true},
				{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}, "signup": true},
			}})
			srv.SetUser(oidctest.User{Sub: "g-11", Email: "fay@example.com", EmailVerified: true, Name: "Fay"})
			c := env.Client(client)
			res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(401)
			if !hasFlow(res, "provider_signup", true) || users(t, env) != 0 {
				t.Fatalf("auto signup despite a required field: %s", res.Body)
			}
			c.Do("POST", "auth/provider/signup", `{"email":"fay@example.com"}`).Status(400).Error("first_name", "required")
			c.Do("POST", "auth/provider/signup", `{"email":"fay@example.com","first_name":"Fay","plan":"gold"}`).Status(400).Error("plan", "invalid_choice")
			c.Do("POST", "auth/provider/signup", `{"email":"not an address","first_name":true}`).Status(400).
				Error("email", "invalid").Error("first_name", "invalid")
			if users(t, env) != 0 {
				t.Fatal("a refused provider signup created a user")
			}
			c.Do("POST", "auth/provider/signup", `{"email":"fay@example.com","first_name":"Fay","plan":"pro"}`).Status(200)
			res = c.Do("GET", "account/profile", "").Status(200)
			if res.Path("data.profile.first_name") != "Fay" || res.Path("data.profile.plan") != "pro" || users(t, env) != 1 {
				t.Fatalf("profile: %s", res.Body)
			}
		})
	}
	t.Run("optional fields keep auto signup", func(t *testing.T) {
		env, srv := googleEnv(t, apitest.Settings{"HALLPASS_USER_FIELDS": []map[string]any{
			{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}, "signup": true},
		}})
		srv.SetUser(oidctest.User{Sub: "g-12", Email: "gus@example.com", EmailVerified: true})
		c := env.Client("app")
		c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(200)
		if got := c.Do("GET", "account/profile", "").Status(200).Path("data.profile"); len(got.(map[string]any)) != 0 {
			t.Fatalf("profile: %v", got)
		}
	})
}
