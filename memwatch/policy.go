package memwatch

import (
	"math"
)

// This file holds the pure part of adaptive control: functions of a
// Snapshot that say what GOMEMLIMIT and GOGC should be, whether the
// application should shed live data, and whether returning free heap to the
// OS is worth a forced GC. None of them calls runtime/debug, reads a file or
// allocates; applying their answers is the caller's job.
//
// Go runtime facts used here (runtime/metrics doc, gc-guide, docs/ARCHITECTURE.md, "Go runtime semantics"):
//   - GOMEMLIMIT governs the memory the runtime holds from the OS:
//     /memory/classes/total − heap/released (GoStats.Retained). Besides the
//     heap this includes goroutine stacks and runtime metadata, so a limit
//     must leave room for them above the live heap.
//   - Without a limit, the heap goal is live × (1 + GOGC/100) (gc-guide;
//     since Go 1.18 the GC also counts stacks and globals in the GOGC term,
//     so the real goal is at least that). With a limit, the runtime lowers
//     the goal so that Retained stays at or under the limit.
//   - The limit is soft: when the GC would use more than about 50% of the CPU
//     the GC CPU limiter lets memory overshoot it (docs/ARCHITECTURE.md, "OOM lab findings": a live heap close
//     to the limit ends in a death spiral and an OOM kill; only shedding live
//     data, one GC cycle early, avoids it).

// MemLimitPolicy computes a GOMEMLIMIT from a snapshot. The zero value is a
// valid policy with no slack and no margin; DefaultMemLimitPolicy is the
// recommended starting point.
type MemLimitPolicy struct {
	// SlackBytes is the minimum memory kept free under the effective cgroup
	// limit, for what the snapshot cannot see or what moves between samples
	// (per-CPU charge batching, memory.stat lag, the runtime overshooting its
	// soft limit, new non-Go allocations).
	SlackBytes uint64
	// SlackRatio is the same minimum as a fraction of the effective limit.
	// The slack is max(SlackBytes, SlackRatio × effective). Values outside
	// [0, 1) (and NaN) are treated as 0.
	SlackRatio float64
	// MinHeadroomOverLive is the margin over the live heap below which the
	// limit never goes: floor = live × (1 + MinHeadroomOverLive) + the Go
	// runtime's non-heap memory. A limit below the floor would make the GC
	// run back to back (and then the limiter lets memory overshoot anyway).
	// Negative values and NaN are treated as 0.
	MinHeadroomOverLive float64
	// FallbackToHostRAM makes Decide use the host's MemTotal as the
	// effective limit when the process has no cgroup memory limit. Other
	// processes on the host are not subtracted (they are not visible in the
	// snapshot); only this process's non-Go memory and the slack are.
	FallbackToHostRAM bool
}

// Defaults of DefaultMemLimitPolicy.
const (
	// DefaultSlackBytes (8 MiB) bounds the slack from below for small
	// containers, where 10% is only a few MiB: enough for the kernel's
	// per-CPU charge batching and memory.stat lag.
	DefaultSlackBytes = 8 << 20
	// DefaultSlackRatio (10%) is the slack the OOM lab found necessary
	// (docs/ARCHITECTURE.md, "OOM lab findings": keep ~10% slack); it also covers the background
	// scavenger's target of ~5% below the limit.
	DefaultSlackRatio = 0.10
	// DefaultMinHeadroomOverLive (10%) keeps the limit at least 10% above
	// the live heap (plus the runtime's non-heap memory).
	DefaultMinHeadroomOverLive = 0.10
)

// DefaultMemLimitPolicy returns the recommended policy: SlackBytes 8 MiB,
// SlackRatio 0.10, MinHeadroomOverLive 0.10, no host fallback (a process
// without a cgroup limit keeps its GOMEMLIMIT).
func DefaultMemLimitPolicy() MemLimitPolicy {
	return MemLimitPolicy{
		SlackBytes:          DefaultSlackBytes,
		SlackRatio:          DefaultSlackRatio,
		MinHeadroomOverLive: DefaultMinHeadroomOverLive,
	}
}

