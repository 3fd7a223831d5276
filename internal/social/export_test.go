package social

import "time"

// SetClock makes the cache (and the ID token checks using it) read time
// from f.
func (c *Cache) SetClock(f func() time.Time) { c.now = f }

// AppleClientSecret exposes the Apple client secret of p.
func AppleClientSecret(p Provider, now time.Time) (string, error) {
	return p.(*apple).clientSecret(now)
}
