package testenv

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PlanCase is one statement of a hot path whose plans CheckPlans checks:
// the statement as the store runs it, its parameters, and the indexes its
// plan must use.
type PlanCase struct {
	Name    string
	SQL     string
	Args    []any
	Indexes []string
}

// planNode is the part of EXPLAIN (FORMAT JSON) the checks read.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(visit func(planNode)) {
	visit(n)
	for _, c := range n.Plans {
		c.walk(visit)
	}
}

// CheckPlans explains each case with its parameters (the custom plan) and
// as a generic plan (what a prepared statement falls back to after five
// executions); neither may scan a table sequentially, and each must use the
// indexes named. The tables should be of realistic size and ANALYZEd.
func CheckPlans(t *testing.T, pool *pgxpool.Pool, cases []PlanCase) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, c := range cases {
		for _, generic := range []bool{false, true} {
			var raw []byte
			if !generic {
				if _, err := conn.Exec(ctx, `SET plan_cache_mode = auto`); err != nil {
					t.Fatal(err)
				}
				err = conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+c.SQL, c.Args...).Scan(&raw)
			} else {
				if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, "PREPARE hot AS "+c.SQL); err != nil {
					t.Fatalf("%s: prepare: %v", c.Name, err)
				}
				lits := make([]string, len(c.Args))
				for i, a := range c.Args {
					lits[i] = sqlLiteral(t, a)
				}
				err = conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE hot("+strings.Join(lits, ", ")+")").Scan(&raw)
				if _, derr := conn.Exec(ctx, `DEALLOCATE hot`); derr != nil {
					t.Fatal(derr)
				}
			}
			if err != nil {
				t.Fatalf("%s: explain: %v", c.Name, err)
			}
			var plans []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
				t.Fatalf("%s: plan %s: %v", c.Name, raw, err)
			}
			var used []string
			plans[0].Plan.walk(func(n planNode) {
				if n.NodeType == "Seq Scan" {
					t.Errorf("%s (generic %v): sequential scan of %s\n%s", c.Name, generic, n.Relation, raw)
				}
				if n.IndexName != "" {
					used = append(used, n.IndexName)
				}
			})
			for _, want := range c.Indexes {
				if !slices.Contains(used, want) {
					t.Errorf("%s (generic %v): index %s not used (used %v)\n%s", c.Name, generic, want, used, raw)
				}
			}
		}
	}
	if _, err := conn.Exec(ctx, `RESET plan_cache_mode`); err != nil {
		t.Fatal(err)
	}
}

// sqlLiteral spells a parameter as a SQL literal, for EXECUTE.
func sqlLiteral(t *testing.T, v any) string {
	switch v := v.(type) {
	case []uuid.UUID:
		return "ARRAY[" + strings.Join(literals(t, v), ", ") + "]::uuid[]"
	case []time.Time:
		return "ARRAY[" + strings.Join(literals(t, v), ", ") + "]::timestamptz[]"
	case uuid.UUID:
		return "'" + v.String() + "'::uuid"
	case []byte:
		return `'\x` + hex.EncodeToString(v) + "'::bytea"
	case int64:
		return fmt.Sprint(v)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339) + "'::timestamptz"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// literals spells each of vs with sqlLiteral.
func literals[T any](t *testing.T, vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = sqlLiteral(t, v)
	}
	return out
}
