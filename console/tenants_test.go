package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// Creating a tenant checks slug and name inline; a customer who creates
// one becomes its owner; renaming and deleting (with the slug typed to
// confirm) work and are audited.
func TestTenantLifecycle(t *testing.T) {
	e := newEnv(t)
	customer := e.user("lifecycle", false)
	b := e.session(customer)

	b.get("/console/tenants").status(200).contains(`data-testid="empty-tenants"`, "No tenants yet")
	b.get("/console/tenants/new").status(200).contains(`hx-get="/console/tenants/check-slug"`)
	b.post("/console/tenants", url.Values{"slug": {"Not A Slug"}}).status(422).contains(`data-testid="slug-error"`, "lower-case letters")
	b.post("/console/tenants", url.Values{"slug": {"console"}}).status(422).contains("reserved")
	taken := e.tenant("taken")
	b.post("/console/tenants", url.Values{"slug": {taken.Slug}}).status(422).contains("already taken")
	b.get("/console/tenants/check-slug?slug=" + taken.Slug).status(200).contains("already taken")
	b.get("/console/tenants/check-slug?slug=Bad_Slug").status(200).contains("lower-case")

	slug := testenv.Slug("lifecycle")
	b.get("/console/tenants/check-slug?slug=" + slug).status(200).contains("is available")
	res := b.post("/console/tenants", url.Values{"slug": {slug}, "name": {"Life Cycle"}}).status(303)
	if res.Location() != "/console/t/"+slug {
		t.Fatalf("went to %q", res.Location())
	}
	b.get(res.Location()).status(200).contains("Tenant "+slug+" created", "Life Cycle", "http://console.test/t/"+slug)
	tn := e.reload(slug)
	if role, _ := e.con.Users().Role(context.Background(), tn.ID, customer.ID); role != console.RoleOwner {
		t.Fatalf("creator's role %q", role)
	}
	b.get("/console/tenants").status(200).contains(slug, "owner")

	b.post("/console/t/"+slug+"/rename", url.Values{"name": {"  "}}).status(422).contains(`data-testid="name-error"`)
	b.post("/console/t/"+slug+"/rename", url.Values{"name": {"Renamed Co"}}).status(303)
	if e.reload(slug).Name != "Renamed Co" {
		t.Fatal("not renamed")
	}

	b.post("/console/t/"+slug+"/delete", url.Values{"confirm": {"yes"}}).status(422).contains(`data-testid="delete-error"`, "Nothing was deleted")
	e.reload(slug)
	b.post("/console/t/"+slug+"/delete", url.Values{"confirm": {slug}}).status(303)
	if _, err := e.store.Get(context.Background(), slug); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("still there: %v", err)
	}
	actions := e.auditActions(tn.ID)
	for _, want := range []string{"tenant.create", "console.member.add", "tenant.rename", "tenant.delete"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}

// The tenant list pages by slug; a customer sees only their tenants.
func TestTenantListPagination(t *testing.T) {
	e := newEnv(t)
	customer := e.user("pager", false)
	prefix := testenv.Slug("pg")
	var slugs []string
	for i := range 27 {
		tn, err := e.store.Create(context.Background(), tenants.CreateInput{Slug: fmt.Sprintf("%s-%02d", prefix, i)}, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.grant(tn, customer, console.RoleViewer)
		slugs = append(slugs, tn.Slug)
	}
	hidden := e.tenant("not-mine")
	b := e.session(customer)
	first := b.get("/console/tenants").status(200).contains(slugs[0], slugs[24], `data-testid="next-page"`).lacks(slugs[25], hidden.Slug)
	_ = first
	b.get("/console/tenants?after="+url.QueryEscape(slugs[24])).status(200).contains(slugs[25], slugs[26], "First page").lacks(slugs[24], `data-testid="next-page"`)
	// A platform admin sees every tenant.
	e.session(e.user("pager-admin", true)).get("/console/tenants").status(200).contains("platform admin")
}

// The tenant pages show what they promise: quickstart lines that name the
// tenant's API, the audit log, the dev inbox, members, and signing keys
// with the JWKS, which rotate and retire.
func TestTenantPages(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("pages")
	owner := e.user("pages", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	base := "/console/t/" + tn.Slug

	b.get(base+"/quickstart").status(200).contains(
		"curl -s http://console.test/t/"+tn.Slug+"/_allauth/app/v1/config",
		"http://console.test/t/"+tn.Slug+"/_allauth/app/v1/auth/signup",
		"http://console.test/t/"+tn.Slug+"/.well-known/jwks.json",
		"http://"+tn.Slug+".hallpass.test")
	b.get(base+"/members").status(200).contains(owner.Email, "owner")
	b.get(base + "/inbox").status(200).contains("No mail yet")
	b.get(base+"/audit").status(200).contains("tenant.create", "console.member.add")

	b.get(base+"/keys").status(200).contains("No keys yet", `data-testid="rotate-key"`)
	b.post(base+"/keys/rotate", url.Values{"alg": {"ES256"}, "delay": {"0"}}).status(303)
	keys, err := e.keys.List(context.Background(), tn)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	kid := keys[0].Kid
	page := b.get(base+"/keys").status(200).contains(kid, "ES256", `data-testid="jwks"`, "&#34;kid&#34;: &#34;"+kid)
	page.lacks(`"d":`, "&#34;d&#34;")
	b.post(base+"/keys/rotate", url.Values{"alg": {"ES256"}, "delay": {"forever"}}).status(422).contains("Not rotated")
	b.post(base+"/keys/"+kid+"/retire", nil).status(303)
	b.post(base+"/keys/"+kid+"/retire", nil).status(422).contains("already retired")
	if slices.Contains(e.auditActions(tn.ID), "signing_key.retire") == false {
		t.Fatal("retire not audited")
	}
}

// The generated templ code is what `go tool templ generate` makes of the
// .templ files: a stale *_templ.go fails here, not in review.
func TestTemplGeneratedUpToDate(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var templs []string
	for _, dir := range []string{"console", "web"} {
		matches, _ := filepath.Glob(filepath.Join(root, dir, "*.templ"))
		for _, src := range matches {
			dst := filepath.Join(tmp, dir, filepath.Base(src))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
			templs = append(templs, filepath.Join(dir, filepath.Base(src)))
		}
	}
	if len(templs) == 0 {
		t.Fatal("no .templ files found")
	}
	cmd := exec.Command("go", "tool", "templ", "generate", "-path", tmp)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("templ generate: %v\n%s", err, out)
	}
	for _, rel := range templs {
		gen := strings.TrimSuffix(rel, ".templ") + "_templ.go"
		want, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, gen))
		if err != nil {
			t.Fatalf("%s is missing: run `go tool templ generate`", gen)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: run `go tool templ generate`", gen)
		}
	}
}
