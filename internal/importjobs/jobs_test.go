package importjobs

import (
	"context"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const line = `{"user":{"source_id":"s1","is_active":true,"date_joined":"2024-01-02T03:04:05Z","password_hash":"",` +
	`"emails":[{"email":"s1@example.com","verified":true,"primary":true}]}}` + "\n"

func setup(t *testing.T) (*Store, *Runner, *tenants.Tenant) {
	t.Helper()
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	ts := tenants.NewStore(pool, sealer, nil)
	ten, err := ts.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug("jobs")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(pool, sealer)
	return store, &Runner{Store: store, Tenants: ts, Writer: portable.NewWriter(pool, sealer), Lease: time.Minute}, ten
}

// A job survives the node that took it: once its lease runs out, the next
// runner takes it again and finishes it; its body is sealed at rest and
// cleared at the end.
func TestJobOutlivesItsNode(t *testing.T) {
	ctx := context.Background()
	store, runner, ten := setup(t)
	job, err := store.Create(ctx, ten.ID, "apikey:test", []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var body string
	if err := store.pool.QueryRow(ctx, `SELECT body FROM import_jobs WHERE id = $1`, job.ID).Scan(&body); err != nil || len(body) < 10 || body[:5] != "hps1:" {
		t.Fatalf("stored body %q %v", body, err)
	}
	// A node takes it and stops before the end.
	claimed, _, err := store.claim(ctx, time.Minute)
	if err != nil || claimed == nil || claimed.ID != job.ID {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	if ran, err := runner.RunOnce(ctx); ran || err != nil {
		t.Fatalf("a leased job was taken again: %v %v", ran, err)
	}
	if _, err := store.pool.Exec(ctx, `UPDATE import_jobs SET lease_until = now() - interval '1 second' WHERE id = $1`, job.ID); err != nil {
		t.Fatal(err)
	}
	if ran, err := runner.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("run: %v %v", ran, err)
	}
	got, err := store.Get(ctx, ten.ID, job.ID)
	if err != nil || got.Status != Succeeded || got.Attempts != 2 || got.Report.Created != 1 || got.FinishedAt == nil {
		t.Fatalf("job %+v %v", got, err)
	}
	var cleared *string
	if err := store.pool.QueryRow(ctx, `SELECT body FROM import_jobs WHERE id = $1`, job.ID).Scan(&cleared); err != nil || cleared != nil {
		t.Fatalf("body not cleared: %v %v", cleared, err)
	}
	// Another tenant does not see it.
	_, _, other := setup(t)
	if _, err := store.Get(ctx, other.ID, job.ID); err != ErrNotFound {
		t.Fatalf("other tenant: %v", err)
	}
}

// A job that keeps stopping its node is failed, not run forever.
func TestJobFailsAfterAttempts(t *testing.T) {
	ctx := context.Background()
	store, runner, ten := setup(t)
	job, err := store.Create(ctx, ten.ID, "apikey:test", []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.pool.Exec(ctx, `UPDATE import_jobs SET status = 'running', attempts = $2, lease_until = now() - interval '1 second'
		WHERE id = $1`, job.ID, MaxAttempts); err != nil {
		t.Fatal(err)
	}
	if ran, err := runner.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("run: %v %v", ran, err)
	}
	got, err := store.Get(ctx, ten.ID, job.ID)
	if err != nil || got.Status != Failed || got.Error == "" || got.Report.Created != 0 {
		t.Fatalf("job %+v %v", got, err)
	}
}
