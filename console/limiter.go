package console

import (
	"sync"
	"time"
)

// loginLimiter counts failed sign-ins per client IP in memory: enough to
// slow password guessing against one node. Nodes do not share counts.
type loginLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
}

func newLoginLimiter(limit int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{limit: limit, window: window, now: now, fails: map[string][]time.Time{}}
}

// blocked reports whether ip has used up its failures, and when it may try again.
func (l *loginLimiter) blocked(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.prune(ip)
	if len(recent) < l.limit {
		return false, 0
	}
	return true, recent[0].Add(l.window).Sub(l.now())
}

// failed records a failed attempt from ip.
func (l *loginLimiter) failed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[ip] = append(l.prune(ip), l.now())
	if len(l.fails) > 10000 { // bound memory under a spray of addresses
		for k := range l.fails {
			if len(l.prune(k)) == 0 {
				delete(l.fails, k)
			}
		}
	}
}

func (l *loginLimiter) prune(ip string) []time.Time {
	cut := l.now().Add(-l.window)
	ts := l.fails[ip]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, ip)
		return nil
	}
	l.fails[ip] = ts
	return ts
}
