package identity_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// withUserData gives the fixture's tenant declared fields and a serializer.
func (f *adminFixture) withUserData() {
	f.t.Helper()
	tn, err := tenants.NewStore(f.pool, nil, nil).UpdateSettings(f.ctx, f.tenant.Slug, []byte(`{
		"HALLPASS_USER_FIELDS": [
			{"name": "first_name", "type": "string", "user_editable": true},
			{"name": "last_name", "type": "string", "user_editable": true},
			{"name": "plan", "type": "choice", "choices": ["free", "pro"]}],
		"HALLPASS_USER_SERIALIZER": {
			"full_name": "(user.profile.?first_name.orValue('') + ' ' + user.profile.?last_name.orValue('')).trim()",
			"profile_image": "has(user.public_metadata.avatar) ? user.public_metadata.avatar : null",
			"verified": "user.emails.exists(e, e.primary && e.verified)"},
		"HALLPASS_JWT_CLAIMS": {"plan": "user.profile.?plan.orValue('free')", "roles": "user.public_metadata.?roles.orValue([])"}}`), "test")
	if err != nil {
		f.t.Fatal(err)
	}
	f.tenant = tn
}

func TestProfilesUpdateValidatesAuditsAndInvalidates(t *testing.T) {
	f := newAdminFixture(t)
	f.withUserData()
	id := f.user("ada@example.com")
	p := f.writer.Profiles

	// The seed's adapter: full_name and profile_image.
	extra, err := p.Serialize(f.ctx, f.tenant, id)
	if err != nil || string(extra) != `{"full_name":"","profile_image":null,"verified":true}` {
		t.Fatalf("serialize before = %s, %v", extra, err)
	}

	// A user may change their editable fields, not plan, not metadata.
	_, err = p.Update(f.ctx, f.by, f.tenant, id, userdata.ModeUser, identity.UserDataChange{Profile: map[string]any{"plan": "pro", "first_name": "Ada"}})
	var fe userdata.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Param != "plan" || fe[0].Code != "not_editable" {
		t.Fatalf("user sets plan: %v", err)
	}
	_, err = p.Update(f.ctx, f.by, f.tenant, id, userdata.ModeUser, identity.UserDataChange{PublicMetadata: map[string]any{"avatar": "x"}})
	if !errors.As(err, &fe) || fe[0].Param != userdata.PublicMetadata {
		t.Fatalf("user sets metadata: %v", err)
	}
	if d, _ := p.Data(f.ctx, f.tenant.ID, id); len(d.Profile) != 0 || len(d.PublicMetadata) != 0 {
		t.Fatalf("a refused change wrote: %+v", d)
	}

	token := f.login(id)
	f.warm(token, id)
	d, err := p.Update(f.ctx, f.by, f.tenant, id, userdata.ModeUser, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada", "last_name": "Lovelace"}})
	if err != nil || d.Profile["first_name"] != "Ada" {
		t.Fatalf("user update = %+v, %v", d, err)
	}
	if ev := f.event("user.profile.change"); ev == nil || ev.Actor != "user:"+itoa(id) || !slices.Equal(toStrings(ev.Details["changed"]), []string{"profile.first_name", "profile.last_name"}) {
		t.Fatalf("audit = %+v", ev)
	}
	// The node's cached summary dropped: the session is read again.
	sess, err := f.node.Sessions.Lookup(f.ctx, f.tenant.ID, token, "", "")
	if err != nil || sess.User() == nil || !strings.HasPrefix(sess.User().PrimaryEmail, "moved") {
		t.Fatalf("session after update: %v", err)
	}

	// The backend sets plan and metadata; private metadata is never an input.
	_, err = p.Update(f.ctx, f.by, f.tenant, id, userdata.ModeBackend, identity.UserDataChange{Profile: map[string]any{"plan": "pro"},
		PublicMetadata: map[string]any{"avatar": "https://cdn/a.png", "roles": []any{"admin"}}, PrivateMetadata: map[string]any{"stripe": "cus_1"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := f.event("user.data.change"); ev == nil || ev.Actor != f.by.Name || strings.Contains(mustJSON(ev.Details), "cus_1") {
		t.Fatalf("backend audit = %+v", ev)
	}
	extra, _ = p.Serialize(f.ctx, f.tenant, id)
	if string(extra) != `{"full_name":"Ada Lovelace","profile_image":"https://cdn/a.png","verified":true}` {
		t.Errorf("serialize after = %s", extra)
	}
	claims, err := p.Claims(f.ctx, f.tenant, id)
	if err != nil || claims["plan"] != "pro" || mustJSON(claims["roles"]) != `["admin"]` {
		t.Errorf("claims = %v, %v", claims, err)
	}
	in, _ := p.Input(f.ctx, f.tenant, id)
	if strings.Contains(mustJSON(in), "cus_1") {
		t.Error("private metadata reached the expressions' input")
	}

	// Bounds: a too-big document and a bad value change nothing.
	big := map[string]any{"x": strings.Repeat("y", userdata.MaxDocumentBytes)}
	if _, err := p.Update(f.ctx, f.by, f.tenant, id, userdata.ModeBackend, identity.UserDataChange{PrivateMetadata: big, Profile: map[string]any{"plan": "gold"}}); !errors.As(err, &fe) {
		t.Fatalf("too big: %v", err)
	}
	if d, _ := p.Data(f.ctx, f.tenant.ID, id); d.PrivateMetadata["stripe"] != "cus_1" || d.Profile["plan"] != "pro" {
		t.Errorf("refused change wrote: %+v", d)
	}
	// Another tenant's id is no user here.
	other := newAdminFixture(t)
	if _, err := p.Update(f.ctx, f.by, other.tenant, id, userdata.ModeBackend, identity.UserDataChange{Profile: map[string]any{}}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("other tenant: %v", err)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
