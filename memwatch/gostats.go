package memwatch

import (
	"math"
	"runtime"
	"runtime/metrics"
	"strings"
)

// GoStats is the Go runtime's view of its own memory, read from
// runtime/metrics (which never stops the world). Byte counts are bytes.
//
// The memory classes partition what the runtime has mapped from the OS:
// Total = HeapObjects + HeapUnused + HeapFree + HeapReleased + HeapStacks +
// OSStacks + Metadata* + ProfilingBuckets + Other. Of these, HeapReleased has
// been returned to the OS (MADV_DONTNEED on Linux) and is not resident.
//
// A metric the running Go version does not offer stays 0 and its bit in
// Present is clear (names change across Go versions; see metrics.All).
type GoStats struct {
	// Memory classes, /memory/classes/...:bytes.
	HeapObjects         uint64 // heap/objects: live objects and dead ones not yet swept (MemStats.HeapAlloc)
	HeapUnused          uint64 // heap/unused: reserved for objects in in-use spans but unused (fragmentation)
	HeapFree            uint64 // heap/free: free, backed by memory, not yet returned (HeapIdle − HeapReleased)
	HeapReleased        uint64 // heap/released: free and returned to the OS (MemStats.HeapReleased)
	HeapStacks          uint64 // heap/stacks: goroutine stacks allocated from the heap (MemStats.StackInuse)
	OSStacks            uint64 // os-stacks: stacks allocated by the OS (StackSys − StackInuse)
	MetadataMCacheInuse uint64 // metadata/mcache/inuse
	MetadataMCacheFree  uint64 // metadata/mcache/free
	MetadataMSpanInuse  uint64 // metadata/mspan/inuse
	MetadataMSpanFree   uint64 // metadata/mspan/free
	MetadataOther       uint64 // metadata/other (MemStats.GCSys)
	ProfilingBuckets    uint64 // profiling/buckets (MemStats.BuckHashSys)
	Other               uint64 // other: everything else the runtime mapped (OtherSys)
	Total               uint64 // total: all mapped memory (MemStats.Sys)

	// Classes lists every /memory/classes/* metric of the running Go version
	// (the ones above and any newer ones), in metrics.All order, with names
	// relative to /memory/classes/ and without the ":bytes" unit, for
	// example "heap/objects". Only Classes[:NumClasses] are used.
	Classes    [maxGoClasses]GoClass
	NumClasses int

	HeapLive   uint64 // /gc/heap/live:bytes: heap marked live by the last GC (no MemStats twin)
	HeapGoal   uint64 // /gc/heap/goal:bytes: the heap size the GC aims to finish at (MemStats.NextGC)
	GOGC       int64  // /gc/gogc:percent; -1 when GOGC=off
	GOMEMLIMIT int64  // /gc/gomemlimit:bytes; math.MaxInt64 when no limit is set
	// GCCycles is /gc/cycles/total:gc-cycles (MemStats.NumGC).
	GCCycles uint64
	// HeapAllocsTotal is /gc/heap/allocs:bytes, cumulative (MemStats.TotalAlloc).
	HeapAllocsTotal uint64
	// Goroutines is /sched/goroutines:goroutines.
	Goroutines uint64
	// GOMAXPROCS is /sched/gomaxprocs:threads.
	GOMAXPROCS uint64
	// GCLimiterLastEnabled is /gc/limiter/last-enabled:gc-cycle: the last GC
	// cycle during which the GC CPU limiter engaged (0 = never). The limiter
	// caps GC CPU at about 50% and then lets memory overshoot GOMEMLIMIT.
	GCLimiterLastEnabled uint64

	// GCCPUSeconds and TotalCPUSeconds are /cpu/classes/gc/total and
	// /cpu/classes/total (cumulative, the runtime's estimate). The runtime
	// refreshes both only at GC pauses (runtime/metrics.go: cpuStatsAggregate
	// copies work.cpuStats), so they advance in steps, one per GC cycle.
	GCCPUSeconds    float64
	TotalCPUSeconds float64
	// GCCPUFraction is ΔGCCPUSeconds/ΔTotalCPUSeconds between this sample
	// and the previous one of the same Sampler (the first sample covers the
	// whole process lifetime). Because the counters move only at GC pauses,
	// it is the GC share of the CPU time accounted up to the GC cycles that
	// completed within the interval, and 0 when none completed
	// (GCCPUWindowSeconds = 0). Smooth it over several samples before
	// acting on it.
	GCCPUFraction float64
	// GCCPUWindowSeconds is ΔTotalCPUSeconds: the CPU capacity
	// (wall time × GOMAXPROCS) the fraction covers.
	GCCPUWindowSeconds float64

	// Alloc and Sys are the MemStats-compatible numbers: by the runtime's
	// documented mapping Alloc = HeapAlloc = heap/objects and Sys =
	// /memory/classes/total. With WithExactMemStats they come from
	// runtime.ReadMemStats instead (and so does HeapReleased), and Exact is
	// true.
	Alloc uint64
	Sys   uint64
	Exact bool

	// Present records which of the fields above the running Go version
	// provides.
	Present GoFields
}

