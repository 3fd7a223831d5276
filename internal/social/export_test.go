package social

import "time"

// SetClock makes the cache (and the ID token checks using it) read time
// from f.
func (c *Cache) SetClock(f func() time.Time) { c.now = f }

// AppleClientSecret exposes the Apple client secret of p.
func AppleClientSecret(p Provider, now time.Time) (string, error) {
	return p.(*apple).clientSecret(now)
}

// MaxCacheEntries is how many documents of a kind a Cache holds.
const MaxCacheEntries = maxEntries

// CachedKeySets counts the key sets c holds.
func CachedKeySets(c *Cache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// HoldKeySet makes c hold a key set for u, as a verification would, without
// fetching it.
func HoldKeySet(c *Cache, u string) { c.keySet(u, NewHTTPClient(0, false)) }
