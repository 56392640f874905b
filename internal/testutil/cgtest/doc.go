// Package cgtest is the test harness for real memory cgroups: it creates them
// for a test, runs child processes and workload helpers inside them and asks
// those helpers to run probes from within. It serves this module's tests
// only. The cgroup work itself (creating v1 or v2 child cgroups, starting a
// process inside from its first instruction, reading counters, removing) is
// package internal/memcg; cgtest adds what tests need on top: testing.TB
// integration (skip where cgroups cannot be made, fail on errors, removal
// and reaping with t.Cleanup), workloads and probes.
//
// Create makes a fresh child memory cgroup (optionally with a limit, a v2
// memory.high, no swap, or a limited parent) under the test process's own
// memory cgroup, on whichever cgroup version serves the memory controller
// (v1, the hybrid layout, or v2). It skips the test with a reason when that is
// impossible (not root, no memory controller, read-only cgroupfs) and removes
// everything it made when the test ends: remaining processes are killed, v1
// charges are force-emptied and the directories are removed.
//
// Cgroup.Start runs an *exec.Cmd inside the cgroup from its first
// instruction, so no memory of the program is charged elsewhere (see
// internal/memcg for how, on v1 and on v2).
//
// Workload describes a helper process (the current test binary re-executed
// with -test.run=^TestHelperProcess$) that allocates anonymous memory, Go heap
// and page cache, prints "ready" and waits. A package using it declares
//
//	func TestHelperProcess(t *testing.T) { cgtest.RunHelper(probes) }
//
// which does nothing in a normal test run. Probes are functions the helper
// runs on request inside the cgroup (for example a reader printing its own
// view of the cgroup), so discovery code is exercised from within.
//
// Nothing here is needed outside tests; the package imports only the standard
// library, golang.org/x/sys/unix and internal/memcg.
package cgtest
