package accounts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// /accounts/3rdparty/ lists the user's connected accounts (the API's
// account/providers) and removes one through the same domain call; the
// login error page says what allauth says; both are absent without the
// socialaccount app.
func TestPagesConnections(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	const email, password = "eve@example.com", "correct horse battery"
	signupByAPI(t, b, email, password)
	b.get("/accounts/3rdparty/").redirects("/accounts/login/?next=%2Ft%2F" + env.Tenant.Slug + "%2Faccounts%2F3rdparty%2F")
	signInByPage(b, email, password).redirects("/accounts/email/")
	b.get("/accounts/3rdparty/").status(200).contains(`data-testid="no-connections"`)

	_, body := b.api("GET", "auth/session", "")
	uid := int64(body["data"].(map[string]any)["user"].(map[string]any)["id"].(float64))
	if _, _, err := env.Accounts.Social.Connect(context.Background(), nil, env.Tenant.ID, uid, "github", "gh-1",
		map[string]any{"login": "eve<gh>"}); err != nil {
		t.Fatal(err)
	}
	page := b.get("/accounts/3rdparty/").status(200).contains("GitHub: eve&lt;gh&gt;", `value="github gh-1"`)
	if strings.Contains(page.body, "eve<gh>") {
		t.Fatal("the account's name is rendered unescaped")
	}
	b.submit(page, map[string]string{"account": "github nope"}).status(400)
	b.submit(page, map[string]string{"account": "github gh-1"}).redirects("/accounts/3rdparty/")
	b.get("/accounts/3rdparty/").status(200).contains(`data-testid="no-connections"`)
	if code, body := b.api("GET", "account/providers", ""); code != 200 || len(body["data"].([]any)) != 0 {
		t.Fatalf("the API still lists it: %d %v", code, body)
	}
	b.get("/accounts/3rdparty/login/error/").status(200).contains("Third-Party Login Failure")

	off := newBrowser(t, apitest.New(t, with(emailLogin, apitest.Settings{"HALLPASS_APPS": []string{"mfa", "usersessions"}})))
	off.get("/accounts/3rdparty/").status(404)
	off.get("/accounts/3rdparty/login/error/").status(404)
}

// with is base with extra's keys set over it.
func with(base, extra apitest.Settings) apitest.Settings {
	out := apitest.Settings{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
