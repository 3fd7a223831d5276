package main

import "testing"

// The (a)/(h) ratio lands in the report's ratios with the target.
func TestSerializerRatio(t *testing.T) {
	rep := &Report{Results: []*Result{
		{ID: "a", Name: "auth/session (session token)", Run: Run{Mode: "closed", OKRPS: 10_500}},
		{ID: "h", Name: "auth/session (serializer, 3 expressions)", Run: Run{Mode: "closed", OKRPS: 10_000}},
	}}
	b := &bencher{rep: rep}
	b.ratios()
	var got *Ratio
	for i := range rep.Ratios {
		if rep.Ratios[i].Target == "<= 1.10" {
			got = &rep.Ratios[i]
		}
	}
	if got == nil || got.Value != 1.05 || !got.Met {
		t.Fatalf("ratios = %+v", rep.Ratios)
	}
}
