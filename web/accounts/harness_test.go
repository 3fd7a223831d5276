package accounts_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/hallpass/hallpass/api/apitest"
)

// browser drives a tenant's pages over real HTTP with a cookie jar, the
// way a browser without script does: it reads a page's forms and posts
// them back with their hidden fields (the CSRF token among them).
type browser struct {
	t   *testing.T
	env *apitest.Env
	// base is the tenant's base URL, without the trailing slash.
	base   string
	client *http.Client
	jar    *cookiejar.Jar
}

func newBrowser(t *testing.T, env *apitest.Env) *browser {
	t.Helper()
	base := strings.TrimSuffix(env.Listen(), "/")
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, env: env, base: base, jar: jar, client: &http.Client{Jar: jar, Transport: apitest.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a received response, its forms parsed.
type page struct {
	t      *testing.T
	url    *url.URL
	code   int
	header http.Header
	body   string
	forms  []form
}

// form is one <form>: where it posts and its inputs' values as rendered.
type form struct {
	action string
	values url.Values
}

// url makes path (relative to the tenant's base, or absolute) absolute.
func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if strings.HasPrefix(path, "/t/") {
		return apitest.PublicURL + path
	}
	return b.base + path
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := &page{t: b.t, url: req.URL, code: res.StatusCode, header: res.Header, body: string(body)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		p.forms = parseForms(b.t, string(body))
	}
	return p
}

// get requests a page.
func (b *browser) get(path string) *page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.url(path), nil)
	return b.do(req)
}

// follow requests the page a redirect points at, relative to the request.
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	if p.code != 302 && p.code != 303 {
		b.t.Fatalf("%s: %d, not a redirect\n%s", p.url, p.code, p.body)
	}
	loc, err := p.url.Parse(p.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return b.get(loc.String())
}

// post sends a form to path as a browser would, with extra headers.
func (b *browser) post(path string, values url.Values, headers ...string) *page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.url(path), strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// submit fills the page's form (the first, or the one whose action
// contains the given fragment) with values and posts it.
func (b *browser) submit(p *page, values map[string]string, action ...string) *page {
	b.t.Helper()
	f := p.form(action...)
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	target, err := p.url.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.post(target.String(), v)
}

// api calls the tenant's headless browser API with the browser's cookies
// (and its CSRF token, as a frontend sends it).
func (b *browser) api(method, path, body string) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.base+"/_allauth/browser/v1/"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := b.cookie("csrftoken"); tok != "" {
		req.Header.Set("X-CSRFToken", tok)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// cookie is the value the jar holds for name on the tenant's base.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base + "/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (p *page) form(action ...string) form {
	p.t.Helper()
	for _, f := range p.forms {
		if len(action) == 0 || strings.Contains(f.action, action[0]) {
			return f
		}
	}
	p.t.Fatalf("%s: no form %v in\n%s", p.url, action, p.body)
	return form{}
}

// status asserts the status.
func (p *page) status(want int) *page {
	p.t.Helper()
	if p.code != want {
		p.t.Fatalf("%s: status %d, want %d\n%s", p.url, p.code, want, p.body)
	}
	return p
}

// contains asserts the body holds each text.
func (p *page) contains(texts ...string) *page {
	p.t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			p.t.Fatalf("%s: no %q in\n%s", p.url, s, p.body)
		}
	}
	return p
}

// location is the redirect target.
func (p *page) location() string { return p.header.Get("Location") }

// redirects asserts a redirect to a location ending in suffix.
func (p *page) redirects(suffix string) *page {
	p.t.Helper()
	if (p.code != 302 && p.code != 303) || !strings.HasSuffix(p.location(), suffix) {
		p.t.Fatalf("%s: %d to %q, want a redirect to …%s\n%s", p.url, p.code, p.location(), suffix, p.body)
	}
	return p
}

func parseForms(t *testing.T, body string) []form {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var forms []form
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				forms = append(forms, form{action: attr(n, "action"), values: url.Values{}})
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr(n, "name") != "" {
					typ := attr(n, "type")
					if typ != "checkbox" || hasAttr(n, "checked") {
						cur.values.Add(attr(n, "name"), attr(n, "value"))
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

var linkInMail = regexp.MustCompile(`https?://[^\s"<>]+/accounts/[^\s"<>]+`)

// mailedLink is the n-th mail's link to the pages.
func mailedLink(t *testing.T, env *apitest.Env, n int) string {
	t.Helper()
	msg := env.WaitMail(t, n)
	link := linkInMail.FindString(msg.Text)
	if link == "" {
		t.Fatalf("no link to the pages in mail %d:\n%s", n, msg.Text)
	}
	return link
}
