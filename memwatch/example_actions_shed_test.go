package memwatch_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
)

// TestOnShedShrinksCache runs the wiring of ExampleOnShed against a real
// shed advice: a cache holding most of a 64 MiB GOMEMLIMIT (standing in
// for a container's limit; the proc-only fixture has no cgroup, so the
// budget is the runtime's GOMEMLIMIT) must be shrunk by what the Watcher
// advises. It changes GOMEMLIMIT and puts it back; like the actions tests
// it must not run in parallel.
func TestOnShedShrinksCache(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(orig)

	cache := NewCache(0)
	for i := range 56 * 16 {
		cache.Put(fmt.Sprint(i), make([]byte, 64<<10)) // 56 MiB in 64 KiB entries
	}
	before := cache.Bytes()
	debug.SetMemoryLimit(64 << 20)
	runtime.GC() // /gc/heap/live now holds the cache

	advised := make(chan uint64, 4)
	shed := ShedInto(cache)
	w, err := memwatch.New(memwatch.WithRoot("testdata/proc-only"), memwatch.WithInterval(time.Hour),
		memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()),
		memwatch.OnShed(func(sig memwatch.ShedSignal, s *memwatch.Snapshot) {
			shed(sig, s)
			advised <- sig.Bytes
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-advised:
		after := cache.Bytes()
		t.Logf("advised %s, cache %s → %s", memwatch.FormatBytes(n), memwatch.FormatBytes(before), memwatch.FormatBytes(after))
		if n == 0 || before-after < n {
			t.Fatalf("cache shrank by %d bytes, advised %d", before-after, n)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no shed advice with %s of cache under a 64 MiB GOMEMLIMIT: %+v",
			memwatch.FormatBytes(before), w.Latest().Actions.Shed)
	}
	runtime.KeepAlive(cache)
}
