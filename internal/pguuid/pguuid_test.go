package pguuid_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hallpass/hallpass/internal/pguuid"
	"github.com/hallpass/hallpass/internal/testenv"
)

// uuidStatement is a statement description with one uuid parameter, as
// pgx has it after preparing "... WHERE tenant_id = $1".
var uuidStatement = &pgconn.StatementDescription{ParamOIDs: []uint32{pgtype.UUIDOID}}

func build(b testing.TB, m *pgtype.Map, u uuid.UUID) *pgx.ExtendedQueryBuilder {
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(m, uuidStatement, []any{u}); err != nil {
		b.Fatal(err)
	}
	return &eqb
}

// TestEncodeBinary: with the wrapper a uuid.UUID goes as 16 binary bytes,
// what pgx alone ends up sending, at one allocation instead of ~19.
func TestEncodeBinary(t *testing.T) {
	u := uuid.New()
	plainMap := pgtype.NewMap()
	plain := build(t, plainMap, u)
	m := pgtype.NewMap()
	pguuid.Register(m)
	// The wrapper spares the failed attempt: compare what one build costs.
	args := []any{u}
	var eqb0 pgx.ExtendedQueryBuilder
	costs := func(m *pgtype.Map) float64 {
		return testing.AllocsPerRun(50, func() { _ = eqb0.Build(m, uuidStatement, args) })
	}
	if without, with := costs(plainMap), costs(m); with > 1 || with >= without {
		t.Fatalf("allocations per build: %v with the wrapper, %v without", with, without)
	}
	got := build(t, m, u)
	if string(plain.ParamValues[0]) != string(got.ParamValues[0]) {
		t.Fatalf("pgx alone sent %x, with the wrapper %x", plain.ParamValues[0], got.ParamValues[0])
	}
	if got.ParamFormats[0] != pgtype.BinaryFormatCode || string(got.ParamValues[0]) != string(u[:]) {
		t.Fatalf("format %d value %x, want binary %x", got.ParamFormats[0], got.ParamValues[0], u[:])
	}
	// Pointers and other types keep their plans.
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(m, uuidStatement, []any{&u}); err != nil || string(eqb.ParamValues[0]) != string(u[:]) {
		t.Fatalf("*uuid.UUID: %v %x", err, eqb.ParamValues[0])
	}
	if err := eqb.Build(m, uuidStatement, []any{u.String()}); err != nil || string(eqb.ParamValues[0]) != u.String() {
		t.Fatalf("string: %v %q", err, eqb.ParamValues[0])
	}
}

// TestRoundTrip: a pool wired with AfterConnect writes and finds rows by
// uuid.UUID as before.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg, err := connConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pguuid.AfterConnect(ctx, conn); err != nil {
		t.Fatal(err)
	}
	u := uuid.New()
	var back uuid.UUID
	var text string
	if err := conn.QueryRow(ctx, "SELECT $1::uuid, $1::uuid::text", u).Scan(&back, &text); err != nil {
		t.Fatal(err)
	}
	if back != u || text != u.String() {
		t.Fatalf("got %v %q, want %v", back, text, u)
	}
	var nilUUID *uuid.UUID
	var isNull bool
	if err := conn.QueryRow(ctx, "SELECT $1::uuid IS NULL", nilUUID).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("nil *uuid.UUID: %v %v", err, isNull)
	}
}

func connConfig(t *testing.T) (*pgx.ConnConfig, error) {
	return pgx.ParseConfig(testenv.DatabaseURL(t))
}

// BenchmarkEncode: building one query's parameters with a uuid.UUID
// argument, with and without the wrapper.
func BenchmarkEncode(b *testing.B) {
	u := uuid.New()
	for _, tc := range []struct {
		name string
		wrap bool
	}{{"pgx-default", false}, {"pguuid", true}} {
		b.Run(tc.name, func(b *testing.B) {
			m := pgtype.NewMap()
			if tc.wrap {
				pguuid.Register(m)
			}
			var eqb pgx.ExtendedQueryBuilder
			args := []any{u}
			b.ReportAllocs()
			for b.Loop() {
				if err := eqb.Build(m, uuidStatement, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
