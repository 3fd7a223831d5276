package userdata_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/userdata"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

var seedFields = `[
	{"name": "first_name", "type": "string", "max_length": 30, "signup": true, "user_editable": true},
	{"name": "last_name", "type": "string", "signup": true, "user_editable": true},
	{"name": "image_url", "type": "string", "user_editable": true},
	{"name": "plan", "type": "choice", "choices": ["free", "pro"], "required": true},
	{"name": "age", "type": "integer"},
	{"name": "birthday", "type": "date", "user_editable": true},
	{"name": "newsletter", "type": "boolean", "signup": true, "user_editable": true}
]`

func TestParseFieldsRefusesBadDeclarations(t *testing.T) {
	cases := map[string]string{
		"not a list":         `{"name": "x"}`,
		"bad name":           `[{"name": "First", "type": "string"}]`,
		"reserved name":      `[{"name": "email", "type": "string"}]`,
		"unknown type":       `[{"name": "x", "type": "float"}]`,
		"choice no choices":  `[{"name": "x", "type": "choice"}]`,
		"choices on string":  `[{"name": "x", "type": "string", "choices": ["a"]}]`,
		"max_length on bool": `[{"name": "x", "type": "boolean", "max_length": 3}]`,
		"unknown key":        `[{"name": "x", "type": "string", "label": "X"}]`,
		"duplicate":          `[{"name": "x", "type": "string"}, {"name": "x", "type": "integer"}]`,
		"max_length zero":    `[{"name": "x", "type": "string", "max_length": 0}]`,
		"name too long":      `[{"name": "` + strings.Repeat("a", 41) + `", "type": "string"}]`,
	}
	for name, doc := range cases {
		if _, err := userdata.ParseFields(decode(t, doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	fs, err := userdata.ParseFields(decode(t, seedFields))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := fs.Lookup("last_name"); f.MaxLength != userdata.DefaultMaxLength {
		t.Errorf("default max_length = %d", f.MaxLength)
	}
	if got := len(fs.Signup()); got != 3 {
		t.Errorf("signup fields = %d, want 3", got)
	}
}

func TestApplyValidatesPerMode(t *testing.T) {
	fs, err := userdata.ParseFields(decode(t, seedFields))
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name   string
		mode   userdata.Mode
		input  string
		params []string // params of the errors, sorted; nil = accepted
		codes  []string
	}
	cases := []tc{
		{"signup ok, other keys ignored", userdata.ModeSignup, `{"first_name": "Ada", "email": "a@b.c", "newsletter": true}`, nil, nil},
		{"signup too long", userdata.ModeSignup, `{"first_name": "` + strings.Repeat("é", 31) + `"}`, []string{"first_name"}, []string{"max_length"}},
		{"signup wrong type", userdata.ModeSignup, `{"newsletter": "yes", "last_name": 3}`, []string{"last_name", "newsletter"}, []string{"invalid", "invalid"}},
		{"user edits editable", userdata.ModeUser, `{"birthday": "1990-02-28", "image_url": null}`, nil, nil},
		{"user may not set plan", userdata.ModeUser, `{"plan": "pro"}`, []string{"plan"}, []string{"not_editable"}},
		{"unknown field", userdata.ModeUser, `{"nickname": "x"}`, []string{"nickname"}, []string{"unknown"}},
		{"bad date", userdata.ModeUser, `{"birthday": "1990-02-30"}`, []string{"birthday"}, []string{"invalid"}},
		{"backend sets plan", userdata.ModeBackend, `{"plan": "pro", "age": 41}`, nil, nil},
		{"bad choice", userdata.ModeBackend, `{"plan": "gold"}`, []string{"plan"}, []string{"invalid_choice"}},
		{"required cleared", userdata.ModeBackend, `{"plan": null}`, []string{"plan"}, []string{"required"}},
		{"fraction", userdata.ModeBackend, `{"age": 4.5}`, []string{"age"}, []string{"invalid"}},
		{"backend removes an undeclared field", userdata.ModeBackend, `{"legacy": null}`, nil, nil},
		{"user may not remove one", userdata.ModeUser, `{"legacy": null}`, []string{"legacy"}, []string{"unknown"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := map[string]any{"plan": "free", "image_url": "https://x/y.png"}
			out, err := fs.Apply(c.mode, before, decode(t, c.input).(map[string]any))
			if before["plan"] != "free" || len(before) != 2 {
				t.Fatalf("Apply changed its input: %v", before)
			}
			if c.params == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if out == nil {
					t.Fatal("no profile")
				}
				return
			}
			var fe userdata.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want FieldErrors", err)
			}
			if len(fe) != len(c.params) {
				t.Fatalf("errors = %v, want params %v", fe, c.params)
			}
			for i, e := range fe {
				if e.Param != c.params[i] || e.Code != c.codes[i] {
					t.Errorf("error %d = %s/%s, want %s/%s", i, e.Param, e.Code, c.params[i], c.codes[i])
				}
			}
		})
	}
	out, err := fs.Apply(userdata.ModeUser, map[string]any{"image_url": "u"}, map[string]any{"image_url": nil, "first_name": "Ada"})
	if err != nil || out["first_name"] != "Ada" || out["image_url"] != nil {
		t.Fatalf("apply = %v, %v", out, err)
	}
}