// GoClass is one /memory/classes/* metric.
type GoClass struct {
	Name  string // e.g. "heap/objects"
	Bytes uint64
}

// maxGoClasses bounds GoStats.Classes (Go 1.26 has 14 classes).
const maxGoClasses = 32

// Retained is what the runtime holds from the OS and has not returned:
// Total − HeapReleased (MemStats Sys − HeapReleased). It is the quantity
// GOMEMLIMIT governs and an upper bound of the Go part of the process's
// resident memory: pages the runtime mapped but never touched count here but
// are not resident.
func (g *GoStats) Retained() uint64 {
	if g.HeapReleased > g.Total {
		return 0
	}
	return g.Total - g.HeapReleased
}

// MetadataBytes is the sum of the runtime metadata classes (mcache, mspan,
// other).
func (g *GoStats) MetadataBytes() uint64 {
	return g.MetadataMCacheInuse + g.MetadataMCacheFree + g.MetadataMSpanInuse +
		g.MetadataMSpanFree + g.MetadataOther
}

// StacksBytes is HeapStacks + OSStacks (MemStats.StackSys).
func (g *GoStats) StacksBytes() uint64 { return g.HeapStacks + g.OSStacks }

// HasLimit reports whether GOMEMLIMIT is set.
func (g *GoStats) HasLimit() bool {
	return g.Present&GoGOMEMLIMIT != 0 && g.GOMEMLIMIT >= 0 && g.GOMEMLIMIT != math.MaxInt64
}

// GoFields is a bit set of GoStats fields, one bit per runtime metric.
type GoFields uint32

// Bits of GoFields.
const (
	GoHeapObjects GoFields = 1 << iota
	GoHeapUnused
	GoHeapFree
	GoHeapReleased
	GoHeapStacks
	GoOSStacks
	GoMetadataMCacheInuse
	GoMetadataMCacheFree
	GoMetadataMSpanInuse
	GoMetadataMSpanFree
	GoMetadataOther
	GoProfilingBuckets
	GoOther
	GoTotal
	GoHeapLive
	GoHeapGoal
	GoGOGC
	GoGOMEMLIMIT
	GoGCCycles
	GoHeapAllocsTotal
	GoGoroutines
	GoGOMAXPROCS
	GoGCLimiterLastEnabled
	GoGCCPUSeconds
	GoTotalCPUSeconds
)

// goMetric ties a runtime/metrics name to a GoStats field.
type goMetric struct {
	name  string
	field GoFields
	kind  metrics.ValueKind
}

