package metrics

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// The hot paths: what a request, a password hash and a cache lookup pay.

func BenchmarkObserveRequest(b *testing.B) {
	r := NewRegistry()
	route := "/_allauth/:client/v1/auth/session"
	b.ReportAllocs()
	for b.Loop() {
		r.ObserveRequest("tenant", route, "GET", 200, 3*time.Millisecond)
	}
}

func BenchmarkObserveRequestParallel(b *testing.B) {
	r := NewRegistry()
	routes := make([]string, 16)
	for i := range routes {
		routes[i] = fmt.Sprintf("/_allauth/:client/v1/r%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.ObserveRequest("tenant", routes[i%len(routes)], "POST", 200+i%2, time.Duration(i%5000)*time.Microsecond)
			i++
		}
	})
}

func BenchmarkObserveArgon2(b *testing.B) {
	r := NewRegistry()
	b.ReportAllocs()
	for b.Loop() {
		r.ObserveArgon2(30 * time.Millisecond)
	}
}

func BenchmarkTenantCacheHit(b *testing.B) {
	r := NewRegistry()
	b.ReportAllocs()
	for b.Loop() {
		r.TenantCache(true)
	}
}

// A scrape of 200 HTTP series (not a hot path; for scale).
func BenchmarkScrape(b *testing.B) {
	r := NewRegistry()
	for i := range 200 {
		r.ObserveRequest("tenant", fmt.Sprintf("/r%d", i%50), HTTPMethod([]string{"GET", "POST"}[i%2]), 200+i%4, time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
