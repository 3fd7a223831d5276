package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
)

var testKDF = KDF{Name: "argon2id", Time: 1, MemoryKiB: minMemoryKiB, Threads: 1}

const testPass = "correct horse battery staple"

func testUser(i int) *portable.User {
	return &portable.User{
		SourceID: fmt.Sprint(i), Username: fmt.Sprintf("user%d", i), IsActive: true,
		DateJoined: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), PasswordHash: "argon2id$x",
		Emails:         []portable.Email{{Email: fmt.Sprintf("u%d@example.com", i), Verified: true, Primary: true}},
		Authenticators: []portable.Authenticator{{Type: "totp", Data: json.RawMessage(`{"secret":"JBSWY3DPEHPK3PXP"}`)}},
		Profile:        json.RawMessage(`{"first_name":"Ada"}`),
	}
}

func writeFile(t *testing.T, users int, secrets string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Tenant: "acme", Passphrase: []byte(testPass), KDF: testKDF, SettingsSecrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{"ACCOUNT_LOGIN_METHODS": []any{"email"}, "SOCIALACCOUNT_PROVIDERS": map[string]any{
		"google": map[string]any{"APPS": []any{map[string]any{"client_id": "cid", "secret": "s3cret"}}}}}
	if err := w.WriteSettings(settings); err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if err := w.WriteUser(testUser(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(file []byte, pass string) ([]*portable.User, *Reader, error) {
	r, err := NewReader(bytes.NewReader(file), []byte(pass))
	if err != nil {
		return nil, nil, err
	}
	var out []*portable.User
	for {
		u, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, u)
	}
}

func TestRoundTrip(t *testing.T) {
	file := writeFile(t, 2500, SecretsSealed)
	if bytes.Contains(file, []byte("JBSWY3DPEHPK3PXP")) || bytes.Contains(file, []byte("s3cret")) {
		t.Fatal("a secret is in clear in the file")
	}
	users, r, err := readAll(file, testPass)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2500 || r.Counts() != (Counts{Users: 2500, Emails: 2500, Authenticators: 2500}) {
		t.Fatalf("read %d users, counts %+v", len(users), r.Counts())
	}
	if got := string(users[7].Authenticators[0].Data); got != `{"secret":"JBSWY3DPEHPK3PXP"}` {
		t.Fatalf("authenticator data %s", got)
	}
	app := r.Settings()["SOCIALACCOUNT_PROVIDERS"].(map[string]any)["google"].(map[string]any)["APPS"].([]any)[0].(map[string]any)
	if app["secret"] != "s3cret" {
		t.Fatalf("settings secret %v", app["secret"])
	}
	if n := bytes.Count(file, []byte(`{"checkpoint":`)); n != 2 {
		t.Fatalf("%d checkpoints, want 2", n)
	}
}

func TestSecretsOmitted(t *testing.T) {
	file := writeFile(t, 1, SecretsOmit)
	_, r, err := readAll(file, testPass)
	if err != nil {
		t.Fatal(err)
	}
	app := r.Settings()["SOCIALACCOUNT_PROVIDERS"].(map[string]any)["google"].(map[string]any)["APPS"].([]any)[0].(map[string]any)
	if _, ok := app["secret"]; ok || app["client_id"] != "cid" {
		t.Fatalf("app %v", app)
	}
}

func TestWrongPassphrase(t *testing.T) {
	file := writeFile(t, 1, SecretsOmit)
	if _, _, err := readAll(file, "wrong passphrase"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("err %v", err)
	}
}

func TestTruncated(t *testing.T) {
	file := writeFile(t, 1500, SecretsOmit)
	lines := bytes.SplitAfter(file, []byte("\n"))
	for _, cut := range []int{len(file) - 1, len(file) - len(lines[len(lines)-2]), len(file) / 2} {
		_, _, err := readAll(file[:cut], testPass)
		var le *LineError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

func TestTampered(t *testing.T) {
	file := writeFile(t, 2500, SecretsOmit)
	lines := bytes.SplitAfter(file, []byte("\n"))
	// Line 1234 (index 1233) is a user: change its hash.
	bad := bytes.Clone(file)
	i := bytes.Index(bad, lines[1233])
	j := bytes.Index(bad[i:], []byte("argon2id$x"))
	bad[i+j+9] = 'y'
	_, _, err := readAll(bad, testPass)
	if err == nil || !strings.Contains(err.Error(), "line 2000: digest mismatch: lines 1001 to 1999 were altered") {
		t.Fatalf("tampered: %v", err)
	}
	// A dropped user line.
	dropped := bytes.Join(append(append([][]byte{}, lines[:10]...), lines[11:]...), nil)
	if _, _, err := readAll(dropped, testPass); err == nil || !strings.Contains(err.Error(), "line 999:") {
		t.Fatalf("dropped: %v", err)
	}
	// An authenticator moved from one user to another does not open.
	var a, b Line
	_ = json.Unmarshal(lines[3], &a)
	_ = json.Unmarshal(lines[4], &b)
	b.User.Authenticators = a.User.Authenticators
	moved, _ := json.Marshal(&b)
	swapped := bytes.Replace(file, lines[4], append(moved, '\n'), 1)
	if _, _, err := readAll(swapped, testPass); err == nil || !strings.Contains(err.Error(), "line 5: user \"2\": authenticator 0 (totp): sealed value does not open") {
		t.Fatalf("moved: %v", err)
	}
	// Data after the trailer.
	if _, _, err := readAll(append(bytes.Clone(file), lines[3]...), testPass); err == nil || !strings.Contains(err.Error(), "data after the trailer") {
		t.Fatalf("appended: %v", err)
	}
}

func TestNotAnExport(t *testing.T) {
	for _, in := range []string{"", "hello\n", `{"user":{}}` + "\n"} {
		if _, err := NewReader(strings.NewReader(in), []byte(testPass)); err == nil {
			t.Fatalf("%q: no error", in)
		}
	}
}

func TestKDFBounds(t *testing.T) {
	for _, k := range []KDF{{Name: "scrypt"}, {Name: "argon2id", Time: 1, MemoryKiB: 4 << 20, Threads: 1, Salt: "AAAAAAAAAAAAAAAAAAAAAA"}} {
		if err := k.check(); err == nil {
			t.Fatalf("%+v accepted", k)
		}
	}
}
