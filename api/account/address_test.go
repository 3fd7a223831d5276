package account_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
)

// jsonBody marshals fields into a request body (non-ASCII addresses kept as
// they are).
func jsonBody(t *testing.T, fields map[string]string) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// outboxTo returns how many of the tenant's queued mails went to each
// recipient hash (what the outbox keeps of the recipient).
func outboxTo(t *testing.T, env *apitest.Env) map[string]int {
	t.Helper()
	rows, err := testenv.Pool(t).Query(context.Background(), `SELECT recipient_hash FROM outbox WHERE tenant_id = $1`, env.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		out[h]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countRows counts a tenant's rows of a table.
func countRows(t *testing.T, env *apitest.Env, table string) int {
	t.Helper()
	var n int
	if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// addressSettings has login by code and password reset by link, and no
// unknown-account mails, so every mail queued is one to an account.
var addressSettings = with(noVerification, apitest.Settings{
	"ACCOUNT_LOGIN_BY_CODE_ENABLED":  true,
	"ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS": false,
	"ACCOUNT_RATE_LIMITS":            false,
	"HEADLESS_FRONTEND_URLS": map[string]string{
		"account_reset_password_from_key": "https://app.example.com/reset/{key}",
	},
})

// Issue 16 item 1: full Unicode case folding made victim@straße.de (and
// ſ, ligatures...) find victim@strasse.de's account, and login by code and
// password reset then mailed the code or link to the address typed. A
// look-alike now finds nothing (or is refused), and a case variant mails
// the stored address.
func TestLookAlikeAddressTakeover(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, addressSettings)
			loggedIn(t, env, "app", "victim@strasse.de")
			loggedIn(t, env, "app", "strasse@example.com")
			lookAlikes := []struct{ email, code string }{
				{"victim@straße.de", ""},         // another domain (xn--strae-oqa.de)
				{"victim@xn--strae-oqa.de", ""},  // the same, as an A-label
				{"strasse@xn--strae-oqa.de", ""}, // the other victim's local part, the look-alike domain
				{"straße@example.com", ""},       // another local part
				{"ſtrasse@example.com", ""},      // long s: another local part
				{"victim@ſtrasse.de", "invalid"}, // a domain IDNA would rewrite: refused
				{"victim@ﬆrasse.de", "invalid"},  // a ligature, likewise
				{"victim@ｓtrasse.de", "invalid"}, // full-width, likewise
				{"victim@STRAſSE.DE", "invalid"}, // mixed
				{"vıctim@strasse.de", ""},        // dotless i: another local part
				{"VİCTIM@strasse.de", ""},        // dotted capital I does not lower to i
			}
			for _, la := range lookAlikes {
				fe := env.Client(client)
				body := jsonBody(t, map[string]string{"email": la.email})
				if la.code != "" {
					fe.Do("POST", "auth/code/request", body).Status(400).Error("email", la.code)
					fe.Do("POST", "auth/password/request", body).Status(400).Error("email", la.code)
					fe.Do("POST", "auth/login", jsonBody(t, map[string]string{"email": la.email, "password": pw})).Status(400).Error("email", la.code)
					continue
				}
				// The same answer as for any unknown address, and nothing sent.
				fe.Do("POST", "auth/code/request", body).Status(401)
				fe.Do("POST", "auth/code/confirm", `{"code":"AAAA-BBBB"}`).Status(400).Error("code", "incorrect_code")
				fe.Do("POST", "auth/password/request", body).Status(200)
			}
			if sent := outboxTo(t, env); len(sent) != 0 {
				t.Fatalf("look-alike requests queued mail: %v", sent)
			}
			// Nor does the victim's password open the account through a look-alike.
			for _, la := range lookAlikes {
				if la.code == "" {
					env.Client(client).Do("POST", "auth/login", jsonBody(t, map[string]string{"email": la.email, "password": pw})).
						Status(400).Error("password", "email_password_mismatch")
				}
			}
			// A case variant is the same address: the code and the link go
			// to the address stored on the account.
			fe := env.Client(client)
			fe.Do("POST", "auth/code/request", `{"email":"VICTIM@Strasse.DE"}`).Status(401)
			fe.Do("POST", "auth/password/request", `{"email":"Victim@STRASSE.de"}`).Status(200)
			if sent := outboxTo(t, env); len(sent) != 1 || sent[mail.RecipientHash("victim@strasse.de")] != 2 {
				t.Fatalf("case variants: queued %v, want 2 mails to the stored address", sent)
			}
			for i := 1; i <= 2; i++ {
				if m := env.WaitMail(t, i); len(m.To) != 1 || m.To[0] != "victim@strasse.de" {
					t.Fatalf("mail %d went to %v", i, m.To)
				}
			}
		})
	}
}

