// Package memprom exports a memwatch [memwatch.Source] (usually a
// [*memwatch.Watcher]) to Prometheus: [NewCollector] returns a
// [prometheus.Collector] fed from the source's latest snapshot.
//
// A scrape copies that snapshot and converts it. It reads no kernel file,
// never waits for the sampler and never stops the world; it allocates one
// buffer per scrape and nothing per series (BenchmarkCollect). The numbers
// are as fresh as the Watcher's last sample (memwatch_snapshot_timestamp_seconds
// says when; memwatch_sampling_interval_seconds how often it samples).
//
// memprom is its own Go module, so programs that do not export to
// Prometheus never download client_golang: the memwatch module requires only
// golang.org/x/sys.
//
// # Metrics
//
// Names follow the Prometheus conventions: base units (bytes, seconds),
// _total for counters, no unit in a label value, and only bounded labels
// (part, reclaimable, event, action, scope, version: fixed sets). The full
// table, with each metric's source field and when it is absent, is
// docs/metrics.md in the repository.
//
//	memwatch_up                                   1 with a current snapshot; 0 and nothing else otherwise
//	memwatch_snapshot_timestamp_seconds           when the snapshot was sampled
//	memwatch_level                                0 unknown, 1 ok, 2 warn, 3 critical
//	memwatch_sampling_interval_seconds            the Watcher's current interval
//	memwatch_time_to_limit_seconds                forecast time to the limit (absent without a forecast)
//	memwatch_cgroup_info{version}                 1; v1 or v2
//	memwatch_cgroup_usage_bytes                   memory.current / memory.usage_in_bytes
//	memwatch_cgroup_working_set_bytes             usage − inactive_file (kubectl top, eviction)
//	memwatch_cgroup_limit_bytes                   effective hard limit (absent when unlimited)
//	memwatch_cgroup_high_bytes                    effective memory.high (absent when unset, and on v1)
//	memwatch_headroom_bytes                       limit − unreclaimable memory (absent without a limit)
//	memwatch_attribution_bytes{part,reclaimable}  the usage split into parts (go_heap_live, non_go_anon, ...)
//	memwatch_cgroup_oom_kills_total               OOM kills in the cgroup
//	memwatch_cgroup_memory_events_total{event}    v2 memory.events: low, high, max, oom, oom_group_kill
//	memwatch_cgroup_failcnt_total                 v1 memory.failcnt
//	memwatch_pressure_memory_waiting_seconds_total{scope}  PSI memory "some" stall time
//	memwatch_pressure_memory_stalled_seconds_total{scope}  PSI memory "full" stall time
//	memwatch_gomemlimit_bytes                     the GOMEMLIMIT memwatch set (absent when it set none)
//	memwatch_gomemlimit_at_floor                  1 when that limit is pinned at its floor
//	memwatch_gogc_percent                         the GOGC memwatch set (absent when it set none)
//	memwatch_actions_total{action}                set_gomemlimit, set_gogc, free_os_memory, advise_shed
//	memwatch_shed_advised_bytes                   live heap the application is advised to shed
//	memwatch_wont_fit                             1 when the live heap alone exceeds the heap budget
//	memwatch_wont_fit_episodes_total              times it stopped fitting
//
// A metric whose value is unknown is absent rather than 0: no limit means no
// memwatch_cgroup_limit_bytes (so ratios to it have no value instead of a
// division by zero), events and pressure appear after the first full read,
// the action metrics only on a Watcher with an action option.
//
// memwatch_level is a gauge holding the level's number, not a state set
// (one 0/1 series per level): the levels are ordered, and what alerts and
// dashboards ask is ordinal ("warn or worse" is memwatch_level >= 2,
// max_over_time gives the worst level of a window, a graph shows it as one
// line). A state set would need four series and a regular expression for
// the same questions.
//
// The reclaimable label of memwatch_attribution_bytes is "true" for the parts
// the kernel drops before an OOM kill (page cache, reclaimable slab:
// [memwatch.Reclaimable]) and "false" for every other class (unreclaimable,
// only swappable, only the Go runtime can release it, unknown), so
// sum(memwatch_attribution_bytes{reclaimable="false"}) is the memory that
// stays charged, and memwatch_headroom_bytes is the limit minus it.
//
// # Counters
//
// Counters copy kernel counters (memory.events, memory.oom_control,
// memory.failcnt, PSI totals) and the Watcher's own ([memwatch.Actions]).
// The first value seen is exported as it is, so a series agrees with the
// snapshot's JSON. A counter never goes down: if the cgroup the kernel
// counters come from is replaced (another path, directory or version in the
// snapshot; a source that re-discovers its cgroup) or a counter falls (a
// source that restarts from 0), the exported value stays where it was and
// continues with the increases of the new counter. What the new cgroup had
// counted before is not added, so an increase() alert does not fire for
// kills that happened before this process watched it. Host-wide pressure
// (scope="host", /proc/pressure/memory) does not depend on the cgroup and
// is not affected. A restarted process starts a new series (a counter reset
// to Prometheus, which rate and increase handle).
//
// # Go and process metrics
//
// memprom does not repeat what client_golang's collectors export. Register
// beside it
// [github.com/prometheus/client_golang/prometheus/collectors.NewGoCollector]
// (its defaults: go_memstats_*, go_gc_duration_seconds, go_goroutines, and
// the runtime's own settings go_gc_gomemlimit_bytes and go_gc_gogc_percent,
// which memwatch_gomemlimit_bytes and memwatch_gogc_percent do not replace:
// those are present only while memwatch has set the value) and
// [github.com/prometheus/client_golang/prometheus/collectors.NewProcessCollector]
// (process_resident_memory_bytes, process_cpu_seconds_total,
// process_start_time_seconds). Both read runtime/metrics and /proc, not
// [runtime.ReadMemStats], so neither stops the world. The attribution's go_*
// parts are the Go runtime's memory as the cgroup is charged for it
// (resident only); go_memstats_* are the runtime's own accounting.
package memprom
