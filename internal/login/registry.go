package login

import (
	"slices"
)

// Registry is a list of methods, in registration order.
type Registry []Method

// flowOrder is allauth's order of the flows array; the pending stage, when
// it is not one of the flows, is listed where pendingSlot is. Flows of
// unknown ids go just before the pending stage.
var flowOrder = []string{FlowLogin, FlowLoginByCode, FlowSignup, FlowProviderRedirect, FlowProviderToken,
	FlowProviderSignup, FlowPasskeyLogin, pendingSlot, FlowPasswordResetByCode}

// reauthOrder is allauth's order of the reauthentication flows.
var reauthOrder = []string{FlowReauthenticate, FlowMFAReauthenticate, FlowPasswordResetByCode}

const pendingSlot = ""

// Flows lists the registry's flows in allauth's order. pending, if not nil,
// is the pending stage's entry: merged into the flow of the same id, or
// listed at its own place.
func (r Registry) Flows(v View, pending Flow) []Flow {
	out := collect(r, flowOrder, func(m Method) []Flow { return m.Flows(v) })
	if pending == nil {
		return out
	}
	found := false
	for _, f := range out {
		if f["id"] == pending["id"] {
			for k, val := range pending {
				f[k] = val
			}
			found = true
		}
	}
	if found {
		return out
	}
	at := len(out)
	for i, f := range out {
		if rank(flowOrder, f["id"]) > rank(flowOrder, pendingSlot) {
			at = i
			break
		}
	}
	return slices.Insert(out, at, pending)
}

// ReauthenticationFlows lists the registry's reauthentication flows in
// allauth's order.
func (r Registry) ReauthenticationFlows(v ReauthView) []Flow {
	return collect(r, reauthOrder, func(m Method) []Flow { return m.ReauthenticationFlows(v) })
}

// Stages lists the keys of the login stages of the registry's methods in
// pipeline order (Pipeline's).
func (r Registry) Stages() []string {
	var out []string
	for _, s := range r.Pipeline() {
		out = append(out, s.Key)
	}
	return out
}

// Pipeline lists the login stages of the registry's methods in pipeline
// order: each method's stages in registration order, once (the first
// method to declare a key gives its stage).
func (r Registry) Pipeline() []Stage {
	var out []Stage
	for _, m := range r {
		for _, s := range m.Stages() {
			if !slices.ContainsFunc(out, func(o Stage) bool { return o.Key == s.Key }) {
				out = append(out, s)
			}
		}
	}
	return out
}

// collect gathers the methods' flows, one per id (the first method to
// list an id wins), sorted by order.
func collect(r Registry, order []string, flows func(Method) []Flow) []Flow {
	out := []Flow{}
	for _, m := range r {
		for _, f := range flows(m) {
			if !slices.ContainsFunc(out, func(g Flow) bool { return g["id"] == f["id"] }) {
				out = append(out, f)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Flow) int { return rank(order, a["id"]) - rank(order, b["id"]) })
	return out
}

// rank is id's place in order; unknown ids rank with the pending slot.
func rank(order []string, id any) int {
	s, _ := id.(string)
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	if i := slices.Index(order, pendingSlot); i >= 0 {
		return i
	}
	return len(order)
}

// Routes lists the registry's routes: each method's, in registration
// order. api.Compose puts them in the catalog, each bound to the handler
// an api slice gives its Operation; two routes with the same method and
// path, or the same operation, are a programming error it reports.
func (r Registry) Routes() []Route {
	var out []Route
	for _, m := range r {
		out = append(out, m.Routes()...)
	}
	return out
}
