package memotel

import "fmt"

// kind is an instrument's kind and number type.
type kind uint8

const (
	kindUpDownCounter kind = iota // Int64ObservableUpDownCounter
	kindCounter                   // Int64ObservableCounter
	kindFloatCounter              // Float64ObservableCounter
	kindGauge                     // Int64ObservableGauge
	kindFloatGauge                // Float64ObservableGauge
)

// String returns the kind as the OpenTelemetry specification names it.
func (k kind) String() string {
	switch k {
	case kindUpDownCounter:
		return "UpDownCounter"
	case kindCounter, kindFloatCounter:
		return "Counter"
	case kindGauge, kindFloatGauge:
		return "Gauge"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k kind) float() bool { return k == kindFloatCounter || k == kindFloatGauge }

// Indexes of the instruments in specs.
const (
	instProcessMemoryUsage = iota
	instContainerMemoryUsage
	instContainerMemoryWorkingSet
	instContainerMemoryAvailable
	instContainerMemoryRSS
	instCgroupLimit
	instCgroupHigh
	instAttribution
	instHeadroom
	instLevel
	instTimeToLimit
	instOOMKills
	instEvents
	instFailcnt
	instPSIStall
	instActions
	instGoMemLimit
	instGOGC
	instShedAdvised
	instShedAdvisories
	instWontFit
	instWontFitEpisodes

	numInstruments
)

// Attribute keys.
const (
	keyPart       = "memwatch.part"
	keyReclaim    = "memwatch.reclaimable"
	keyEvent      = "memwatch.cgroup.event"
	keyPSIKind    = "memwatch.psi.kind"
	keyPSISource  = "memwatch.psi.source"
	keyAction     = "memwatch.action"
	keyLimitBound = "memwatch.gomemlimit.bound"
)

// semconvVersion is the semantic-conventions release whose names, kinds and
// units the conventional instruments follow.
const semconvVersion = "v1.44.0"

// spec describes one instrument: what Register creates and what
// docs/otel.md and the package documentation list (a test keeps them in
// step with this table).
type spec struct {
	name string
	kind kind
	unit string
	// attrs lists the attribute keys with their values, for the docs.
	attrs string
	// desc is the instrument's description.
	desc string
	// source is the Snapshot field observed and when, for the docs.
	source string
	// semconv names the convention the name comes from; "" for memwatch.*.
	semconv string
}

var specs = [numInstruments]spec{
	instProcessMemoryUsage: {
		name: "process.memory.usage", kind: kindUpDownCounter, unit: "By",
		desc:    "Resident set size of this process.",
		source:  "Process.Statm.Resident (/proc/self/statm), when the process view is available",
		semconv: "process",
	},
	instContainerMemoryUsage: {
		name: "container.memory.usage", kind: kindUpDownCounter, unit: "By",
		desc:    "Memory charged to the process's memory cgroup (v2 memory.current, v1 memory.usage_in_bytes).",
		source:  "Cgroup.Stats.Usage, when the cgroup view is available",
		semconv: "container",
	},
	instContainerMemoryWorkingSet: {
		name: "container.memory.working_set", kind: kindUpDownCounter, unit: "By",
		desc:    "Cgroup usage minus inactive file cache, as cAdvisor and the kubelet compute it.",
		source:  "Cgroup.Stats.WorkingSet, when the cgroup view is available and the working set known",
		semconv: "container",
	},
	instContainerMemoryAvailable: {
		name: "container.memory.available", kind: kindUpDownCounter, unit: "By",
		desc:    "Effective cgroup limit minus working set (0 above the limit); absent without a limit.",
		source:  "Attribution.Headroom.Limit − Cgroup.Stats.WorkingSet, when Headroom.HasLimit and the working set is known",
		semconv: "container",
	},
	instContainerMemoryRSS: {
		name: "container.memory.rss", kind: kindUpDownCounter, unit: "By",
		desc:    "Anonymous memory of the cgroup (v2 memory.stat anon, v1 total_rss), from the last full read.",
		source:  "Cgroup.Stats.Stat.Anon, when Cgroup.Stats.Full and memory.stat had it",
		semconv: "container",
	},
	instCgroupLimit: {
		name: "memwatch.cgroup.limit", kind: kindUpDownCounter, unit: "By",
		desc:   "Effective hard memory limit of the cgroup (the OOM point, over visible ancestors); absent when unlimited.",
		source: "Attribution.Headroom.Limit, when Headroom.HasLimit",
	},
	instCgroupHigh: {
		name: "memwatch.cgroup.high", kind: kindUpDownCounter, unit: "By",
		desc:   "Effective memory.high of the cgroup (v2 throttling point); absent when unset.",
		source: "Attribution.Headroom.High, when Headroom.HasHigh",
	},
	instAttribution: {
		name: "memwatch.attribution", kind: kindUpDownCounter, unit: "By",
		attrs:  keyPart + " (go_heap_live, …, unaccounted); " + keyReclaim + " (bool)",
		desc:   "Memory attributed to each part of the cgroup's charge (the process's RSS without a cgroup); the parts sum to it.",
		source: "Attribution.Parts[i].Bytes of each Known part; reclaimable is Reclaim == Reclaimable",
	},
	instHeadroom: {
		name: "memwatch.headroom", kind: kindUpDownCounter, unit: "By",
		desc:   "Memory that can still be charged before an OOM kill: effective limit minus unreclaimable memory (negative above it); absent without a limit.",
		source: "Attribution.Headroom.AvailableBeforeOOM, when Headroom.HasLimit",
	},
	instLevel: {
		name: "memwatch.level", kind: kindGauge, unit: "{level}",
		desc:   "Memory level judged by the Watcher: 0 unknown, 1 ok, 2 warn, 3 critical.",
		source: "Level",
	},
	instTimeToLimit: {
		name: "memwatch.time_to_limit", kind: kindFloatGauge, unit: "s",
		desc:   "Forecast time until the judged measure reaches the limit at its recent growth; absent when it is not growing or there is no limit.",
		source: "Sampling.TimeToLimit, when Sampling.HasTimeToLimit",
	},
	instOOMKills: {
		name: "memwatch.cgroup.oom_kills", kind: kindCounter, unit: "{kill}",
		desc:   "Processes of the cgroup killed by the OOM killer (v2 memory.events oom_kill, v1 memory.oom_control oom_kill).",
		source: "Cgroup.Stats.Events.OOMKill, when Stats.Full and Events.HasEvents",
	},
	instEvents: {
		name: "memwatch.cgroup.events", kind: kindCounter, unit: "{event}",
		attrs:  keyEvent + " (low, high, max, oom, oom_group_kill)",
		desc:   "cgroup v2 memory.events counters of the cgroup and its descendants.",
		source: "Cgroup.Stats.Events.{Low,High,Max,OOM,OOMGroupKill}, when v2, Stats.Full and Events.HasEvents",
	},
	instFailcnt: {
		name: "memwatch.cgroup.failcnt", kind: kindCounter, unit: "{event}",
		desc:   "cgroup v1 memory.failcnt: times usage hit the limit (page cache reclaimed at the limit counts too: not an OOM sign alone).",
		source: "Cgroup.Stats.Events.Failcnt, when v1, Stats.Full and Events.HasFailcnt",
	},
	instPSIStall: {
		name: "memwatch.psi.stall.time", kind: kindFloatCounter, unit: "s",
		attrs:  keyPSIKind + " (some, full); " + keyPSISource + " (cgroup, host)",
		desc:   "Time tasks stalled on memory (pressure stall information); full is a subset of some.",
		source: "Cgroup.Stats.PSI.{Some,Full}.Total µs / 1e6, when Stats.Full and PSI.Source is not none",
	},
	instActions: {
		name: "memwatch.actions", kind: kindCounter, unit: "{action}",
		attrs:  keyAction + " (gomemlimit, gogc, free_os_memory)",
		desc:   "Runtime setting changes and forced releases made by the Watcher's action options.",
		source: "Actions.{MemLimitChanges,GOGCChanges,FreeOSMemoryCount}, when Actions.Enabled",
	},
	instGoMemLimit: {
		name: "memwatch.gomemlimit", kind: kindUpDownCounter, unit: "By",
		attrs:  keyLimitBound + " (budget, floor, none)",
		desc:   "GOMEMLIMIT as set by memwatch; absent while memwatch has not set it (go.memory.limit is what the runtime holds).",
		source: "Actions.MemLimit with Actions.MemLimitBound, when not 0",
	},
	instGOGC: {
		name: "memwatch.gogc", kind: kindGauge, unit: "%",
		desc:   "GOGC as set by memwatch; absent while memwatch has not set it (go.config.gogc is what the runtime holds).",
		source: "Actions.GOGC, when Actions.GOGCSet",
	},
	instShedAdvised: {
		name: "memwatch.shed.advised", kind: kindUpDownCounter, unit: "By",
		desc:   "Live heap the program is advised to shed to fit the memory budget; 0 when none.",
		source: "Actions.Shed.Bytes, when Actions.Enabled",
	},
	instShedAdvisories: {
		name: "memwatch.shed.advisories", kind: kindCounter, unit: "{advisory}",
		desc:   "Times advice to shed began or grew enough to call OnShed again.",
		source: "Actions.ShedAdvisories, when Actions.Enabled",
	},
	instWontFit: {
		name: "memwatch.shed.wont_fit", kind: kindGauge, unit: "",
		desc:   "1 while the live heap alone does not fit the memory budget, else 0.",
		source: "Actions.Shed.WontFit, when Actions.Enabled",
	},
	instWontFitEpisodes: {
		name: "memwatch.shed.wont_fit_episodes", kind: kindCounter, unit: "{episode}",
		desc:   "Times the live heap stopped fitting the memory budget.",
		source: "Actions.WontFitEpisodes, when Actions.Enabled",
	},
}
