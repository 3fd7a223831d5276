package console_test

import (
	"context"
	"net/url"
	"regexp"
	"testing"

	"github.com/hallpass/hallpass/console"
)

// An admin adds an endpoint: a private or http URL and an unknown event
// type are refused with a message; the secret shows on the creating answer
// only; rotating shows a new one; disabling and deleting say what they did.
func TestWebhooksPages(t *testing.T) {
	e := newEnv(t)
	admin := e.user("hooks-admin", false)
	tn := e.tenant("hooks")
	e.grant(tn, admin, console.RoleAdmin)
	b := e.session(admin)
	base := "/console/t/" + tn.Slug + "/webhooks"
	b.get(base).status(200).contains("No endpoints")
	for form, msg := range map[string]string{
		"http://93.184.216.34/x":    "must start with https://",
		"https://127.0.0.1/x":       "private, loopback or link-local",
		"https://169.254.169.254/x": "private, loopback or link-local",
		"nonsense":                  "Enter an absolute URL",
	} {
		b.post(base, url.Values{"url": {form}}).status(422).contains(msg)
	}
	b.post(base, url.Values{"url": {"https://93.184.216.34/x"}, "event": {"user.exploded"}}).status(422).contains("is not an event type")

	res := b.post(base, url.Values{"url": {"https://93.184.216.34/hooks"}, "description": {"CRM"}, "event": {"user.created", "user.deleted"}})
	res.status(200).contains("Endpoint created").contains("user.created, user.deleted")
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(res.Body)
	if secret == "" {
		t.Fatal("no secret shown")
	}
	list := b.get(base).status(200)
	list.lacks(secret)
	list.contains("https://93.184.216.34/hooks")
	eps, err := e.srv.Webhooks.List(context.Background(), tn.ID)
	if err != nil || len(eps) != 1 {
		t.Fatalf("%v %v", eps, err)
	}
	page := base + "/" + eps[0].ID.String()
	b.get(page).status(200).contains("No delivery attempt yet").lacks(secret)
	rot := b.post(page+"/rotate", url.Values{}).status(200).contains("New signing secret")
	if fresh := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(rot.Body); fresh == "" || fresh == secret {
		t.Fatalf("rotation showed %q", fresh)
	}
	b.post(page+"/test", url.Values{}).status(303)
	b.post(page+"/disable", url.Values{}).status(303)
	b.get(page).status(200).contains("disabled by the tenant")
	b.post(page+"/enable", url.Values{}).status(303)
	b.post(page+"/redeliver", url.Values{"since_hours": {"0"}}).status(303)
	b.post(page+"/delete", url.Values{}).status(303)
	b.get(page).status(404)
	b.get(base).status(200).contains("No endpoints")

	// A viewer sees the pages, without their forms.
	viewer := e.user("hooks-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	e.session(viewer).get(base).status(200).lacks("Add an endpoint")
}