func TestParseDocumentBounds(t *testing.T) {
	cases := map[string]string{
		"not an object":  `[1]`,
		"malformed":      `{"a": `,
		"two values":     `{} {}`,
		"null":           `null`,
		"NUL in a value": `{"a": ["x\u0000"]}`,
		"NUL in a key":   `{"a\u0000": 1}`,
		"too big":        `{"a": "` + strings.Repeat("x", userdata.MaxDocumentBytes) + `"}`,
		"too deep":       strings.Repeat(`{"a":`, 12) + `1` + strings.Repeat(`}`, 12),
	}
	for name, doc := range cases {
		_, err := userdata.ParseDocument(userdata.PublicMetadata, []byte(doc))
		var fe *userdata.FieldError
		if !errors.As(err, &fe) || fe.Param != userdata.PublicMetadata {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := userdata.ParseDocument(userdata.PublicMetadata, []byte(`{"avatar": "https://x/a.png", "roles": ["admin"]}`)); err != nil {
		t.Fatal(err)
	}
}

func seedUser() *userdata.User {
	return userdata.NewUser(userdata.User{
		ID: 42, Email: "ada@example.com", Display: "ada",
		Profile:        map[string]any{"first_name": "Ada", "last_name": "Lovelace", "age": float64(36)},
		PublicMetadata: map[string]any{"avatar": "https://cdn.example/ada.png", "roles": []any{"admin", "author"}, "level": json.Number("2")},
		Emails:         []userdata.Email{{Email: "ada@example.com", Verified: true, Primary: true}},
		MFA:            []string{"totp"},
		DateJoined:     time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	})
}

// The settings guide's adapter (seed), as HALLPASS_USER_SERIALIZER.
func TestSeedAdapterAsExpressions(t *testing.T) {
	fs, err := userdata.ParseFields(decode(t, seedFields))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := userdata.Compile(map[string]string{
		"full_name":     `(user.profile.?first_name.orValue("") + " " + user.profile.?last_name.orValue("")).trim()`,
		"profile_image": `has(user.public_metadata.avatar) ? user.public_metadata.avatar : null`,
		"is_admin":      `"admin" in user.public_metadata.roles`,
		"next_level":    `user.public_metadata.level + 1`,
		"joined":        `user.date_joined`,
		"has_totp":      `"totp" in user.mfa && user.emails.exists(e, e.primary && e.verified)`,
		"org":           `tenant.slug`,
		"broken":        `user.public_metadata.missing + "x"`,
	}, userdata.CompileOptions{Fields: fs})
	if err != nil {
		t.Fatal(err)
	}
	in := &userdata.Input{User: seedUser(), Tenant: userdata.Tenant{Slug: "acme", Name: "Acme"}, Now: time.Now()}
	got, failed := ex.Render(in)
	want := `{"full_name":"Ada Lovelace","has_totp":true,"is_admin":true,"joined":"2024-01-02T03:04:05Z","next_level":3,"org":"acme","profile_image":"https://cdn.example/ada.png"}`
	if string(got) != want {
		t.Errorf("render = %s\nwant     %s", got, want)
	}
	if len(failed) != 1 || failed[0].Key != "broken" {
		t.Errorf("failed = %v, want broken only", failed)
	}
	if ex.UsesNow() {
		t.Error("UsesNow without now")
	}
	noImage := seedUser()
	noImage.PublicMetadata = map[string]any{}
	noImage.Profile = map[string]any{"first_name": "Ada"}
	m, _ := ex.Eval(&userdata.Input{User: noImage})
	if m["profile_image"] != nil || m["full_name"] != "Ada" {
		t.Errorf("without image: %v", m)
	}
}

func TestCompileRefuses(t *testing.T) {
	fs, _ := userdata.ParseFields(decode(t, seedFields))
	claims := userdata.CompileOptions{Reserved: userdata.ReservedClaims, Fields: fs}
	cases := []struct {
		name, key, expr string
		opts            userdata.CompileOptions
		want            string // in the message
		line, col       int
	}{
		{"syntax", "a", `user.profile.first_name +`, claims, "Syntax error", 1, 26},
		{"unknown variable", "a", `usr.email`, claims, "undeclared reference", 1, 1},
		{"unknown user field", "a", `user.mail`, claims, "undefined field", 1, 5},
		{"undeclared profile field", "a", "true &&\n user.profile.nickname == 'x'", claims, "no such field", 2, 14},
		{"type error", "a", `user.id + "x"`, claims, "no matching overload", 1, 9},
		{"reserved claim", "sub", `user.email`, claims, "reserved", 0, 0},
		{"reserved user key", "id", `1`, userdata.CompileOptions{Reserved: userdata.ReservedNames}, "reserved", 0, 0},
		{"over budget", "a", `user.public_metadata.roles.all(x, user.public_metadata.roles.all(y, user.public_metadata.roles.exists(z, x + y == z)))`, claims, "too costly", 0, 0},
		{"private metadata", "a", `user.private_metadata`, claims, "undefined field", 1, 5},
		{"environment", "a", `env("HOME")`, claims, "undeclared reference", 1, 4},
		{"bad key", "a b", `1`, claims, "keys must be", 0, 0},
		{"empty", "a", ` `, claims, "empty", 0, 0},
		{"too long", "a", strings.Repeat("1+", 1100) + "1", claims, "longer than", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := userdata.Compile(map[string]string{c.key: c.expr}, c.opts)
			var ee *userdata.ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *ExprError", err)
			}
			if ee.Key != c.key || !strings.Contains(ee.Message, c.want) {
				t.Errorf("err = %v, want key %q and %q", err, c.key, c.want)
			}
			if c.line != 0 && (ee.Line != c.line || ee.Column != c.col) {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ee.Line, ee.Column, c.line, c.col, err)
			}
		})
	}
}

