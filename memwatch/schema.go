package memwatch

// schemaKey describes one key of the JSON rendering ([Snapshot.MarshalJSON]),
// or several sibling keys that share a type and a meaning.
//
// schemaKeys is the one statement of the schema: the "# JSON schema" list
// of the package documentation (doc.go) is generated from it by
// TestSchemaDoc (go generate ./memwatch/), and TestSchemaKeys fails when
// the marshaler writes a key the table does not list or the table lists
// one the marshaler never writes.
type schemaKey struct {
	// Path is the key's dotted path from the top-level object; with Keys,
	// the path of the object holding them.
	Path string
	// Keys, when set, are sibling keys under Path that share Type and
	// Meaning.
	Keys []string
	// Type is the JSON type of a non-null value: "string", "bool", "int"
	// (an integral number), "float", "object" or "[string]". Any value may
	// be null. An object none of whose keys is listed has keys that are
	// data (part or class names), said in Meaning.
	Type string
	// Optional marks a key present only in some snapshots (Meaning says
	// which); the keys under it go with it. Every other key is always
	// present when its parent object is not null.
	Optional bool
	// Meaning is the documentation, one sentence or a few phrases.
	Meaning string
}

// paths returns the dotted paths k describes.
func (k schemaKey) paths() []string {
	if len(k.Keys) == 0 {
		return []string{k.Path}
	}
	out := make([]string, len(k.Keys))
	for i, name := range k.Keys {
		out[i] = k.Path + "." + name
	}
	return out
}

