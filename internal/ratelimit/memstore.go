package ratelimit

import (
	"container/list"
	"sync"
	"time"
)

// memStore is the fallback: the same counters in this node's memory.
type memStore struct {
	mu          sync.Mutex
	maxCounters int
	maxHits     int
	hits        int // timestamps held by all counters
	counters    map[string]*list.Element
	lru         list.List // of *memCounter, most recently used first
	epoch       time.Time // monotonic clock origin
	lastSweep   int64
}

type memCounter struct {
	key     string
	hits    []int64 // µs since epoch, oldest first, at most the amount
	expires int64
}

func newMemStore(maxCounters, maxHits int) *memStore {
	return &memStore{
		maxCounters: maxCounters,
		maxHits:     maxHits,
		counters:    make(map[string]*list.Element),
		epoch:       time.Now(),
	}
}

// sweepEvery is how often expired counters are dropped in one pass; the LRU
// bound holds in between.
const sweepEvery = int64(time.Minute / time.Microsecond)

func (m *memStore) apply(md mode, cs []counter) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if md == modeUndo {
		for _, c := range cs {
			if el := m.counters[c.key]; el != nil {
				mc := el.Value.(*memCounter)
				if n := len(mc.hits); n > 0 {
					mc.hits = mc.hits[:n-1]
					m.hits--
				}
			}
		}
		return true
	}
	now := time.Since(m.epoch).Microseconds()
	if now-m.lastSweep >= sweepEvery {
		m.sweep(now)
	}
	if md != modeHit {
		for _, c := range cs {
			el := m.counters[c.key]
			if el == nil {
				continue
			}
			mc := el.Value.(*memCounter)
			if n := len(mc.hits); n >= c.amount && mc.hits[n-c.amount] > now-micros64(c.period) {
				return false
			}
		}
		if md == modeCheck {
			return true
		}
	}
	for _, c := range cs {
		m.push(c, now)
	}
	for len(m.counters) > m.maxCounters || m.hits > m.maxHits {
		m.remove(m.lru.Back())
	}
	return true
}

func (m *memStore) push(c counter, now int64) {
	var mc *memCounter
	if el := m.counters[c.key]; el != nil {
		mc = el.Value.(*memCounter)
		m.lru.MoveToFront(el)
	} else {
		mc = &memCounter{key: c.key}
		m.counters[c.key] = m.lru.PushFront(mc)
	}
	before := len(mc.hits)
	mc.hits = append(mc.hits, now)
	if n := len(mc.hits); n > c.amount {
		// Keep the newest amount hits, in place.
		mc.hits = mc.hits[:copy(mc.hits, mc.hits[n-c.amount:])]
	}
	if cap(mc.hits) > 2*len(mc.hits)+8 {
		mc.hits = append([]int64(nil), mc.hits...)
	}
	m.hits += len(mc.hits) - before
	mc.expires = now + micros64(c.period)
}

func (m *memStore) remove(el *list.Element) {
	mc := m.lru.Remove(el).(*memCounter)
	delete(m.counters, mc.key)
	m.hits -= len(mc.hits)
}

func (m *memStore) sweep(now int64) {
	m.lastSweep = now
	for el := m.lru.Front(); el != nil; {
		next := el.Next()
		if el.Value.(*memCounter).expires <= now {
			m.remove(el)
		}
		el = next
	}
}

func (m *memStore) clear(keys []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if el := m.counters[k]; el != nil {
			m.remove(el)
		}
	}
}
