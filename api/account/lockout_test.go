package account_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
)

// cheapHasher keeps the hundred wrong passwords of these tests quick.
var cheapHasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Issue 16 item 11: anyone who knows an address used to lock its owner out
// with 100 wrong passwords. The lock now keeps out password logins from
// addresses the user never signed in from, and only those: the owner, from
// an address of an earlier sign-in, still logs in with the password; login
// by code still works anywhere; the attacker, even with the right password,
// gets the answer of a wrong one; and the owner is told once, at the
// stored address.
func TestLockoutSparesTheOwner(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{
				"ACCOUNT_RATE_LIMITS":           false,
				"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
				"ALLAUTH_TRUSTED_PROXY_COUNT":   1,
			}))
			env.Accounts.Hasher = cheapHasher
			const ownerIP, attackerIP, newIP = "198.51.100.20", "203.0.113.66", "192.0.2.44"
			login := func(ip, email, password string) *apitest.Response {
				t.Helper()
				return env.Client(client).Do("POST", "auth/login", `{"email":"`+email+`","password":"`+password+`"}`, "X-Forwarded-For", ip)
			}
			env.Client(client).Do("POST", "auth/signup", `{"email":"pam@example.com","password":"`+pw+`"}`, "X-Forwarded-For", ownerIP).Status(200)

			for i := range identity.MaxConsecutiveFailures {
				login(attackerIP, "pam@EXAMPLE.com", fmt.Sprintf("guess %d", i)).Status(400).Error("password", "email_password_mismatch")
			}
			// Locked for addresses never signed in from: the right password
			// answers as a wrong one (nothing tells the attacker it was right).
			login(attackerIP, "pam@example.com", pw).Status(400).Error("password", "email_password_mismatch")
			login(newIP, "pam@example.com", pw).Status(400).Error("password", "email_password_mismatch")

			// The owner is told once, at the stored address.
			notice := env.WaitMail(t, 1)
			if len(notice.To) != 1 || notice.To[0] != "pam@example.com" || !strings.Contains(notice.Subject, "Password Sign-In Paused") {
				t.Fatalf("first mail %v %q, want the lock notice to pam@example.com", notice.To, notice.Subject)
			}

			// Login by code works from anywhere.
			byCode := env.Client(client)
			byCode.Do("POST", "auth/code/request", `{"email":"pam@example.com"}`, "X-Forwarded-For", newIP).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
			byCode.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`, "X-Forwarded-For", newIP).Status(200)
			login(attackerIP, "pam@example.com", pw).Status(400).Error("password", "email_password_mismatch")

			// The owner, from the address of an earlier sign-in, logs in with
			// the password, which ends the run of failures.
			login(ownerIP, "pam@example.com", pw).Status(200)
			var failed int
			if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT failed_logins FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&failed); err != nil {
				t.Fatal(err)
			}
			if failed != 0 {
				t.Fatalf("failed_logins %d after the owner's login", failed)
			}
			login(attackerIP, "pam@example.com", pw).Status(200)
			if n := len(env.Mails()); n != 2 {
				t.Fatalf("%d mails, want the notice and the code only", n)
			}
		})
	}
}
