package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// DiffLine is one setting whose value a change altered, shown before and
// after (secrets redacted).
type DiffLine struct {
	Key    string `json:"key"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// fieldView is one setting as a form shows it.
type fieldView struct {
	*field
	// Widget is the widget for the current value (may fall back to JSON).
	Widget string
	// Input is the text of a text, number or JSON input.
	Input string
	// Checked is a checkbox's state; Selected the chosen choice values.
	Checked  bool
	Selected map[string]bool
	// Sub are the inputs of a map widget, by sub-key.
	Sub []subField
	// Overridden marks a key the tenant set (it can be reset to the default).
	Overridden bool
	// SecretSet tells whether a secret has a value.
	SecretSet bool
	// DefaultText is allauth's default, as JSON.
	DefaultText string
	Error       string
}

type subField struct {
	Name, Value string
}

// groupView is one settings form page.
type groupView struct {
	Slug    string
	Groups  []*group
	Group   *group
	Fields  []fieldView
	CanEdit bool
	CSRF    string
	Version int
	// Problems are errors that belong to no field of this form.
	Problems []string
	// Preview shows the live preview (the user data form); PreviewUser is
	// the user it starts with (the newest; nil when there is none).
	Preview     bool
	PreviewUser *previewUser
}

func (h settingsPages) settingsIndex(r *request) error {
	return r.c.Redirect(tenantPath(r.tenant.Slug, "settings/"+h.catalog.groups[0].Slug), fiber.StatusSeeOther)
}

func (h settingsPages) settingsGroupPage(r *request) error {
	g := h.catalog.bySlug[r.c.Params("group")]
	if g == nil {
		return errNotFound
	}
	return h.renderGroup(r, fiber.StatusOK, g, nil, nil, nil)
}

// renderGroup shows a settings form: the tenant's current values, or the
// values just submitted (posted) with their errors.
func (h settingsPages) renderGroup(r *request, status int, g *group, posted map[string]fieldView, errs map[string]string, problems []string) error {
	t := r.tenant
	doc := tenants.RedactSecrets(t.Settings.Document())
	v := groupView{Slug: t.Slug, Groups: h.catalog.groups, Group: g, CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		Version: t.SettingsVersion, Problems: problems}
	if g.Slug == userDataGroup && h.accounts != nil {
		v.Preview = true
		newest, err := h.admin.List(r.ctx(), t.ID, "", 0, 1)
		if err != nil {
			return err
		}
		for _, u := range newest {
			v.PreviewUser = &previewUser{ID: u.ID, Label: u.Label()}
		}
	}
	for _, f := range g.Fields {
		if fv, ok := posted[f.Key]; ok {
			fv.Error = errs[f.Key]
			v.Fields = append(v.Fields, fv)
			continue
		}
		fv := h.fieldOf(t, f, doc[f.Key])
		fv.Error = errs[f.Key]
		v.Fields = append(v.Fields, fv)
	}
	return h.render(r, status, g.Title+" settings", settingsGroupPage(v), active("tenants", "settings"),
		crumbs(web.Crumb{Label: "Settings", Href: tenantPath(t.Slug, "settings")}, web.Crumb{Label: g.Title}))
}

// fieldOf renders a field's current value.
func (h settingsPages) fieldOf(t *tenants.Tenant, f *field, cur any) fieldView {
	_, overridden := t.Overrides[f.Key]
	fv := fieldView{field: f, Widget: f.widgetOf(cur), Overridden: overridden, DefaultText: compactJSON(f.Default),
		Selected: map[string]bool{}}
	switch fv.Widget {
	case widgetBool:
		fv.Checked, _ = cur.(bool)
	case widgetInt:
		fv.Input = canonical(cur)
	case widgetString:
		fv.Input, _ = cur.(string)
	case widgetSecret:
		fv.SecretSet = cur != nil && cur != ""
	case widgetSelect:
		fv.Selected[canonical(cur)] = true
	case widgetSet:
		for _, x := range asList(cur) {
			fv.Selected[canonical(x)] = true
		}
	case widgetMap:
		m, _ := cur.(map[string]any)
		for _, k := range sortedKeys(m) {
			s, _ := m[k].(string)
			fv.Sub = append(fv.Sub, subField{Name: k, Value: s})
		}
	default:
		fv.Input = pretty(cur)
	}
	return fv
}

// settingsGroupPost saves one settings form: only the settings whose
// submitted value differs from the current one are written, as a patch, so
// a form never pins defaults it merely displayed.
func (h settingsPages) settingsGroupPost(r *request) error {
	g := h.catalog.bySlug[r.c.Params("group")]
	if g == nil {
		return errNotFound
	}
	t := r.tenant
	if v, _ := strconv.Atoi(r.c.FormValue("version")); v != t.SettingsVersion {
		return h.renderGroup(r, fiber.StatusConflict, g, nil, nil, []string{staleMessage(t)})
	}
	args := r.c.Request().PostArgs()
	doc := tenants.RedactSecrets(t.Settings.Document())
	patch := map[string]any{}
	posted := map[string]fieldView{}
	errs := map[string]string{}
	for _, f := range g.Fields {
		cur := doc[f.Key]
		fv := h.fieldOf(t, f, cur)
		name := "s:" + f.Key
		if fv.Overridden && string(args.Peek("reset:"+f.Key)) == "1" {
			patch[f.Key] = nil
			continue
		}
		var val any
		present := true
		var perr error
		switch fv.Widget {
		case widgetBool:
			vals := args.PeekMulti(name)
			present = len(vals) > 0
			if present {
				val = string(vals[len(vals)-1]) == "true"
				fv.Checked = val.(bool)
			}
		case widgetInt:
			present = args.Has(name)
			fv.Input = strings.TrimSpace(string(args.Peek(name)))
			if present {
				n, err := strconv.ParseInt(fv.Input, 10, 64)
				if err != nil {
					perr = errors.New("must be a whole number")
				}
				val = n
			}
		case widgetString:
			present = args.Has(name)
			fv.Input = string(args.Peek(name))
			val = fv.Input
		case widgetSecret:
			s := strings.TrimSpace(string(args.Peek(name)))
			present = s != ""
			val = s
		case widgetSelect:
			present = args.Has(name)
			raw := string(args.Peek(name))
			if present {
				if !slices.ContainsFunc(f.Choices, func(c choice) bool { return c.Value == raw }) {
					perr = errors.New("is not one of the listed choices")
				}
				fv.Selected = map[string]bool{raw: true}
				val = decodeLoose(raw)
			}
		case widgetSet:
			present = args.Has(name)
			chosen := map[string]bool{}
			for _, b := range args.PeekMulti(name) {
				chosen[string(b)] = true
			}
			fv.Selected = chosen
			var list []any
			for _, c := range f.Choices {
				if chosen[c.Value] {
					list = append(list, decodeLoose(c.Value))
				}
			}
			if list == nil {
				list = []any{}
			}
			val = list
			if sameSet(list, asList(cur)) {
				present = false // same members: keep the current order
			}
		case widgetMap:
			m := map[string]any{}
			for i, sf := range fv.Sub {
				key := name + ":" + sf.Name
				if !args.Has(key) {
					present = false
					break
				}
				s := strings.TrimSpace(string(args.Peek(key)))
				fv.Sub[i].Value = s
				if s == "" {
					m[sf.Name] = false
				} else {
					m[sf.Name] = s
				}
			}
			val = m
		default:
			present = args.Has(name)
			fv.Input = string(args.Peek(name))
			if present {
				val, perr = decodeJSON(fv.Input)
			}
		}
		posted[f.Key] = fv
		if perr != nil {
			errs[f.Key] = perr.Error()
			continue
		}
		if !present || (fv.Widget != widgetSecret && canonical(val) == canonical(cur)) {
			continue
		}
		patch[f.Key] = val
	}
	if len(errs) > 0 {
		return h.renderGroup(r, fiber.StatusUnprocessableEntity, g, posted, errs, nil)
	}
	if len(patch) == 0 {
		return h.redirectWith(r, tenantPath(t.Slug, "settings/"+g.Slug), Flash{Kind: "info", Message: "Nothing changed: the form matched the current settings."})
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	after, err := h.store.UpdateSettings(r.ctx(), t.Slug, raw, actor(r.user))
	if err != nil {
		byKey, problems, ok := settingsErrors(err)
		if !ok {
			return err
		}
		for k := range byKey {
			if _, inForm := posted[k]; !inForm {
				problems = append(problems, k+": "+byKey[k])
			}
		}
		sort.Strings(problems)
		return h.renderGroup(r, fiber.StatusUnprocessableEntity, g, posted, byKey, problems)
	}
	diff := diffDocs(t.Settings.Document(), after.Settings.Document())
	return h.redirectWith(r, tenantPath(t.Slug, "settings/"+g.Slug), Flash{Kind: "success",
		Message: fmt.Sprintf("Saved as settings version %d; %s. The change is in the audit log.", after.SettingsVersion, changedCount(diff)), Diff: diff})
}

func staleMessage(t *tenants.Tenant) string {
	return fmt.Sprintf("The settings were changed by someone else since this form was opened (they are now version %d). Nothing was saved: review the current values below and try again.", t.SettingsVersion)
}

// settingsErrors splits a store error into per-key messages and problems
// with the document as a whole; ok is false for other errors.
func settingsErrors(err error) (byKey map[string]string, problems []string, ok bool) {
	list := tenants.SettingsErrorList(err)
	if list == nil {
		return nil, nil, false
	}
	byKey = map[string]string{}
	for _, e := range list {
		if e.Key == "" {
			problems = append(problems, e.Reason)
			continue
		}
		if prev, dup := byKey[e.Key]; dup {
			byKey[e.Key] = prev + "; " + e.Reason
		} else {
			byKey[e.Key] = e.Reason
		}
	}
	return byKey, problems, true
}
