package social_test

import (
	"fmt"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// Issue 16 item 1 at SOCIALACCOUNT_EMAIL_AUTHENTICATION: a provider's
// verified look-alike of a local address (victim@straße.de for
// victim@strasse.de) must not log into, nor connect to, the local account;
// a case variant is the same address and does.
func TestEmailAuthenticationLookAlike(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env, srv := googleEnv(t, apitest.Settings{"SOCIALACCOUNT_EMAIL_AUTHENTICATION": true,
				"SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT": true, "ACCOUNT_EMAIL_VERIFICATION": "none"})
			local := env.Client(client).Do("POST", "auth/signup", `{"email":"victim@strasse.de","password":"a long password 1"}`).Status(200)
			victim := local.Path("data.user.id")
			for i, email := range []string{"victim@straße.de", "victim@ſtrasse.de", "victim@ﬆrasse.de", "VİCTIM@strasse.de"} {
				srv.SetUser(oidctest.User{Sub: fmt.Sprintf("g-%d", i), Email: email, EmailVerified: true})
				res := env.Client(client).Do("POST", "auth/provider/token", tokenBody("google", "login",
					map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})}))
				if res.Code == 200 && res.Path("data.user.id") == victim {
					t.Fatalf("provider address %q logged into the account of victim@strasse.de", email)
				}
				var connected int
				if err := env.Accounts.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM social_accounts
					WHERE tenant_id = $1 AND user_id = $2`, env.Tenant.ID, victim).Scan(&connected); err != nil {
					t.Fatal(err)
				}
				if connected != 0 {
					t.Fatalf("provider address %q connected to the account of victim@strasse.de", email)
				}
			}
			// The password of the local account stays (no email authentication happened).
			env.Client(client).Do("POST", "auth/login", `{"email":"victim@strasse.de","password":"a long password 1"}`).Status(200)
			srv.SetUser(oidctest.User{Sub: "g-case", Email: "Victim@STRASSE.de", EmailVerified: true})
			res := env.Client(client).Do("POST", "auth/provider/token", tokenBody("google", "login",
				map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(200)
			if res.Path("data.user.id") != victim {
				t.Fatalf("a case variant logged into %v, want %v", res.Path("data.user.id"), victim)
			}
		})
	}
}
