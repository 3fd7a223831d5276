package account_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/passwords"
)

// signupID signs up email on a fresh client and returns the user.id the
// response shows.
func signupID(t *testing.T, env *apitest.Env, client, email string) int64 {
	t.Helper()
	res := env.Client(client).Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw+`"}`)
	id, ok := res.Path("data.user.id").(float64)
	if res.Code != 200 || !ok {
		t.Fatalf("signup %s: %d %s", email, res.Code, res.Body)
	}
	return int64(id)
}

// Each tenant numbers its users from 1: user.id tells a tenant's users
// nothing about the platform's or another tenant's volume. Before the fix
// ids came from one sequence across all tenants (a fresh tenant's first
// user was 4 here, or whatever the platform had reached).
func TestUserIDsPerTenant(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			busy := apitest.New(t, noVerification)
			for i := range 3 {
				if id := signupID(t, busy, client, fmt.Sprintf("busy%d@example.com", i)); id != int64(i+1) {
					t.Fatalf("busy tenant's user %d has id %d", i+1, id)
				}
			}
			fresh := apitest.New(t, noVerification)
			if id := signupID(t, fresh, client, "first@example.com"); id != 1 {
				t.Fatalf("a fresh tenant's first user has id %d, want 1", id)
			}
			if id := signupID(t, busy, client, "busy3@example.com"); id != 4 {
				t.Fatalf("busy tenant's next user has id %d, want 4", id)
			}
			// The same id in two tenants is two users.
			a := busy.Client(client)
			a.Do("POST", "auth/login", `{"email":"busy0@example.com","password":"`+pw+`"}`).Status(200)
			b := fresh.Client(client)
			b.Do("POST", "auth/login", `{"email":"first@example.com","password":"`+pw+`"}`).Status(200)
			ra, rb := a.Do("GET", "auth/session", "").Status(200), b.Do("GET", "auth/session", "").Status(200)
			if ra.Path("data.user.id") != rb.Path("data.user.id") || ra.Path("data.user.email") == rb.Path("data.user.email") {
				t.Fatalf("overlapping ids: %s / %s", ra.Body, rb.Body)
			}
		})
	}
}

// 50 signups at once in one tenant get 50 distinct ids.
func TestUserIDsParallelSignups(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}))
	// A cheap hash: the test is about ids, and 50 argon2 hashes at once
	// would take longer than a request may on a busy machine.
	env.Accounts.Hasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	const n = 50
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := env.Client("app").Do("POST", "auth/signup", fmt.Sprintf(`{"email":"p%d@example.com","password":"%s"}`, i, pw))
			if id, ok := res.Path("data.user.id").(float64); res.Code == 200 && ok {
				ids[i] = int64(id)
			} else {
				t.Errorf("signup %d: %d %s", i, res.Code, res.Body)
			}
		})
	}
	wg.Wait()
	slices.Sort(ids)
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("ids of %d parallel signups should be 1..%d: %v", n, n, ids)
		}
	}
}

// Session ids (GET auth/sessions) do not count the platform's logins:
// before the fix, a login in one tenant and the next in another got
// consecutive ids from one shared sequence.
func TestSessionIDsTellNothing(t *testing.T) {
	a, b := apitest.New(t, noVerification), apitest.New(t, noVerification)
	fa, fb := loggedIn(t, a, "app", "sid-a@example.com"), loggedIn(t, b, "app", "sid-b@example.com")
	id := func(fe *apitest.Client) int64 {
		t.Helper()
		list, _ := fe.Do("GET", "auth/sessions", "").Status(200).Path("data").([]any)
		if len(list) != 1 {
			t.Fatalf("sessions: %v", list)
		}
		v, _ := list[0].(map[string]any)["id"].(float64)
		if v < 1 || v > 1<<53 {
			t.Fatalf("session id %v out of JavaScript's safe range", v)
		}
		return int64(v)
	}
	ia, ib := id(fa), id(fb)
	if d := ib - ia; d >= -2 && d <= 2 {
		t.Fatalf("sessions of two tenants' logins got ids %d and %d: one sequence for all", ia, ib)
	}
}
