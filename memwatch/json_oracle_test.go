package memwatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// oracleMarshalJSON is the reflect-based rendering Snapshot.MarshalJSON
// used before it became an appender (json.go): a tree of tagged structs
// given to [json.Marshal]. It is kept, unchanged, as the oracle the
// appender is compared with byte for byte (TestMarshalJSONOracle,
// FuzzMarshalJSON).
func oracleMarshalJSON(s *Snapshot) ([]byte, error) {
	j := jsonSnapshot{
		Time:    s.Time,
		Full:    s.Full,
		Level:   s.Level,
		Verdict: s.Verdict(),
	}
	if !s.DetailTime.IsZero() {
		j.DetailTime = ptr(s.DetailTime)
	}
	if s.Sampling.Mode != "" {
		j.Sampling.Mode = ptr(s.Sampling.Mode)
	}
	if s.Sampling.Interval > 0 {
		j.Sampling.IntervalSeconds = ptr(s.Sampling.Interval.Seconds())
	}

	// Cgroup.
	c := &s.Cgroup
	jc := &j.Cgroup
	jc.Available, jc.Error = c.Available, errString(c.Err)
	if c.Available {
		st := &c.Stats
		jc.Version = ptr(st.Version.String())
		jc.Path = ptr(st.Path)
		jc.Dir = ptr(c.Location.Dir)
		jc.Hybrid = c.Location.Hybrid
		jc.AncestorsHidden = st.AncestorsHidden
		e := &st.Errs
		jc.Errors = jsonErrors{
			WorkingSet: errString(e[cgroupstat.PartWorkingSet]), Peak: errString(e[cgroupstat.PartPeak]),
			Swap: errString(e[cgroupstat.PartSwap]), Stat: errString(e[cgroupstat.PartStat]),
			Kernel: errString(e[cgroupstat.PartKernel]), Events: errString(e[cgroupstat.PartEvents]),
			EventsLocal: errString(e[cgroupstat.PartEventsLocal]), Failcnt: errString(e[cgroupstat.PartFailcnt]),
			PSI: errString(e[cgroupstat.PartPSI]),
		}
		jc.UsageBytes = ptr(st.Usage)
		if st.HasWorkingSet() {
			jc.WorkingSetBytes = ptr(st.WorkingSet)
		}
		if limited(st.Limit) {
			jc.LimitBytes = ptr(st.Limit)
		}
		if limited(st.High) {
			jc.HighBytes = ptr(st.High)
		}
		if st.HasPeak {
			jc.PeakBytes = ptr(st.Peak)
		}
		if st.HasSwap {
			jc.SwapBytes = ptr(st.SwapUsage)
			if limited(st.SwapLimit) {
				jc.SwapLimitBytes = ptr(st.SwapLimit)
			}
		}
		if st.Full {
			m := &st.Stat
			pr := m.Present
			jc.AnonBytes = statPtr(pr, cgroupstat.StatAnon, m.Anon)
			jc.FileBytes = statPtr(pr, cgroupstat.StatFile, m.File)
			jc.ActiveFileBytes = statPtr(pr, cgroupstat.StatActiveFile, m.ActiveFile)
			jc.InactiveFileBytes = statPtr(pr, cgroupstat.StatInactiveFile, m.InactiveFile)
			jc.ShmemBytes = statPtr(pr, cgroupstat.StatShmem, m.Shmem)
			if pr&cgroupstat.StatKernel != 0 {
				jc.KernelBytes = ptr(cgroupKernel(st))
			}
			jc.Stat = jsonStat{
				Anon:              jc.AnonBytes,
				File:              jc.FileBytes,
				ActiveAnon:        statPtr(pr, cgroupstat.StatActiveAnon, m.ActiveAnon),
				InactiveAnon:      statPtr(pr, cgroupstat.StatInactiveAnon, m.InactiveAnon),
				ActiveFile:        jc.ActiveFileBytes,
				InactiveFile:      jc.InactiveFileBytes,
				Unevictable:       statPtr(pr, cgroupstat.StatUnevictable, m.Unevictable),
				Shmem:             jc.ShmemBytes,
				FileMapped:        statPtr(pr, cgroupstat.StatFileMapped, m.FileMapped),
				FileDirty:         statPtr(pr, cgroupstat.StatFileDirty, m.FileDirty),
				FileWriteback:     statPtr(pr, cgroupstat.StatFileWriteback, m.FileWriteback),
				Kernel:            statPtr(pr, cgroupstat.StatKernel, m.Kernel),
				KernelStack:       statPtr(pr, cgroupstat.StatKernelStack, m.KernelStack),
				PageTables:        statPtr(pr, cgroupstat.StatPageTables, m.PageTables),
				Percpu:            statPtr(pr, cgroupstat.StatPercpu, m.Percpu),
				Sock:              statPtr(pr, cgroupstat.StatSock, m.Sock),
				SlabReclaimable:   statPtr(pr, cgroupstat.StatSlabReclaimable, m.SlabReclaimable),
				SlabUnreclaimable: statPtr(pr, cgroupstat.StatSlabUnreclaimable, m.SlabUnreclaimable),
				Swap:              statPtr(pr, cgroupstat.StatSwap, m.Swap),
				AnonTHP:           statPtr(pr, cgroupstat.StatAnonTHP, m.AnonTHP),
			}
			if ev := &st.Events; ev.HasEvents {
				je := &jc.Events
				je.OOMKill = ptr(ev.OOMKill)
				if st.Version == cgroupstat.V2 {
					je.Low, je.High, je.Max = ptr(ev.Low), ptr(ev.High), ptr(ev.Max)
					je.OOM, je.OOMGroupKill = ptr(ev.OOM), ptr(ev.OOMGroupKill)
					if ev.HasLocal {
						je.Local = ptr(jsonEventCounts(ev.Local))
					}
				} else {
					je.UnderOOM, je.OOMKillDisable = ptr(ev.UnderOOM), ptr(ev.OOMKillDisable)
				}
			}
			if ev := &st.Events; ev.HasFailcnt && st.Version != cgroupstat.V2 {
				jc.Events.Failcnt = ptr(ev.Failcnt)
			}
			if st.PSI.Source != cgroupstat.PSINone {
				line := func(l cgroupstat.PSILine) *jsonPSILine {
					return &jsonPSILine{Avg10: l.Avg10, Avg60: l.Avg60, Avg300: l.Avg300, TotalUS: l.Total}
				}
				jc.PSI = jsonPSI{Source: ptr(st.PSI.Source.String()), Some: line(st.PSI.Some), Full: line(st.PSI.Full)}
			}
		}
	}

	// Process.
	p := &s.Process
	jp := &j.Process
	jp.Available, jp.Error = p.Available, errString(p.Err)
	if p.Available {
		jp.RSSBytes = ptr(p.RSS())
		jp.AnonBytes = ptr(p.Anon())
		jp.SharedBytes = ptr(p.Statm.Shared)
		jp.VMSizeBytes = ptr(p.Statm.Size)
		sp := p.Status.Present
		field := func(bit procstat.StatusFields, v uint64) *uint64 {
			if sp&bit == 0 {
				return nil
			}
			return ptr(v)
		}
		jp.RssFileBytes = field(procstat.HasRssFile, p.Status.RssFile)
		jp.RssShmem = field(procstat.HasRssShmem, p.Status.RssShmem)
		jp.PeakRSSBytes = field(procstat.HasVmHWM, p.Status.VmHWM)
		jp.SwapBytes = field(procstat.HasVmSwap, p.Status.VmSwap)
	}

	// Go.
	g := &s.Go
	jg := &j.Go
	jg.AllocBytes, jg.SysBytes = g.Alloc, g.Sys
	if g.Present&GoHeapLive != 0 {
		jg.HeapLiveBytes = ptr(g.HeapLive)
	}
	if g.Present&GoHeapGoal != 0 {
		jg.HeapGoalBytes = ptr(g.HeapGoal)
	}
	jg.HeapObjectsBytes, jg.HeapReleasedBytes, jg.RetainedBytes = g.HeapObjects, g.HeapReleased, g.Retained()
	if g.HasLimit() {
		jg.GOMEMLIMITBytes = ptr(g.GOMEMLIMIT)
	}
	if g.Present&GoGOGC != 0 && g.GOGC >= 0 {
		jg.GOGCPercent = ptr(g.GOGC)
	}
	jg.GCCycles = g.GCCycles
	jg.GCCPUFraction, jg.GCCPUWindowSeconds = g.GCCPUFraction, g.GCCPUWindowSeconds
	jg.GCLimiterLastCycle = g.GCLimiterLastEnabled
	jg.Goroutines, jg.GOMAXPROCS, jg.TotalAllocBytes, jg.Exact = g.Goroutines, g.GOMAXPROCS, g.HeapAllocsTotal, g.Exact
	jg.Classes = make(orderedCounts, 0, g.NumClasses)
	for _, c := range g.Classes[:min(g.NumClasses, maxGoClasses)] {
		jg.Classes = append(jg.Classes, namedCount{snakeCase(c.Name), c.Bytes})
	}

	// Host.
	h := &s.Host
	jh := &j.Host
	jh.Available, jh.Error = h.Available, errString(h.Err)
	if h.Available {
		jh.MemTotalBytes = ptr(h.MemTotal)
		mp := h.Meminfo.Present
		if mp&procstat.HasMemAvailable != 0 {
			jh.MemAvailableBytes = ptr(h.MemAvailable)
		}
		if mp&procstat.HasSwapTotal != 0 {
			jh.SwapTotalBytes = ptr(h.Meminfo.SwapTotal)
		}
		if mp&procstat.HasSwapFree != 0 {
			jh.SwapFreeBytes = ptr(h.Meminfo.SwapFree)
		}
	}

	// Attribution.
	a := &s.Attribution
	j.Attribution = jsonAttribution{a}
	j.Gap = jsonGap{
		Base:                   a.Base.String(),
		TotalBytes:             a.Total,
		ReclaimableBytes:       a.ReclaimableBytes,
		NeedsWritebackBytes:    a.NeedsWritebackBytes,
		UnreclaimableBytes:     a.UnreclaimableBytes,
		RuntimeReleasableBytes: a.RuntimeReleasableBytes,
		GoBytes:                a.GoBytes,
		NonGoBytes:             a.NonGoBytes,
		GoNotResidentBytes:     a.GoNotResidentBytes,
		OvercountBytes:         a.OvercountBytes,
		Reclaim:                orderedReclaim{a},
		Notes:                  a.Notes.Names(),
	}
	if j.Gap.Notes == nil {
		j.Gap.Notes = []string{}
	}
	hr := &a.Headroom
	if hr.HasLimit {
		j.Headroom.LimitBytes = ptr(hr.Limit)
		j.Headroom.ToLimitBytes = ptr(hr.ToLimit)
		j.Headroom.AvailableBeforeOOMBytes = ptr(hr.AvailableBeforeOOM)
	}
	if hr.HasUsagePercent {
		j.Headroom.UsagePercent = ptr(hr.UsagePercent)
	}
	if hr.HasWorkingSetPercent {
		j.Headroom.WorkingSetPercent = ptr(hr.WorkingSetPercent)
	}
	if hr.HasHigh {
		j.Headroom.HighBytes = ptr(hr.High)
		j.Headroom.ToHighBytes = ptr(hr.ToHigh)
	}
	if s.Actions.Enabled {
		j.Actions = newJSONActions(&s.Actions)
	}
	return json.Marshal(j)
}