func TestRuntimeCostLimitDropsTheKey(t *testing.T) {
	// Accepted when saved (one loop: its worst case is within
	// MaxEstimatedCost), yet over RuntimeCostLimit for a long list.
	sum := "x" + strings.Repeat(" * 1", 40)
	ex, err := userdata.Compile(map[string]string{
		"big": "user.public_metadata.items.map(x, " + sum + ").size()",
		"ok":  `1`,
	}, userdata.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 4000)
	for i := range items {
		items[i] = float64(i % 10)
	}
	u := userdata.NewUser(userdata.User{PublicMetadata: map[string]any{"items": items}})
	m, failed := ex.Eval(&userdata.Input{User: u})
	if _, ok := m["big"]; ok || len(failed) != 1 || failed[0].Key != "big" || m["ok"] != int64(1) {
		t.Errorf("m = %v, failed = %v", m, failed)
	}
	// A short list stays within the limit.
	u = userdata.NewUser(userdata.User{PublicMetadata: map[string]any{"items": items[:10]}})
	if m, failed := ex.Eval(&userdata.Input{User: u}); m["big"] != int64(10) || failed != nil {
		t.Errorf("short list: m = %v, failed = %v", m, failed)
	}
}

func TestUsesNow(t *testing.T) {
	ex, err := userdata.Compile(map[string]string{"age_days": `(now - user.date_joined).getHours() / 24`}, userdata.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ex.UsesNow() {
		t.Error("UsesNow = false")
	}
	now := time.Date(2024, 1, 12, 3, 4, 5, 0, time.UTC)
	m, failed := ex.Eval(&userdata.Input{User: seedUser(), Now: now})
	if m["age_days"] != int64(10) || failed != nil {
		t.Errorf("age_days = %v (%v)", m, failed)
	}
}

func TestFailureLogOncePerMinute(t *testing.T) {
	var l userdata.FailureLog
	f := []userdata.KeyError{{Key: "a", Err: errors.New("x")}}
	if !l.Report("t1", "S", f) || l.Report("t1", "S", f) || !l.Report("t2", "S", f) || l.Report("t1", "S", nil) {
		t.Error("FailureLog did not log once per tenant and minute")
	}
}

func TestViewMergesExtraAfterAllauthKeys(t *testing.T) {
	v := userdata.View{Display: "ada", Email: "a@b.c", HasUsablePassword: true, ID: 7, Username: "ada<>",
		Extra: json.RawMessage(`{"full_name":"Ada L","n":1}`)}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"display":"ada","email":"a@b.c","has_usable_password":true,"id":7,"username":"ada\u003c\u003e","full_name":"Ada L","n":1}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(userdata.View{Display: "user", ID: 1, Extra: json.RawMessage(`{}`)})
	if string(b) != `{"display":"user","has_usable_password":false,"id":1}` {
		t.Errorf("empty extra: %s", b)
	}
}
