package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/passwords"
)

// BenchmarkSignupEvents measures a sign-up through the headless API (user,
// address, session: user.created and session.created) with events on and
// off, alternating one of each so that both see the same machine, and
// reports the ratio, with production's password hash.
func BenchmarkSignupEvents(b *testing.B) { benchSignup(b, nil) }

// BenchmarkSignupEventsCheapHash is BenchmarkSignupEvents with a cheap
// argon2id, so the hash does not hide what the events cost: the ratio's
// upper bound.
func BenchmarkSignupEventsCheapHash(b *testing.B) {
	benchSignup(b, &passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
}

func benchSignup(b *testing.B, hasher *passwords.Hasher) {
	env := apitest.New(b, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_RATE_LIMITS": false})
	if hasher != nil {
		env.Accounts.Hasher = *hasher
	}
	log := env.Assembly.Events
	on := func(yes bool) {
		if yes {
			env.Accounts.SetEvents(log, env.Store.GetByID)
		} else {
			env.Accounts.SetEvents(nil, nil)
		}
	}
	defer on(true)
	signup := func(i int, events bool) time.Duration {
		on(events)
		start := time.Now()
		env.Client("app").Do("POST", "auth/signup", fmt.Sprintf(`{"email":"u%d-%t@example.com","password":"a long password 1"}`, i, events)).Status(200)
		return time.Since(start)
	}
	for i := range 5 { // warm both paths
		signup(-i-1, false)
		signup(-i-1, true)
	}
	var off, with time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			off += signup(i, false)
			with += signup(i, true)
		} else {
			with += signup(i, true)
			off += signup(i, false)
		}
	}
	b.ReportMetric(float64(off.Microseconds())/float64(b.N), "µs/signup-off")
	b.ReportMetric(float64(with.Microseconds())/float64(b.N), "µs/signup-on")
	b.ReportMetric(float64(with)/float64(off), "on/off")
}