// snakeCase turns a runtime class name ("metadata/mcache/inuse",
// "os-stacks") into a JSON key ("metadata_mcache_inuse", "os_stacks").
func snakeCase(s string) string {
	return strings.NewReplacer("/", "_", "-", "_").Replace(s)
}

// jsonSnapshot is the oracle's schema, in the key order of schemaKeys
// (schema.go). Pointers are null when a value is unknown or, for limits,
// absent.
type jsonSnapshot struct {
	Time        time.Time       `json:"time"`
	Full        bool            `json:"full"`
	DetailTime  *time.Time      `json:"detail_time"`
	Level       Level           `json:"level"`
	Sampling    jsonSampling    `json:"sampling"`
	Verdict     string          `json:"verdict"`
	Cgroup      jsonCgroup      `json:"cgroup"`
	Process     jsonProcess     `json:"process"`
	Go          jsonGo          `json:"go"`
	Host        jsonHost        `json:"host"`
	Attribution jsonAttribution `json:"attribution"`
	Gap         jsonGap         `json:"gap"`
	Headroom    jsonHeadroom    `json:"headroom"`
	Actions     *jsonActions    `json:"actions,omitempty"`
}

type jsonActions struct {
	MemLimitBytes        *uint64    `json:"memlimit_bytes"`
	MemLimitReason       string     `json:"memlimit_reason"`
	MemLimitSource       string     `json:"memlimit_source"`
	MemLimitBound        string     `json:"memlimit_bound"`
	MemLimitDecidedBytes *uint64    `json:"memlimit_decided_bytes"`
	MemLimitBudgetBytes  *uint64    `json:"memlimit_budget_bytes"`
	MemLimitChanged      *time.Time `json:"memlimit_changed"`
	GOGCPercent          *int       `json:"gogc_percent"`
	FreeOSMemoryTime     *time.Time `json:"free_os_memory_time"`
	FreeOSMemoryCount    uint64     `json:"free_os_memory_count"`
	Shed                 jsonShed   `json:"shed"`
}

