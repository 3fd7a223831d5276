package main

import (
	"math"
	"slices"
	"time"
)

// Latency summarises one run's recorded latencies (nearest-rank percentiles
// over every sample; no bucketing, so a percentile is a latency that some
// request actually had).
type Latency struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P95   float64 `json:"p95_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

// summarize sorts samples in place and computes their statistics.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return Latency{
		Count: int64(len(samples)),
		Min:   us(samples[0]),
		Mean:  sum / float64(len(samples)) / 1e3,
		P50:   us(percentile(samples, 0.50)),
		P90:   us(percentile(samples, 0.90)),
		P95:   us(percentile(samples, 0.95)),
		P99:   us(percentile(samples, 0.99)),
		P999:  us(percentile(samples, 0.999)),
		Max:   us(samples[len(samples)-1]),
	}
}

// percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted samples:
// the smallest sample such that at least q of all samples are <= it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// median of a few timings (sorts a copy).
func median(ds []time.Duration) time.Duration {
	c := slices.Clone(ds)
	slices.Sort(c)
	return percentile(c, 0.5)
}
