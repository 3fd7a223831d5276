package main

import (
	"github.com/hallpass/hallpass/api/server"
)

// routes prints the headless route catalog: every endpoint with the rule
// that enables it, the same table the router and the served spec read.
func (c *cli) routes() error {
	catalog := server.Catalog()
	out := make([]map[string]string, 0, len(catalog))
	for _, r := range catalog {
		client := r.Client
		if client == "" {
			client = "app, browser"
		}
		out = append(out, map[string]string{"method": r.Method, "path": "/_allauth/{client}/v1" + r.Path, "clients": client, "enabled_when": r.Rule.Text})
	}
	return c.printJSON(out)
}
