package userdata

import (
	"log/slog"
	"sync"
	"time"
)

// FailureLog logs expressions that failed at run time, at most once per
// tenant and setting a minute, so that a broken expression on a busy tenant
// cannot flood the log.
type FailureLog struct {
	Logger *slog.Logger

	mu   sync.Mutex
	last map[string]time.Time
}

// maxRemembered bounds FailureLog's memory; past it, it starts afresh.
const maxRemembered = 10_000

// Report logs failed (if any) for the tenant and setting, unless it did so
// less than a minute ago. It reports whether it logged.
func (l *FailureLog) Report(tenant, setting string, failed []KeyError) bool {
	if len(failed) == 0 || l == nil {
		return false
	}
	now := time.Now()
	id := tenant + "\x00" + setting
	l.mu.Lock()
	if l.last == nil || len(l.last) >= maxRemembered {
		l.last = make(map[string]time.Time)
	}
	if t, ok := l.last[id]; ok && now.Sub(t) < time.Minute {
		l.mu.Unlock()
		return false
	}
	l.last[id] = now
	l.mu.Unlock()
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	keys := make([]string, len(failed))
	for i, f := range failed {
		keys[i] = f.Key + ": " + f.Err.Error()
	}
	logger.Warn("user data expressions failed; the keys were left out",
		"tenant", tenant, "setting", setting, "failures", keys)
	return true
}
