package social_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// csrf is a token an anonymous attacker mints for itself: the cookie and
// the form field only have to agree.
const csrf = "abcdefghijklmnopqrstuvwxyzABCDEF"

// anonRedirect posts the provider redirect form as a fresh browser would,
// with no session cookie, from ip (used when the tenant trusts one proxy).
func anonRedirect(env *apitest.Env, ip string) *apitest.Response {
	form := url.Values{"provider": {"google"}, "process": {"login"}, "callback_url": {callbackURL}, "csrfmiddlewaretoken": {csrf}}
	return env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/browser/v1/auth/provider/redirect", form.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", "csrftoken="+csrf, "X-Forwarded-For", ip)
}

// tenantKeys counts the tenant's Redis keys by kind ("sess", "oauth", "rl", ...).
func tenantKeys(t *testing.T, env *apitest.Env) map[string]int {
	t.Helper()
	rdb := testenv.Redis(t)
	out := map[string]int{}
	iter := rdb.Scan(context.Background(), 0, "hp:{"+env.Tenant.ID.String()+"}:*", 1000).Iterator()
	for iter.Next(context.Background()) {
		rest := strings.TrimPrefix(iter.Val(), "hp:{"+env.Tenant.ID.String()+"}:")
		kind, _, _ := strings.Cut(rest, ":")
		out[kind]++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Issue #16 item 6: 2,200 anonymous provider redirects left 2,200 states
// and ~2,000 sessions in the Redis every tenant shares. From one IP they
// are now rate limited (allauth's 429), and the tenant's keys stay few.
func TestAnonymousRedirectsRateLimited(t *testing.T) {
	env, _ := googleEnv(t, nil)
	const n = 120
	counts := map[int]int{}
	for i := 0; i < n; i++ {
		res := anonRedirect(env, "198.51.100.7")
		counts[res.Code]++
		if res.Code == 429 {
			res.Status(429)
		}
	}
	if counts[429] == 0 || counts[302]+counts[429] != n {
		t.Fatalf("%d anonymous redirects from one IP answered %v; want 302s, then 429s", n, counts)
	}
	keys := tenantKeys(t, env)
	if state := keys["sess"] + keys["oauth"]; state > 2*30 || total(keys) > 2*30+5 {
		t.Fatalf("after %d anonymous redirects from one IP the tenant holds %d Redis keys (%v)", n, total(keys), keys)
	}
}

// Rotating through the addresses of one IPv6 /64 (one subscriber's
// allocation) does not escape the per-IP limit.
func TestAnonymousRedirectsRateLimitedPerIPv6Network(t *testing.T) {
	env, _ := googleEnv(t, apitest.Settings{"ALLAUTH_TRUSTED_PROXY_COUNT": 1})
	counts := map[int]int{}
	for i := 0; i < 60; i++ {
		counts[anonRedirect(env, fmt.Sprintf("2001:db8:1:2::%x", i+1)).Code]++
	}
	if counts[429] == 0 || counts[302] > 30 {
		t.Fatalf("60 anonymous redirects from one /64 answered %v; want 20 302s (provider_redirect 20/m/ip), then 429s", counts)
	}
	// Another /64 is another subscriber.
	if res := anonRedirect(env, "2001:db8:1:3::1"); res.Code != 302 {
		t.Fatalf("a redirect from another /64: %d", res.Code)
	}
}

// Issue #16 item 6: however many IPs the requests come from, a tenant's
// pending state is capped by its budget (429 past it), and one tenant over
// its budget does not keep another from starting flows.
func TestPendingStateBudgetPerTenant(t *testing.T) {
	trust := apitest.Settings{"ALLAUTH_TRUSTED_PROXY_COUNT": 1}
	noisy, _ := googleEnv(t, trust)
	quiet, _ := googleEnv(t, trust)
	const ceiling = 40
	noisy.Accounts.Pending.SetCeiling(ceiling)
	quiet.Accounts.Pending.SetCeiling(ceiling)

	counts := map[int]int{}
	for i := 0; i < 3*ceiling; i++ {
		res := anonRedirect(noisy, fmt.Sprintf("10.1.%d.%d", i/200, i%200+1))
		counts[res.Code]++
	}
	if counts[429] == 0 {
		t.Fatalf("%d anonymous redirects from as many IPs answered %v; want 429 past the tenant's budget of %d", 3*ceiling, counts, ceiling)
	}
	keys := tenantKeys(t, noisy)
	if state := keys["sess"] + keys["oauth"]; state > ceiling {
		t.Fatalf("the tenant holds %d pending states (%v), budget %d", state, keys, ceiling)
	}
	if got := noisy.Accounts.Pending.Usage(context.Background(), noisy.Tenant.ID); got < ceiling-1 || got > ceiling {
		t.Fatalf("usage reported %d, want about %d", got, ceiling)
	}
	// The other tenant is unaffected.
	if res := anonRedirect(quiet, "10.9.9.9"); res.Code != 302 {
		t.Fatalf("another tenant's redirect while the first is over budget: %d %s", res.Code, res.Body)
	}
}
