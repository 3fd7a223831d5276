package manage_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// contractBUserIDs is where tenant B's user ids start. A tenant's user ids
// are its own (1, 2, … in every tenant), so a B user's id could name one
// of A's users; the walker's check with A's slug and B's ids asks for an
// id A does not have, so B's are kept far above any A reaches here.
const contractBUserIDs = 1_000_000

// contractUserFields are the fields both contract tenants declare.
var contractUserFields = []any{
	map[string]any{"name": "first_name", "type": "string", "max_length": 50},
	map[string]any{"name": "age", "type": "integer"},
	map[string]any{"name": "newsletter", "type": "boolean"},
	map[string]any{"name": "birthday", "type": "date"},
	map[string]any{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}},
}

// contractProfile is a profile of every declared field's type, and the
// metadata the fixtures give their users.
var (
	contractProfile = map[string]any{"first_name": "Ada", "age": 36, "newsletter": true, "birthday": "1815-12-10", "plan": "pro"}
	contractPublic  = map[string]any{"role": "admin", "avatar": "https://cdn.example/a.png", "tags": []any{"a", 1, nil, 2.5}}
	contractPrivate = map[string]any{"stripe": map[string]any{"customer": "cus_1", "vip": false}}
)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// wantUserData fails unless the user answer holds the contract data.
func wantUserData(t *testing.T, r *apitest.Response) {
	t.Helper()
	for _, d := range []struct {
		key  string
		want any
	}{{"profile", contractProfile}, {"public_metadata", contractPublic}, {"private_metadata", contractPrivate}} {
		if got := mustJSON(r.JSON[d.key]); got != mustJSON(d.want) {
			t.Errorf("%s = %s, want %s", d.key, got, mustJSON(d.want))
		}
	}
}

