package ratelimit

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		in   string
		want []Rule
		str  string // canonical form
	}{
		{"", nil, ""},
		{"   ", nil, ""},
		{"30/m/ip", []Rule{{30, time.Minute, PerIP}}, "30/m/ip"},
		{"20/m", []Rule{{20, time.Minute, PerIP}}, "20/m/ip"},
		{"10/m/ip,5/300s/key", []Rule{{10, time.Minute, PerIP}, {5, 5 * time.Minute, PerKey}}, "10/m/ip,5/5m/key"},
		{" 1/30s/key , 3/m/ip ", []Rule{{1, 30 * time.Second, PerKey}, {3, time.Minute, PerIP}}, "1/30s/key,3/m/ip"},
		{"5/m/user", []Rule{{5, time.Minute, PerUser}}, "5/m/user"},
		{"1/h", []Rule{{1, time.Hour, PerIP}}, "1/h/ip"},
		{"1/d/key", []Rule{{1, 24 * time.Hour, PerKey}}, "1/d/key"},
		{"2/2d/key", []Rule{{2, 48 * time.Hour, PerKey}}, "2/2d/key"},
		{"1/3600s", []Rule{{1, time.Hour, PerIP}}, "1/h/ip"},
		{"1/90s", []Rule{{1, 90 * time.Second, PerIP}}, "1/90s/ip"},
		{"1/1.5m", []Rule{{1, 90 * time.Second, PerIP}}, "1/90s/ip"},
		{"1/0.5s", []Rule{{1, 500 * time.Millisecond, PerIP}}, "1/0.5s/ip"},
		{"1/.25s", []Rule{{1, 250 * time.Millisecond, PerIP}}, "1/0.25s/ip"},
		{"1/10.s", []Rule{{1, 10 * time.Second, PerIP}}, "1/10s/ip"},
		{"1/1s", []Rule{{1, time.Second, PerIP}}, "1/s/ip"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRules(tt.in)
			if err != nil {
				t.Fatalf("ParseRules(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRules(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if s := FormatRules(got); s != tt.str {
				t.Fatalf("FormatRules = %q, want %q", s, tt.str)
			}
			again, err := ParseRules(FormatRules(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("canonical form does not round-trip: %v %#v", err, again)
			}
		})
	}
}

func TestParseRulesMalformed(t *testing.T) {
	for _, in := range []string{
		"m",                      // no amount
		"10",                     // no period
		"10/",                    // empty period
		"10/m/ip/x",              // too many parts
		"10/m/",                  // empty per
		"10/m/host",              // unknown per
		"10/m/IP",                // per is case-sensitive, as in allauth
		"x/m/ip",                 // amount not a number
		"-1/m/ip",                // negative amount
		"+1/m/ip",                // signs are not numbers here
		"1.5/m/ip",               // fractional amount
		"0/m/ip",                 // zero amount would block everything
		"1/0s/ip",                // zero period never limits
		"1/0m",                   // same
		"1/5/ip",                 // period without unit
		"1/5w/ip",                // unknown unit
		"1/M/ip",                 // units are lower case
		"1/5 m/ip",               // inner space
		"1/-5s/ip",               // negative period
		"1/1e3s/ip",              // no exponents
		"1/0.0000000001s",        // finer than a nanosecond
		"1/999999999999d",        // overflows time.Duration
		"10/m/ip,",               // trailing comma
		",10/m/ip",               // leading comma
		"10/m/ip,,5/m/key",       // empty middle part
		"99999999999999999999/m", // amount overflows int
	} {
		t.Run(in, func(t *testing.T) {
			if rules, err := ParseRules(in); err == nil {
				t.Fatalf("ParseRules(%q) = %v, want error", in, rules)
			}
		})
	}
}

func TestDefaultRatesParse(t *testing.T) {
	for _, code := range []bool{false, true} {
		rates := DefaultRatesFor(code)
		if len(rates) != len(Actions()) {
			t.Fatalf("defaults cover %d actions, want %d", len(rates), len(Actions()))
		}
		for action, s := range rates {
			rules, err := ParseRules(s)
			if err != nil {
				t.Fatalf("default %s=%q: %v", action, s, err)
			}
			if err := CheckAction(action, rules); err != nil {
				t.Fatalf("default %s: %v", action, err)
			}
		}
	}
	if got := DefaultRates()[ActionConfirmEmail]; got != "1/180s/key" {
		t.Fatalf("link-mode confirm_email = %q", got)
	}
	if got := DefaultRatesFor(true)[ActionConfirmEmail]; got != "1/10s/key" {
		t.Fatalf("code-mode confirm_email = %q", got)
	}
	if got := DefaultRates()[ActionLoginFailed]; got != "10/m/ip,5/300s/key" {
		t.Fatalf("login_failed = %q", got)
	}
	// Each call must hand out an independent map.
	DefaultRates()[ActionLogin] = "1/m"
	if DefaultRates()[ActionLogin] != "30/m/ip" {
		t.Fatal("DefaultRates shares state between calls")
	}
}

func TestCheckAction(t *testing.T) {
	tests := []struct {
		action string
		rules  string
		ok     bool
	}{
		{"login", "30/m/ip", true},
		{"login", "30/m/key", false},
		{"signup", "1/m/user", false},
		{"reset_password", "5/m/key", true},
		{"change_password", "5/m/user", true},
		{"change_password", "5/m/key", false},
		{"confirm_email", "1/m/user", false},
		{"device_user_code", "1/m", false}, // allauth's IdP action, not an account one
		{"Login", "1/m", false},
	}
	for _, tt := range tests {
		rules, err := ParseRules(tt.rules)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckAction(tt.action, rules)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAction(%q, %q) = %v, want ok=%v", tt.action, tt.rules, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.action) {
			t.Errorf("error %q does not name the action", err)
		}
	}
}
