// Package memtest puts memory budgets into Go unit tests and benchmarks, in
// the spirit of net/http/httptest: measure what a function costs on every
// layer a Go program's memory passes through, fail a test that goes over a
// budget with a message that says which layer and why, and run a test body in
// a real memory cgroup to see whether it survives a limit.
//
// # Measuring
//
// Measure runs a function and reports, per layer, the value when it started
// (Base), the highest value seen while it ran (Peak) and how that number was
// obtained (Quality: Exact, Sampled or Unavailable, with the reason):
//
//   - Alloc, AllocObjects: bytes and objects allocated on the heap
//     (/gc/heap/allocs:bytes and :objects deltas). Exact.
//   - LiveHeap: /memory/classes/heap/objects:bytes sampled every millisecond
//     (default) by a goroutine that allocates nothing, plus the heap left
//     after two forced collections at the end (LiveHeapAfter). Sampled: it is
//     an upper bound of the live heap (it includes garbage not yet swept) and
//     can miss a spike shorter than the interval.
//   - GoMemory: what the runtime holds from the OS, /memory/classes/total −
//     heap/released (what GOMEMLIMIT governs). Sampled.
//   - RSS: the process's peak resident set. Exact on Linux when
//     /proc/self/clear_refs is writable (Measure writes "5" to reset VmHWM,
//     then reads VmHWM after the function; Peak is the larger of VmHWM and
//     the sampled maximum); otherwise sampled from statm.
//   - Cgroup: the peak usage of the process's memory cgroup. Exact when the
//     kernel lets the peak be reset: v1 memory.max_usage_in_bytes (written 0),
//     v2 memory.peak written through the descriptor it is then read from
//     (Linux 6.12+). Otherwise sampled from the usage, and the unresettable
//     peak is reported as CgroupPeakSinceCreation. Resetting the v1 peak
//     changes what other readers of that cgroup's max_usage_in_bytes see.
//
// Each sampled layer also records a process-level decomposition at its peak
// sample (Breakdown: Go heap, other Go memory, non-Go anonymous memory, file
// and shared pages, and the rest of the cgroup), which budget failures print.
//
// # What cannot be isolated
//
// Every number is process-wide (or cgroup-wide): allocations and memory of
// other goroutines running at the same time — parallel tests, background
// goroutines, the testing framework — count too. Run budget tests without
// t.Parallel; Measure serializes itself against other Measure calls. The
// garbage collector runs when it wants: the sampled heap includes garbage not
// yet collected, so a function that allocates a lot of short-lived memory has
// a peak well above its live data; a forced GC before and two after the
// function bound the baseline and the retained heap, nothing more. RSS and
// cgroup usage lag frees (the scavenger returns memory later) and include
// memory the runtime keeps for reuse. The race detector roughly doubles heap
// costs in RSS and adds allocations: budgets need margins or the race build
// tag.
//
// # Budgets
//
// AssertBudget measures a function and reports, through testing.TB, every
// layer whose growth over its base exceeds the Budget (0 leaves a layer
// unchecked; an unavailable layer is logged, not failed). ReportMetrics
// attaches a Result to a benchmark as custom metrics.
//
// # Real cgroups
//
// RunInCgroup re-executes the current test binary for the current test only
// (-test.run=^Name$) inside a fresh memory cgroup with a hard limit and
// reports whether the kernel OOM-killed it (from the cgroup's oom_kill
// counter), the cgroup's peak usage, the exit status, the output and the
// child's own Result. The body passed to it runs only in the child. It needs
// root and a writable memory cgroup hierarchy (v1 or v2) and skips the test
// with the reason where cgroups cannot be created. The child is inside the
// cgroup from its first instruction, and nothing needs setting up for it:
// no TestMain hook, and importing memtest runs no code (no init).
//
// Outside Linux only the Go runtime layers are available; RSS and cgroup
// measurements are Unavailable and RunInCgroup skips.
package memtest