// NoMemLimit is the Limit of a decision that sets no limit; it is what
// debug.SetMemoryLimit takes to mean "no limit" (and what /gc/gomemlimit
// reports then).
const NoMemLimit uint64 = math.MaxInt64

// LimitSource says where a decision's effective limit came from.
type LimitSource uint8

// Limit sources.
const (
	// SourceNone: no limit applies (no cgroup limit, no host fallback).
	SourceNone LimitSource = iota
	// SourceCgroupMax: the cgroup's hard limit (memory.max or
	// memory.limit_in_bytes, effective over visible ancestors).
	SourceCgroupMax
	// SourceCgroupHigh: the cgroup's memory.high, lower than its hard limit
	// (the kernel throttles and reclaims hard above it).
	SourceCgroupHigh
	// SourceHostMemTotal: the host's MemTotal (FallbackToHostRAM).
	SourceHostMemTotal
)

var limitSourceNames = [...]string{"none", "cgroup_max", "cgroup_high", "host_memtotal"}

// String returns "none", "cgroup_max", "cgroup_high" or "host_memtotal".
func (s LimitSource) String() string {
	if int(s) < len(limitSourceNames) {
		return limitSourceNames[s]
	}
	return "invalid"
}

// LimitBound says which bound of the formula set a decision's Limit.
type LimitBound uint8

// Limit bounds.
const (
	// BoundNone: no limit was computed.
	BoundNone LimitBound = iota
	// BoundBudget: effective − non-Go unreclaimable − slack.
	BoundBudget
	// BoundFloor: live × (1 + margin) + Go non-heap memory, which exceeded
	// the budget. The live heap does not fit comfortably: see ShedAdvice.
	BoundFloor
)

var limitBoundNames = [...]string{"none", "budget", "floor"}

// String returns "none", "budget" or "floor".
func (b LimitBound) String() string {
	if int(b) < len(limitBoundNames) {
		return limitBoundNames[b]
	}
	return "invalid"
}

// MemLimitDecision is the result of MemLimitPolicy.Decide, with the inputs
// it used.
type MemLimitDecision struct {
	// Limit is the GOMEMLIMIT to set in bytes, or NoMemLimit
	// (math.MaxInt64) when Set is false. It is never above NoMemLimit.
	Limit uint64
	// Set is true when Limit should be applied; false means leave the
	// current GOMEMLIMIT as it is.
	Set bool
	// Source is where Effective came from; Bound which bound won.
	Source LimitSource
	Bound  LimitBound
	// Reason says in words which limit was used and which bound won. It is
	// a constant string (no allocation).
	Reason string

	// Effective is the limit the process lives under: min(cgroup Limit,
	// cgroup High), or host MemTotal with FallbackToHostRAM; 0 when none.
	Effective uint64
	// NonGoUnreclaimable is the memory charged with this process that the
	// Go runtime does not govern and the kernel cannot reclaim without
	// swap: the attribution parts non_go_anon + other_processes + shmem +
	// kernel (see Decide).
	NonGoUnreclaimable uint64
	// Slack is max(SlackBytes, SlackRatio × Effective).
	Slack uint64
	// Floor is live heap × (1 + MinHeadroomOverLive) + Go non-heap memory
	// (stacks, runtime metadata, other runtime mappings).
	Floor uint64
	// Budget is Effective − NonGoUnreclaimable − Slack (0 when that is
	// negative): the memory Go may really use. It differs from Limit when
	// the floor won. Pass Budget, not Limit, to GOGCPolicy.Decide and
	// ShedAdvice, so that they judge against what the cgroup allows rather
	// than against a floor raised to keep the GC from thrashing. It is
	// NoMemLimit when Set is false.
	Budget uint64
}

