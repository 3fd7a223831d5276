package manage_test

import (
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// PATCH …/settings takes HALLPASS_BRANDING like any setting: a refused
// value is a 422 on /HALLPASS_BRANDING whose message names the sub-key,
// and a good one is saved and shown with its derived colours normalised.
func TestSettingsBranding(t *testing.T) {
	env := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, "settings:read", "settings:write")
	path := "/tenants/" + env.Tenant.Slug + "/settings"
	etag := call(env, "GET", path, key, "").Header.Get("ETag")
	for _, tc := range []struct{ doc, want string }{
		{`{"HALLPASS_BRANDING":{"custom_css":"@import 'https://evil.example/x.css';"}}`, "custom_css: at-rule @import is not allowed"},
		{`{"HALLPASS_BRANDING":{"custom_css":"a { background: url(x.png) }"}}`, "custom_css: must not load resources"},
		{`{"HALLPASS_BRANDING":{"primary_color":"red"}}`, "primary_color: must be a hex colour"},
		{`{"HALLPASS_BRANDING":{"logo":"data:image/svg+xml;base64,PHN2Zy8+"}}`, "logo: SVG is not accepted"},
		{`{"HALLPASS_BRANDING":{"colour":"#fff"}}`, "unknown key"},
	} {
		r := call(env, "PATCH", path, key, tc.doc, "If-Match", etag)
		wantProblem(t, r, 422, "invalid_settings")
		errs, _ := r.JSON["errors"].([]any)
		found := false
		for _, e := range errs {
			e := e.(map[string]any)
			found = found || (e["field"] == "/HALLPASS_BRANDING" && strings.Contains(e["message"].(string), tc.want))
		}
		if !found {
			t.Fatalf("%s: want an error on /HALLPASS_BRANDING saying %q: %s", tc.doc, tc.want, r.Body)
		}
	}
	r := call(env, "PATCH", path, key, `{"HALLPASS_BRANDING":{"product_name":"Acme","primary_color":"#1A73E8","custom_css":".hp-card{border-radius:0}"}}`, "If-Match", etag)
	if r.Code != 200 {
		t.Fatalf("good branding: %d %s", r.Code, r.Body)
	}
	eff, _ := r.JSON["effective"].(map[string]any)
	if got := jsonOf(t, eff["HALLPASS_BRANDING"]); got != `{"custom_css":".hp-card{border-radius:0}","primary_color":"#1a73e8","product_name":"Acme"}` {
		t.Fatalf("effective branding %s", got)
	}
}
