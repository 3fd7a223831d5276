package console

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// The user data settings form (HALLPASS_USER_FIELDS, HALLPASS_USER_SERIALIZER,
// HALLPASS_JWT_CLAIMS) previews its draft live: the page posts the form's
// values, with the user picked in its search box, to settingsPreview, which
// parses them over the tenant's settings exactly as a save would merge them,
// and answers the user object and the access token's claims computed with
// the draft. Nothing is written: a preview only reads the tenant's own user.

// userDataGroup is the slug of the settings form with the live preview.
const userDataGroup = "user-data"

// previewUsersLimit bounds the users the preview's search box lists.
const previewUsersLimit = 8

// previewProblem is one problem of a preview: a setting of the draft that
// does not parse (Key the setting), or an expression that failed for the
// chosen user at run time (Key the setting, Output the expression's key).
type previewProblem struct {
	Key     string `json:"key"`
	Output  string `json:"output,omitempty"`
	Message string `json:"message"`
}

// previewAnswer is the preview endpoint's JSON. With Errors, the draft
// would be refused when saved and nothing else is set.
type previewAnswer struct {
	Errors []previewProblem `json:"errors,omitempty"`
	// User names the user the preview is for (absent when none is picked).
	User *previewUser `json:"user,omitempty"`
	// Object is allauth's user object with the draft serializer's keys
	// (userdata.View), as responses would carry it.
	Object json.RawMessage `json:"object,omitempty"`
	// Token is the decoded access token: the token issuer's claims with
	// the draft's HALLPASS_JWT_CLAIMS added.
	Token map[string]any `json:"token,omitempty"`
	// Failed are the keys whose evaluation failed for this user: responses
	// leave them out.
	Failed []previewProblem `json:"failed,omitempty"`
	// Note says when the tenant issues no access tokens (session strategy).
	Note string `json:"note,omitempty"`
}

// previewUser is one user the preview may be computed for.
type previewUser struct {
	ID     int64  `json:"id"`
	Label  string `json:"label"`
	Detail string `json:"detail,omitempty"`
}

// writeJSON answers v as JSON with status.
func writeJSON(r *request, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return r.c.Status(status).Send(b)
}