// Reasons of MemLimitDecision, indexed by source and bound.
var memLimitReasons = [...][3]string{
	SourceNone: {BoundNone: "no cgroup memory limit (host fallback off or MemTotal unknown): nothing to set; the GOMEMLIMIT in force before the Watcher applies"},
	SourceCgroupMax: {
		BoundBudget: "budget won: cgroup limit − non-Go unreclaimable − slack",
		BoundFloor:  "floor won: live heap × (1+margin) + Go non-heap memory exceeds cgroup limit − non-Go unreclaimable − slack",
	},
	SourceCgroupHigh: {
		BoundBudget: "budget won: memory.high (below the hard limit) − non-Go unreclaimable − slack",
		BoundFloor:  "floor won: live heap × (1+margin) + Go non-heap memory exceeds memory.high − non-Go unreclaimable − slack",
	},
	SourceHostMemTotal: {
		BoundBudget: "budget won: host MemTotal (no cgroup limit) − non-Go unreclaimable − slack",
		BoundFloor:  "floor won: live heap × (1+margin) + Go non-heap memory exceeds host MemTotal − non-Go unreclaimable − slack",
	},
}

// Decide computes the GOMEMLIMIT for the snapshot:
//
//	GOMEMLIMIT = max(effective − nonGoUnreclaimable − slack, floor)
//	effective  = min(cgroup Limit, cgroup High)
//	slack      = max(SlackBytes, SlackRatio × effective)
//	floor      = live × (1 + MinHeadroomOverLive) + Go non-heap memory
//
// Without a cgroup limit it returns Set false and Limit NoMemLimit, unless
// FallbackToHostRAM is set and the host's MemTotal is known, which then
// stands for effective.
//
// nonGoUnreclaimable is the sum of the attribution parts non_go_anon
// (cgo/C malloc, mmap of this process), other_processes (other members of
// the cgroup), shmem (tmpfs and shared memory: page cache that cannot be
// dropped) and kernel (kernel stacks, page tables, unreclaimable slab,
// socket buffers). All are charged to the cgroup next to the Go heap and stay
// charged whatever the kernel does short of swapping or killing, so Go must
// leave room for them (docs/ARCHITECTURE.md, "OOM lab findings": a static 90% limit died every time beside
// 60 MiB of non-Go memory). Excluded, because the kernel drops them before it
// OOM-kills: page_cache_active/inactive, kernel_slab_reclaimable and
// file_mapped; counting them would shrink the limit whenever the service
// reads files (docs/ARCHITECTURE.md, "OOM lab findings"). Also excluded: unaccounted (usually charge
// batching and memory.stat lag) and the go_* parts, which the limit itself
// governs. When memory.stat is unavailable (Attribution NoteNoCgroupStat)
// other processes, shmem and kernel memory cannot be seen and only the slack
// covers them.
//
// Decide recomputes the attribution with Attribute(s) rather than trusting
// s.Attribution, so a hand-built snapshot gives the same answer as a
// sampled one. It does not allocate.
func (p MemLimitPolicy) Decide(s *Snapshot) MemLimitDecision {
	d := MemLimitDecision{Limit: NoMemLimit, Budget: NoMemLimit}
	switch {
	case s.Cgroup.Available && (limited(s.Cgroup.Stats.Limit) || limited(s.Cgroup.Stats.High)):
		st := &s.Cgroup.Stats
		d.Source, d.Effective = SourceCgroupMax, st.Limit
		if limited(st.High) && (!limited(st.Limit) || st.High < st.Limit) {
			d.Source, d.Effective = SourceCgroupHigh, st.High
		}
	case p.FallbackToHostRAM && s.Host.Available && s.Host.MemTotal > 0:
		d.Source, d.Effective = SourceHostMemTotal, s.Host.MemTotal
	default:
		d.Reason = memLimitReasons[SourceNone][BoundNone]
		return d
	}

	a := Attribute(s)
	for _, id := range [...]PartID{PartNonGoAnon, PartOtherProcesses, PartShmem, PartKernel} {
		d.NonGoUnreclaimable = satAdd(d.NonGoUnreclaimable, a.Parts[id].Bytes)
	}
	d.Slack = p.SlackBytes
	if r := p.SlackRatio; r > 0 && r < 1 {
		// Rounded up: the slack errs on the side of a lower limit.
		if v := uint64(math.Ceil(r * float64(d.Effective))); v > d.Slack {
			d.Slack = v
		}
	}
	d.Floor = satAdd(scale(liveHeap(&s.Go), 1+nonNeg(p.MinHeadroomOverLive)), goNonHeap(&s.Go))
	d.Budget = satSub(satSub(d.Effective, d.NonGoUnreclaimable), d.Slack)

	d.Limit, d.Bound = d.Budget, BoundBudget
	if d.Floor > d.Budget {
		d.Limit, d.Bound = d.Floor, BoundFloor
	}
	if d.Limit > NoMemLimit {
		d.Limit = NoMemLimit
	}
	d.Set = true
	d.Reason = memLimitReasons[d.Source][d.Bound]
	return d
}