type jsonShed struct {
	Bytes   uint64 `json:"bytes"`
	WontFit bool   `json:"wont_fit"`
	Reason  string `json:"reason"`
}

func newJSONActions(a *Actions) *jsonActions {
	j := &jsonActions{
		MemLimitReason:    a.MemLimitReason,
		MemLimitSource:    a.MemLimitSource.String(),
		MemLimitBound:     a.MemLimitBound.String(),
		FreeOSMemoryCount: a.FreeOSMemoryCount,
		Shed:              jsonShed{Bytes: a.Shed.Bytes, WontFit: a.Shed.WontFit, Reason: a.Shed.Reason},
	}
	if a.MemLimit > 0 {
		j.MemLimitBytes = ptr(a.MemLimit)
	}
	if a.MemLimitDecided > 0 && a.MemLimitDecided < NoMemLimit {
		j.MemLimitDecidedBytes = ptr(a.MemLimitDecided)
	}
	if a.MemLimitBudget > 0 && a.MemLimitBudget < NoMemLimit {
		j.MemLimitBudgetBytes = ptr(a.MemLimitBudget)
	}
	if !a.MemLimitChanged.IsZero() {
		j.MemLimitChanged = ptr(a.MemLimitChanged)
	}
	if a.GOGCSet {
		j.GOGCPercent = ptr(a.GOGC)
	}
	if !a.FreeOSMemoryTime.IsZero() {
		j.FreeOSMemoryTime = ptr(a.FreeOSMemoryTime)
	}
	return j
}

