package main

import (
	"sync"
	"sync/atomic"
)

// entrySize is the payload of one cache entry. Entries are small, linked
// objects so the garbage collector has real marking work per live byte, as
// in a service holding decoded records (a cache of one large []byte would be
// free to mark and hide the GC cost of a big live heap).
const entrySize = 1024

// entryOverhead estimates the heap bytes of one entry beyond its payload:
// the entry struct (size class 48) and the ring slot.
const entryOverhead = 48 + 8

// entryBytes is what one entry costs on the heap.
const entryBytes = entrySize + entryOverhead

type entry struct {
	key  uint64
	val  []byte
	prev *entry // a pointer per object, so marking follows a chain
	sum  uint64
}

// cache is the service's live data: a FIFO ring of entries whose size the
// ramp grows towards a target and shedding lowers. Safe for concurrent use.
type cache struct {
	mu    sync.Mutex
	ring  []*entry
	head  int // index of the oldest entry
	n     int // entries held
	limit int // entries allowed now (ramp, then capped by shedding)
	cap   int // entries allowed after shedding; len(ring) before any
	last  *entry

	shedBytes atomic.Uint64
	shedCalls atomic.Uint64
}

func newCache(targetBytes uint64) *cache {
	n := int(targetBytes / entryBytes)
	return &cache{ring: make([]*entry, n), cap: n}
}

// setRamp sets the entries allowed by the ramp, a fraction of the target;
// shedding caps it.
func (c *cache) setRamp(frac float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = min(int(frac*float64(len(c.ring))), c.cap)
}

// put adds an entry, evicting the oldest when the cache is at its limit, so
// a full cache keeps turning over (every put makes an entry garbage).
func (c *cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit == 0 {
		return
	}
	e.prev = c.last
	c.last = e
	for c.n >= c.limit {
		c.evictLocked()
	}
	c.ring[(c.head+c.n)%len(c.ring)] = e
	c.n++
}

func (c *cache) evictLocked() {
	c.ring[c.head] = nil
	// The next entry drops its link to the evicted one, so that one dies.
	if c.n > 1 {
		if next := c.ring[(c.head+1)%len(c.ring)]; next != nil {
			next.prev = nil
		}
	}
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	if c.n == 0 {
		c.last = nil
	}
}

// shed drops at least bytes of entries, oldest first, and lowers the cap for
// the rest of the run: the application decided to keep less.
func (c *cache) shed(bytes uint64) {
	drop := int((bytes + entryBytes - 1) / entryBytes)
	if drop <= 0 {
		return
	}
	c.mu.Lock()
	drop = min(drop, c.n)
	for range drop {
		c.evictLocked()
	}
	c.cap = c.n
	c.limit = min(c.limit, c.cap)
	c.mu.Unlock()
	c.shedBytes.Add(uint64(drop) * entryBytes)
	c.shedCalls.Add(1)
}

// bytes is the heap the cache holds now (estimated from its entry count).
func (c *cache) bytes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.n) * entryBytes
}

// request is one unit of service work: decode-like garbage that dies at
// once, a checksum over it, and a cache update. It returns the checksum so
// the work cannot be optimised away.
func request(c *cache, rng *uint64, garbage int) uint64 {
	buf := make([]byte, garbage)
	x := *rng
	for i := 0; i+8 <= len(buf); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
		buf[i+7] = byte(x >> 56)
	}
	*rng = x
	var sum uint64
	for _, b := range buf {
		sum = sum*31 + uint64(b)
	}
	e := &entry{key: x, val: make([]byte, entrySize), sum: sum}
	copy(e.val, buf)
	c.put(e)
	return sum
}
