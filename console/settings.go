package console

import (
	"bytes"
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
}

func (h *Console) settingsIndex(r *request) error {
	return r.c.Redirect(tenantPath(r.tenant.Slug, "settings/"+h.catalog.groups[0].Slug), fiber.StatusSeeOther)
}

func (h *Console) settingsGroupPage(r *request) error {
	g := h.catalog.bySlug[r.c.Params("group")]
	if g == nil {
		return errNotFound
	}
	return h.renderGroup(r, fiber.StatusOK, g, nil, nil, nil)
}

// renderGroup shows a settings form: the tenant's current values, or the
// values just submitted (posted) with their errors.
func (h *Console) renderGroup(r *request, status int, g *group, posted map[string]fieldView, errs map[string]string, problems []string) error {
	t := r.tenant
	doc := tenants.RedactSecrets(t.Settings.Document())
	v := groupView{Slug: t.Slug, Groups: h.catalog.groups, Group: g, CanEdit: r.canEdit(), CSRF: r.session.CSRF,
		Version: t.SettingsVersion, Problems: problems}
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
func (h *Console) fieldOf(t *tenants.Tenant, f *field, cur any) fieldView {
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
func (h *Console) settingsGroupPost(r *request) error {
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

// jsonView is the settings document page.
type jsonView struct {
	Slug      string
	Groups    []*group
	CanEdit   bool
	CSRF      string
	Version   int
	Doc       string
	Effective string
	Errors    []*tenants.SettingsError
	// Preview is set once a pasted document passed validation: its diff,
	// waiting for Save.
	Preview   bool
	Diff      []DiffLine
	Scope     string // "effective" or "overrides": what Diff compares
	Conflict  string
	Unchanged bool
}

func (h *Console) jsonViewOf(r *request) jsonView {
	t := r.tenant
	return jsonView{Slug: t.Slug, Groups: h.catalog.groups, CanEdit: r.canEdit(), CSRF: r.session.CSRF, Version: t.SettingsVersion,
		Doc: pretty(tenants.RedactSecrets(t.Overrides)), Effective: pretty(tenants.RedactSecrets(t.Settings.Document()))}
}

func (h *Console) settingsJSONPage(r *request) error {
	return h.renderJSON(r, fiber.StatusOK, h.jsonViewOf(r))
}

func (h *Console) renderJSON(r *request, status int, v jsonView) error {
	return h.render(r, status, "Settings document", settingsJSONPage(v), active("tenants", "settings"),
		crumbs(web.Crumb{Label: "Settings", Href: tenantPath(r.tenant.Slug, "settings")}, web.Crumb{Label: "JSON"}))
}

// settingsJSONPost previews (action=preview) or saves (action=save) a
// pasted settings document that replaces the tenant's overrides. Secrets
// may be left as <redacted>: they keep their current values.
func (h *Console) settingsJSONPost(r *request) error {
	t := r.tenant
	v := h.jsonViewOf(r)
	v.Doc = r.c.FormValue("doc")
	if n, _ := strconv.Atoi(r.c.FormValue("version")); n != t.SettingsVersion {
		v.Conflict = staleMessage(t)
		return h.renderJSON(r, fiber.StatusConflict, v)
	}
	doc := []byte(v.Doc)
	next, err := tenants.ParseSettings(restoreRedacted(doc, t.Overrides))
	if err != nil {
		v.Errors = settingsErrorList(err)
		return h.renderJSON(r, fiber.StatusUnprocessableEntity, v)
	}
	if r.c.FormValue("action") != "save" {
		v.Preview = true
		v.Diff, v.Scope = diffDocs(t.Settings.Document(), next.Document()), "effective"
		if len(v.Diff) == 0 {
			var pasted map[string]any
			_ = json.Unmarshal(doc, &pasted)
			v.Diff, v.Scope = diffOverrides(tenants.RedactSecrets(t.Overrides), pasted), "overrides"
		}
		v.Unchanged = len(v.Diff) == 0
		return h.renderJSON(r, fiber.StatusOK, v)
	}
	after, err := h.store.ReplaceSettings(r.ctx(), t.Slug, doc, actor(r.user))
	if err != nil {
		if _, _, ok := settingsErrors(err); !ok {
			return err
		}
		v.Errors = settingsErrorList(err)
		return h.renderJSON(r, fiber.StatusUnprocessableEntity, v)
	}
	diff := diffDocs(t.Settings.Document(), after.Settings.Document())
	return h.redirectWith(r, tenantPath(t.Slug, "settings/json"), Flash{Kind: "success",
		Message: fmt.Sprintf("Settings document saved as version %d; %s. The change is in the audit log.", after.SettingsVersion, changedCount(diff)), Diff: diff})
}

func staleMessage(t *tenants.Tenant) string {
	return fmt.Sprintf("The settings were changed by someone else since this form was opened (they are now version %d). Nothing was saved: review the current values below and try again.", t.SettingsVersion)
}

func changedCount(diff []DiffLine) string {
	switch len(diff) {
	case 0:
		return "no effective value changed"
	case 1:
		return "1 setting changed"
	}
	return fmt.Sprintf("%d settings changed", len(diff))
}

// settingsErrors splits a store error into per-key messages and problems
// with the document as a whole; ok is false for other errors.
func settingsErrors(err error) (byKey map[string]string, problems []string, ok bool) {
	list := settingsErrorList(err)
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

func settingsErrorList(err error) []*tenants.SettingsError {
	var many tenants.SettingsErrors
	if errors.As(err, &many) {
		return many
	}
	var one *tenants.SettingsError
	if errors.As(err, &one) {
		return []*tenants.SettingsError{one}
	}
	return nil
}

// diffDocs lists the keys whose value differs between two effective
// documents, redacting secrets (a changed secret shows as changed).
func diffDocs(before, after map[string]any) []DiffLine {
	return diffMaps(before, after, "(not set)")
}

// diffOverrides lists the keys whose override differs; an absent key means
// allauth's default.
func diffOverrides(before, after map[string]any) []DiffLine {
	return diffMaps(before, after, "(default)")
}

func diffMaps(before, after map[string]any, absent string) []DiffLine {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []DiffLine
	for _, k := range sortedKeys(keys) {
		b, inB := before[k]
		a, inA := after[k]
		if inA == inB && canonical(a) == canonical(b) {
			continue
		}
		line := DiffLine{Key: k, Before: absent, After: absent}
		rb := tenants.RedactSecrets(map[string]any{k: b})[k]
		ra := tenants.RedactSecrets(map[string]any{k: a})[k]
		if inB {
			line.Before = pretty(rb)
		}
		if inA {
			line.After = pretty(ra)
		}
		if inA && inB && line.Before == line.After {
			line.After += "  (secret changed)"
		}
		out = append(out, line)
	}
	return out
}

// restoreRedacted replaces every "<redacted>" string of a pasted document
// with the value at the same place in current, so that a document copied
// from this page validates as it will be stored.
func restoreRedacted(doc []byte, current map[string]any) []byte {
	if !bytes.Contains(doc, []byte(tenants.Redacted)) && !bytes.Contains(doc, []byte(`\u003credacted\u003e`)) {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return doc
	}
	var walk func(v, cur any) any
	walk = func(v, cur any) any {
		switch t := v.(type) {
		case string:
			if s, ok := cur.(string); ok && t == tenants.Redacted {
				return s
			}
		case map[string]any:
			cm, _ := cur.(map[string]any)
			for k, x := range t {
				t[k] = walk(x, cm[k])
			}
		case []any:
			cl, _ := cur.([]any)
			for i, x := range t {
				var c any
				if i < len(cl) {
					c = cl[i]
				}
				t[i] = walk(x, c)
			}
		}
		return v
	}
	out, err := json.Marshal(walk(v, any(current)))
	if err != nil {
		return doc
	}
	return out
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("is not valid JSON (write strings in double quotes, e.g. \"value\", and null for None)")
	}
	if dec.More() {
		return nil, errors.New("holds more than one JSON value")
	}
	return v, nil
}

func decodeLoose(s string) any {
	v, err := decodeJSON(s)
	if err != nil {
		return s
	}
	return v
}

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	return nil
}

func sameSet(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range b {
		seen[canonical(x)] = true
	}
	for _, x := range a {
		if !seen[canonical(x)] {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func secretPlaceholder(set bool) string {
	if set {
		return "•••••• (set; paste a new value to replace it)"
	}
	return "not set"
}

func jsonRows(s string) int {
	return max(1, min(16, strings.Count(s, "\n")+1))
}
