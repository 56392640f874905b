package memprom

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/memwatch"
)

// metricID indexes the table of exported metrics.
type metricID int

const (
	mUp metricID = iota
	mSnapshotTime
	mLevel
	mSamplingInterval
	mTimeToLimit
	mCgroupInfo
	mUsage
	mWorkingSet
	mLimit
	mHigh
	mHeadroom
	mAttribution
	mOOMKills
	mMemoryEvents
	mFailcnt
	mPSIWaiting
	mPSIStalled
	mGOMEMLIMIT
	mGOMEMLIMITAtFloor
	mGOGC
	mActions
	mShedAdvised
	mWontFit
	mWontFitEpisodes

	numMetrics
)

// metricDef describes one exported metric: its name, type, labels and help
// (the Prometheus metadata), and, for docs/metrics.md, the snapshot field
// it comes from and when it is absent. docs/metrics.md and the package
// documentation are checked against this table by TestDocs.
type metricDef struct {
	name   string
	typ    prometheus.ValueType
	labels []string
	help   string
	source string // the memwatch field it is read from
	absent string // when it is not exported although memwatch_up is 1
	// series is the most series of this metric one scrape can hold.
	series int
}

// The label values of the labelled metrics, in exporting order.
var (
	eventNames  = [...]string{"low", "high", "max", "oom", "oom_group_kill"}
	actionNames = [...]string{"set_gomemlimit", "set_gogc", "free_os_memory", "advise_shed"}
	scopeNames  = [...]string{"cgroup", "host"}
)