// goMetrics are the metrics GoStats has fields for. Names missing from
// metrics.All() of the running Go version are skipped.
var goMetrics = [...]goMetric{
	{"/memory/classes/heap/objects:bytes", GoHeapObjects, metrics.KindUint64},
	{"/memory/classes/heap/unused:bytes", GoHeapUnused, metrics.KindUint64},
	{"/memory/classes/heap/free:bytes", GoHeapFree, metrics.KindUint64},
	{"/memory/classes/heap/released:bytes", GoHeapReleased, metrics.KindUint64},
	{"/memory/classes/heap/stacks:bytes", GoHeapStacks, metrics.KindUint64},
	{"/memory/classes/os-stacks:bytes", GoOSStacks, metrics.KindUint64},
	{"/memory/classes/metadata/mcache/inuse:bytes", GoMetadataMCacheInuse, metrics.KindUint64},
	{"/memory/classes/metadata/mcache/free:bytes", GoMetadataMCacheFree, metrics.KindUint64},
	{"/memory/classes/metadata/mspan/inuse:bytes", GoMetadataMSpanInuse, metrics.KindUint64},
	{"/memory/classes/metadata/mspan/free:bytes", GoMetadataMSpanFree, metrics.KindUint64},
	{"/memory/classes/metadata/other:bytes", GoMetadataOther, metrics.KindUint64},
	{"/memory/classes/profiling/buckets:bytes", GoProfilingBuckets, metrics.KindUint64},
	{"/memory/classes/other:bytes", GoOther, metrics.KindUint64},
	{"/memory/classes/total:bytes", GoTotal, metrics.KindUint64},
	{"/gc/heap/live:bytes", GoHeapLive, metrics.KindUint64},
	{"/gc/heap/goal:bytes", GoHeapGoal, metrics.KindUint64},
	{"/gc/gogc:percent", GoGOGC, metrics.KindUint64},
	{"/gc/gomemlimit:bytes", GoGOMEMLIMIT, metrics.KindUint64},
	{"/gc/cycles/total:gc-cycles", GoGCCycles, metrics.KindUint64},
	{"/gc/heap/allocs:bytes", GoHeapAllocsTotal, metrics.KindUint64},
	{"/sched/goroutines:goroutines", GoGoroutines, metrics.KindUint64},
	{"/sched/gomaxprocs:threads", GoGOMAXPROCS, metrics.KindUint64},
	{"/gc/limiter/last-enabled:gc-cycle", GoGCLimiterLastEnabled, metrics.KindUint64},
	{"/cpu/classes/gc/total:cpu-seconds", GoGCCPUSeconds, metrics.KindFloat64},
	{"/cpu/classes/total:cpu-seconds", GoTotalCPUSeconds, metrics.KindFloat64},
}

const memClassPrefix = "/memory/classes/"

// goReader reads GoStats with one metrics.Read into samples allocated once.
type goReader struct {
	samples []metrics.Sample
	// field[i] is the GoStats field of samples[i] (0 for a memory class
	// that has no named field).
	field []GoFields
	// class[i] is the index in GoStats.Classes of samples[i], or -1.
	class      []int
	classNames []string
	present    GoFields

	// readMemStats is runtime.ReadMemStats in exact mode, nil otherwise:
	// a function value, not a bool, so that a program that never asks for
	// exact stats does not link ReadMemStats (7.5 KB, see
	// scripts/binsize.sh).
	readMemStats func(*runtime.MemStats)
	ms           runtime.MemStats

	havePrev           bool
	prevGCCPU, prevCPU float64
}

// newGoReader discovers the available metrics once (metrics.All) and
// prepares the sample slice. readMemStats is nil, or runtime.ReadMemStats
// for exact mode (WithExactMemStats).
func newGoReader(readMemStats func(*runtime.MemStats)) *goReader {
	return newGoReaderFrom(metrics.All(), readMemStats)
}

// newGoReaderFrom builds a reader over the given descriptions; metrics that
// GoStats knows but descs lacks are left absent.
func newGoReaderFrom(descs []metrics.Description, readMemStats func(*runtime.MemStats)) *goReader {
	r := &goReader{readMemStats: readMemStats}
	known := make(map[string]goMetric, len(goMetrics))
	for _, m := range goMetrics {
		known[m.name] = m
	}
	for _, d := range descs {
		m, isKnown := known[d.Name]
		isClass := strings.HasPrefix(d.Name, memClassPrefix) && d.Kind == metrics.KindUint64
		if isKnown && d.Kind != m.kind {
			isKnown = false // a changed kind: treat as absent rather than misread
		}
		if !isKnown && !isClass {
			continue
		}
		r.samples = append(r.samples, metrics.Sample{Name: d.Name})
		var f GoFields
		if isKnown {
			f = m.field
			r.present |= f
		}
		r.field = append(r.field, f)
		ci := -1
		if isClass && len(r.classNames) < maxGoClasses {
			ci = len(r.classNames)
			name := strings.TrimPrefix(d.Name, memClassPrefix)
			if i := strings.LastIndexByte(name, ':'); i >= 0 {
				name = name[:i]
			}
			r.classNames = append(r.classNames, name)
		}
		r.class = append(r.class, ci)
	}
	return r
}

