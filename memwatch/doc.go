// Package memwatch joins three views of a Go service's memory — the Go
// runtime (runtime/metrics), the process (/proc/self) and the kernel memory
// cgroup (the view the OOM killer acts on) — explains the gap between them,
// warns before the limit and acts.
//
// # Snapshots
//
// A Sampler opens the kernel files once and fills a caller-owned *Snapshot
// on each Sample: no allocation and no stop-the-world pause in steady state
// (runtime.ReadMemStats is used only with WithExactMemStats). A cheap sample
// reads /proc/self/statm, the cgroup's usage and limits and runtime/metrics;
// a full sample also reads /proc/self/status, memory.stat, the event
// counters, PSI and /proc/meminfo. Read is a one-shot full sample.
//
// A view that cannot be read (no memory cgroup on a laptop, or an operating
// system other than Linux, where only the Go view remains) is marked
// unavailable in the snapshot with the reason (ViewStatus); the rest still
// works.
//
// # Attribution
//
// Attribute decomposes the cgroup's charge into named parts (go_heap_live,
// non_go_anon, page_cache_inactive, ...) that sum to the usage exactly, says
// which parts the kernel can reclaim before an OOM kill, and computes the
// headroom to memory.max and memory.high. The rules and their kernel and
// runtime sources are documented on Attribute.
//
// # Actions
//
// A Watcher only observes unless given an action option; then, on each
// sample, it applies the pure policies (MemLimitPolicy, GOGCPolicy,
// ShedAdvice, FreeOSMemoryWorthIt): WithAdaptiveMemLimit sets GOMEMLIMIT,
// WithAdaptiveGOGC sets GOGC, WithFreeOSMemory calls debug.FreeOSMemory at
// LevelCritical, OnShed tells the application to shed live data and
// WithWontFitPolicy logs or exits when the live heap alone no longer fits.
// Values
// change only when they move by more than 1% (and 1 MiB for the limit); a
// GOMEMLIMIT from the environment wins unless WithOverrideEnvGOMEMLIMIT; Stop
// restores the GOMEMLIMIT and GOGC in force at Start. Snapshot.Actions
// records what was done and why. Package memwatch/auto starts such a
// Watcher from a blank import.
//
// # JSON schema
//
// Snapshot.MarshalJSON writes one object with stable snake_case keys. Byte
// counts are integers in bytes (keys end in _bytes); percentages are floats
// in [0, 100+]; fractions are floats in [0, 1]; times are RFC 3339 strings.
// Every key listed below is always present, objects included, whatever
// the snapshot holds; null means "unknown or not applicable": a view that is
// unavailable, a breakdown not yet read by a full sample, a field the kernel
// does not provide, or, for limits, no limit.
//
//	time                  string   when the sample was taken
//	full                  bool     this sample read every file
//	detail_time           string   when the breakdowns (stat, status, meminfo) were read; null if never
//	level                 string   "unknown" | "ok" | "warn" | "critical" (set by the Watcher)
//	sampling.mode         string   the Watcher's sampling mode; null outside a Watcher
//	sampling.interval_seconds float the Watcher's interval; null outside a Watcher
//	verdict               string   one-line human summary
//	cgroup.available      bool
//	cgroup.error          string   why the view is unavailable; null when it is not
//	cgroup.version        string   "v1" | "v2"
//	cgroup.path           string   cgroup path as in /proc/self/cgroup
//	cgroup.dir            string   directory read (under the root)
//	cgroup.hybrid         bool     a cgroup2 hierarchy is mounted beside v1
//	cgroup.ancestors_hidden bool   a limit set above the visible cgroups is not seen
//	cgroup.usage_bytes    int      memory.current / memory.usage_in_bytes
//	cgroup.working_set_bytes int   max(0, usage − inactive_file) (cAdvisor, kubectl top, kubelet eviction)
//	cgroup.limit_bytes    int      effective hard limit over visible ancestors; null when unlimited
//	cgroup.high_bytes     int      effective memory.high (v2); null when unset and on v1
//	cgroup.peak_bytes     int      memory.peak / max_usage_in_bytes; null when absent
//	cgroup.swap_bytes, cgroup.swap_limit_bytes int  swap usage and limit; null without swap accounting / limit
//	cgroup.anon_bytes, file_bytes, active_file_bytes, inactive_file_bytes, shmem_bytes int
//	                               memory.stat (v1: hierarchical total_*); null before a full read
//	cgroup.kernel_bytes   int      kernel memory charged to usage (v2 kernel + sock; v1 kmem usage)
//	cgroup.stat.<name>_bytes int   every memory.stat field (anon, file, active_anon, inactive_anon,
//	                               active_file, inactive_file, unevictable, shmem, file_mapped,
//	                               file_dirty, file_writeback, kernel, kernel_stack, pagetables, percpu,
//	                               sock, slab_reclaimable, slab_unreclaimable, swap, anon_thp);
//	                               null when the kernel does not report it or before a full read
//	cgroup.events.oom_kill int     OOM kills in the cgroup (v2 memory.events, hierarchical; v1
//	                               memory.oom_control, 4.13+)
//	cgroup.events.low, high, max, oom, oom_group_kill int  v2 memory.events; null on v1
//	cgroup.events.local   object   v2 memory.events.local counters (same keys); null when absent
//	cgroup.events.failcnt int      v1 memory.failcnt (counts harmless cache reclaim too); null on v2
//	cgroup.events.under_oom, oom_kill_disable bool  v1 memory.oom_control; null on v2
//	                               (all cgroup.events values are null before a full read)
//	cgroup.psi.source     string   "cgroup" | "host" (/proc/pressure/memory); null without a pressure file
//	cgroup.psi.some, cgroup.psi.full object  {avg10, avg60, avg300 (percent), total_us (µs of stall)}
//	process.available, process.error
//	process.rss_bytes     int      statm resident
//	process.anon_bytes    int      statm resident − shared (fresh every sample)
//	process.shared_bytes  int      statm shared (file + shmem)
//	process.rss_file_bytes, rss_shmem_bytes, peak_rss_bytes (VmHWM), swap_bytes (VmSwap) int
//	                               /proc/self/status, last full read; null when absent
//	process.vm_size_bytes int
//	go.alloc_bytes        int      MemStats.Alloc = /memory/classes/heap/objects
//	go.sys_bytes          int      MemStats.Sys = /memory/classes/total
//	go.heap_live_bytes    int      /gc/heap/live (marked live by the last GC)
//	go.heap_goal_bytes    int      /gc/heap/goal
//	go.heap_objects_bytes, heap_released_bytes int
//	go.retained_bytes     int      sys − heap_released: what GOMEMLIMIT governs
//	go.gomemlimit_bytes   int      null when no limit is set
//	go.gogc_percent       int      null when GOGC=off
//	go.gc_cycles, go.goroutines, go.gomaxprocs, go.total_alloc_bytes int
//	go.gc_cpu_fraction    float    GC share of CPU over the last interval (see GoStats.GCCPUFraction)
//	go.gc_cpu_window_seconds float CPU seconds that fraction covers (0 = no GC in the interval)
//	go.gc_limiter_last_enabled_cycle int  last GC cycle the GC CPU limiter engaged (0 = never)
//	go.exact              bool     alloc/sys came from runtime.ReadMemStats
//	go.classes            object   every /memory/classes/* metric, "heap/objects" → "heap_objects"
//	host.available, host.error
//	host.mem_total_bytes, mem_available_bytes, swap_total_bytes, swap_free_bytes int  /proc/meminfo
//	attribution           object   part name → bytes, in this order: go_heap_live, go_heap_unused,
//	                               go_heap_fragmentation, go_heap_free, go_stacks, go_runtime_metadata,
//	                               go_runtime_other, non_go_anon, other_processes, shmem,
//	                               page_cache_active, page_cache_inactive, file_mapped, kernel,
//	                               kernel_slab_reclaimable, unaccounted. Known parts sum to
//	                               gap.total_bytes; null = not applicable to this base.
//	gap.base              string   what is decomposed: "cgroup" (usage) | "process" (RSS) | "go" (retained)
//	gap.total_bytes       int
//	gap.reclaimable_bytes int      clean page cache + reclaimable slab
//	gap.needs_writeback_bytes int  dirty/writeback page cache
//	gap.unreclaimable_bytes int    total − reclaimable − needs_writeback
//	gap.runtime_releasable_bytes int  go_heap_unused + go_heap_free
//	gap.go_bytes, gap.non_go_bytes int
//	gap.go_not_resident_bytes int  runtime memory not resident (never touched)
//	gap.overcount_bytes   int      memory.stat parts beyond usage (lag)
//	gap.reclaim           object   part name → "no" | "reclaimable" | "swappable" | "runtime" | "unknown"
//	gap.notes             [string] caveats (see Notes)
//	headroom.limit_bytes, high_bytes int              null when unlimited / unset
//	headroom.to_limit_bytes, to_high_bytes int        limit − usage, high − usage (may be negative)
//	headroom.available_before_oom_bytes int           limit − unreclaimable
//	headroom.usage_percent, working_set_percent float of the limit
//
// All headroom values are null without a limit (or, for the high ones,
// without memory.high).
//
// The key actions is present only in snapshots of a Watcher with an action
// option (WithAdaptiveMemLimit, WithAdaptiveGOGC, WithFreeOSMemory, OnShed,
// WithWontFitPolicy; see Actions):
//
//	actions.memlimit_bytes int      GOMEMLIMIT the Watcher set and that is in force; null when unchanged
//	actions.memlimit_reason string  last decision's reason, or why the adaptive limit is inactive
//	actions.memlimit_source string  "none" | "cgroup_max" | "cgroup_high" | "host_memtotal"
//	actions.memlimit_bound string   "none" | "budget" | "floor"
//	actions.memlimit_decided_bytes, memlimit_budget_bytes int  last decision's limit and budget; null when none
//	actions.memlimit_changed string when the Watcher last changed GOMEMLIMIT; null if never
//	actions.gogc_percent  int       GOGC the Watcher set; null when unchanged
//	actions.free_os_memory_time string  last debug.FreeOSMemory; null if never
//	actions.free_os_memory_count int
//	actions.shed          object    last ShedAdvice: {bytes, wont_fit, reason}
package memwatch
