package main

import (
	"testing"
)

func TestCacheRampsAndSheds(t *testing.T) {
	c := newCache(1000 * entryBytes)
	rng := uint64(1)
	fill := func() {
		for range 3000 {
			request(c, &rng, 64)
		}
	}
	fill()
	if got := c.bytes(); got != 0 {
		t.Fatalf("before the ramp the cache holds %d bytes, want 0", got)
	}
	c.setRamp(0.5)
	fill()
	if got, want := c.bytes(), uint64(500*entryBytes); got != want {
		t.Fatalf("at half the ramp: %d bytes, want %d", got, want)
	}
	c.shed(100*entryBytes + 1) // rounds up to whole entries
	if got, want := c.bytes(), uint64(399*entryBytes); got != want {
		t.Fatalf("after shedding: %d bytes, want %d", got, want)
	}
	if got, want := c.shedBytes.Load(), uint64(101*entryBytes); got != want || c.shedCalls.Load() != 1 {
		t.Fatalf("shed %d bytes in %d calls, want %d in 1", got, c.shedCalls.Load(), want)
	}
	c.setRamp(1) // shedding caps the ramp for the rest of the run
	fill()
	if got, want := c.bytes(), uint64(399*entryBytes); got != want {
		t.Fatalf("after the full ramp: %d bytes, want the shed cap %d", got, want)
	}
	c.shed(1 << 40)
	if c.bytes() != 0 {
		t.Fatalf("shedding more than held left %d bytes", c.bytes())
	}
	fill() // an empty cache stays empty and does not panic
}

// The entries link to their predecessor (marking work for the GC); eviction
// must cut the link, or the whole history of evicted entries stays live.
func TestCacheEvictionCutsTheChain(t *testing.T) {
	c := newCache(10 * entryBytes)
	c.setRamp(1)
	rng := uint64(7)
	for range 50 {
		request(c, &rng, 64)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n != 10 {
		t.Fatalf("cache holds %d entries, want 10", c.n)
	}
	oldest := c.ring[c.head]
	if oldest == nil || oldest.prev != nil {
		t.Fatalf("the oldest entry still links to an evicted one: %+v", oldest)
	}
	depth := 0
	for e := c.last; e != nil; e = e.prev {
		depth++
	}
	if depth != 10 {
		t.Fatalf("the chain from the newest entry is %d long, want 10", depth)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var tb tailBuffer
	for range 3000 {
		tb.Write([]byte("0123456789"))
	}
	tb.Write([]byte("END"))
	s := tb.String()
	if len(s) != 16<<10 || s[len(s)-3:] != "END" {
		t.Fatalf("tail is %d bytes ending %q", len(s), s[len(s)-3:])
	}
}
