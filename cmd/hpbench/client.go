package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// client sends requests to the server's public listener (loopback, checked).
type client struct {
	hc   *fasthttp.HostClient
	base string // http://host:port as the server is addressed
}

func newClient(dial, host string, conns int) *client {
	return &client{
		hc: &fasthttp.HostClient{
			Addr:                dial,
			MaxConns:            conns,
			ReadTimeout:         15 * time.Second,
			WriteTimeout:        15 * time.Second,
			MaxIdleConnDuration: time.Minute,
			MaxResponseBodySize: 4 << 20,
		},
		base: "http://" + host,
	}
}

// request builds a reusable request; headers are name, value pairs.
func (c *client) request(method, path string, body []byte, headers ...string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod(method)
	req.SetRequestURI(c.base + path)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// expect returns an op sending req and wanting status.
func (c *client) expect(req *fasthttp.Request, status int) op {
	resp := &fasthttp.Response{}
	return func() error {
		if err := c.hc.Do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode() != status {
			return fmt.Errorf("%w: %s %s: status %d: %.200s", errUnexpected, req.Header.Method(), req.URI().Path(), resp.StatusCode(), resp.Body())
		}
		return nil
	}
}

// call sends one setup request and decodes the JSON answer.
func (c *client) call(method, path string, body any, headers ...string) (int, map[string]any, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	req := c.request(method, path, raw, headers...)
	resp := &fasthttp.Response{}
	if err := c.hc.Do(req, resp); err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if len(resp.Body()) > 0 {
		if err := json.Unmarshal(resp.Body(), &out); err != nil {
			return resp.StatusCode(), nil, fmt.Errorf("%s %s: %d, not JSON: %.200s", method, path, resp.StatusCode(), resp.Body())
		}
	}
	return resp.StatusCode(), out, nil
}

func apiPath(slug, rest string) string { return "/t/" + slug + "/_allauth/app/v1/" + rest }

// credentials of one bench user after signup.
type credentials struct {
	email, password      string
	session              string
	access, refreshToken string
}

var userSeq atomic.Int64

// signup creates a user on slug and returns its tokens (meta.*).
func (c *client) signup(slug, runID string) (credentials, error) {
	cr := credentials{
		email:    fmt.Sprintf("u%d-%s@bench.example.com", userSeq.Add(1), runID),
		password: "correct horse battery staple 42",
	}
	status, body, err := c.call("POST", apiPath(slug, "auth/signup"), map[string]string{"email": cr.email, "password": cr.password})
	if err != nil {
		return cr, err
	}
	if status != 200 {
		return cr, fmt.Errorf("signup on %s: status %d: %v", slug, status, body)
	}
	meta, _ := body["meta"].(map[string]any)
	cr.session, _ = meta["session_token"].(string)
	cr.access, _ = meta["access_token"].(string)
	cr.refreshToken, _ = meta["refresh_token"].(string)
	if cr.session == "" {
		return cr, fmt.Errorf("signup on %s: no meta.session_token: %v", slug, body)
	}
	return cr, nil
}

// refreshChain is one worker's rotating refresh-token chain.
type refreshChain struct {
	c     *client
	slug  string
	req   *fasthttp.Request
	resp  fasthttp.Response
	token []byte
	body  []byte
	renew func() (string, error) // a new chain after a failure (a login)
}

var refreshKey = []byte(`"refresh_token":"`)

func (r *refreshChain) op() error {
	r.body = append(append(append(r.body[:0], `{"refresh_token":"`...), r.token...), `"}`...)
	r.req.SetBodyRaw(r.body)
	if err := r.c.hc.Do(r.req, &r.resp); err != nil {
		return err
	}
	b := r.resp.Body()
	i := bytes.Index(b, refreshKey)
	if r.resp.StatusCode() != 200 || i < 0 {
		err := fmt.Errorf("%w: tokens/refresh on %s: status %d: %.200s", errUnexpected, r.slug, r.resp.StatusCode(), b)
		if tok, rerr := r.renew(); rerr == nil {
			r.token = append(r.token[:0], tok...)
		}
		return err
	}
	rest := b[i+len(refreshKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return fmt.Errorf("%w: tokens/refresh: unterminated refresh_token", errUnexpected)
	}
	r.token = append(r.token[:0], rest[:j]...)
	return nil
}