// previewUsers lists the tenant's users whose email or username contains
// q (newest first), for the preview's search box.
func (h settingsPages) previewUsers(r *request) error {
	if h.accounts == nil {
		return errNotFound
	}
	q := strings.TrimSpace(r.c.Query("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	rows, err := h.admin.List(r.ctx(), r.tenant.ID, q, 0, previewUsersLimit)
	if err != nil {
		return err
	}
	out := struct {
		Users []previewUser `json:"users"`
	}{Users: []previewUser{}}
	for _, u := range rows {
		p := previewUser{ID: u.ID, Label: u.Label()}
		if u.Username != "" && u.Email != "" {
			p.Detail = u.Username
		}
		out.Users = append(out.Users, p)
	}
	return writeJSON(r, fiber.StatusOK, out)
}

// settingsPreview computes the user object and access token of one of the
// tenant's users with the draft user data settings posted (the settings
// form's own fields, s:KEY and reset:KEY, and user, the user's id). It
// answers 422 with the draft's errors, 404 when the user is not one of
// this tenant's, else 200. It writes nothing: not the settings, not the
// user, not the expression failure log.
func (h settingsPages) settingsPreview(r *request) error {
	if h.accounts == nil {
		return errNotFound
	}
	t := r.tenant
	next, problems := h.draftSettings(r, h.catalog.bySlug[userDataGroup])
	if len(problems) > 0 {
		return writeJSON(r, fiber.StatusUnprocessableEntity, previewAnswer{Errors: problems})
	}
	var ans previewAnswer
	raw := strings.TrimSpace(r.c.FormValue("user"))
	if raw == "" {
		return writeJSON(r, fiber.StatusOK, ans)
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return writeJSON(r, fiber.StatusNotFound, previewAnswer{Errors: []previewProblem{{Key: "user", Message: "No such user in this tenant."}}})
	}
	draft := *t
	draft.Settings = next
	in, err := h.accounts.Profiles.EvalInput(r.ctx(), &draft, id)
	if errors.Is(err, identity.ErrUserNotFound) {
		return writeJSON(r, fiber.StatusNotFound, previewAnswer{Errors: []previewProblem{{Key: "user", Message: "No such user in this tenant."}}})
	}
	if err != nil {
		return err
	}
	u := in.User
	ans.User = &previewUser{ID: u.ID, Label: userLabel(u.ID, u.Email, u.Username)}
	extra, failed := next.UserSerializer.Render(in)
	ans.Failed = append(ans.Failed, runtimeProblems("HALLPASS_USER_SERIALIZER", failed)...)
	if ans.Object, err = json.Marshal(userdata.View{ID: u.ID, Display: u.Display, Email: u.Email, Username: u.Username,
		HasUsablePassword: u.HasUsablePassword, Extra: extra}); err != nil {
		return err
	}
	claims, failed := next.JWTClaims.Eval(in)
	ans.Failed = append(ans.Failed, runtimeProblems("HALLPASS_JWT_CLAIMS", failed)...)
	if ans.Token, err = previewToken(&draft, h.apiBase(t.Slug), u.ID, in, claims); err != nil {
		return err
	}
	if next.TokenStrategy != tenants.TokenStrategyJWT {
		ans.Note = "This tenant uses session tokens (HEADLESS_TOKEN_STRATEGY), so no access token is issued: this is the token the JWT strategy would issue."
	}
	return writeJSON(r, fiber.StatusOK, ans)
}

// draftSettings parses the group's posted fields merged over the tenant's
// current overrides, as settingsGroupPost's save would merge its patch
// (a field left out keeps its value, reset:KEY returns it to the default).
func (h settingsPages) draftSettings(r *request, g *group) (*tenants.Settings, []previewProblem) {
	t := r.tenant
	args := r.c.Request().PostArgs()
	merged := maps.Clone(t.Overrides)
	if merged == nil {
		merged = map[string]any{}
	}
	var problems []previewProblem
	for _, f := range g.Fields {
		name := "s:" + f.Key
		switch {
		case string(args.Peek("reset:"+f.Key)) == "1":
			delete(merged, f.Key)
		case args.Has(name):
			v, err := decodeJSON(string(args.Peek(name)))
			if err != nil {
				problems = append(problems, previewProblem{Key: f.Key, Message: f.Key + ": " + err.Error()})
				continue
			}
			merged[f.Key] = v
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	doc, err := json.Marshal(merged)
	if err != nil {
		return nil, []previewProblem{{Message: err.Error()}}
	}
	next, err := tenants.ParseSettings(doc)
	if err != nil {
		list := tenants.SettingsErrorList(err)
		if list == nil {
			return nil, []previewProblem{{Message: err.Error()}}
		}
		for _, e := range list {
			problems = append(problems, previewProblem{Key: e.Key, Message: e.Error()})
		}
		return nil, problems
	}
	return next, nil
}

// runtimeProblems are the keys of one setting that failed for the user.
func runtimeProblems(setting string, failed []userdata.KeyError) []previewProblem {
	out := make([]previewProblem, 0, len(failed))
	for _, f := range failed {
		out = append(out, previewProblem{Key: setting, Output: f.Key,
			Message: setting + ": " + strconv.Quote(f.Key) + ": " + f.Err.Error() + " (left out of responses)"})
	}
	return out
}

// previewToken is the decoded access token the tenant would issue the
// user now: the token issuer's own claims (tokens.PreviewAccess) with the
// expression claims added; a reserved claim is never replaced.
func previewToken(t *tenants.Tenant, issuer string, userID int64, in *userdata.Input, extra map[string]any) (map[string]any, error) {
	b, err := json.Marshal(tokens.PreviewAccess(t, issuer, userID, in.Now))
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	for k, v := range extra {
		if _, taken := out[k]; !taken && !slices.Contains(userdata.ReservedClaims, k) {
			out[k] = v
		}
	}
	return out, nil
}
