package main

import (
	"encoding/json"
	"net/http"

	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// apiRoutes are the admin listener's JSON endpoints.
func (a *appliance) apiRoutes() map[string]http.Handler {
	routes := map[string]http.Handler{
		"GET /api/phones": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			writeJSON(w, a.inventory.List(inventory.Filter{
				Model: q.Get("model"), Firmware: q.Get("firmware"), State: inventory.State(q.Get("state")),
				Class: q.Get("class"), Text: q.Get("q"),
			}))
		}),
	}
	if a.dhcp != nil {
		routes["GET /api/leases"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, viewLeases(a.dhcp.Leases()))
		})
	}
	return routes
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
