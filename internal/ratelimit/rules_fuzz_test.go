package ratelimit_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/ratelimit"
)

// FuzzParseRules fuzzes allauth's "amount/period/per" rule lists as they
// arrive in ACCOUNT_RATE_LIMITS (issue #11):
//
//	go test -run '^$' -fuzz '^FuzzParseRules$' -fuzztime 60s ./internal/ratelimit/
func FuzzParseRules(f *testing.F) {
	for _, s := range ratelimit.DefaultRatesFor(false) {
		f.Add(s)
	}
	for _, s := range []string{
		"", "   ", "30/m/ip", "20/m", "10/m/ip,5/300s/key", " 1/30s/key , 3/m/ip ", "5/m/user", "1/h", "1/d/key",
		"2/2d/key", "1/3600s", "1/1.5m", "1/0.5s", "1/.25s", "1/10.s", "1/1s", "1/0.000000001s", "1/106751d",
		"1/106752d", "1/9223372036s", "1/9223372036.854775807s", "1/9223372036.854775808s", "9223372036854775807/m",
		"m", "10", "10/", "10/m/ip/x", "10/m/", "10/m/IP", "x/m/ip", "-1/m/ip", "+1/m/ip", "1.5/m/ip", "0/m/ip",
		"1/0s/ip", "1/5/ip", "1/5w/ip", "1/M/ip", "1/5 m/ip", "1/1e3s/ip", "1/0.0000000001s", "10/m/ip,", ",10/m/ip",
		"10/m/ip,,5/m/key", "99999999999999999999/m", "01/m", "1/00.10s", "1/.s", "1/s\n", "\u00a01/m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ratelimit.ParseRules(s)
		if err != nil {
			if rules != nil {
				t.Fatalf("ParseRules(%q) = %v with error %v", s, rules, err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if len(rules) != 0 {
				t.Fatalf("ParseRules(%q) = %v, want no rules", s, rules)
			}
		} else if len(rules) != strings.Count(s, ",")+1 {
			t.Fatalf("ParseRules(%q) = %d rules for %d comma-separated parts", s, len(rules), strings.Count(s, ",")+1)
		}
		for _, r := range rules {
			if r.Amount < 1 || r.Period <= 0 {
				t.Fatalf("ParseRules(%q): rule %#v has no positive amount and period", s, r)
			}
			if r.Per != ratelimit.PerIP && r.Per != ratelimit.PerUser && r.Per != ratelimit.PerKey {
				t.Fatalf("ParseRules(%q): rule %#v counts per %q", s, r, r.Per)
			}
			// Each rule's canonical form reads back as the same rule.
			one, err := ratelimit.ParseRule(r.String())
			if err != nil || one != r {
				t.Fatalf("ParseRule(%q) = %#v, %v; want %#v (from %q)", r.String(), one, err, r, s)
			}
		}
		canonical := ratelimit.FormatRules(rules)
		again, err := ratelimit.ParseRules(canonical)
		if err != nil {
			t.Fatalf("FormatRules output %q (from %q) does not parse: %v", canonical, s, err)
		}
		if len(rules) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, rules) {
			t.Fatalf("round trip %q → %q changed the rules:\n%#v\n%#v", s, canonical, rules, again)
		}
		if got := ratelimit.FormatRules(again); got != canonical {
			t.Fatalf("FormatRules is not canonical: %q then %q", canonical, got)
		}
		// CheckAction must judge any parsed rules without failing.
		for _, a := range ratelimit.Actions() {
			_ = ratelimit.CheckAction(a, rules)
		}
	})
}
