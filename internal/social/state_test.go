package social_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestStateStore(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	store := social.NewStateStore(rdb)
	tenant := uuid.New()
	binding := social.SessionBinding("session-token-1")
	in := social.State{
		Provider: "google", Process: social.ProcessConnect, CallbackURL: "https://app.example/cb",
		CodeVerifier: "verifier", Nonce: "nonce", SessionBinding: binding,
	}
	state, err := store.Put(ctx, tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != 43 {
		t.Errorf("state %q: want 32 random bytes, base64url", state)
	}
	key := "hp:{" + tenant.String() + "}:oauth:" + state
	if ttl := rdb.TTL(ctx, key).Val(); ttl <= 9*time.Minute || ttl > social.StateTTL {
		t.Errorf("TTL of %s = %v, want about 10 minutes", key, ttl)
	}
	if v := rdb.Get(ctx, key).Val(); len(v) == 0 {
		t.Fatal("state not stored under its key")
	}

	// Another tenant does not see it.
	if _, err := store.Take(ctx, uuid.New(), state, binding); !errors.Is(err, social.ErrStateNotFound) {
		t.Errorf("other tenant: %v", err)
	}
	got, err := store.Take(ctx, tenant, state, binding)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() || time.Since(got.CreatedAt) > time.Minute {
		t.Errorf("CreatedAt = %v", got.CreatedAt)
	}
	got.CreatedAt = time.Time{}
	if *got != in {
		t.Errorf("state = %+v, want %+v", *got, in)
	}
	// Single use.
	if _, err := store.Take(ctx, tenant, state, binding); !errors.Is(err, social.ErrStateNotFound) {
		t.Errorf("second Take: %v", err)
	}

	// Another browser session is refused, and the state is spent.
	state, _ = store.Put(ctx, tenant, in)
	if _, err := store.Take(ctx, tenant, state, social.SessionBinding("session-token-2")); !errors.Is(err, social.ErrStateMismatch) {
		t.Errorf("other session: %v", err)
	}
	if _, err := store.Take(ctx, tenant, state, binding); !errors.Is(err, social.ErrStateNotFound) {
		t.Errorf("after a refused Take: %v", err)
	}
	if social.SessionBinding("a") == social.SessionBinding("b") || social.SessionBinding("a") == "a" {
		t.Error("SessionBinding does not hash")
	}

	// Malformed and unknown states.
	for _, s := range []string{"", "short", "hp:{x}:oauth:*", state + "x"} {
		if _, err := store.Take(ctx, tenant, s, binding); !errors.Is(err, social.ErrStateNotFound) {
			t.Errorf("Take(%q): %v", s, err)
		}
	}

	// A state older than the TTL is refused even if Redis still has it.
	old := in
	old.CreatedAt = time.Now().Add(-11 * time.Minute)
	state, _ = store.Put(ctx, tenant, old)
	if _, err := store.Take(ctx, tenant, state, binding); !errors.Is(err, social.ErrStateNotFound) {
		t.Errorf("expired state: %v", err)
	}
}
