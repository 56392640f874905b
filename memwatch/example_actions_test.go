package memwatch_test

import (
	"container/list"
	"context"
	"fmt"
	"log"
	"log/slog"
	"sync"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/memwatch"
)

// Cache is a small least-recently-used cache of byte slices that can be
// told to give memory back: what OnShed needs to be wired to.
type Cache struct {
	mu    sync.Mutex
	max   uint64 // 0: no bound of its own
	bytes uint64
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	val []byte
}

// NewCache returns an empty cache holding at most max bytes (0: no bound).
func NewCache(max uint64) *Cache {
	return &Cache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// Put stores val under key, evicting the least recently used entries
// beyond the bound.
func (c *Cache) Put(key string, val []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.bytes -= uint64(len(e.Value.(*cacheEntry).val))
		c.order.Remove(e)
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key, val})
	c.bytes += uint64(len(val))
	if c.max > 0 && c.bytes > c.max {
		c.evict(c.bytes - c.max)
	}
}

// Get returns the value under key and marks it recently used.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).val, true
}

// Shrink evicts least recently used entries until at least n bytes are
// gone (or the cache is empty) and returns how many bytes it evicted. The
// memory returns to the heap at the next GC.
func (c *Cache) Shrink(n uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evict(n)
}

// SetMax changes the bound, evicting what no longer fits.
func (c *Cache) SetMax(max uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max
	if max > 0 && c.bytes > max {
		c.evict(c.bytes - max)
	}
}

// Bytes returns the bytes held.
func (c *Cache) Bytes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func (c *Cache) evict(n uint64) (freed uint64) {
	for freed < n && c.order.Len() > 0 {
		e := c.order.Back()
		ent := c.order.Remove(e).(*cacheEntry)
		delete(c.items, ent.key)
		freed += uint64(len(ent.val))
	}
	c.bytes -= freed
	return freed
}

// ShedInto returns the OnShed callback that makes c give back what the
// Watcher advises: sig.Bytes of live heap.
func ShedInto(c *Cache) func(memwatch.ShedSignal, *memwatch.Snapshot) {
	return func(sig memwatch.ShedSignal, s *memwatch.Snapshot) {
		freed := c.Shrink(sig.Bytes)
		slog.Warn("memory: cache shed", "advised", sig.Bytes, "freed", freed, "reason", sig.Reason,
			"verdict", s.Verdict())
	}
}

// WithAdaptiveMemLimit keeps GOMEMLIMIT under the container's limit minus
// the memory Go does not see; OnShed is where the application gives live
// data back when even that is not enough (the live heap nears the budget):
// here a cache evicts what the Watcher advises. Without OnShed the
// Watcher can only log that the process will likely be OOM-killed.
// TestOnShedShrinksCache runs this wiring against a real shed advice.
func ExampleOnShed() {
	cache := NewCache(0)
	w, err := memwatch.New(
		memwatch.WithLogger(slog.Default()),
		memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()),
		memwatch.OnShed(ShedInto(cache)),
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	// ... serve, filling the cache with cache.Put ...
}

// OnLimitChange follows an in-place pod resize (the kernel announces
// none; the Watcher re-reads the limit on every sample): here the cache's
// bound stays a quarter of the container's limit.
func ExampleOnLimitChange() {
	cache := NewCache(0)
	bound := func(limit uint64) {
		if limit != cgroupstat.Unlimited {
			cache.SetMax(limit / 4)
		}
	}
	w, err := memwatch.New(memwatch.OnLimitChange(func(old, new uint64, s *memwatch.Snapshot) {
		slog.Info("memory limit changed", "old", old, "new", new)
		bound(new)
	}))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	bound(w.Latest().Cgroup.Stats.Limit) // the limit at start
}

// Attribute splits what the cgroup charges into named parts that sum to
// the usage. Here on a hand-made snapshot of a v2 container with a 512 MiB
// limit: the Go heap, memory Go does not see (cgo, mmap), another process
// in the container, page cache, kernel memory.
func ExampleAttribute() {
	const mib = 1 << 20
	var s memwatch.Snapshot
	cg := &s.Cgroup
	cg.Available = true
	cg.Stats = cgroupstat.Stats{
		Version: cgroupstat.V2, Usage: 400 * mib, WorkingSet: 350 * mib,
		Limit: 512 * mib, High: cgroupstat.Unlimited, Full: true,
		Stat: cgroupstat.MemStat{
			Anon: 300 * mib, File: 80 * mib, ActiveFile: 30 * mib, InactiveFile: 50 * mib,
			Kernel: 20 * mib, Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveFile |
				cgroupstat.StatInactiveFile | cgroupstat.StatKernel,
		},
	}
	s.Process.Available = true
	s.Process.Statm.Resident, s.Process.Statm.Shared = 290*mib, 30*mib // 260 MiB anonymous
	g := &s.Go
	g.Present = memwatch.GoHeapLive | memwatch.GoHeapObjects
	g.HeapLive, g.HeapObjects, g.HeapFree, g.HeapStacks, g.MetadataOther = 150*mib, 180*mib, 12*mib, 2*mib, 6*mib
	g.Total = 200 * mib

	a := memwatch.Attribute(&s)
	for _, p := range a.Parts {
		if p.Bytes > 0 {
			fmt.Printf("%-22s %10s  %s\n", p.Name(), memwatch.FormatBytes(p.Bytes), p.Reclaim)
		}
	}
	fmt.Println("total", memwatch.FormatBytes(a.Total), "of which Go", memwatch.FormatBytes(a.GoBytes))
	fmt.Println("the kernel can reclaim", memwatch.FormatBytes(a.ReclaimableBytes),
		"before an OOM kill; can still be charged:", memwatch.FormatBytes(uint64(a.Headroom.AvailableBeforeOOM)))
	// Output:
	// go_heap_live            150.0 MiB  no
	// go_heap_unused           30.0 MiB  runtime
	// go_heap_free             12.0 MiB  runtime
	// go_stacks                 2.0 MiB  no
	// go_runtime_metadata       6.0 MiB  no
	// non_go_anon              60.0 MiB  no
	// other_processes          40.0 MiB  no
	// page_cache_active        30.0 MiB  reclaimable
	// page_cache_inactive      50.0 MiB  reclaimable
	// kernel                   20.0 MiB  no
	// total 400.0 MiB of which Go 200.0 MiB
	// the kernel can reclaim 80.0 MiB before an OOM kill; can still be charged: 192.0 MiB
}

// WithTerminationMessage leaves memwatch's explanation in the Kubernetes
// termination message, so that after an OOM kill
// `kubectl describe pod` shows, under Last State, something like:
//
//	memwatch: memory critical since 2025-11-27T00:36:00Z
//	usage is 90% of limit (115.7 MiB of 128.0 MiB), working set 90%; non-Go memory 0 B
//	largest parts of the cgroup's usage (115.7 MiB):
//	  go_heap_live                88.3 MiB
//	  go_heap_unused              24.0 MiB  the Go runtime can release it
//	  ...
//	Go: live heap 88.3 MiB, GOMEMLIMIT 121.7 MiB, GC cycle 5
func ExampleWithTerminationMessage() {
	w, err := memwatch.New(
		memwatch.WithTerminationMessage(""), // /dev/termination-log, the Kubernetes default
		memwatch.WithLogger(slog.Default()),
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
}