var defs = [numMetrics]metricDef{
	mUp: {
		name: "memwatch_up", typ: prometheus.GaugeValue, series: 1,
		help:   "1 when the source has a current snapshot (a started memwatch Watcher), 0 otherwise; at 0 no other memwatch_* metric is exported.",
		source: "Source.LatestInto",
	},
	mSnapshotTime: {
		name: "memwatch_snapshot_timestamp_seconds", typ: prometheus.GaugeValue, series: 1,
		help:   "Unix time at which the exported snapshot was sampled.",
		source: "Snapshot.Time",
	},
	mLevel: {
		name: "memwatch_level", typ: prometheus.GaugeValue, series: 1,
		help:   "The Watcher's memory level: 0 unknown, 1 ok, 2 warn, 3 critical.",
		source: "Snapshot.Level",
	},
	mSamplingInterval: {
		name: "memwatch_sampling_interval_seconds", typ: prometheus.GaugeValue, series: 1,
		help:   "The Watcher's current sampling interval (it shrinks as the limit nears).",
		source: "Snapshot.Sampling.Interval",
		absent: "the source is not a Watcher (interval 0)",
	},
	mTimeToLimit: {
		name: "memwatch_time_to_limit_seconds", typ: prometheus.GaugeValue, series: 1,
		help:   "Forecast time until the measure the Watcher judges (working set by default) reaches the effective limit at its growth rate since the previous sample.",
		source: "Snapshot.Sampling.TimeToLimit",
		absent: "no forecast: no limit, or the measure is not growing",
	},
	mCgroupInfo: {
		name: "memwatch_cgroup_info", typ: prometheus.GaugeValue, labels: []string{"version"}, series: 1,
		help:   "Always 1; the version label (v1 or v2) is the cgroup version serving the memory controller.",
		source: "Snapshot.Cgroup.Location.Version",
		absent: "no cgroup view",
	},
	mUsage: {
		name: "memwatch_cgroup_usage_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Memory charged to the cgroup (v2 memory.current, v1 memory.usage_in_bytes), page cache included.",
		source: "Snapshot.Cgroup.Stats.Usage",
		absent: "no cgroup view",
	},
	mWorkingSet: {
		name: "memwatch_cgroup_working_set_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Cgroup usage minus inactive file cache, as cAdvisor, kubectl top and kubelet eviction count it.",
		source: "Snapshot.Cgroup.Stats.WorkingSet",
		absent: "no cgroup view, or the working set is unknown (memory.stat without inactive_file)",
	},
	mLimit: {
		name: "memwatch_cgroup_limit_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Effective hard memory limit (the OOM point): the lowest memory.max / memory.limit_in_bytes of the cgroup and its visible ancestors.",
		source: "Snapshot.Cgroup.Stats.Limit",
		absent: "no cgroup view, or unlimited",
	},
	mHigh: {
		name: "memwatch_cgroup_high_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Effective memory.high (cgroup v2 throttling point) of the cgroup and its visible ancestors.",
		source: "Snapshot.Cgroup.Stats.High",
		absent: "no cgroup view, memory.high unset, or cgroup v1",
	},
	mHeadroom: {
		name: "memwatch_headroom_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Effective limit minus the memory the kernel cannot reclaim before an OOM kill: what can still be charged. Negative when over.",
		source: "Snapshot.Attribution.Headroom.AvailableBeforeOOM",
		absent: "no limit",
	},
	mAttribution: {
		name: "memwatch_attribution_bytes", typ: prometheus.GaugeValue, labels: []string{"part", "reclaimable"}, series: int(memwatch.NumParts),
		help:   "The cgroup's usage (without a cgroup view, the process's RSS) attributed to named parts that sum to it; reclaimable is true for the page cache and slab the kernel drops before an OOM kill.",
		source: "Snapshot.Attribution.Parts",
		absent: "per part: the part does not apply or its inputs were not read (Part.Known false)",
	},
	mOOMKills: {
		name: "memwatch_cgroup_oom_kills_total", typ: prometheus.CounterValue, series: 1,
		help:   "Processes of the cgroup killed by the OOM killer (v2 memory.events oom_kill, v1 memory.oom_control oom_kill).",
		source: "Snapshot.Cgroup.Stats.Events.OOMKill",
		absent: "no event file (v1 memory.oom_control, v2 memory.events) or no full read yet",
	},
	mMemoryEvents: {
		name: "memwatch_cgroup_memory_events_total", typ: prometheus.CounterValue, labels: []string{"event"}, series: len(eventNames),
		help:   "Cgroup v2 memory.events counters (hierarchical): low, high (throttled over memory.high), max (hit memory.max), oom, oom_group_kill. oom_kill is memwatch_cgroup_oom_kills_total.",
		source: "Snapshot.Cgroup.Stats.Events.{Low,High,Max,OOM,OOMGroupKill}",
		absent: "cgroup v1, no memory.events, or no full read yet",
	},
	mFailcnt: {
		name: "memwatch_cgroup_failcnt_total", typ: prometheus.CounterValue, series: 1,
		help:   "Cgroup v1 memory.failcnt: charges that hit the limit, including harmless reclaim of page cache (not an OOM sign by itself).",
		source: "Snapshot.Cgroup.Stats.Events.Failcnt",
		absent: "cgroup v2, memory.failcnt unreadable, or no full read yet",
	},
	mPSIWaiting: {
		name: "memwatch_pressure_memory_waiting_seconds_total", typ: prometheus.CounterValue, labels: []string{"scope"}, series: 1,
		help:   "PSI memory \"some\": time at least one task stalled on memory. scope is cgroup (memory.pressure) or host (/proc/pressure/memory).",
		source: "Snapshot.Cgroup.Stats.PSI.Some.Total (µs)",
		absent: "no pressure file (PSI disabled or unavailable) or no full read yet",
	},
	mPSIStalled: {
		name: "memwatch_pressure_memory_stalled_seconds_total", typ: prometheus.CounterValue, labels: []string{"scope"}, series: 1,
		help:   "PSI memory \"full\": time all non-idle tasks stalled on memory at once. scope is cgroup (memory.pressure) or host (/proc/pressure/memory).",
		source: "Snapshot.Cgroup.Stats.PSI.Full.Total (µs)",
		absent: "no pressure file (PSI disabled or unavailable) or no full read yet",
	},
	mGOMEMLIMIT: {
		name: "memwatch_gomemlimit_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "The GOMEMLIMIT memwatch set and that is in force (the runtime's own value is go_gc_gomemlimit_bytes).",
		source: "Snapshot.Actions.MemLimit",
		absent: "memwatch has not set GOMEMLIMIT (no WithAdaptiveMemLimit, GOMEMLIMIT from the environment, no limit, or the original restored)",
	},
	mGOMEMLIMITAtFloor: {
		name: "memwatch_gomemlimit_at_floor", typ: prometheus.GaugeValue, series: 1,
		help:   "1 when the GOMEMLIMIT memwatch set is its floor (live heap plus margin) rather than the memory budget: the live heap does not fit comfortably.",
		source: "Snapshot.Actions.MemLimitBound == BoundFloor",
		absent: "as memwatch_gomemlimit_bytes",
	},
	mGOGC: {
		name: "memwatch_gogc_percent", typ: prometheus.GaugeValue, series: 1,
		help:   "The GOGC memwatch set (the runtime's own value is go_gc_gogc_percent).",
		source: "Snapshot.Actions.GOGC",
		absent: "memwatch has not set GOGC (no WithAdaptiveGOGC, or the original restored)",
	},
	mActions: {
		name: "memwatch_actions_total", typ: prometheus.CounterValue, labels: []string{"action"}, series: len(actionNames),
		help:   "What memwatch did: set_gomemlimit and set_gogc count changes (restores included), free_os_memory counts debug.FreeOSMemory calls, advise_shed counts shedding advice that began or grew (OnShed calls).",
		source: "Snapshot.Actions.{MemLimitChanges,GOGCChanges,FreeOSMemoryCount,ShedAdvisories}",
		absent: "the Watcher has no action option (Actions.Enabled false)",
	},
	mShedAdvised: {
		name: "memwatch_shed_advised_bytes", typ: prometheus.GaugeValue, series: 1,
		help:   "Live heap the application is advised to give up (drop caches, refuse work) to stay clear of the GC death spiral; 0 when none.",
		source: "Snapshot.Actions.Shed.Bytes",
		absent: "shedding advice is not computed (no WithAdaptiveMemLimit, WithAdaptiveGOGC, OnShed or WithWontFitPolicy)",
	},
	mWontFit: {
		name: "memwatch_wont_fit", typ: prometheus.GaugeValue, series: 1,
		help:   "1 when the live heap alone is at or above the heap budget: no GC setting can avoid the limit.",
		source: "Snapshot.Actions.Shed.WontFit",
		absent: "as memwatch_shed_advised_bytes",
	},
	mWontFitEpisodes: {
		name: "memwatch_wont_fit_episodes_total", typ: prometheus.CounterValue, series: 1,
		help:   "Times the live heap stopped fitting the heap budget.",
		source: "Snapshot.Actions.WontFitEpisodes",
		absent: "as memwatch_shed_advised_bytes",
	},
}

// maxSeries is the most series one Collect sends.
var maxSeries = func() int {
	n := 0
	for _, d := range defs {
		n += d.series
	}
	return n
}()

// descs are the descriptors of defs. They are immutable and shared by
// every Collector (a registry rejects two Collectors of the same names).
var descs = func() (ds [numMetrics]*prometheus.Desc) {
	for i, d := range defs {
		ds[i] = prometheus.NewDesc(d.name, d.help, d.labels, nil)
	}
	return ds
}()

// Label pairs, built once: a scrape shares them and allocates none. They
// are never modified after init (the registry and the encoders only read
// them).
var (
	attributionLabels [memwatch.NumParts][2][]*dto.LabelPair // [part][reclaimable]
	eventLabels       [len(eventNames)][]*dto.LabelPair
	actionLabels      [len(actionNames)][]*dto.LabelPair
	scopeLabels       [len(scopeNames)][]*dto.LabelPair
	versionLabels     [cgroupstat.V2 + 1][]*dto.LabelPair // by cgroupstat.Version
)

func labels(kv ...string) []*dto.LabelPair {
	ps := make([]*dto.LabelPair, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return ps
}

func init() {
	for p := memwatch.PartID(0); p < memwatch.NumParts; p++ {
		// Names sorted: part < reclaimable, as the registry expects.
		attributionLabels[p][0] = labels("part", p.String(), "reclaimable", "false")
		attributionLabels[p][1] = labels("part", p.String(), "reclaimable", "true")
	}
	for i, e := range eventNames {
		eventLabels[i] = labels("event", e)
	}
	for i, a := range actionNames {
		actionLabels[i] = labels("action", a)
	}
	for i, s := range scopeNames {
		scopeLabels[i] = labels("scope", s)
	}
	for v := range versionLabels {
		versionLabels[v] = labels("version", cgroupstat.Version(v).String())
	}
}
