package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// op performs one request and reports whether it got the expected answer.
// An op belongs to one worker and is never called concurrently with itself.
type op func() error

// errUnexpected wraps an answer with the wrong status or shape.
var errUnexpected = errors.New("unexpected response")

// Run is the outcome of one load run.
type Run struct {
	Mode        string  `json:"mode"` // "closed" or "open"
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"target_rate,omitempty"` // open loop: requests per second asked for
	Seconds     float64 `json:"seconds"`               // measured window
	Requests    int64   `json:"requests"`              // completed in the window
	Completed   int64   `json:"completed"`             // completed in all, warmup included (what the server's counters saw)
	Errors      int64   `json:"errors"`                // of those, failed or unexpected
	Dropped     int64   `json:"dropped,omitempty"`     // open loop: never sent: every worker busy and the queue full (not in Requests)
	RPS         float64 `json:"rps"`                   // Requests / Seconds
	OKRPS       float64 `json:"ok_rps"`                // (Requests - Errors) / Seconds
	Latency     Latency `json:"latency"`
	FirstError  string  `json:"first_error,omitempty"`
	StoppedBy   string  `json:"stopped_by"` // "duration", "max-requests" or "canceled"
}

// recorder collects one worker's samples.
type recorder struct {
	samples []time.Duration
	errors  int64
	first   error
}

// limits bound a run in time and count.
type limits struct {
	warmup, duration time.Duration
	maxRequests      int64 // counted over warmup and measurement
	noProfile        bool  // not a run to profile (its length is unknown)
}

// closedLoop runs one op per worker back to back: each worker sends its
// next request as soon as the previous answer arrives. Requests completing
// during warmup are not recorded. It stops at the end of the duration,
// after maxRequests, or when ctx ends, whichever comes first.
func closedLoop(ctx context.Context, ops []op, lim limits) Run {
	start := time.Now()
	measureFrom := start.Add(lim.warmup)
	end := measureFrom.Add(lim.duration)
	var issued, completed atomic.Int64
	var stopReason atomic.Value
	stopReason.Store("duration")
	recs := make([]recorder, len(ops))
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Add(1)
		go func(rec *recorder, o op) {
			defer wg.Done()
			for {
				if ctx.Err() != nil {
					stopReason.Store("canceled")
					return
				}
				if issued.Add(1) > lim.maxRequests {
					stopReason.Store("max-requests")
					return
				}
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := o()
				t1 := time.Now()
				completed.Add(1)
				if t0.Before(measureFrom) {
					continue
				}
				rec.samples = append(rec.samples, t1.Sub(t0))
				if err != nil {
					rec.errors++
					if rec.first == nil {
						rec.first = err
					}
				}
			}
		}(&recs[i], o)
	}
	wg.Wait()
	stop := time.Now()
	r := merge(recs)
	r.Mode, r.Concurrency, r.Completed = "closed", len(ops), completed.Load()
	if stop.Before(end) {
		end = stop
	}
	r.Seconds = max(0, end.Sub(measureFrom).Seconds())
	r.StoppedBy = stopReason.Load().(string)
	finish(&r)
	return r
}

// openLoop sends requests at a fixed rate regardless of how fast answers
// come back, from a pool of workers (each with its own op). Latency is
// measured from when a request was due, not when a worker got to it, so a
// server that falls behind shows its queueing (no coordinated omission).
// A request due while every worker is busy and 100 ms of requests already
// wait is dropped and counted as an error.
func openLoop(ctx context.Context, ops []op, rate float64, lim limits) Run {
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		interval = time.Nanosecond
	}
	start := time.Now()
	measureFrom := start.Add(lim.warmup)
	end := measureFrom.Add(lim.duration)
	// Room for 100 ms of requests: a burst the workers absorb a little
	// later is measured (its latency counts from when it was due), not
	// dropped; only a backlog longer than that is.
	queue := make(chan time.Time, max(len(ops)*4, int(rate/10), 64))
	recs := make([]recorder, len(ops))
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Add(1)
		go func(rec *recorder, o op) {
			defer wg.Done()
			for due := range queue {
				err := o()
				done := time.Now()
				if due.Before(measureFrom) {
					continue
				}
				rec.samples = append(rec.samples, done.Sub(due))
				if err != nil {
					rec.errors++
					if rec.first == nil {
						rec.first = err
					}
				}
			}
		}(&recs[i], o)
	}
	reason := "duration"
	var sent int64
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for i := int64(0); ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			break
		}
		if sent >= lim.maxRequests {
			reason = "max-requests"
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				reason = "canceled"
				break schedule
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			reason = "canceled"
			break
		}
		select {
		case queue <- due:
			sent++
		default:
			if !due.Before(measureFrom) {
				dropped.Add(1)
			}
		}
	}
	close(queue)
	wg.Wait()
	r := merge(recs)
	r.Mode, r.Concurrency, r.Rate, r.Completed = "open", len(ops), rate, sent
	r.Seconds = lim.duration.Seconds()
	r.Dropped = dropped.Load()
	if r.Dropped > 0 && r.FirstError == "" {
		r.FirstError = fmt.Sprintf("%d requests dropped: every worker busy", r.Dropped)
	}
	r.StoppedBy = reason
	finish(&r)
	return r
}

func merge(recs []recorder) Run {
	var n int
	for i := range recs {
		n += len(recs[i].samples)
	}
	all := make([]time.Duration, 0, n)
	var r Run
	for i := range recs {
		all = append(all, recs[i].samples...)
		r.Errors += recs[i].errors
		if r.FirstError == "" && recs[i].first != nil {
			r.FirstError = recs[i].first.Error()
		}
		recs[i].samples = nil
	}
	r.Requests = int64(len(all))
	r.Latency = summarize(all)
	return r
}

func finish(r *Run) {
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
		r.OKRPS = float64(r.Requests-min(r.Errors, r.Requests)) / r.Seconds
	}
}
