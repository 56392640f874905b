// The key list that ends the package documentation (# JSON schema) is
// generated from schemaKeys (schema.go): edit the table, then run
// go generate ./memwatch/ (TestSchemaDoc fails while they differ).

//go:generate go test -run=TestSchemaDoc -update

// Package memwatch joins three views of a Go service's memory — the Go
// runtime ([runtime/metrics]), the process (/proc/self) and the kernel
// memory cgroup (the view the OOM killer acts on) — explains the gap between
// them, warns before the limit and acts.
//
// # Snapshots
//
// A [Sampler] opens the kernel files once and fills a caller-owned
// [*Snapshot] on each [Sampler.Sample]: no allocation and no stop-the-world
// pause in steady state ([runtime.ReadMemStats] is used only with
// [WithExactMemStats]). A cheap sample reads /proc/self/statm, the cgroup's
// usage and limits and [runtime/metrics]; a full sample also reads
// /proc/self/status, memory.stat, the event counters, PSI and /proc/meminfo.
// [Read] is a one-shot full sample. [Snapshot.WriteText] (and
// [Snapshot.String]) render a snapshot for people, [Snapshot.MarshalJSON]
// for programs (see JSON schema below).
//
// A view that cannot be read (no memory cgroup on a laptop, or an operating
// system other than Linux, where only the Go view remains) is marked
// unavailable in the snapshot with the reason ([ViewStatus]); the rest still
// works.
//
// # Attribution
//
// [Attribute] decomposes the cgroup's charge into named parts
// (go_heap_live, non_go_anon, page_cache_inactive, ...) that sum to the
// usage exactly, says which parts the kernel can reclaim before an OOM kill,
// and computes the headroom to memory.max and memory.high. The rules and
// their kernel and runtime sources are documented on [Attribute].
//
// # Actions
//
// A [Watcher] only observes unless given an action option; then, on each
// sample, it applies the pure policies ([MemLimitPolicy], [GOGCPolicy],
// [ShedAdvice], [FreeOSMemoryWorthIt]): [WithAdaptiveMemLimit] sets
// GOMEMLIMIT, [WithAdaptiveGOGC] sets GOGC, [WithFreeOSMemory] calls
// [runtime/debug.FreeOSMemory] at [LevelCritical], [OnShed] tells the
// application to shed live data and [WithWontFitPolicy] logs or exits when
// the live heap alone no longer fits. Values change only when they move by
// more than 1% (and 1 MiB for the limit); a GOMEMLIMIT from the environment
// wins unless [WithOverrideEnvGOMEMLIMIT]; [Watcher.Stop] restores the
// GOMEMLIMIT and GOGC in force at [Watcher.Start]. [Snapshot.Actions]
// records what was done and why. Package
// [github.com/go-memwatch/memwatch/memwatch/auto] starts such a Watcher from
// a blank import.
//
// # Last words
//
// A process the kernel OOM-kills cannot explain itself afterwards, so a
// Watcher given a logger ([WithLogger]) says what it knows while it can, at
// Warn and Error, once per episode and rate-limited: the level turning
// critical, with the verdict and the largest parts; live heap that must
// shrink with no [OnShed] handler to shed it; the GC CPU limiter letting the
// heap overshoot GOMEMLIMIT (see "Last words" on [Watcher]).
// [WithTerminationMessage] writes the explanation to the Kubernetes
// termination message file, shown by `kubectl describe pod` after the kill.
// Package [github.com/go-memwatch/memwatch/memwatch/heapprof] writes Go heap
// profiles when the level rises.
//
// # JSON schema
//
// [Snapshot.MarshalJSON] writes one object with stable snake_case keys; a
// Snapshot and a *Snapshot marshal the same. Byte counts are integers in
// bytes (keys end in _bytes); percentages are floats in [0, 100+];
// fractions are floats in [0, 1]; times are RFC 3339 strings. Every key
// listed below is present, objects included, whatever the snapshot holds,
// except actions (see its entry) and the keys of an object that is null.
// null means "unknown or not applicable": a view that is unavailable, a
// breakdown not yet read by a full sample, a field the kernel does not
// provide, or, for limits, no limit.
//
// The keys, with the JSON type of their non-null values:
//
//	time                          string   when the sample was taken
//	full                          bool     this sample read every file
//	detail_time                   string   when the breakdowns (stat, status, meminfo) were read; null if never
//	level                         string   "unknown" | "ok" | "warn" | "critical" (set by the Watcher)
//	sampling.mode                 string   the Watcher's sampling mode; null outside a Watcher
//	sampling.interval_seconds     float    the Watcher's interval; null outside a Watcher
//	verdict                       string   one-line human summary (Snapshot.Verdict)
//	cgroup.available              bool     the memory cgroup view could be read
//	cgroup.error                  string   why the view is unavailable; null when it is not (a
//	                                       cgroupstat.ErrNoLimit error says why no limit applies)
//	cgroup.errors                 object   per optional part, why it is unknown on this sample; all null when
//	                                       every part was read, or the view is unavailable
//	cgroup.errors.working_set, peak, swap, stat, kernel, events, events_local, failcnt, psi
//	                              string   the reason (the file, and what failed); with stat, kernel, events,
//	                                       events_local and failcnt their values are the last good read's, else
//	                                       null
//	cgroup.version                string   "v1" | "v2"
//	cgroup.path                   string   cgroup path as in /proc/self/cgroup
//	cgroup.dir                    string   directory read (under the root)
//	cgroup.hybrid                 bool     a cgroup2 hierarchy is mounted beside v1
//	cgroup.ancestors_hidden       bool     a limit set above the visible cgroups is not seen
//	cgroup.usage_bytes            int      memory.current / memory.usage_in_bytes
//	cgroup.working_set_bytes      int      max(0, usage − inactive_file) (cAdvisor, kubectl top, kubelet
//	                                       eviction); null until memory.stat gave inactive_file
//	cgroup.limit_bytes            int      effective hard limit over visible ancestors; null when unlimited
//	cgroup.high_bytes             int      effective memory.high (v2); null when unset and on v1
//	cgroup.peak_bytes             int      memory.peak / max_usage_in_bytes; null when absent
//	cgroup.swap_bytes             int      swap usage; null without swap accounting
//	cgroup.swap_limit_bytes       int      swap limit; null without swap accounting or without a limit
//	cgroup.anon_bytes, file_bytes, active_file_bytes, inactive_file_bytes, shmem_bytes
//	                              int      memory.stat (v1: hierarchical total_*); null before a full read
//	cgroup.kernel_bytes           int      kernel memory charged to usage (v2 kernel + sock; v1 kmem usage); null
//	                                       before a full read
//	cgroup.stat.anon_bytes, file_bytes, active_anon_bytes, inactive_anon_bytes, active_file_bytes,
//	    inactive_file_bytes, unevictable_bytes, shmem_bytes, file_mapped_bytes, file_dirty_bytes,
//	    file_writeback_bytes, kernel_bytes, kernel_stack_bytes, pagetables_bytes, percpu_bytes, sock_bytes,
//	    slab_reclaimable_bytes, slab_unreclaimable_bytes, swap_bytes, anon_thp_bytes
//	                              int      every memory.stat field; null when the kernel does not report it or
//	                                       before a full read
//	cgroup.events                 object   event counters; all its values are null before a full read
//	cgroup.events.low, high, max, oom
//	                              int      v2 memory.events; null on v1
//	cgroup.events.oom_kill        int      OOM kills in the cgroup (v2 memory.events, hierarchical; v1
//	                                       memory.oom_control, 4.13+)
//	cgroup.events.oom_group_kill  int      v2 memory.events; null on v1
//	cgroup.events.local           object   v2 memory.events.local: the counters of this cgroup alone; null when
//	                                       absent
//	cgroup.events.local.low, high, max, oom, oom_kill, oom_group_kill
//	                              int      as in cgroup.events
//	cgroup.events.failcnt         int      v1 memory.failcnt (counts harmless cache reclaim too); null on v2 or
//	                                       when unreadable
//	cgroup.events.under_oom, oom_kill_disable
//	                              bool     v1 memory.oom_control; null on v2
//	cgroup.psi.source             string   "cgroup" | "host" (/proc/pressure/memory); null without a pressure file
//	                                       or before a full read
//	cgroup.psi.some, full         object   memory pressure (some: at least one task stalled; full: all non-idle
//	                                       tasks stalled); null when cgroup.psi.source is null
//	cgroup.psi.some.avg10, avg60, avg300
//	                              float    percent of the time stalled over the last 10, 60, 300 s
//	cgroup.psi.some.total_us      int      µs of stall in total
//	cgroup.psi.full.avg10, avg60, avg300
//	                              float    as in cgroup.psi.some
//	cgroup.psi.full.total_us      int      as in cgroup.psi.some
//	process.available             bool     the /proc/self view could be read
//	process.error                 string   why the view is unavailable; null when it is not
//	process.rss_bytes             int      statm resident
//	process.anon_bytes            int      statm resident − shared (fresh every sample)
//	process.shared_bytes          int      statm shared (file + shmem)
//	process.rss_file_bytes, rss_shmem_bytes, peak_rss_bytes, swap_bytes
//	                              int      RssFile, RssShmem, VmHWM, VmSwap of /proc/self/status, last full read;
//	                                       null when absent
//	process.vm_size_bytes         int      statm size (virtual memory)
//	go.alloc_bytes                int      MemStats.Alloc = /memory/classes/heap/objects
//	go.sys_bytes                  int      MemStats.Sys = /memory/classes/total
//	go.heap_live_bytes            int      /gc/heap/live: marked live by the last GC; null if the runtime lacks it
//	go.heap_goal_bytes            int      /gc/heap/goal; null if the runtime lacks it
//	go.heap_objects_bytes         int      /memory/classes/heap/objects (MemStats.HeapAlloc)
//	go.heap_released_bytes        int      /memory/classes/heap/released: free and returned to the OS
//	go.retained_bytes             int      sys − heap_released: what GOMEMLIMIT governs
//	go.gomemlimit_bytes           int      null when no limit is set
//	go.gogc_percent               int      null when GOGC=off
//	go.gc_cycles                  int      /gc/cycles/total (MemStats.NumGC)
//	go.gc_cpu_fraction            float    GC share of CPU over the last interval (see GoStats.GCCPUFraction)
//	go.gc_cpu_window_seconds      float    CPU seconds that fraction covers (0 = no GC in the interval)
//	go.gc_limiter_last_enabled_cycle
//	                              int      last GC cycle the GC CPU limiter engaged (0 = never)
//	go.goroutines                 int      /sched/goroutines
//	go.gomaxprocs                 int      /sched/gomaxprocs
//	go.total_alloc_bytes          int      /gc/heap/allocs, cumulative (MemStats.TotalAlloc)
//	go.exact                      bool     alloc/sys came from runtime.ReadMemStats
//	go.classes                    object   every /memory/classes/* metric, "heap/objects" → "heap_objects"
//	host.available                bool     /proc/meminfo could be read
//	host.error                    string   why the view is unavailable; null when it is not
//	host.mem_total_bytes, mem_available_bytes, swap_total_bytes, swap_free_bytes
//	                              int      /proc/meminfo MemTotal, MemAvailable, SwapTotal, SwapFree; null when
//	                                       absent
//	attribution                   object   part name → bytes, in this order: go_heap_live, go_heap_unused,
//	                                       go_heap_fragmentation, go_heap_free, go_stacks, go_runtime_metadata,
//	                                       go_runtime_other, non_go_anon, other_processes, shmem,
//	                                       page_cache_active, page_cache_inactive, file_mapped, kernel,
//	                                       kernel_slab_reclaimable, unaccounted. Known parts sum to
//	                                       gap.total_bytes; null = not applicable to this base.
//	gap.base                      string   what is decomposed: "cgroup" (usage) | "process" (RSS) | "go"
//	                                       (retained)
//	gap.total_bytes               int      the total decomposed: cgroup usage, process RSS or Go retained
//	gap.reclaimable_bytes         int      clean page cache + reclaimable slab
//	gap.needs_writeback_bytes     int      dirty/writeback page cache
//	gap.unreclaimable_bytes       int      total − reclaimable − needs_writeback
//	gap.runtime_releasable_bytes  int      go_heap_unused + go_heap_free
//	gap.go_bytes                  int      the go_* parts (resident)
//	gap.non_go_bytes              int      non_go_anon
//	gap.go_not_resident_bytes     int      runtime memory not resident (never touched)
//	gap.overcount_bytes           int      memory.stat parts beyond usage (lag)
//	gap.reclaim                   object   part name → "no" | "reclaimable" | "swappable" | "runtime" | "unknown"
//	gap.notes                     [string] caveats (see Notes)
//	headroom                      object   all its values are null without a limit (the high ones: without
//	                                       memory.high)
//	headroom.limit_bytes, high_bytes
//	                              int      as cgroup.limit_bytes, cgroup.high_bytes
//	headroom.to_limit_bytes, to_high_bytes
//	                              int      limit − usage, high − usage (may be negative)
//	headroom.available_before_oom_bytes
//	                              int      limit − unreclaimable
//	headroom.usage_percent, working_set_percent
//	                              float    usage and working set in percent of the limit; null also with a limit
//	                                       of 0, and (working set) when it is unknown
//	actions                       object   present only in snapshots of a Watcher with an action option
//	                                       (WithAdaptiveMemLimit, WithAdaptiveGOGC, WithFreeOSMemory, OnShed,
//	                                       WithWontFitPolicy; see Actions)
//	actions.memlimit_bytes        int      GOMEMLIMIT the Watcher set and that is in force; null when unchanged
//	actions.memlimit_reason       string   last decision's reason, or why the adaptive limit is inactive
//	actions.memlimit_source       string   "none" | "cgroup_max" | "cgroup_high" | "host_memtotal"
//	actions.memlimit_bound        string   "none" | "budget" | "floor"
//	actions.memlimit_decided_bytes, memlimit_budget_bytes
//	                              int      last decision's limit and budget; null when none
//	actions.memlimit_changed      string   when the Watcher last changed GOMEMLIMIT; null if never
//	actions.gogc_percent          int      GOGC the Watcher set; null when unchanged
//	actions.free_os_memory_time   string   last debug.FreeOSMemory; null if never
//	actions.free_os_memory_count  int      debug.FreeOSMemory calls so far
//	actions.shed                  object   last ShedAdvice
//	actions.shed.bytes            int      live heap to give up to reach the target; 0 when none
//	actions.shed.wont_fit         bool     the live heap alone is at or above the heap budget
//	actions.shed.reason           string   the most severe rule that fired
package memwatch
