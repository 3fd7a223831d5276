package main

import (
	"github.com/hallpass/hallpass/api"
)

// routes prints the headless route catalog: every endpoint with the rule
// that enables it, the same table the router and the served spec read.
func (c *cli) routes() error {
	out := make([]map[string]string, 0, len(api.Catalog))
	for _, r := range api.Catalog {
		client := r.Client
		if client == "" {
			client = "app, browser"
		}
		out = append(out, map[string]string{"method": r.Method, "path": "/_allauth/{client}/v1" + r.Path, "clients": client, "enabled_when": r.Rule})
	}
	return c.printJSON(out)
}