// read fills g. It does not allocate and does not stop the world unless the
// reader is in exact mode.
func (r *goReader) read(g *GoStats) {
	if len(r.samples) > 0 { // metrics.Read indexes samples[0]
		metrics.Read(r.samples)
	}
	*g = GoStats{Present: r.present, NumClasses: len(r.classNames)}
	for i := range r.samples {
		v := &r.samples[i].Value
		if ci := r.class[i]; ci >= 0 {
			g.Classes[ci] = GoClass{Name: r.classNames[ci], Bytes: v.Uint64()}
		}
		if f := r.field[i]; f != 0 {
			if v.Kind() == metrics.KindFloat64 {
				g.set(f, 0, v.Float64())
			} else {
				g.set(f, v.Uint64(), 0)
			}
		}
	}
	// MemStats-compatible fields by the mapping documented in
	// runtime/metrics and runtime/mstats.go: HeapAlloc = heap/objects,
	// Sys = total.
	g.Alloc = g.HeapObjects
	g.Sys = g.Total
	if r.readMemStats != nil {
		r.readMemStats(&r.ms) // stops the world: opt-in only
		g.Alloc = r.ms.HeapAlloc
		g.Sys = r.ms.Sys
		g.HeapReleased = r.ms.HeapReleased
		g.Exact = true
	}
	r.gcCPU(g)
}

// set stores one metric value (u for uint64 metrics, f for float64 ones)
// into the field f names.
func (g *GoStats) set(field GoFields, u uint64, f float64) {
	switch field {
	case GoHeapObjects:
		g.HeapObjects = u
	case GoHeapUnused:
		g.HeapUnused = u
	case GoHeapFree:
		g.HeapFree = u
	case GoHeapReleased:
		g.HeapReleased = u
	case GoHeapStacks:
		g.HeapStacks = u
	case GoOSStacks:
		g.OSStacks = u
	case GoMetadataMCacheInuse:
		g.MetadataMCacheInuse = u
	case GoMetadataMCacheFree:
		g.MetadataMCacheFree = u
	case GoMetadataMSpanInuse:
		g.MetadataMSpanInuse = u
	case GoMetadataMSpanFree:
		g.MetadataMSpanFree = u
	case GoMetadataOther:
		g.MetadataOther = u
	case GoProfilingBuckets:
		g.ProfilingBuckets = u
	case GoOther:
		g.Other = u
	case GoTotal:
		g.Total = u
	case GoHeapLive:
		g.HeapLive = u
	case GoHeapGoal:
		g.HeapGoal = u
	case GoGOGC:
		// The runtime stores GOGC as an int32 (-1 = off) and reports
		// uint64(int32) (runtime/metrics.go), so convert back.
		g.GOGC = int64(u)
	case GoGOMEMLIMIT:
		g.GOMEMLIMIT = int64(u)
	case GoGCCycles:
		g.GCCycles = u
	case GoHeapAllocsTotal:
		g.HeapAllocsTotal = u
	case GoGoroutines:
		g.Goroutines = u
	case GoGOMAXPROCS:
		g.GOMAXPROCS = u
	case GoGCLimiterLastEnabled:
		g.GCLimiterLastEnabled = u
	case GoGCCPUSeconds:
		g.GCCPUSeconds = f
	case GoTotalCPUSeconds:
		g.TotalCPUSeconds = f
	}
}

// gcCPU computes the GC CPU fraction against the previous read.
func (r *goReader) gcCPU(g *GoStats) {
	const need = GoGCCPUSeconds | GoTotalCPUSeconds
	if g.Present&need != need {
		return
	}
	var dgc, dtot float64
	if r.havePrev {
		dgc, dtot = g.GCCPUSeconds-r.prevGCCPU, g.TotalCPUSeconds-r.prevCPU
	} else {
		dgc, dtot = g.GCCPUSeconds, g.TotalCPUSeconds
	}
	r.prevGCCPU, r.prevCPU, r.havePrev = g.GCCPUSeconds, g.TotalCPUSeconds, true
	g.GCCPUFraction, g.GCCPUWindowSeconds = gcCPUFraction(dgc, dtot)
}

// gcCPUFraction returns dgc/dtot clamped to [0, 1], and the window dtot; 0, 0
// when the window is empty (no GC pause in between) or the counters went
// backwards.
func gcCPUFraction(dgc, dtot float64) (frac, window float64) {
	if !(dtot > 0) || dgc < 0 || math.IsNaN(dgc) {
		return 0, 0
	}
	frac = dgc / dtot
	if frac > 1 {
		frac = 1
	}
	return frac, dtot
}