// An address stored as an A-label is found by its Unicode form, and the
// mail goes to the stored form, not to what was typed.
func TestMailGoesToStoredAddress(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, addressSettings)
			loggedIn(t, env, "app", "ana@xn--strae-oqa.de")
			fe := env.Client(client)
			fe.Do("POST", "auth/code/request", jsonBody(t, map[string]string{"email": "ANA@STRAßE.DE"})).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)
			if m := env.WaitMail(t, 1); m.To[0] != "ana@xn--strae-oqa.de" || code == nil {
				t.Fatalf("login code mailed to %v", m.To)
			}
			fe.Do("POST", "auth/code/confirm", `{"code":"`+code[1]+`"}`).Status(200)
			env.Client(client).Do("POST", "auth/password/request", jsonBody(t, map[string]string{"email": "ana@straße.de"})).Status(200)
			if m := env.WaitMail(t, 2); m.To[0] != "ana@xn--strae-oqa.de" {
				t.Fatalf("reset link mailed to %v", m.To)
			}
			if sent := outboxTo(t, env); len(sent) != 1 || sent[mail.RecipientHash("ana@xn--strae-oqa.de")] != 2 {
				t.Fatalf("queued %v, want 2 mails to the stored address", sent)
			}
		})
	}
}

// Signup: a look-alike domain is another address (its own account), a
// domain IDNA would rewrite is refused, a case variant or the A-label of a
// taken address is taken.
func TestLookAlikeSignup(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_PREVENT_ENUMERATION": false}))
			loggedIn(t, env, "app", "victim@strasse.de")
			fe := env.Client(client)
			signup := func(email string) *apitest.Response {
				return env.Client(client).Do("POST", "auth/signup", jsonBody(t, map[string]string{"email": email, "password": pw}))
			}
			signup("VICTIM@STRASSE.DE").Status(400).Error("email", "email_taken")
			signup("victim@ſtrasse.de").Status(400).Error("email", "invalid")
			signup("victim@ﬆrasse.de").Status(400).Error("email", "invalid")
			res := signup("victim@straße.de").Status(200)
			if res.Path("data.user.email") != "victim@straße.de" {
				t.Fatalf("%s", res.Body)
			}
			signup("victim@xn--strae-oqa.de").Status(400).Error("email", "email_taken")
			signup("Victim@Straße.de").Status(400).Error("email", "email_taken")
			if n := countRows(t, env, "users"); n != 2 {
				t.Fatalf("%d users, want 2", n)
			}
			// Each logs in with its own address only.
			fe.Do("POST", "auth/login", jsonBody(t, map[string]string{"email": "VICTIM@STRASSE.DE", "password": pw})).Status(200)
		})
	}
}

// Adding an address: a look-alike of another account's address is another
// address; a case variant of one's own is a duplicate.
func TestLookAlikeEmailManagement(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_PREVENT_ENUMERATION": false, "ACCOUNT_MAX_EMAIL_ADDRESSES": 5}))
	loggedIn(t, env, "app", "victim@strasse.de")
	fe := loggedIn(t, env, "app", "eve@example.com")
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "VICTIM@strasse.de"})).Status(400).Error("email", "email_taken")
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "victim@ſtrasse.de"})).Status(400).Error("email", "invalid")
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "victim@straße.de"})).Status(200)
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "victim@XN--STRAE-OQA.de"})).Status(400).Error("email", "duplicate_email")
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "EVE@example.com"})).Status(400).Error("email", "duplicate_email")
}