type jsonSampling struct {
	Mode            *string  `json:"mode"`
	IntervalSeconds *float64 `json:"interval_seconds"`
}

type jsonCgroup struct {
	Available         bool       `json:"available"`
	Error             *string    `json:"error"`
	Errors            jsonErrors `json:"errors"`
	Version           *string    `json:"version"`
	Path              *string    `json:"path"`
	Dir               *string    `json:"dir"`
	Hybrid            bool       `json:"hybrid"`
	AncestorsHidden   bool       `json:"ancestors_hidden"`
	UsageBytes        *uint64    `json:"usage_bytes"`
	WorkingSetBytes   *uint64    `json:"working_set_bytes"`
	LimitBytes        *uint64    `json:"limit_bytes"`
	HighBytes         *uint64    `json:"high_bytes"`
	PeakBytes         *uint64    `json:"peak_bytes"`
	SwapBytes         *uint64    `json:"swap_bytes"`
	SwapLimitBytes    *uint64    `json:"swap_limit_bytes"`
	AnonBytes         *uint64    `json:"anon_bytes"`
	FileBytes         *uint64    `json:"file_bytes"`
	ActiveFileBytes   *uint64    `json:"active_file_bytes"`
	InactiveFileBytes *uint64    `json:"inactive_file_bytes"`
	ShmemBytes        *uint64    `json:"shmem_bytes"`
	KernelBytes       *uint64    `json:"kernel_bytes"`
	Stat              jsonStat   `json:"stat"`
	Events            jsonEvents `json:"events"`
	PSI               jsonPSI    `json:"psi"`
}

