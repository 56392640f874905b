package memtest_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/go-memwatch/memwatch/memwatch/memtest"
)

var cache [][]byte

// Measure reports what a function allocated and the peaks it reached on each
// layer, and how each number was obtained.
func ExampleMeasure() {
	r := memtest.Measure(func() {
		for range 16 {
			cache = append(cache, make([]byte, 1<<20))
		}
	})
	fmt.Println("allocated at least 16 MiB:", r.Alloc.Growth() >= 16<<20)
	fmt.Println("retained at least 15 MiB:", r.Retained() >= 15<<20)
	fmt.Println("live heap is", r.LiveHeap.Quality)
	cache = nil
	// Output:
	// allocated at least 16 MiB: true
	// retained at least 15 MiB: true
	// live heap is sampled
}

// AssertBudget fails a test when a function goes over its budget, naming the
// layer, the amount and the decomposition at the peak. Call it from a test
// function; here the test is a closure so the example compiles on its own.
func ExampleAssertBudget() {
	testParse := func(t *testing.T) {
		memtest.AssertBudget(t, memtest.Budget{
			Alloc:    64 << 20, // bytes allocated
			LiveHeap: 16 << 20, // peak heap growth
			RSS:      32 << 20, // peak resident growth (Linux)
		}, func() {
			buf := make([]byte, 8<<20)
			runtime.KeepAlive(buf)
		})
	}
	_ = testParse
}

// RunInCgroup runs the body in a child test process inside a memory cgroup
// with a hard limit and says whether the kernel OOM-killed it.
func ExampleRunInCgroup() {
	testFits := func(t *testing.T) {
		res := memtest.RunInCgroup(t, 64<<20, func(t *testing.T) {
			buf := make([]byte, 8<<20)
			runtime.KeepAlive(buf)
		})
		if res.OOMKilled {
			t.Fatalf("OOM-killed in a 64 MiB cgroup: %v", res)
		}
	}
	_ = testFits
}