// GOGCPolicy chooses GOGC from the distance between the live heap and the
// memory budget. Min and Max bound the result; a field ≤ 0 takes its default
// (DefaultGOGCMin, DefaultGOGCMax), and Max below Min is raised to Min.
type GOGCPolicy struct {
	Min, Max int
}

// Defaults of DefaultGOGCPolicy.
const (
	// DefaultGOGCMin (25) is the lowest GOGC the policy goes to: the GC then
	// runs every live/4 bytes of allocation. Below it the GC CPU cost climbs
	// steeply; ShedAdvice asks for shedding at the same point.
	DefaultGOGCMin = 25
	// DefaultGOGCMax (400) is the highest: with a budget far above the live
	// heap the GC runs rarely, and the memory limit still caps the heap.
	DefaultGOGCMax = 400
)

// DefaultGOGCPolicy returns GOGCPolicy{Min: 25, Max: 400}.
func DefaultGOGCPolicy() GOGCPolicy {
	return GOGCPolicy{Min: DefaultGOGCMin, Max: DefaultGOGCMax}
}

// Decide returns the GOGC that puts the heap goal at the budget:
//
//	heap goal = live × (1 + GOGC/100)          (gc-guide)
//	headroom  = memLimit − Go non-heap memory − live
//	GOGC      = clamp(100 × headroom / live, Min, Max)
//
// So GOGC rises toward Max while the live heap is far below the budget (the
// GC runs rarely) and falls toward Min as it gets close; with no headroom it
// is Min. memLimit is the memory the Go runtime may use, normally
// MemLimitDecision.Budget. With no limit (0 or ≥ NoMemLimit) there is no
// distance to judge and Decide returns the runtime default 100, clamped to
// [Min, Max]. Before the first GC (live heap 0) it returns Max. It does not
// allocate.
func (p GOGCPolicy) Decide(s *Snapshot, memLimit uint64) int {
	lo, hi := p.Min, p.Max
	if lo <= 0 {
		lo = DefaultGOGCMin
	}
	if hi <= 0 {
		hi = DefaultGOGCMax
	}
	if hi < lo {
		hi = lo
	}
	clamp := func(v float64) int {
		switch {
		case v <= float64(lo):
			return lo
		case v >= float64(hi):
			return hi
		}
		return int(v)
	}
	if memLimit == 0 || memLimit >= NoMemLimit {
		return clamp(100)
	}
	live := liveHeap(&s.Go)
	heapBudget := satSub(memLimit, goNonHeap(&s.Go))
	if heapBudget <= live {
		return lo
	}
	if live == 0 {
		return hi
	}
	return clamp(100 * float64(heapBudget-live) / float64(live))
}

// Shed thresholds.
const (
	// ShedMinGOGC: shedding is advised when live × (1 + ShedMinGOGC/100)
	// exceeds the heap budget, i.e. when even GOGC = DefaultGOGCMin no longer
	// fits.
	ShedMinGOGC = DefaultGOGCMin
	// ShedTargetGOGC: the advised Bytes bring the live heap back to where
	// GOGC = 50 fits the heap budget (hysteresis: trigger at 25, target 50),
	// and a heap goal pinned at GOMEMLIMIT triggers once the room it leaves
	// above the live heap is below 50% of it.
	ShedTargetGOGC = 50
	// ShedGCCPUFraction: shedding is advised when the GC's share of the CPU
	// exceeds 35%, ahead of the GC CPU limiter's 50% cap after which the
	// runtime lets memory overshoot the limit.
	ShedGCCPUFraction = 0.35
)