type jsonErrors struct {
	WorkingSet  *string `json:"working_set"`
	Peak        *string `json:"peak"`
	Swap        *string `json:"swap"`
	Stat        *string `json:"stat"`
	Kernel      *string `json:"kernel"`
	Events      *string `json:"events"`
	EventsLocal *string `json:"events_local"`
	Failcnt     *string `json:"failcnt"`
	PSI         *string `json:"psi"`
}

type jsonStat struct {
	Anon              *uint64 `json:"anon_bytes"`
	File              *uint64 `json:"file_bytes"`
	ActiveAnon        *uint64 `json:"active_anon_bytes"`
	InactiveAnon      *uint64 `json:"inactive_anon_bytes"`
	ActiveFile        *uint64 `json:"active_file_bytes"`
	InactiveFile      *uint64 `json:"inactive_file_bytes"`
	Unevictable       *uint64 `json:"unevictable_bytes"`
	Shmem             *uint64 `json:"shmem_bytes"`
	FileMapped        *uint64 `json:"file_mapped_bytes"`
	FileDirty         *uint64 `json:"file_dirty_bytes"`
	FileWriteback     *uint64 `json:"file_writeback_bytes"`
	Kernel            *uint64 `json:"kernel_bytes"`
	KernelStack       *uint64 `json:"kernel_stack_bytes"`
	PageTables        *uint64 `json:"pagetables_bytes"`
	Percpu            *uint64 `json:"percpu_bytes"`
	Sock              *uint64 `json:"sock_bytes"`
	SlabReclaimable   *uint64 `json:"slab_reclaimable_bytes"`
	SlabUnreclaimable *uint64 `json:"slab_unreclaimable_bytes"`
	Swap              *uint64 `json:"swap_bytes"`
	AnonTHP           *uint64 `json:"anon_thp_bytes"`
}

type jsonEventCounts struct {
	Low          uint64 `json:"low"`
	High         uint64 `json:"high"`
	Max          uint64 `json:"max"`
	OOM          uint64 `json:"oom"`
	OOMKill      uint64 `json:"oom_kill"`
	OOMGroupKill uint64 `json:"oom_group_kill"`
}

// jsonEvents: v2 fills the memory.events counters (and local), v1 fills
// oom_kill, failcnt, under_oom and oom_kill_disable; the others are null.
type jsonEvents struct {
	Low            *uint64          `json:"low"`
	High           *uint64          `json:"high"`
	Max            *uint64          `json:"max"`
	OOM            *uint64          `json:"oom"`
	OOMKill        *uint64          `json:"oom_kill"`
	OOMGroupKill   *uint64          `json:"oom_group_kill"`
	Local          *jsonEventCounts `json:"local"`
	Failcnt        *uint64          `json:"failcnt"`
	UnderOOM       *bool            `json:"under_oom"`
	OOMKillDisable *bool            `json:"oom_kill_disable"`
}

type jsonPSILine struct {
	Avg10   float64 `json:"avg10"`
	Avg60   float64 `json:"avg60"`
	Avg300  float64 `json:"avg300"`
	TotalUS uint64  `json:"total_us"`
}

type jsonPSI struct {
	Source *string      `json:"source"`
	Some   *jsonPSILine `json:"some"`
	Full   *jsonPSILine `json:"full"`
}

type jsonProcess struct {
	Available    bool    `json:"available"`
	Error        *string `json:"error"`
	RSSBytes     *uint64 `json:"rss_bytes"`
	AnonBytes    *uint64 `json:"anon_bytes"`
	SharedBytes  *uint64 `json:"shared_bytes"`
	RssFileBytes *uint64 `json:"rss_file_bytes"`
	RssShmem     *uint64 `json:"rss_shmem_bytes"`
	PeakRSSBytes *uint64 `json:"peak_rss_bytes"`
	SwapBytes    *uint64 `json:"swap_bytes"`
	VMSizeBytes  *uint64 `json:"vm_size_bytes"`
}