// Usernames compare case-insensitively but never by full case folding:
// ſam is not sam, ﬁn is not fin.
func TestLookAlikeUsernames(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":       []string{"username"},
				"ACCOUNT_SIGNUP_FIELDS":       []string{"username*", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION":  "none",
				"ACCOUNT_PREVENT_ENUMERATION": false,
				"ACCOUNT_USERNAME_BLACKLIST":  []string{"strasse"},
			})
			signup := func(username string) *apitest.Response {
				return env.Client(client).Do("POST", "auth/signup", jsonBody(t, map[string]string{"username": username, "password": pw}))
			}
			signup("sam").Status(200)
			signup("fin").Status(200)
			signup("SAM").Status(400).Error("username", "username_taken")
			// Full-folding look-alikes are other usernames.
			signup("ſam").Status(200)
			signup("ﬁn").Status(200)
			// The blacklist compares the same way.
			signup("STRASSE").Status(400).Error("username", "username_blacklisted")
			signup("straße").Status(200)
			login := func(username string) *apitest.Response {
				return env.Client(client).Do("POST", "auth/login", jsonBody(t, map[string]string{"username": username, "password": pw}))
			}
			ids := map[string]any{}
			for _, u := range []string{"sam", "ſam", "fin", "ﬁn"} {
				ids[u] = login(u).Status(200).Path("data.user.id")
			}
			if ids["sam"] == ids["ſam"] || ids["fin"] == ids["ﬁn"] {
				t.Fatalf("look-alike usernames share an account: %v", ids)
			}
			if got := login("Sam").Status(200).Path("data.user.id"); got != ids["sam"] {
				t.Fatalf("Sam logged into %v, want %v", got, ids["sam"])
			}
			if n := countRows(t, env, "users"); n != 5 {
				t.Fatalf("%d users, want 5", n)
			}
		})
	}
}

// Invalid UTF-8 in an address or a username is refused, not stored with
// U+FFFD in its place.
func TestInvalidUTF8Address(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":      []string{"email"},
				"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "username", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION": "none",
			})
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", "{\"email\":\"a\xffb@example.com\",\"password\":\""+pw+"\"}").Status(400).Error("email", "invalid")
			fe.Do("POST", "auth/signup", "{\"email\":\"ab@exa\xc3mple.com\",\"password\":\""+pw+"\"}").Status(400).Error("email", "invalid")
			fe.Do("POST", "auth/signup", `{"email":"a\ufffdb@example.com","password":"`+pw+`"}`).Status(400).Error("email", "invalid")
			fe.Do("POST", "auth/signup", `{"email":"a\u0007b@example.com","password":"`+pw+`"}`).Status(400).Error("email", "invalid")
			fe.Do("POST", "auth/signup", `{"email":"a\u202eb@example.com","password":"`+pw+`"}`).Status(400).Error("email", "invalid")
			fe.Do("POST", "auth/signup", "{\"email\":\"ok@example.com\",\"username\":\"a\xffb\",\"password\":\""+pw+"\"}").Status(400).Error("username", "invalid")
			fe.Do("POST", "auth/password/request", "{\"email\":\"a\xffb@example.com\"}").Status(400).Error("email", "invalid")
			if n := countRows(t, env, "users"); n != 0 {
				t.Fatalf("refused signups stored %d users", n)
			}
			me := loggedIn(t, env, client, "me@example.com")
			me.Do("POST", "account/email", "{\"email\":\"a\xffb@example.com\"}").Status(400).Error("email", "invalid")
			if n := countRows(t, env, "email_addresses"); n != 1 {
				t.Fatalf("%d addresses, want 1", n)
			}
		})
	}
}

// An address stored before the current rules (migration 00013 keeps it,
// with a key no lookup produces) is found by no login, but its holder can
// still remove it by its exact text.
func TestLegacyInvalidAddress(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS": false}))
	fe := env.Client("app")
	id := int64(fe.Do("POST", "auth/signup", `{"email":"me@example.com","password":"`+pw+`"}`).Status(200).Path("data.user.id").(float64))
	if _, err := testenv.Pool(t).Exec(context.Background(), `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified)
		VALUES ($1, $2, 'old@ſtrasse.de', ' old@ſtrasse.de', true)`, env.Tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	env.Client("app").Do("POST", "auth/login", jsonBody(t, map[string]string{"email": "old@ſtrasse.de", "password": pw})).Status(400).Error("email", "invalid")
	env.Client("app").Do("POST", "auth/login", jsonBody(t, map[string]string{"email": "old@strasse.de", "password": pw})).
		Status(400).Error("password", "email_password_mismatch")
	env.Client("app").Do("POST", "auth/password/request", jsonBody(t, map[string]string{"email": "old@strasse.de"})).Status(200)
	fe.Do("POST", "account/email", jsonBody(t, map[string]string{"email": "old@ſtrasse.de"})).Status(400).Error("email", "duplicate_email")
	fe.Do("DELETE", "account/email", jsonBody(t, map[string]string{"email": "old@ſtrasse.de"})).Status(200)
	if n := countRows(t, env, "email_addresses"); n != 1 {
		t.Fatalf("%d addresses, want 1", n)
	}
	if sent := outboxTo(t, env); len(sent) != 0 {
		t.Fatalf("queued %v: no mail is about old@strasse.de", sent)
	}
}