// ShedTrigger is a bit set of the rules that fired in a ShedSignal.
type ShedTrigger uint8

// Shed triggers.
const (
	// ShedWontFit: the live heap alone is at or above the heap budget.
	ShedWontFit ShedTrigger = 1 << iota
	// ShedNearBudget: live × (1 + ShedMinGOGC/100) > heap budget.
	ShedNearBudget
	// ShedGoalPinned: the runtime's heap goal is below the GOGC goal (only
	// the memory limit lowers it) and leaves less than ShedTargetGOGC% of
	// the live heap as room.
	ShedGoalPinned
	// ShedGCCPU: GCCPUFraction > ShedGCCPUFraction over a non-empty window.
	ShedGCCPU
)

// ShedSignal is ShedAdvice's answer. Shedding is advised when Bytes > 0.
type ShedSignal struct {
	// Bytes is how much live heap to give up to bring the live heap down to
	// TargetLive; 0 when no rule fired or the live heap is already there.
	Bytes uint64
	// WontFit is true when the live heap alone is at or above the heap
	// budget: no GC setting can avoid the limit.
	WontFit bool
	// Reason names the most severe rule that fired (constant string).
	Reason string
	// Triggers holds every rule that fired.
	Triggers ShedTrigger
	// HeapBudget is memLimit − Go non-heap memory: what the heap may use;
	// NoMemLimit when there is no limit.
	HeapBudget uint64
	// TargetLive is HeapBudget / (1 + ShedTargetGOGC/100).
	TargetLive uint64
}

// Reasons of ShedSignal.
const (
	shedReasonNoLimit   = "no memory limit: no budget to shed against"
	shedReasonOK        = "live heap fits the budget"
	shedReasonWontFit   = "won't fit: live heap alone is at or above the heap budget"
	shedReasonNear      = "live heap × (1+minGOGC/100) exceeds the heap budget"
	shedReasonPinned    = "heap goal pinned at GOMEMLIMIT with little room above the live heap"
	shedReasonGCCPU     = "GC CPU fraction approaching the limiter's 50%"
	shedReasonCPUNoHelp = "GC CPU fraction high but the live heap is below target: allocation rate, not live data, drives the GC"
)