type jsonGo struct {
	AllocBytes         uint64        `json:"alloc_bytes"`
	SysBytes           uint64        `json:"sys_bytes"`
	HeapLiveBytes      *uint64       `json:"heap_live_bytes"`
	HeapGoalBytes      *uint64       `json:"heap_goal_bytes"`
	HeapObjectsBytes   uint64        `json:"heap_objects_bytes"`
	HeapReleasedBytes  uint64        `json:"heap_released_bytes"`
	RetainedBytes      uint64        `json:"retained_bytes"`
	GOMEMLIMITBytes    *int64        `json:"gomemlimit_bytes"`
	GOGCPercent        *int64        `json:"gogc_percent"`
	GCCycles           uint64        `json:"gc_cycles"`
	GCCPUFraction      float64       `json:"gc_cpu_fraction"`
	GCCPUWindowSeconds float64       `json:"gc_cpu_window_seconds"`
	GCLimiterLastCycle uint64        `json:"gc_limiter_last_enabled_cycle"`
	Goroutines         uint64        `json:"goroutines"`
	GOMAXPROCS         uint64        `json:"gomaxprocs"`
	TotalAllocBytes    uint64        `json:"total_alloc_bytes"`
	Exact              bool          `json:"exact"`
	Classes            orderedCounts `json:"classes"`
}

type jsonHost struct {
	Available         bool    `json:"available"`
	Error             *string `json:"error"`
	MemTotalBytes     *uint64 `json:"mem_total_bytes"`
	MemAvailableBytes *uint64 `json:"mem_available_bytes"`
	SwapTotalBytes    *uint64 `json:"swap_total_bytes"`
	SwapFreeBytes     *uint64 `json:"swap_free_bytes"`
}

// jsonAttribution is the part name → bytes object, in part order, with
// null for unknown parts.
type jsonAttribution struct{ a *Attribution }

func (j jsonAttribution) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range j.a.Parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:", p.Name())
		if p.Known {
			fmt.Fprintf(&b, "%d", p.Bytes)
		} else {
			b.WriteString("null")
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// orderedCounts is a name → count object with a fixed key order.
type orderedCounts []namedCount

type namedCount struct {
	name string
	n    uint64
}

func (o orderedCounts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", c.name, c.n)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type jsonGap struct {
	Base                   string         `json:"base"`
	TotalBytes             uint64         `json:"total_bytes"`
	ReclaimableBytes       uint64         `json:"reclaimable_bytes"`
	NeedsWritebackBytes    uint64         `json:"needs_writeback_bytes"`
	UnreclaimableBytes     uint64         `json:"unreclaimable_bytes"`
	RuntimeReleasableBytes uint64         `json:"runtime_releasable_bytes"`
	GoBytes                uint64         `json:"go_bytes"`
	NonGoBytes             uint64         `json:"non_go_bytes"`
	GoNotResidentBytes     uint64         `json:"go_not_resident_bytes"`
	OvercountBytes         uint64         `json:"overcount_bytes"`
	Reclaim                orderedReclaim `json:"reclaim"`
	Notes                  []string       `json:"notes"`
}

type orderedReclaim struct{ a *Attribution }

func (o orderedReclaim) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o.a.Parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", p.Name(), p.Reclaim.String())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type jsonHeadroom struct {
	LimitBytes              *uint64  `json:"limit_bytes"`
	HighBytes               *uint64  `json:"high_bytes"`
	ToLimitBytes            *int64   `json:"to_limit_bytes"`
	ToHighBytes             *int64   `json:"to_high_bytes"`
	AvailableBeforeOOMBytes *int64   `json:"available_before_oom_bytes"`
	UsagePercent            *float64 `json:"usage_percent"`
	WorkingSetPercent       *float64 `json:"working_set_percent"`
}

func ptr[T any](v T) *T { return &v }

func errString(err error) *string {
	if err == nil {
		return nil
	}
	return ptr(err.Error())
}

// statPtr returns &v when bit is in present, else nil.
func statPtr(present, bit cgroupstat.StatFields, v uint64) *uint64 {
	if present&bit == 0 {
		return nil
	}
	return ptr(v)
}
