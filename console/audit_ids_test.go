package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/audit"
)

// Issue #16, item 10: a tenant's audit event ids (in the console's paging
// cursors and the export) do not count the other tenants' events, and the
// log still pages through every event exactly once, newest first, events
// recorded in one transaction in the order they were recorded, however
// many the other tenants record meanwhile.
func TestAuditIDsAndPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	busy := e.tenant("auditbusy")
	busyEvents := func(n int) {
		t.Helper()
		for i := range n {
			if err := audit.Record(ctx, e.pool, audit.Event{TenantID: busy.ID, Actor: "cli", Action: fmt.Sprintf("busy.%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	busyEvents(40)
	var highest int64
	if err := e.pool.QueryRow(ctx, `SELECT max(id) FROM audit_events`).Scan(&highest); err != nil {
		t.Fatal(err)
	}

	tn := e.tenant("auditquiet")
	viewer := e.user("auditquiet-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	want := []string{}
	// 120 events: some on their own, some ten to a transaction; the other
	// tenant records between them.
	for i := 0; i < 120; {
		if i%30 == 0 {
			busyEvents(5)
		}
		if i%20 == 0 {
			err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
				for j := range 10 {
					if err := audit.Record(ctx, tx, audit.Event{TenantID: tn.ID, Actor: "cli", Action: fmt.Sprintf("quiet.%03d", i+j)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for j := range 10 {
				want = append(want, fmt.Sprintf("quiet.%03d", i+j))
			}
			i += 10
			continue
		}
		if err := audit.Record(ctx, e.pool, audit.Event{TenantID: tn.ID, Actor: "cli", Action: fmt.Sprintf("quiet.%03d", i)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("quiet.%03d", i))
		i++
	}
	slices.Reverse(want)

	b := e.session(viewer)
	action := regexp.MustCompile(`<code>(quiet\.\d+)</code>`)
	next := regexp.MustCompile(`href="[^"]*\?before=([^"]+)" data-testid="next-page"`)
	var got []string
	page := "/console/t/" + tn.Slug + "/audit"
	for n := 0; page != ""; n++ {
		if n > 10 {
			t.Fatal("the audit log does not end")
		}
		body := b.get(page).status(200).Body
		for _, m := range action.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		page = ""
		if m := next.FindStringSubmatch(body); m != nil {
			page = "/console/t/" + tn.Slug + "/audit?before=" + strings.ReplaceAll(m[1], "&amp;", "&")
			busyEvents(3)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the pages showed %d events:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}

	var ids []int64
	sc := bufio.NewScanner(strings.NewReader(b.get("/console/t/" + tn.Slug + "/audit/export").status(200).Body))
	for sc.Scan() {
		var line struct {
			ID     int64  `json:"id"`
			Action string `json:"action"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.ID < 1 || line.ID > 1<<53-1 {
			t.Fatalf("event id %d outside JavaScript's safe integers", line.ID)
		}
		if strings.HasPrefix(line.Action, "quiet.") {
			ids = append(ids, line.ID)
		}
	}
	if len(ids) != 120 {
		t.Fatalf("exported %d of the tenant's events", len(ids))
	}
	// Oldest first.
	slices.Reverse(ids)
	if ids[0] > highest && ids[0] <= highest+100 {
		t.Fatalf("the tenant's first event id %d follows the other tenant's %d", ids[0], highest)
	}
	counting := 0
	for i := 1; i < len(ids); i++ {
		if d := ids[i] - ids[i-1]; d > 0 && d <= 20 {
			counting++
		}
	}
	if counting > len(ids)/2 {
		t.Fatalf("the tenant's event ids count up (%d of %d steps): %v", counting, len(ids)-1, ids[:20])
	}
}
