package quota_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/redisguard"
)

// A Redis that stopped answering (it accepts connections, as a paused or
// wedged server does, and never replies) costs the first call the patient
// budget and every call after it only the brief one: the budget follows
// what the calls saw, and a dead Redis still fails fast.
func TestPendingFailsFastOnAHungRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // open, never answered
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	const patient, brief = 600 * time.Millisecond, 30 * time.Millisecond
	g := redisguard.For(rdb)
	g.SetBudgets(patient, brief)
	g.SetProbeEvery(time.Hour) // no probe within this test
	p := quota.NewPending(rdb, 10)
	tenant := uuid.New()

	reserve := func() time.Duration {
		t.Helper()
		start := time.Now()
		err := p.Reserve(context.Background(), tenant, "s", time.Minute)
		took := time.Since(start)
		if err == nil || errors.Is(err, quota.ErrExhausted) {
			t.Fatalf("reserve on a Redis that does not answer: %v", err)
		}
		return took
	}
	if took := reserve(); took < patient {
		t.Fatalf("first call gave up after %v, before the patient budget %v", took, patient)
	}
	if !g.Failing() {
		t.Fatal("the guard did not notice Redis failing")
	}
	// Each later call waits the brief budget, not the patient one (the
	// margin is for a loaded machine's scheduling).
	for range 3 {
		if took := reserve(); took >= patient {
			t.Fatalf("a call after the failure took %v, want the brief budget %v", took, brief)
		}
	}
	if p.Usage(context.Background(), tenant) != 0 {
		t.Fatal("usage from a Redis that does not answer")
	}
}