// ShedAdvice says whether the application should shed live data (drop
// caches, refuse work) to stay clear of the GC death spiral (docs/ARCHITECTURE.md, "OOM lab findings"), and
// how much. memLimit is the memory the Go runtime may use, normally
// MemLimitDecision.Budget; when it is 0 or ≥ NoMemLimit the runtime's current
// GOMEMLIMIT is used, and without any limit there is no advice.
//
// The heap budget is memLimit − Go non-heap memory (stacks, metadata, other
// runtime mappings, which GOMEMLIMIT also counts). Rules, most severe first:
//   - won't fit: live ≥ heap budget (WontFit set);
//   - near budget: live × (1 + ShedMinGOGC/100) > heap budget;
//   - goal pinned: GOGC is on, the heap goal is below live × (1 + GOGC/100)
//     (which only the memory limit causes) and the goal leaves less than
//     ShedTargetGOGC% of the live heap as room;
//   - GC CPU: GCCPUFraction > ShedGCCPUFraction (over a window with at least
//     one completed GC).
//
// When any rule fires, Bytes = live − TargetLive (0 if the live heap is
// already below it: then high GC CPU comes from the allocation rate, and
// shedding live data would not help). It does not allocate.
func ShedAdvice(s *Snapshot, memLimit uint64) ShedSignal {
	if memLimit == 0 || memLimit >= NoMemLimit {
		memLimit = NoMemLimit
		if s.Go.HasLimit() {
			memLimit = uint64(s.Go.GOMEMLIMIT)
		}
	}
	if memLimit >= NoMemLimit {
		return ShedSignal{Reason: shedReasonNoLimit, HeapBudget: NoMemLimit, TargetLive: NoMemLimit}
	}
	g := &s.Go
	live := liveHeap(g)
	sig := ShedSignal{HeapBudget: satSub(memLimit, goNonHeap(g))}
	sig.TargetLive = scale(sig.HeapBudget, 1/(1+ShedTargetGOGC/100.0))

	if live >= sig.HeapBudget {
		sig.Triggers |= ShedWontFit
		sig.WontFit = true
	}
	if scale(live, 1+ShedMinGOGC/100.0) > sig.HeapBudget {
		sig.Triggers |= ShedNearBudget
	}
	if g.Present&(GoHeapGoal|GoGOGC) == GoHeapGoal|GoGOGC && g.GOGC >= 0 && live > 0 &&
		float64(g.HeapGoal) < float64(live)*(1+float64(g.GOGC)/100) &&
		float64(g.HeapGoal) < float64(live)*(1+ShedTargetGOGC/100.0) {
		sig.Triggers |= ShedGoalPinned
	}
	if g.GCCPUWindowSeconds > 0 && g.GCCPUFraction > ShedGCCPUFraction {
		sig.Triggers |= ShedGCCPU
	}

	switch {
	case sig.Triggers == 0:
		sig.Reason = shedReasonOK
		return sig
	case sig.Triggers&ShedWontFit != 0:
		sig.Reason = shedReasonWontFit
	case sig.Triggers&ShedNearBudget != 0:
		sig.Reason = shedReasonNear
	case sig.Triggers&ShedGoalPinned != 0:
		sig.Reason = shedReasonPinned
	default:
		sig.Reason = shedReasonGCCPU
	}
	sig.Bytes = satSub(live, sig.TargetLive)
	// Bytes can be 0 only when neither WontFit nor NearBudget fired (both
	// imply live > TargetLive). Pinned alone keeps its reason (the runtime's
	// limit is lower than memLimit).
	if sig.Bytes == 0 && sig.Triggers&ShedGCCPU != 0 {
		sig.Reason = shedReasonCPUNoHelp
	}
	return sig
}

// FreeOSMemoryWorthIt reports whether forcing the runtime to return free
// heap pages (debug.FreeOSMemory, which costs a full GC) would give back at
// least minBytes: the runtime's free-but-not-returned heap,
// /memory/classes/heap/free (MemStats HeapIdle − HeapReleased), is nonzero
// and ≥ minBytes. It is false when the metric is missing.
func FreeOSMemoryWorthIt(s *Snapshot, minBytes uint64) bool {
	g := &s.Go
	return g.Present&GoHeapFree != 0 && g.HeapFree > 0 && g.HeapFree >= minBytes
}

// liveHeap is /gc/heap/live, or heap/objects when that metric is missing or
// no GC has run yet: the runtime measures the live heap at the end of a GC,
// so before the first one /gc/heap/live reads 0 while the heap holds
// objects. heap/objects is then an overestimate (it includes garbage not
// yet collected), the safe side for a floor.
func liveHeap(g *GoStats) uint64 {
	if g.Present&GoHeapLive != 0 && g.Present&GoGCCycles != 0 && g.GCCycles > 0 {
		return g.HeapLive
	}
	return g.HeapObjects
}

// goNonHeap is the runtime's memory outside heap spans that GOMEMLIMIT
// counts: stacks, metadata, other runtime mappings and profiling buckets.
func goNonHeap(g *GoStats) uint64 {
	return satAdd(satAdd(satAdd(g.HeapStacks, g.OSStacks), g.MetadataBytes()), satAdd(g.Other, g.ProfilingBuckets))
}

// satSub returns a − b, or 0 when b > a.
func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// scale returns v × f rounded down, saturating at the largest uint64.
func scale(v uint64, f float64) uint64 {
	x := float64(v) * f
	if x >= math.MaxUint64 {
		return math.MaxUint64
	}
	if x <= 0 || x != x {
		return 0
	}
	return uint64(x)
}

// nonNeg returns f, or 0 when f is negative or NaN.
func nonNeg(f float64) float64 {
	if f > 0 {
		return f
	}
	return 0
}