// contractUser creates a user of on with one address (verified or not)
// and a usable password, and returns its id.
func contractUser(t *testing.T, w *World, on *tenants.Tenant, verified, inactive bool) (int64, string) {
	t.Helper()
	ctx := context.Background()
	if on.ID == w.B.ID {
		if _, err := testenv.Pool(t).Exec(ctx, `INSERT INTO user_id_counters AS c (tenant_id, last_id) VALUES ($1, $2)
			ON CONFLICT (tenant_id) DO UPDATE SET last_id = greatest(c.last_id, $2)`, on.ID, contractBUserIDs); err != nil {
			t.Fatal(err)
		}
	}
	name := contractName("u")
	email := name + "@contract.example"
	acc, err := w.Env.Assembly.Users.Create(ctx, audit.Actor{Name: "contract"}, on, identity.NewAccount{
		Username: name, Emails: []identity.NewAccountEmail{{Email: email, Verified: verified, Primary: true}},
		PasswordHash: bcryptHash, HasPasswordHash: true, Inactive: inactive,
		Profile: contractProfile, PublicMetadata: contractPublic, PrivateMetadata: contractPrivate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return acc.ID, email
}

// contractName is a new username (the default settings require one),
// also the local part of the user's address.
func contractName(prefix string) string {
	return strings.ReplaceAll(strings.ToLower(testenv.Slug(prefix)), "-", "")
}

// contractSession signs user in on on (as the headless API's login does)
// and returns the session's public id.
func contractSession(t *testing.T, w *World, on *tenants.Tenant, user int64) int64 {
	t.Helper()
	ctx := context.Background()
	store := w.Env.Accounts.Sessions
	sess := store.New(on.ID, "app", "192.0.2.10", "contract")
	if err := store.Login(ctx, sess, user, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, sess, time.Minute); err != nil {
		t.Fatal(err)
	}
	return sess.PublicID
}

// contractTOTP gives user a TOTP authenticator.
func contractTOTP(t *testing.T, w *World, on *tenants.Tenant, user int64) {
	t.Helper()
	secret := mfa.NewTOTPSecret()
	if _, err := w.Env.Assembly.MFA.ActivateTOTP(context.Background(), on.ID, user, secret,
		mfa.TOTPCode(secret, time.Now(), on.Settings), on.Settings); err != nil {
		t.Fatal(err)
	}
}

// userParams are the path parameters naming user of on.
func userParams(on *tenants.Tenant, user int64) map[string]string {
	return map[string]string{"slug": on.Slug, "id": strconv.FormatInt(user, 10)}
}

// wantField fails unless the answer's field is want.
func wantField(field string, want any) func(t *testing.T, r *apitest.Response) {
	return func(t *testing.T, r *apitest.Response) {
		t.Helper()
		if r.JSON[field] != want {
			t.Errorf("%s = %v, want %v: %s", field, r.JSON[field], want, r.Body)
		}
	}
}

// wantItems fails unless the page holds n items.
func wantItems(n int) func(t *testing.T, r *apitest.Response) {
	return func(t *testing.T, r *apitest.Response) {
		t.Helper()
		if items, _ := r.JSON["items"].([]any); len(items) != n {
			t.Errorf("%d items, want %d: %s", len(items), n, r.Body)
		}
	}
}

// Fixtures of the users operations (see contract_test.go).
func init() {
	// Every filter at once: the new user's address, active, created in
	// the last hour.
	fixture("listUsers", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		_, email := contractUser(t, w, on, true, false)
		return Call{Params: map[string]string{"slug": on.Slug}, Query: url.Values{"limit": {"2"}, "email": {email},
			"active": {"true"}, "created_after": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}},
			Check: func(t *testing.T, r *apitest.Response) {
				wantItems(1)(t, r)
				if items, _ := r.JSON["items"].([]any); len(items) == 1 {
					wantUserData(t, &apitest.Response{JSON: items[0].(map[string]any)})
				}
			}}
	})
	fixture("createUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		name := contractName("new")
		email := name + "@contract.example"
		return Call{Params: map[string]string{"slug": on.Slug},
			Body: map[string]any{"username": name, "emails": []any{map[string]any{"email": email, "verified": true, "primary": true}}, "password_hash": djangoPBKDF2,
				"profile": contractProfile, "public_metadata": contractPublic, "private_metadata": contractPrivate},
			Check: func(t *testing.T, r *apitest.Response) {
				wantUserData(t, r)
				emails, _ := r.JSON["emails"].([]any)
				if len(emails) != 1 || emails[0].(map[string]any)["email"] != email || r.JSON["username"] != name || r.JSON["has_usable_password"] != true ||
					r.Header.Get("Location") == "" {
					t.Errorf("createUser answered %s", r.Body)
				}
			}}
	})
	fixture("getUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		return Call{Params: userParams(on, id), Check: func(t *testing.T, r *apitest.Response) {
			wantField("id", float64(id))(t, r)
			wantUserData(t, r)
		}}
	})
	fixture("updateUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		return Call{Params: userParams(on, id), Body: map[string]any{"active": false,
			"profile":         map[string]any{"age": nil, "plan": "free", "newsletter": false},
			"public_metadata": map[string]any{"role": "viewer"}, "private_metadata": map[string]any{}},
			Check: func(t *testing.T, r *apitest.Response) {
				wantField("active", false)(t, r)
				if got, want := mustJSON(r.JSON["profile"]), `{"birthday":"1815-12-10","first_name":"Ada","newsletter":false,"plan":"free"}`; got != want {
					t.Errorf("profile %s, want %s", got, want)
				}
				if got := mustJSON(r.JSON["public_metadata"]) + mustJSON(r.JSON["private_metadata"]); got != `{"role":"viewer"}{}` {
					t.Errorf("metadata %s", got)
				}
			}}
	})
	// Deleting, disabling and enabling change their user: a new one each
	// time.
	fixture("deleteUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		return Call{Params: userParams(on, id)}
	})
	fixture("disableUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		contractSession(t, w, on, id)
		return Call{Params: userParams(on, id), Check: wantField("active", false)}
	})
	fixture("enableUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, true)
		return Call{Params: userParams(on, id), Check: wantField("active", true)}
	})
	fixture("listUserSessions", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		contractSession(t, w, on, id)
		return Call{Params: userParams(on, id), Check: wantItems(1)}
	})
	fixture("endUserSessions", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		contractSession(t, w, on, id)
		contractSession(t, w, on, id)
		return Call{Params: userParams(on, id), Check: wantField("ended", float64(2))}
	})
	fixture("endUserSession", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		params := userParams(on, id)
		params["session_id"] = strconv.FormatInt(contractSession(t, w, on, id), 10)
		return Call{Params: params}
	})
	fixture("listUserAuthenticators", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		contractTOTP(t, w, on, id)
		return Call{Params: userParams(on, id), Check: wantItems(1)}
	})
	fixture("resetUserAuthenticators", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, _ := contractUser(t, w, on, true, false)
		contractTOTP(t, w, on, id)
		return Call{Params: userParams(on, id), Check: wantField("removed", float64(1))}
	})
	// No body: the user's unverified primary address is the one mailed.
	fixture("sendUserVerificationMail", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		id, email := contractUser(t, w, on, false, false)
		return Call{Params: userParams(on, id), Check: wantField("email", email)}
	})
}
