package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// userFields declares the seed's profile fields.
const userFields = `[{"name": "first_name", "type": "string", "max_length": 30, "user_editable": true},
	{"name": "last_name", "type": "string", "max_length": 30, "user_editable": true},
	{"name": "age", "type": "integer"}]`

// withUserFields sets HALLPASS_USER_FIELDS (and any other settings in
// extra, a JSON object's members) on the tenant.
func (e *env) withUserFields(tn *tenants.Tenant, extra string) *tenants.Tenant {
	e.t.Helper()
	doc := `{"HALLPASS_USER_FIELDS": ` + userFields
	if extra != "" {
		doc += ", " + extra
	}
	t, err := e.store.UpdateSettings(context.Background(), tn.Slug, []byte(doc+"}"), "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// userData reads a user's documents.
func (e *env) userData(tn *tenants.Tenant, id int64) *identity.UserData {
	e.t.Helper()
	d, err := e.accounts.Profiles.Data(context.Background(), tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The user page shows profile, public_metadata and private_metadata in
// JSON editors; an admin saves each (audited as the console user); a
// document that is not a JSON object, too big, or holds a value of the
// wrong type or an undeclared field is refused beside its editor, naming
// the field or document, and nothing is written. Viewers see the editors
// read-only and cannot save; another tenant's user is not found.
func TestUserDataEditors(t *testing.T) {
	e := newEnv(t)
	tn, other := e.tenant("udata"), e.tenant("udata-other")
	tn = e.withUserFields(tn, "")
	admin, viewer := e.user("udata-admin", false), e.user("udata-viewer", false)
	e.grant(tn, admin, console.RoleAdmin)
	e.grant(tn, viewer, console.RoleViewer)
	u := e.endUser(tn, "udata", true)
	e.endUser(other, "udata-o1", true)
	stranger := e.endUser(other, "udata-o2", true) // id 2: no such user in tn
	page := fmt.Sprintf("/console/t/%s/users/%d", tn.Slug, u.ID)
	save := func(b *browser, doc, value string) *response {
		return b.post(page+"/data", url.Values{"doc": {doc}, "value": {value}})
	}

	vb := e.session(viewer)
	vb.get(page).status(200).contains(`data-testid="data-profile"`, `data-testid="data-public_metadata"`, `data-testid="data-private_metadata"`,
		"readonly", "first_name</code>: string, at most 30 characters, user editable", "age</code>: integer").
		lacks(`data-testid="save-profile"`)
	vb.post(page+"/data", url.Values{"doc": {"profile"}, "value": {`{"first_name": "Eve"}`}}).status(403)

	b := e.session(admin)
	b.get(page).status(200).contains(`data-testid="save-profile"`, `data-testid="save-public_metadata"`, `data-testid="save-private_metadata"`, "data-json-editor")

	// Saves, one document at a time, each audited as the console user.
	save(b, "profile", `{"first_name": "Ada", "last_name": "Lovelace", "age": 36}`).status(303)
	save(b, "public_metadata", `{"avatar": "https://img.example/ada.png", "plan": {"tier": "pro"}}`).status(303)
	save(b, "private_metadata", `{"stripe_id": "cus_42"}`).status(303)
	d := e.userData(tn, u.ID)
	if got := asJSON(t, d); got != `{"profile":{"age":36,"first_name":"Ada","last_name":"Lovelace"},"public_metadata":{"avatar":"https://img.example/ada.png","plan":{"tier":"pro"}},"private_metadata":{"stripe_id":"cus_42"}}` {
		t.Fatalf("stored %s", got)
	}
	b.get(page).status(200).contains("Saved private_metadata of "+u.Email, html.EscapeString(`"stripe_id": "cus_42"`), html.EscapeString(`"first_name": "Ada"`))
	var actors []string
	if err := e.pool.QueryRow(context.Background(), `SELECT array_agg(actor ORDER BY id) FROM audit_events WHERE tenant_id = $1 AND action = 'user.data.change'`, tn.ID).Scan(&actors); err != nil {
		t.Fatal(err)
	}
	if len(actors) != 3 || actors[0] != "console:"+admin.ID.String() {
		t.Fatalf("audit actors %v", actors)
	}
	// The same document again writes nothing.
	save(b, "private_metadata", `{"stripe_id":"cus_42"}`).status(303)
	b.get(page).contains("Nothing changed")

	before := asJSON(t, e.userData(tn, u.ID))
	events := len(e.auditActions(tn.ID))
	refused := []struct{ doc, value, want string }{
		{"profile", `{"first_name": "Ada",`, "profile: Must be a JSON object."},
		{"profile", `["Ada"]`, "profile: Must be a JSON object."},
		{"profile", `{"age": "old"}`, "profile.age: Enter a valid integer."},
		{"profile", `{"first_name": "` + strings.Repeat("a", 31) + `"}`, "profile.first_name: "},
		{"profile", `{"nickname": "ada"}`, "profile.nickname: Unknown field."},
		{"profile", `{"first_name": "` + strings.Repeat("a", 1<<20) + `"}`, "profile: Must be at most 8192 bytes as JSON"},
		{"public_metadata", `{"avatar": nope}`, "public_metadata: Must be a JSON object."},
		{"public_metadata", `"just a string"`, "public_metadata: Must be a JSON object."},
		{"public_metadata", `{"blob": "` + strings.Repeat("x", 9000) + `"}`, "public_metadata: Must be at most 8192 bytes as JSON"},
		{"private_metadata", `{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {}}}}}}}}}}}}`, "private_metadata: Must nest at most"},
	}
	for _, c := range refused {
		res := save(b, c.doc, c.value).status(422)
		box := regexpFind(t, res.Body, `(?s)data-testid="data-error-`+c.doc+`"[^>]*>(.*?)</div>\s*</div>`)
		if !strings.Contains(html.UnescapeString(box), c.want) {
			t.Errorf("%s %.60s: error %q, want %q", c.doc, c.value, box, c.want)
		}
		if len(c.value) < 2000 {
			res.contains(html.EscapeString(c.value)) // the posted text stays in the editor
		}
	}
	if after := asJSON(t, e.userData(tn, u.ID)); after != before {
		t.Fatalf("a refused document was written:\n%s\n%s", before, after)
	}
	if n := len(e.auditActions(tn.ID)); n != events {
		t.Fatalf("refused saves were audited: %d events, had %d", n, events)
	}

	// Removing a field from the editor removes it; an unknown document, a
	// user of another tenant (by id or by tenant) is not found.
	save(b, "profile", `{"first_name": "Ada", "last_name": "Lovelace"}`).status(303)
	if got := asJSON(t, e.userData(tn, u.ID).Profile); got != `{"first_name":"Ada","last_name":"Lovelace"}` {
		t.Fatalf("profile %s", got)
	}
	save(b, "secrets", `{}`).status(404)
	b.post(fmt.Sprintf("/console/t/%s/users/%d/data", tn.Slug, stranger.ID), url.Values{"doc": {"public_metadata"}, "value": {`{"x": 1}`}}).status(404)
	b.post(fmt.Sprintf("/console/t/%s/users/%d/data", other.Slug, stranger.ID), url.Values{"doc": {"public_metadata"}, "value": {`{"x": 1}`}}).status(404)
	if got := asJSON(t, e.userData(other, stranger.ID).PublicMetadata); got != `{}` {
		t.Fatalf("another tenant's user changed: %s", got)
	}
	// Without the form token nothing is written.
	b.post(page+"/data", url.Values{"doc": {"public_metadata"}, "value": {`{"x": 1}`}, "_csrf": {"forged"}}).status(403)
	if got := asJSON(t, e.userData(tn, u.ID).PublicMetadata); !strings.Contains(got, "avatar") {
		t.Fatalf("a forged post changed the metadata: %s", got)
	}
}

// preview is the preview endpoint's answer.
type preview struct {
	Errors []struct{ Key, Output, Message string } `json:"errors"`
	User   *struct {
		ID    int64
		Label string
	} `json:"user"`
	Object json.RawMessage                         `json:"object"`
	Token  map[string]any                          `json:"token"`
	Failed []struct{ Key, Output, Message string } `json:"failed"`
	Note   string                                  `json:"note"`
}

func decodePreview(t *testing.T, res *response) preview {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q: %s", ct, excerpt(res.Body))
	}
	var p preview
	if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	return p
}

// The settings preview computes, for a user of the tenant, the user object
// (allauth's keys, then the DRAFT serializer's) and the decoded access
// token (the token issuer's claims plus the DRAFT claims), without writing
// anything; a draft that would be refused answers 422 naming the setting,
// the key and the position; a user of another tenant is not found; viewers
// may preview but not save; the form saves the same draft (a broken
// expression is refused there too, nothing written).
func TestUserDataSettingsPreview(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn, other := e.tenant("upreview"), e.tenant("upreview-other")
	tn = e.withUserFields(tn, `"HEADLESS_TOKEN_STRATEGY": "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy", "HALLPASS_JWT_AUDIENCE": "my-api"`)
	admin, viewer := e.user("upreview-admin", false), e.user("upreview-viewer", false)
	e.grant(tn, admin, console.RoleAdmin)
	e.grant(tn, viewer, console.RoleViewer)
	u := e.endUser(tn, "upreview", true)
	e.endUser(other, "upreview-o1", true)
	stranger := e.endUser(other, "upreview-o2", true)
	if _, err := e.accounts.Profiles.Update(ctx, audit.Actor{Name: "test"}, tn, u.ID, userdata.ModeBackend, identity.UserDataChange{
		Profile:         map[string]any{"first_name": "Ada", "last_name": "Lovelace"},
		PublicMetadata:  map[string]any{"avatar": "https://img.example/ada.png", "role": "editor"},
		PrivateMetadata: map[string]any{"secret": "never-shown"}}); err != nil {
		t.Fatal(err)
	}
	tn = e.reload(tn.Slug)
	version, overrides := tn.SettingsVersion, asJSON(t, tn.Overrides)
	events := len(e.auditActions(tn.ID))
	endpoint := "/console/t/" + tn.Slug + "/settings/preview"
	serializer := `{"full_name": "user.profile.first_name + ' ' + user.profile.last_name",
		"profile_image": "has(user.public_metadata.avatar) ? user.public_metadata.avatar : null"}`
	claims := `{"role": "has(user.public_metadata.role) ? user.public_metadata.role : 'member'", "tenant": "tenant.slug"}`
	draft := func(user int64, ser, cl string) url.Values {
		return url.Values{"user": {fmt.Sprint(user)}, "s:HALLPASS_USER_FIELDS": {userFields}, "s:HALLPASS_USER_SERIALIZER": {ser}, "s:HALLPASS_JWT_CLAIMS": {cl}}
	}

	b := e.session(admin)
	page := b.get("/console/t/" + tn.Slug + "/settings/user-data").status(200)
	page.contains(`data-testid="user-preview"`, `data-preview-url="`+endpoint+`"`, fmt.Sprintf(`data-user-id="%d"`, u.ID),
		`id="setting-HALLPASS_USER_FIELDS"`, `id="setting-HALLPASS_USER_SERIALIZER"`, `id="setting-HALLPASS_JWT_CLAIMS"`)

	p := decodePreview(t, b.post(endpoint, draft(u.ID, serializer, claims)).status(200))
	username := strings.ReplaceAll(strings.TrimSuffix(u.Email, "@users.example"), "-", "_")
	wantObject := fmt.Sprintf(`{"display":"%s","email":"%s","has_usable_password":true,"id":%d,"username":"%s","full_name":"Ada Lovelace","profile_image":"https://img.example/ada.png"}`,
		username, u.Email, u.ID, username)
	if string(p.Object) != wantObject {
		t.Fatalf("object\n%s\nwant\n%s", p.Object, wantObject)
	}
	if p.User == nil || p.User.ID != u.ID || p.User.Label != u.Email || len(p.Failed) != 0 || p.Note != "" {
		t.Fatalf("preview %+v", p)
	}
	tok := p.Token
	if tok["sub"] != fmt.Sprint(u.ID) || tok["iss"] != "http://console.test/t/"+tn.Slug || tok["token_use"] != "access" ||
		tok["role"] != "editor" || tok["tenant"] != tn.Slug || fmt.Sprint(tok["aud"]) != "[my-api]" {
		t.Fatalf("token %v", tok)
	}
	if exp, iat := tok["exp"].(float64), tok["iat"].(float64); exp-iat != float64(tn.Settings.JWTAccessTokenExpiresIn) {
		t.Fatalf("token lifetime %v", exp-iat)
	}
	if strings.Contains(string(p.Object)+fmt.Sprint(tok), "never-shown") {
		t.Fatal("private metadata reached the preview")
	}

	// The preview follows the draft, not the saved settings.
	p = decodePreview(t, b.post(endpoint, draft(u.ID, `{"initials": "user.profile.first_name.substring(0, 1) + user.profile.last_name.substring(0, 1)"}`, `{}`)).status(200))
	if !strings.HasSuffix(string(p.Object), `"initials":"AL"}`) || strings.Contains(string(p.Object), "full_name") || p.Token["role"] != nil {
		t.Fatalf("draft preview %s %v", p.Object, p.Token)
	}
	// A key that fails for this user is reported and left out.
	p = decodePreview(t, b.post(endpoint, draft(u.ID, `{"plan": "user.public_metadata.plan", "ok": "user.id"}`, `{}`)).status(200))
	if len(p.Failed) != 1 || p.Failed[0].Output != "plan" || !strings.Contains(p.Failed[0].Message, `HALLPASS_USER_SERIALIZER: "plan": `) ||
		!strings.HasSuffix(string(p.Object), fmt.Sprintf(`"ok":%d}`, u.ID)) {
		t.Fatalf("failed key: %+v %s", p.Failed, p.Object)
	}

	// Drafts that a save would refuse.
	for _, c := range []struct {
		ser, cl, want string
	}{
		{`{"full_name": "user.profile.first_name +"}`, `{}`, `HALLPASS_USER_SERIALIZER: "full_name": line 1, column`},
		{`{"full_name": "user.profile.nickname"}`, `{}`, `HALLPASS_USER_SERIALIZER: "full_name": line 1, column 13: user.profile.nickname: no such field in HALLPASS_USER_FIELDS`},
		{`{}`, `{"sub": "user.email"}`, `HALLPASS_JWT_CLAIMS: "sub"`},
		{`{"full_name": `, `{}`, `HALLPASS_USER_SERIALIZER: is not valid JSON`},
	} {
		p := decodePreview(t, b.post(endpoint, draft(u.ID, c.ser, c.cl)).status(422))
		if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Message, c.want) || p.Object != nil {
			t.Errorf("draft %s %s: %+v, want %q", c.ser, c.cl, p.Errors, c.want)
		}
	}

	// No user picked: the draft is only checked. Another tenant's user, or
	// no number: not found.
	p = decodePreview(t, b.post(endpoint, url.Values{}).status(200))
	if p.User != nil || p.Object != nil {
		t.Fatalf("preview without a user: %+v", p)
	}
	decodePreview(t, b.post(endpoint, draft(stranger.ID, serializer, claims)).status(404))
	decodePreview(t, b.post(endpoint, url.Values{"user": {"abc"}}).status(404))
	b.post("/console/t/"+other.Slug+"/settings/preview", draft(stranger.ID, serializer, claims)).status(404) // no role there
	// The form token is required.
	fake := draft(u.ID, serializer, claims)
	fake.Set("_csrf", "forged")
	b.post(endpoint, fake).status(403)

	// A viewer previews; the search box finds users of this tenant only.
	vb := e.session(viewer)
	decodePreview(t, vb.post(endpoint, draft(u.ID, serializer, claims)).status(200))
	var found struct{ Users []struct{ ID int64 } }
	if err := json.Unmarshal([]byte(vb.get("/console/t/"+tn.Slug+"/settings/preview/users?q="+url.QueryEscape(u.Email[:8])).status(200).Body), &found); err != nil {
		t.Fatal(err)
	}
	if len(found.Users) != 1 || found.Users[0].ID != u.ID {
		t.Fatalf("search found %+v", found)
	}
	if err := json.Unmarshal([]byte(vb.get("/console/t/"+tn.Slug+"/settings/preview/users?q=upreview-o2").status(200).Body), &found); err != nil || len(found.Users) != 0 {
		t.Fatalf("search found another tenant's user: %+v %v", found, err)
	}

	// Nothing of it was written.
	after := e.reload(tn.Slug)
	if after.SettingsVersion != version || asJSON(t, after.Overrides) != overrides {
		t.Fatalf("a preview changed the settings: v%d %s", after.SettingsVersion, asJSON(t, after.Overrides))
	}
	if n := len(e.auditActions(tn.ID)); n != events {
		t.Fatalf("previews were audited: %v", e.auditActions(tn.ID)[:n-events])
	}

	// The form saves the same keys: a broken expression is refused naming
	// the setting, key and position, nothing written; a good one is saved.
	form := func(ser string) url.Values {
		return url.Values{"version": {fmt.Sprint(version)}, "s:HALLPASS_USER_FIELDS": {userFields}, "s:HALLPASS_USER_SERIALIZER": {ser}, "s:HALLPASS_JWT_CLAIMS": {claims}}
	}
	vb.post("/console/t/"+tn.Slug+"/settings/user-data", form(serializer)).status(403)
	res := b.post("/console/t/"+tn.Slug+"/settings/user-data", form(`{"full_name": "account.name"}`)).status(422)
	res.contains(`data-testid="error-HALLPASS_USER_SERIALIZER"`, html.EscapeString(`"full_name": line 1, column`))
	if e.reload(tn.Slug).SettingsVersion != version {
		t.Fatal("a refused expression was saved")
	}
	// So does the JSON document page, on preview and on save.
	for _, action := range []string{"preview", "save"} {
		b.post("/console/t/"+tn.Slug+"/settings/json", url.Values{"version": {fmt.Sprint(version)}, "action": {action},
			"doc": {`{"HALLPASS_USER_FIELDS": ` + userFields + `, "HALLPASS_JWT_CLAIMS": {"ok": "user.id", "exp": "0"}}`}}).status(422).
			contains(`data-testid="json-errors"`, "<code>HALLPASS_JWT_CLAIMS</code>", html.EscapeString(`"exp"`))
	}
	if e.reload(tn.Slug).SettingsVersion != version {
		t.Fatal("a refused document was saved")
	}
	b.post("/console/t/"+tn.Slug+"/settings/user-data", form(serializer)).status(303)
	saved := e.reload(tn.Slug)
	if saved.SettingsVersion != version+1 || !slices.Equal(slices.Sorted(maps.Keys(saved.Settings.UserSerializer.Source())), []string{"full_name", "profile_image"}) ||
		saved.Settings.JWTClaims.Empty() {
		t.Fatalf("saved %d %v", saved.SettingsVersion, saved.Settings.UserSerializer.Source())
	}
}
