package console_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

// passkeyIDs lists the ids in the Security page's passkey URLs.
func passkeyIDs(t *testing.T, b *browser) []int64 {
	t.Helper()
	var out []int64
	for _, m := range regexp.MustCompile(`/passkeys/(\d+)/rename`).FindAllStringSubmatch(b.get(securityURL).status(200).Body, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || id < 1 || id > 1<<53-1 {
			t.Fatalf("passkey id %q", m[1])
		}
		out = append(out, id)
	}
	return out
}

// Issue #16, item 10: a console user's passkey ids (in the Security page's
// URLs) do not count the other console users' passkeys.
func TestConsolePasskeyIDsTellNothingOfOthers(t *testing.T) {
	e := newEnv(t)
	_, busy := e.signedInUser("passkey-ids-busy")
	for _, name := range []string{"One", "Two", "Three"} {
		// The first shows the recovery codes it generated; the others go
		// back to the Security page.
		if r := busy.addPasskey(webauthntest.New("http://console.test", "console.test"), name); r.Code != 200 && r.Code != 303 {
			t.Fatalf("adding passkey %s: %d", name, r.Code)
		}
	}
	var highest int64
	busyIDs := passkeyIDs(t, busy)
	if len(busyIDs) != 3 {
		t.Fatalf("passkeys %v", busyIDs)
	}
	for _, id := range busyIDs {
		highest = max(highest, id)
	}
	_, b := e.signedInUser("passkey-ids-fresh")
	b.addPasskey(webauthntest.New("http://console.test", "console.test"), "Mine").status(200)
	ids := passkeyIDs(t, b)
	if len(ids) != 1 {
		t.Fatalf("passkeys %v", ids)
	}
	if ids[0] > highest && ids[0] <= highest+10 {
		t.Fatalf("a console user's first passkey id %d follows the other user's highest %d", ids[0], highest)
	}
}
