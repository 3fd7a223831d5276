package account_test

import (
	"testing"
	"time"
)

// BenchmarkSessionCheckConcurrent is BenchmarkSessionCheck with 16
// requests in flight per CPU, as a loaded server sees them (the Redis reads
// of concurrent checks share round trips).
func BenchmarkSessionCheckConcurrent(b *testing.B) {
	env, token := benchEnv(b)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		do := benchRequest(b, env, "GET", "auth/session", "", "X-Session-Token", token)
		for pb.Next() {
			if code := do(); code != 200 {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
