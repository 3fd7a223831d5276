package main

import (
	"context"
	"fmt"
)

// serializerSlug is the (h) tenant: the session tenant's settings plus the
// settings guide's adapter as declared fields and HALLPASS_USER_SERIALIZER.
const serializerSlug = "bench-serializer"

// serializerSettings are baseSettings with the seed's profile fields and a
// serializer of three expressions (issue #19's speed target).
func serializerSettings() map[string]any {
	s := baseSettings()
	s["HALLPASS_USER_FIELDS"] = []map[string]any{
		{"name": "first_name", "type": "string", "max_length": 150, "user_editable": true},
		{"name": "last_name", "type": "string", "max_length": 150, "user_editable": true},
		{"name": "image_url", "type": "string", "max_length": 500, "user_editable": true},
	}
	s["HALLPASS_USER_SERIALIZER"] = map[string]string{
		"full_name":     "(user.profile.?first_name.orValue('') + ' ' + user.profile.?last_name.orValue('')).trim()",
		"profile_image": "has(user.profile.image_url) ? user.profile.image_url : null",
		"verified":      "user.emails.exists(e, e.primary && e.verified)",
	}
	return s
}

// (h) GET auth/session on a tenant with a three-expression serializer, run
// right after (a) so that the two see the same machine: the ratio (a)/(h)
// is what the serializer costs a session check.
func (b *bencher) serializer(ctx context.Context) error {
	if err := b.db.ensureTenant(ctx, serializerSlug, serializerSettings()); err != nil {
		return err
	}
	creds, err := b.users(ctx, serializerSlug, b.cfg.Concurrency)
	if err != nil {
		return err
	}
	// Every user gives a name and an avatar, as the seed's users have, the
	// way a frontend does (account/profile).
	profile := []byte(`{"first_name": "Ada", "last_name": "Lovelace", "image_url": "https://cdn.example/ada.png"}`)
	for i := range creds {
		set := b.c.expect(b.c.request("POST", apiPath(serializerSlug, "account/profile"), profile, "X-Session-Token", creds[i].session), 200)
		if err := set(); err != nil {
			return fmt.Errorf("user data: %w", err)
		}
	}
	path := apiPath(serializerSlug, "auth/session")
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		ops[i] = b.c.expect(b.c.request("GET", path, nil, "X-Session-Token", creds[i%len(creds)].session), 200)
	}
	// Each session's first check renders its user from Postgres and keeps
	// the result with the session's cached entry: done here, so that the
	// measured window sees the steady state, as (a) does.
	for _, o := range ops {
		if err := o(); err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
	}
	_, err = b.measure(ctx, "h", "auth/session (serializer, 3 expressions)", "GET "+path, routeSession, ops, 0, b.limits())
	return err
}

// serializerRatio adds (a)/(h): how much slower a session check is with
// the serializer (target <= 1.10, issue #19).
func (b *bencher) serializerRatio(find func(id, prefix, mode string) *Result) {
	a, h := find("a", "auth/session (session", "closed"), find("h", "auth/session (serializer", "closed")
	if a == nil || h == nil || h.OKRPS <= 0 {
		return
	}
	v := a.OKRPS / h.OKRPS
	b.rep.Ratios = append(b.rep.Ratios, Ratio{Name: "(a)/(h) session check cost with a 3-expression serializer", Value: v,
		Target: "<= 1.10", Met: v <= 1.10, Detail: fmt.Sprintf("%.0f req/s without, %.0f with", a.OKRPS, h.OKRPS)})
}