// schemaKeys lists every key [Snapshot.MarshalJSON] writes, in the order it
// writes them.
var schemaKeys = []schemaKey{
	{Path: "time", Type: "string", Meaning: "when the sample was taken"},
	{Path: "full", Type: "bool", Meaning: "this sample read every file"},
	{Path: "detail_time", Type: "string", Meaning: "when the breakdowns (stat, status, meminfo) were read; null if never"},
	{Path: "level", Type: "string", Meaning: `"unknown" | "ok" | "warn" | "critical" (set by the Watcher)`},
	{Path: "sampling.mode", Type: "string", Meaning: "the Watcher's sampling mode; null outside a Watcher"},
	{Path: "sampling.interval_seconds", Type: "float", Meaning: "the Watcher's interval; null outside a Watcher"},
	{Path: "verdict", Type: "string", Meaning: "one-line human summary (Snapshot.Verdict)"},

	{Path: "cgroup.available", Type: "bool", Meaning: "the memory cgroup view could be read"},
	{Path: "cgroup.error", Type: "string", Meaning: "why the view is unavailable; null when it is not (a cgroupstat.ErrNoLimit error says why no limit applies)"},
	{Path: "cgroup.errors", Type: "object", Meaning: "per optional part, why it is unknown on this sample; all null when every part was read, or the view is unavailable"},
	{Path: "cgroup.errors", Keys: []string{"working_set", "peak", "swap", "stat", "kernel", "events", "events_local", "failcnt", "psi"},
		Type: "string", Meaning: "the reason (the file, and what failed); with stat, kernel, events, events_local and failcnt their values are the last good read's, else null"},
	{Path: "cgroup.version", Type: "string", Meaning: `"v1" | "v2"`},
	{Path: "cgroup.path", Type: "string", Meaning: "cgroup path as in /proc/self/cgroup"},
	{Path: "cgroup.dir", Type: "string", Meaning: "directory read (under the root)"},
	{Path: "cgroup.hybrid", Type: "bool", Meaning: "a cgroup2 hierarchy is mounted beside v1"},
	{Path: "cgroup.ancestors_hidden", Type: "bool", Meaning: "a limit set above the visible cgroups is not seen"},
	{Path: "cgroup.usage_bytes", Type: "int", Meaning: "memory.current / memory.usage_in_bytes"},
	{Path: "cgroup.working_set_bytes", Type: "int", Meaning: "max(0, usage − inactive_file) (cAdvisor, kubectl top, kubelet eviction); null until memory.stat gave inactive_file"},
	{Path: "cgroup.limit_bytes", Type: "int", Meaning: "effective hard limit over visible ancestors; null when unlimited"},
	{Path: "cgroup.high_bytes", Type: "int", Meaning: "effective memory.high (v2); null when unset and on v1"},
	{Path: "cgroup.peak_bytes", Type: "int", Meaning: "memory.peak / max_usage_in_bytes; null when absent"},
	{Path: "cgroup.swap_bytes", Type: "int", Meaning: "swap usage; null without swap accounting"},
	{Path: "cgroup.swap_limit_bytes", Type: "int", Meaning: "swap limit; null without swap accounting or without a limit"},
	{Path: "cgroup", Keys: []string{"anon_bytes", "file_bytes", "active_file_bytes", "inactive_file_bytes", "shmem_bytes"},
		Type: "int", Meaning: "memory.stat (v1: hierarchical total_*); null before a full read"},
	{Path: "cgroup.kernel_bytes", Type: "int", Meaning: "kernel memory charged to usage (v2 kernel + sock; v1 kmem usage); null before a full read"},
	{Path: "cgroup.stat", Keys: []string{"anon_bytes", "file_bytes", "active_anon_bytes", "inactive_anon_bytes",
		"active_file_bytes", "inactive_file_bytes", "unevictable_bytes", "shmem_bytes", "file_mapped_bytes",
		"file_dirty_bytes", "file_writeback_bytes", "kernel_bytes", "kernel_stack_bytes", "pagetables_bytes",
		"percpu_bytes", "sock_bytes", "slab_reclaimable_bytes", "slab_unreclaimable_bytes", "swap_bytes", "anon_thp_bytes"},
		Type: "int", Meaning: "every memory.stat field; null when the kernel does not report it or before a full read"},
	{Path: "cgroup.events", Type: "object", Meaning: "event counters; all its values are null before a full read"},
	{Path: "cgroup.events", Keys: []string{"low", "high", "max", "oom"}, Type: "int", Meaning: "v2 memory.events; null on v1"},
	{Path: "cgroup.events.oom_kill", Type: "int", Meaning: "OOM kills in the cgroup (v2 memory.events, hierarchical; v1 memory.oom_control, 4.13+)"},
	{Path: "cgroup.events.oom_group_kill", Type: "int", Meaning: "v2 memory.events; null on v1"},
	{Path: "cgroup.events.local", Type: "object", Meaning: "v2 memory.events.local: the counters of this cgroup alone; null when absent"},
	{Path: "cgroup.events.local", Keys: []string{"low", "high", "max", "oom", "oom_kill", "oom_group_kill"},
		Type: "int", Meaning: "as in cgroup.events"},
	{Path: "cgroup.events.failcnt", Type: "int", Meaning: "v1 memory.failcnt (counts harmless cache reclaim too); null on v2 or when unreadable"},
	{Path: "cgroup.events", Keys: []string{"under_oom", "oom_kill_disable"}, Type: "bool", Meaning: "v1 memory.oom_control; null on v2"},
	{Path: "cgroup.psi.source", Type: "string", Meaning: `"cgroup" | "host" (/proc/pressure/memory); null without a pressure file or before a full read`},
	{Path: "cgroup.psi", Keys: []string{"some", "full"}, Type: "object",
		Meaning: "memory pressure (some: at least one task stalled; full: all non-idle tasks stalled); null when cgroup.psi.source is null"},
	{Path: "cgroup.psi.some", Keys: []string{"avg10", "avg60", "avg300"}, Type: "float", Meaning: "percent of the time stalled over the last 10, 60, 300 s"},
	{Path: "cgroup.psi.some.total_us", Type: "int", Meaning: "µs of stall in total"},
	{Path: "cgroup.psi.full", Keys: []string{"avg10", "avg60", "avg300"}, Type: "float", Meaning: "as in cgroup.psi.some"},
	{Path: "cgroup.psi.full.total_us", Type: "int", Meaning: "as in cgroup.psi.some"},

	{Path: "process.available", Type: "bool", Meaning: "the /proc/self view could be read"},
	{Path: "process.error", Type: "string", Meaning: "why the view is unavailable; null when it is not"},
	{Path: "process.rss_bytes", Type: "int", Meaning: "statm resident"},
	{Path: "process.anon_bytes", Type: "int", Meaning: "statm resident − shared (fresh every sample)"},
	{Path: "process.shared_bytes", Type: "int", Meaning: "statm shared (file + shmem)"},
	{Path: "process", Keys: []string{"rss_file_bytes", "rss_shmem_bytes", "peak_rss_bytes", "swap_bytes"},
		Type: "int", Meaning: "RssFile, RssShmem, VmHWM, VmSwap of /proc/self/status, last full read; null when absent"},
	{Path: "process.vm_size_bytes", Type: "int", Meaning: "statm size (virtual memory)"},

	{Path: "go.alloc_bytes", Type: "int", Meaning: "MemStats.Alloc = /memory/classes/heap/objects"},
	{Path: "go.sys_bytes", Type: "int", Meaning: "MemStats.Sys = /memory/classes/total"},
	{Path: "go.heap_live_bytes", Type: "int", Meaning: "/gc/heap/live: marked live by the last GC; null if the runtime lacks it"},
	{Path: "go.heap_goal_bytes", Type: "int", Meaning: "/gc/heap/goal; null if the runtime lacks it"},
	{Path: "go.heap_objects_bytes", Type: "int", Meaning: "/memory/classes/heap/objects (MemStats.HeapAlloc)"},
	{Path: "go.heap_released_bytes", Type: "int", Meaning: "/memory/classes/heap/released: free and returned to the OS"},
	{Path: "go.retained_bytes", Type: "int", Meaning: "sys − heap_released: what GOMEMLIMIT governs"},
	{Path: "go.gomemlimit_bytes", Type: "int", Meaning: "null when no limit is set"},
	{Path: "go.gogc_percent", Type: "int", Meaning: "null when GOGC=off"},
	{Path: "go.gc_cycles", Type: "int", Meaning: "/gc/cycles/total (MemStats.NumGC)"},
	{Path: "go.gc_cpu_fraction", Type: "float", Meaning: "GC share of CPU over the last interval (see GoStats.GCCPUFraction)"},
	{Path: "go.gc_cpu_window_seconds", Type: "float", Meaning: "CPU seconds that fraction covers (0 = no GC in the interval)"},
	{Path: "go.gc_limiter_last_enabled_cycle", Type: "int", Meaning: "last GC cycle the GC CPU limiter engaged (0 = never)"},
	{Path: "go.goroutines", Type: "int", Meaning: "/sched/goroutines"},
	{Path: "go.gomaxprocs", Type: "int", Meaning: "/sched/gomaxprocs"},
	{Path: "go.total_alloc_bytes", Type: "int", Meaning: "/gc/heap/allocs, cumulative (MemStats.TotalAlloc)"},
	{Path: "go.exact", Type: "bool", Meaning: "alloc/sys came from runtime.ReadMemStats"},
	{Path: "go.classes", Type: "object", Meaning: `every /memory/classes/* metric, "heap/objects" → "heap_objects"`},

	{Path: "host.available", Type: "bool", Meaning: "/proc/meminfo could be read"},
	{Path: "host.error", Type: "string", Meaning: "why the view is unavailable; null when it is not"},
	{Path: "host", Keys: []string{"mem_total_bytes", "mem_available_bytes", "swap_total_bytes", "swap_free_bytes"},
		Type: "int", Meaning: "/proc/meminfo MemTotal, MemAvailable, SwapTotal, SwapFree; null when absent"},

	{Path: "attribution", Type: "object", Meaning: "part name → bytes, in this order: go_heap_live, go_heap_unused, " +
		"go_heap_fragmentation, go_heap_free, go_stacks, go_runtime_metadata, go_runtime_other, non_go_anon, " +
		"other_processes, shmem, page_cache_active, page_cache_inactive, file_mapped, kernel, " +
		"kernel_slab_reclaimable, unaccounted. Known parts sum to gap.total_bytes; null = not applicable to this base."},

	{Path: "gap.base", Type: "string", Meaning: `what is decomposed: "cgroup" (usage) | "process" (RSS) | "go" (retained)`},
	{Path: "gap.total_bytes", Type: "int", Meaning: "the total decomposed: cgroup usage, process RSS or Go retained"},
	{Path: "gap.reclaimable_bytes", Type: "int", Meaning: "clean page cache + reclaimable slab"},
	{Path: "gap.needs_writeback_bytes", Type: "int", Meaning: "dirty/writeback page cache"},
	{Path: "gap.unreclaimable_bytes", Type: "int", Meaning: "total − reclaimable − needs_writeback"},
	{Path: "gap.runtime_releasable_bytes", Type: "int", Meaning: "go_heap_unused + go_heap_free"},
	{Path: "gap.go_bytes", Type: "int", Meaning: "the go_* parts (resident)"},
	{Path: "gap.non_go_bytes", Type: "int", Meaning: "non_go_anon"},
	{Path: "gap.go_not_resident_bytes", Type: "int", Meaning: "runtime memory not resident (never touched)"},
	{Path: "gap.overcount_bytes", Type: "int", Meaning: "memory.stat parts beyond usage (lag)"},
	{Path: "gap.reclaim", Type: "object", Meaning: `part name → "no" | "reclaimable" | "swappable" | "runtime" | "unknown"`},
	{Path: "gap.notes", Type: "[string]", Meaning: "caveats (see Notes)"},

	{Path: "headroom", Type: "object", Meaning: "all its values are null without a limit (the high ones: without memory.high)"},
	{Path: "headroom", Keys: []string{"limit_bytes", "high_bytes"}, Type: "int", Meaning: "as cgroup.limit_bytes, cgroup.high_bytes"},
	{Path: "headroom", Keys: []string{"to_limit_bytes", "to_high_bytes"}, Type: "int", Meaning: "limit − usage, high − usage (may be negative)"},
	{Path: "headroom.available_before_oom_bytes", Type: "int", Meaning: "limit − unreclaimable"},
	{Path: "headroom", Keys: []string{"usage_percent", "working_set_percent"}, Type: "float", Meaning: "usage and working set in percent of the limit; null also with a limit of 0, and (working set) when it is unknown"},

	{Path: "actions", Type: "object", Optional: true, Meaning: "present only in snapshots of a Watcher with an action option " +
		"(WithAdaptiveMemLimit, WithAdaptiveGOGC, WithFreeOSMemory, OnShed, WithWontFitPolicy; see Actions)"},
	{Path: "actions.memlimit_bytes", Type: "int", Meaning: "GOMEMLIMIT the Watcher set and that is in force; null when unchanged"},
	{Path: "actions.memlimit_reason", Type: "string", Meaning: "last decision's reason, or why the adaptive limit is inactive"},
	{Path: "actions.memlimit_source", Type: "string", Meaning: `"none" | "cgroup_max" | "cgroup_high" | "host_memtotal"`},
	{Path: "actions.memlimit_bound", Type: "string", Meaning: `"none" | "budget" | "floor"`},
	{Path: "actions", Keys: []string{"memlimit_decided_bytes", "memlimit_budget_bytes"}, Type: "int", Meaning: "last decision's limit and budget; null when none"},
	{Path: "actions.memlimit_changed", Type: "string", Meaning: "when the Watcher last changed GOMEMLIMIT; null if never"},
	{Path: "actions.gogc_percent", Type: "int", Meaning: "GOGC the Watcher set; null when unchanged"},
	{Path: "actions.free_os_memory_time", Type: "string", Meaning: "last debug.FreeOSMemory; null if never"},
	{Path: "actions.free_os_memory_count", Type: "int", Meaning: "debug.FreeOSMemory calls so far"},
	{Path: "actions.shed", Type: "object", Meaning: "last ShedAdvice"},
	{Path: "actions.shed.bytes", Type: "int", Meaning: "live heap to give up to reach the target; 0 when none"},
	{Path: "actions.shed.wont_fit", Type: "bool", Meaning: "the live heap alone is at or above the heap budget"},
	{Path: "actions.shed.reason", Type: "string", Meaning: "the most severe rule that fired"},
}
