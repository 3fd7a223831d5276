package social

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/hallpass/hallpass/tenants"
)

// Cache keeps providers' public documents, JWKS key sets and OpenID
// discovery documents, by URL and shared by every tenant: they are public and
// the same for everyone. Nothing a tenant configures is kept here (client
// ids, issuers and audiences are checked on each call), so one tenant's
// settings cannot change what another's logins accept, and a changed
// server_url is simply another URL. Each kind holds at most maxEntries
// documents.
type Cache struct {
	// TTL is how long a fetched document is used (default 1 h).
	TTL time.Duration
	// MinRefresh is the least time between two fetches of a JWKS caused by
	// an unknown key id (default 1 min), so forged kids cannot make
	// Hallpass hammer a provider.
	MinRefresh time.Duration

	now     func() time.Time
	mu      sync.Mutex
	keys    map[string]*keySet
	docs    map[string]*docEntry
	flights singleflight.Group
}

// DefaultCache is the process-wide cache providers use unless WithCache.
var DefaultCache = NewCache()

// NewCache returns an empty cache with the default TTL and MinRefresh.
func NewCache() *Cache {
	c := &Cache{now: time.Now}
	c.ready()
	return c
}

// maxEntries bounds each kind of document; past it, expired entries are
// dropped, then the oldest.
const maxEntries = 10000

// sharedFetchTimeout bounds a fetch of a shared document. It is not the
// timeout of the tenant whose call started it (SOCIALACCOUNT_REQUESTS_TIMEOUT
// bounds how long each caller waits): a tenant with a short timeout must not
// fail another tenant's fetch.
const sharedFetchTimeout = time.Duration(tenants.MaxProviderTimeout) * time.Second

// ready makes a zero Cache usable; c.mu is held (or c is new).
func (c *Cache) ready() {
	if c.keys == nil {
		c.keys = map[string]*keySet{}
	}
	if c.docs == nil {
		c.docs = map[string]*docEntry{}
	}
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = time.Minute
	}
}

func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// policy reads TTL and MinRefresh.
func (c *Cache) policy() (ttl, minRefresh time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready()
	return c.TTL, c.MinRefresh
}

// transportOf is the transport a client sends with.
func transportOf(client *http.Client) http.RoundTripper {
	if client.Transport != nil {
		return client.Transport
	}
	return http.DefaultTransport
}

// cacheKey names a document by URL and by the transport that fetches it: a
// document fetched where private networks are allowed is not handed to a
// client that refuses them.
func cacheKey(u string, client *http.Client) string {
	return fmt.Sprintf("%p %s", transportOf(client), u)
}

// makeRoom keeps m below maxEntries before an insert: expired entries go
// first, then the oldest. The caller holds the cache's lock.
func makeRoom[E any](m map[string]E, added func(E) time.Time, now time.Time, ttl time.Duration) {
	if len(m) < maxEntries {
		return
	}
	var oldestKey string
	var oldest time.Time
	for k, e := range m {
		at := added(e)
		if now.Sub(at) >= ttl {
			delete(m, k)
		} else if oldestKey == "" || at.Before(oldest) {
			oldestKey, oldest = k, at
		}
	}
	if len(m) >= maxEntries {
		delete(m, oldestKey)
	}
}
