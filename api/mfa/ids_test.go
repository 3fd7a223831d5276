package mfa_test

import (
	"fmt"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

// webAuthnIDs lists the ids and names of the WebAuthn authenticators GET
// account/authenticators shows, in its order.
func webAuthnIDs(t *testing.T, fe *apitest.Client) (ids []int64, names []string) {
	t.Helper()
	res := fe.Do("GET", "account/authenticators", "").Status(200)
	list, _ := res.Path("data").([]any)
	for _, x := range list {
		m := x.(map[string]any)
		if m["type"] != "webauthn" {
			continue
		}
		id, ok := m["id"].(float64)
		if !ok || id < 1 || id > 1<<53-1 {
			t.Fatalf("webauthn id %v: %s", m["id"], res.Body)
		}
		ids = append(ids, int64(id))
		names = append(names, m["name"].(string))
	}
	return ids, names
}

// Issue #16, item 10: authenticator ids shown to a tenant's users do not
// count the other tenants' authenticators (they came from one sequence, so
// a user's key id told the platform's MFA volume and, twice, its growth
// rate); a user's keys are still listed oldest first.
func TestAuthenticatorIDsTellNothingOfOtherTenants(t *testing.T) {
	busy := apitest.New(t, with(nil))
	var highest int64
	for i := range 3 {
		fe, _ := enableTOTP(t, busy, "app", fmt.Sprintf("busy%d@example.com", i))
		auth := webauthntest.New(origin, apitest.PlatformHost)
		addKey(t, fe, auth, false)
		addKey(t, fe, webauthntest.New(origin, apitest.PlatformHost), false)
		ids, _ := webAuthnIDs(t, fe)
		for _, id := range ids {
			highest = max(highest, id)
		}
	}

	fresh := apitest.New(t, with(nil))
	fe := fresh.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"first@example.com","password":"`+pw+`"}`).Status(200)
	var want []string
	for i := range 4 {
		name := fmt.Sprintf("key %d", i)
		added := addKey(t, fe, webauthntest.New(origin, apitest.PlatformHost), false)
		id := int64(added["data"].(map[string]any)["id"].(float64))
		fe.Do("PUT", "account/authenticators/webauthn", fmt.Sprintf(`{"id":%d,"name":%q}`, id, name)).Status(200)
		want = append(want, name)
		if i == 0 && id > highest && id <= highest+20 {
			t.Fatalf("a new tenant's first authenticator id is %d, right after the other tenant's highest %d", id, highest)
		}
	}
	ids, names := webAuthnIDs(t, fe)
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("keys listed as %v (ids %v), want oldest first %v", names, ids, want)
	}
	consecutive := 0
	for i := 1; i < len(ids); i++ {
		if d := ids[i] - ids[i-1]; d > 0 && d <= 3 {
			consecutive++
		}
	}
	if consecutive == len(ids)-1 {
		t.Fatalf("a tenant's authenticator ids %v count up: they still number authenticators", ids)
	}
}
