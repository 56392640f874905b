package memwatch

import (
	"math"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// PartID names one part of an Attribution.
type PartID uint8

// The parts, in rendering order. Their String names are the stable JSON keys.
const (
	// PartGoHeapLive is the heap the last GC marked live
	// (/gc/heap/live:bytes, capped at heap/objects).
	PartGoHeapLive PartID = iota
	// PartGoHeapUnused is heap/objects − heap/live: objects allocated since
	// the last GC or dead and not yet swept. The next GC frees the dead ones.
	PartGoHeapUnused
	// PartGoHeapFragmentation is /memory/classes/heap/unused: space in
	// in-use spans that holds no object.
	PartGoHeapFragmentation
	// PartGoHeapFree is /memory/classes/heap/free: free pages the runtime
	// keeps and has not yet returned to the OS (the scavenger or
	// debug.FreeOSMemory can return them).
	PartGoHeapFree
	// PartGoStacks is heap/stacks + os-stacks.
	PartGoStacks
	// PartGoRuntimeMetadata is metadata/mcache/*, metadata/mspan/* and
	// metadata/other (GC bitmaps, arenas' metadata).
	PartGoRuntimeMetadata
	// PartGoRuntimeOther is /memory/classes/other + profiling/buckets.
	PartGoRuntimeOther
	// PartNonGoAnon is this process's resident anonymous memory that the Go
	// runtime does not account for: cgo/C malloc, unix.Mmap, memory of
	// linked libraries. It is a lower bound (see Attribute).
	PartNonGoAnon
	// PartOtherProcesses is the cgroup's anonymous memory beyond this
	// process's: other processes of the container (sidecars, children).
	PartOtherProcesses
	// PartShmem is shared memory and tmpfs files (memory.stat shmem): page
	// cache that cannot be dropped, only swapped.
	PartShmem
	// PartPageCacheActive is the active file LRU (active_file).
	PartPageCacheActive
	// PartPageCacheInactive is the inactive file LRU (inactive_file), the
	// first thing reclaim takes.
	PartPageCacheInactive
	// PartFileMapped is the process's resident file-backed pages (RssFile;
	// binary, mapped files). Used only when memory.stat is not available
	// (no cgroup view, or no full read of it); otherwise these pages are in
	// the page cache parts.
	PartFileMapped
	// PartKernel is kernel memory charged to the cgroup other than
	// reclaimable slab: kernel stacks, page tables, unreclaimable slab,
	// percpu, socket buffers.
	PartKernel
	// PartKernelSlabReclaimable is reclaimable slab (dentries, inodes).
	PartKernelSlabReclaimable
	// PartUnaccounted is what the other parts do not explain: charge
	// batching, memory.stat lag, pages not yet on an LRU list, or whole
	// categories a missing view could not name.
	PartUnaccounted

	// NumParts is the number of parts.
	NumParts
)

var partNames = [NumParts]string{
	PartGoHeapLive:            "go_heap_live",
	PartGoHeapUnused:          "go_heap_unused",
	PartGoHeapFragmentation:   "go_heap_fragmentation",
	PartGoHeapFree:            "go_heap_free",
	PartGoStacks:              "go_stacks",
	PartGoRuntimeMetadata:     "go_runtime_metadata",
	PartGoRuntimeOther:        "go_runtime_other",
	PartNonGoAnon:             "non_go_anon",
	PartOtherProcesses:        "other_processes",
	PartShmem:                 "shmem",
	PartPageCacheActive:       "page_cache_active",
	PartPageCacheInactive:     "page_cache_inactive",
	PartFileMapped:            "file_mapped",
	PartKernel:                "kernel",
	PartKernelSlabReclaimable: "kernel_slab_reclaimable",
	PartUnaccounted:           "unaccounted",
}

// String returns the part's snake_case name (its JSON key).
func (p PartID) String() string {
	if p < NumParts {
		return partNames[p]
	}
	return "invalid"
}

// Reclaim says who, if anyone, can take a part's memory back without
// killing a process.
type Reclaim uint8

// Reclaim classes.
const (
	// NotReclaimable: only freeing by the program (or an OOM kill) returns
	// it: anonymous memory without swap, unreclaimable kernel memory.
	NotReclaimable Reclaim = iota
	// Reclaimable: the kernel drops it under pressure before it OOM-kills
	// (mm/vmscan.c: the file LRUs and reclaimable slab are shrunk first);
	// clean pages at once, dirty ones after writeback (see
	// Attribution.NeedsWritebackBytes).
	Reclaimable
	// Swappable: anonymous or shmem memory the kernel can reclaim only by
	// swapping it out; used when swap is available to the cgroup.
	Swappable
	// RuntimeReleasable: the Go runtime can give it back (the GC frees
	// garbage, the scavenger or debug.FreeOSMemory returns free pages); the
	// kernel cannot reclaim it on its own.
	RuntimeReleasable
	// ReclaimUnknown: the part is not identified (unaccounted).
	ReclaimUnknown
)

var reclaimNames = [...]string{
	NotReclaimable:    "no",
	Reclaimable:       "reclaimable",
	Swappable:         "swappable",
	RuntimeReleasable: "runtime",
	ReclaimUnknown:    "unknown",
}

// String returns "no", "reclaimable", "swappable", "runtime" or "unknown".
func (r Reclaim) String() string {
	if int(r) < len(reclaimNames) {
		return reclaimNames[r]
	}
	return "invalid"
}

// MarshalText encodes the class as its String.
func (r Reclaim) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Part is one named share of the attributed total.
type Part struct {
	ID    PartID
	Bytes uint64
	// Reclaim says whether the kernel can reclaim it before an OOM kill.
	Reclaim Reclaim
	// Known is false when the part does not apply to the snapshot's base or
	// its inputs were unavailable (then Bytes is 0 and JSON shows null).
	Known bool
	// Capped is true when the part got less than its source reported,
	// because the parts before it in fill order had taken the rest of the
	// total: a Go part when the runtime counts more than is resident
	// (NoteGoNotResident), a kernel part when memory.stat adds up to more
	// than usage (NoteOvercount). Bytes is then what fitted.
	Capped bool
}

// Name is the part's JSON key.
func (p Part) Name() string { return p.ID.String() }

// Base says what an Attribution decomposes.
type Base uint8

// Bases.
const (
	// BaseGo: only the Go view is available; Total is GoStats.Retained.
	BaseGo Base = iota
	// BaseProcess: no cgroup view; Total is the process's RSS.
	BaseProcess
	// BaseCgroup: Total is the cgroup's usage (the number compared with
	// the limit by the OOM killer).
	BaseCgroup
)

// String returns "go", "process" or "cgroup".
func (b Base) String() string {
	switch b {
	case BaseProcess:
		return "process"
	case BaseCgroup:
		return "cgroup"
	}
	return "go"
}

// Notes is a bit set of caveats about an Attribution.
type Notes uint16

// Notes bits.
const (
	// NoteNoCgroup: no cgroup view; the base is the process's RSS.
	NoteNoCgroup Notes = 1 << iota
	// NoteNoProcess: no process view; the cgroup's anonymous memory could
	// not be split between this process (non-Go) and other processes; what
	// Go does not account for is in unaccounted.
	NoteNoProcess
	// NoteNoCgroupStat: memory.stat was not read; page cache, shmem, kernel
	// memory and other processes are not separated (they are in
	// unaccounted).
	NoteNoCgroupStat
	// NoteNoProcessSplit: /proc/self/status was not read; file_mapped
	// includes shmem.
	NoteNoProcessSplit
	// NoteGoNotResident: the runtime counts more memory than the process
	// has resident anonymous memory; the Go parts were capped (see
	// GoNotResidentBytes).
	NoteGoNotResident
	// NoteOvercount: the kernel's breakdown exceeds the total (memory.stat
	// lags usage by up to ~2 s; charges are batched per CPU); the last
	// parts in fill order were capped (see OvercountBytes).
	NoteOvercount
	// NoteAncestorsHidden: ancestors of the cgroup are not visible; a limit
	// set above them is not seen.
	NoteAncestorsHidden
	// NoteKernelUnsplit: the kernel does not report reclaimable slab (cgroup
	// v1); all kernel memory is counted unreclaimable.
	NoteKernelUnsplit
	// NoteNoHeapLive: /gc/heap/live is missing; go_heap_live holds all of
	// heap/objects.
	NoteNoHeapLive
)

var noteNames = [...]string{
	"no_cgroup", "no_process", "no_cgroup_stat", "no_process_split",
	"go_not_resident", "overcount", "ancestors_hidden", "kernel_unsplit",
	"no_heap_live",
}

// Names returns the set notes' snake_case names. It allocates.
func (n Notes) Names() []string {
	var out []string
	for i, name := range noteNames {
		if n&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// Attribution decomposes a snapshot's memory into named parts that sum to
// Total exactly.
type Attribution struct {
	Base  Base
	Total uint64
	Parts [NumParts]Part

	// ReclaimableBytes is what the kernel can drop without I/O before an
	// OOM kill: clean page cache (active and inactive file LRUs minus dirty
	// and writeback pages) and reclaimable slab.
	ReclaimableBytes uint64
	// NeedsWritebackBytes is dirty and under-writeback page cache
	// (file_dirty + file_writeback): reclaimable only after it is written
	// out. It is a subset of the page cache parts, not a part of its own.
	NeedsWritebackBytes uint64
	// UnreclaimableBytes is Total − ReclaimableBytes − NeedsWritebackBytes:
	// what stays charged whatever the kernel does short of swapping or
	// killing. Judge pressure on it (or on the working set), not on Total.
	UnreclaimableBytes uint64
	// RuntimeReleasableBytes is what the Go runtime could give back
	// (go_heap_unused + go_heap_free, as attributed).
	RuntimeReleasableBytes uint64
	// GoBytes is the sum of the go_* parts as attributed (resident).
	GoBytes uint64
	// NonGoBytes is non_go_anon.
	NonGoBytes uint64
	// GoNotResidentBytes is how much of the runtime's Retained memory
	// exceeds the process's resident anonymous memory: pages the runtime
	// mapped but never touched, which the kernel does not charge.
	GoNotResidentBytes uint64
	// OvercountBytes is how much the kernel's breakdown exceeded Total.
	OvercountBytes uint64

	Headroom Headroom
	Notes    Notes
}

// Part returns the part id.
func (a *Attribution) Part(id PartID) Part {
	if id >= NumParts {
		return Part{ID: id}
	}
	return a.Parts[id]
}

// Bytes returns the bytes of part id (0 when unknown).
func (a *Attribution) Bytes(id PartID) uint64 { return a.Part(id).Bytes }

// Headroom is the distance to the cgroup's limits.
type Headroom struct {
	// HasLimit reports a hard limit (memory.max / limit_in_bytes, effective
	// over visible ancestors); Limit is cgroupstat.Unlimited otherwise.
	HasLimit bool
	Limit    uint64
	// HasHigh reports a memory.high (v2 throttling point); High is
	// cgroupstat.Unlimited otherwise.
	HasHigh bool
	High    uint64
	// ToLimit is Limit − usage and ToHigh is High − usage, in bytes; negative
	// when usage is above (usage can pass memory.high, and transiently the
	// limit because charges are batched). Valid only with HasLimit/HasHigh.
	ToLimit int64
	ToHigh  int64
	// AvailableBeforeOOM is Limit − UnreclaimableBytes: what can still be
	// charged, counting the page cache and slab the kernel would reclaim
	// first. Valid with HasLimit.
	AvailableBeforeOOM int64
	// UsagePercent and WorkingSetPercent are usage and working set as
	// percentages of Limit, valid with HasUsagePercent and
	// HasWorkingSetPercent: with a limit above 0 (a limit of 0, which the
	// kernel accepts, has no percentage), and for the working set when it
	// is known (cgroupstat.Stats.HasWorkingSet). Never NaN or infinite.
	UsagePercent         float64
	WorkingSetPercent    float64
	HasUsagePercent      bool
	HasWorkingSetPercent bool
}

// unlimitedThreshold: any limit at or above 2^62 means "no limit" (v1
// prints 2^63 − PAGE_SIZE; docs/ARCHITECTURE.md, "Kernel semantics"). cgroupstat already normalises to
// Unlimited; this guards synthetic or foreign Stats.
const unlimitedThreshold = 1 << 62

func limited(v uint64) bool { return v != cgroupstat.Unlimited && v < unlimitedThreshold }

// goFillOrder is the order in which the Go parts are given resident memory
// when the runtime's Retained exceeds the process's anonymous RSS. Memory
// the program has written (stacks, live objects) comes first; free pages and
// metadata reservations, which the runtime maps (sysUsed) but the kernel
// only faults in on first write, come last and absorb the shortfall
// (runtime/mem_linux.go, mheap.go: fresh spans are known zero and not
// touched).
var goFillOrder = [...]PartID{
	PartGoStacks,
	PartGoHeapLive,
	PartGoHeapUnused,
	PartGoRuntimeOther,
	PartGoHeapFragmentation,
	PartGoRuntimeMetadata,
	PartGoHeapFree,
}

// goWants returns the raw (runtime-reported) size of each Go part.
func goWants(g *GoStats, notes *Notes) (w [NumParts]uint64) {
	live := g.HeapLive
	if g.Present&GoHeapLive == 0 {
		live = g.HeapObjects
		*notes |= NoteNoHeapLive
	}
	// heap/live is what the last mark found; heap/objects is live plus
	// allocated-since plus dead-unswept, so live ≤ objects except for
	// sampling skew: clamp.
	if live > g.HeapObjects {
		live = g.HeapObjects
	}
	w[PartGoHeapLive] = live
	w[PartGoHeapUnused] = g.HeapObjects - live
	w[PartGoHeapFragmentation] = g.HeapUnused
	w[PartGoHeapFree] = g.HeapFree
	w[PartGoStacks] = satAdd(g.HeapStacks, g.OSStacks)
	w[PartGoRuntimeMetadata] = satAdd(satAdd(satAdd(g.MetadataMCacheInuse, g.MetadataMCacheFree),
		satAdd(g.MetadataMSpanInuse, g.MetadataMSpanFree)), g.MetadataOther)
	w[PartGoRuntimeOther] = satAdd(g.Other, g.ProfilingBuckets)
	return w
}

// satAdd returns a + b, saturating at the largest uint64 (garbage input
// must not wrap around into small numbers).
func satAdd(a, b uint64) uint64 {
	if c := a + b; c >= a {
		return c
	}
	return ^uint64(0)
}

// diff returns a − b as an int64, saturating at the int64 range.
func diff(a, b uint64) int64 {
	if a >= b {
		if d := a - b; d <= math.MaxInt64 {
			return int64(d)
		}
		return math.MaxInt64
	}
	if d := b - a; d <= math.MaxInt64 {
		return -int64(d)
	}
	return math.MinInt64
}

// filler hands out a budget to parts in order, never more than is left.
type filler struct {
	a    *Attribution
	left uint64
}

// give assigns min(want, left) to part id and returns the excess that did
// not fit.
func (f *filler) give(id PartID, want uint64) (excess uint64) {
	got := want
	if got > f.left {
		got, excess = f.left, want-f.left
	}
	f.left -= got
	p := &f.a.Parts[id]
	p.Bytes += got
	p.Known = true
	if excess > 0 {
		p.Capped = true
	}
	return excess
}

// Attribute decomposes the snapshot's memory into named parts. It is a pure
// function of the snapshot (no I/O, no allocation), so it can be recomputed
// on any Snapshot value, including synthetic ones.
//
// The base is the cgroup's usage when the cgroup view is available (the
// number the OOM killer compares with the limit), else the process's RSS,
// else the Go runtime's Retained memory. Parts are filled in a fixed order
// from the base down and never exceed what is left, so they always sum to
// Total; what is left at the end is unaccounted, and what did not fit is
// reported in OvercountBytes or GoNotResidentBytes.
//
// Cgroup base (Documentation/admin-guide/cgroup-v2.rst "memory.stat";
// cgroup-v1/memory.rst §5.2; mm/memcontrol.c):
//   - usage = memory.current (v2) or memory.usage_in_bytes (v1). v1 usage
//     is rss + cache + kmem (the kmem page counter also charges the memory
//     counter); v2 charges anon, file, kernel and sock to memory.current.
//     Swap is charged separately in both and is not in usage.
//   - anon (v1 total_rss) is split into this process's anonymous memory and
//     other_processes = cgroup anon − ours, when the cgroup's anon exceeds
//     ours. The heuristic assumes this process's anon is charged to this
//     cgroup (it is: anon pages are charged to the memcg of the faulting
//     task), so any surplus belongs to other members of the cgroup or its
//     descendants. The counters are read at different moments (memory.stat
//     lags by up to ~2 s), so a few pages of skew are expected.
//   - this process's anon (statm resident − shared; task_statm in
//     fs/proc/task_mmu.c) is split into the go_* parts and non_go_anon.
//     The go_* parts come from runtime/metrics; their sum is Retained =
//     /memory/classes/total − heap/released: released pages were returned
//     with MADV_DONTNEED and are not resident, so they are excluded. Some
//     retained pages were never touched and are not resident either, so
//     Retained may exceed the resident anon; the Go parts are then capped
//     in goFillOrder and non_go_anon = anon − Go (clamped at 0) is a lower
//     bound of the memory Go does not account for.
//   - shmem (tmpfs, shared memory) is part of the "file" counter but lives
//     on the anon LRU lists; it is its own part, not reclaimable without
//     swap.
//   - page_cache_active/inactive are the file LRU lists active_file and
//     inactive_file (which exclude shmem); the kernel reclaims them before
//     an OOM kill, inactive first. Dirty and writeback pages among them need
//     writeback first (NeedsWritebackBytes).
//   - kernel: v2 "kernel" (5.18+; kernel stacks, page tables, percpu, slab,
//     vmalloc) plus sock; v1 memory.kmem.usage_in_bytes.
//     slab_reclaimable (v2 only) is split off as kernel_slab_reclaimable,
//     reclaimable by the shrinkers.
//
// Fill order under the cgroup usage: anon (ours: Go parts in goFillOrder,
// then non_go_anon; then other_processes), shmem, kernel,
// kernel_slab_reclaimable, page_cache_active, page_cache_inactive; the
// reclaimable parts come last so that a lagging memory.stat shortens them
// rather than the unreclaimable ones. The remainder is unaccounted.
//
// Process base (no cgroup): Total = RSS; anon is split as above; the
// shared part is file_mapped (RssFile) and shmem (RssShmem) when the status
// split is known, else all file_mapped.
//
// Go base: Total = Retained, with the raw Go parts.
func Attribute(s *Snapshot) Attribution {
	var a Attribution
	attribute(&a, s)
	return a
}

// attribute is Attribute into *a, which it overwrites whole: Sample uses it
// to fill the snapshot's own Attribution without copying one through the
// stack. s.Attribution is not an input, so a may point to it.
func attribute(a *Attribution, s *Snapshot) {
	*a = Attribution{}
	for i := range a.Parts {
		a.Parts[i].ID = PartID(i)
		a.Parts[i].Reclaim = staticReclaim[i]
	}
	goWant := goWants(&s.Go, &a.Notes)
	swap := swapAvailable(s)

	switch {
	case s.Cgroup.Available:
		attributeCgroup(a, s, &goWant)
	case s.Process.Available:
		a.Notes |= NoteNoCgroup
		attributeProcess(a, s, &goWant)
	default:
		a.Notes |= NoteNoCgroup | NoteNoProcess
		a.Base = BaseGo
		var total uint64
		for _, id := range goFillOrder {
			total = satAdd(total, goWant[id])
		}
		a.Total = total
		f := filler{a: a, left: total}
		for _, id := range goFillOrder {
			f.give(id, goWant[id])
		}
	}

	if swap {
		for _, id := range [...]PartID{PartGoHeapLive, PartGoHeapFragmentation, PartGoStacks,
			PartGoRuntimeMetadata, PartGoRuntimeOther, PartNonGoAnon, PartOtherProcesses, PartShmem} {
			a.Parts[id].Reclaim = Swappable
		}
	}
	summarize(a, s)
}

// staticReclaim is each part's reclaim class without swap.
var staticReclaim = [NumParts]Reclaim{
	PartGoHeapLive:            NotReclaimable,
	PartGoHeapUnused:          RuntimeReleasable,
	PartGoHeapFragmentation:   NotReclaimable,
	PartGoHeapFree:            RuntimeReleasable,
	PartGoStacks:              NotReclaimable,
	PartGoRuntimeMetadata:     NotReclaimable,
	PartGoRuntimeOther:        NotReclaimable,
	PartNonGoAnon:             NotReclaimable,
	PartOtherProcesses:        NotReclaimable,
	PartShmem:                 NotReclaimable,
	PartPageCacheActive:       Reclaimable,
	PartPageCacheInactive:     Reclaimable,
	PartFileMapped:            Reclaimable,
	PartKernel:                NotReclaimable,
	PartKernelSlabReclaimable: Reclaimable,
	PartUnaccounted:           ReclaimUnknown,
}

// swapAvailable reports whether anonymous memory can be swapped out: the
// host has swap (meminfo SwapTotal) and, when the cgroup accounts swap, its
// swap limit leaves room (v2 memory.swap.max, v1 memsw − memory limits).
func swapAvailable(s *Snapshot) bool {
	if !s.Host.Available || s.Host.Meminfo.SwapTotal == 0 {
		return false
	}
	if s.Cgroup.Available && s.Cgroup.Stats.HasSwap {
		st := &s.Cgroup.Stats
		return st.SwapLimit > st.SwapUsage
	}
	return true
}

// cgroupKernel returns the kernel memory charged to usage: v2 "kernel" +
// sock (mm/memcontrol.c: sockets are charged to the memory counter but
// accounted as MEMCG_SOCK, outside MEMCG_KMEM); v1 kmem usage (v1 socket
// buffers use the separate kmem.tcp counter and are not in usage).
func cgroupKernel(st *cgroupstat.Stats) uint64 {
	k := st.Stat.Kernel
	if st.Version == cgroupstat.V2 && st.Stat.Present&cgroupstat.StatSock != 0 {
		k = satAdd(k, st.Stat.Sock)
	}
	return k
}

// attributeOwnAnon splits budget (this process's resident anon, already
// known to fit) into the Go parts and non_go_anon.
func attributeOwnAnon(a *Attribution, goWant *[NumParts]uint64, budget uint64) {
	f := fillGoAnon(a, goWant, budget)
	f.give(PartNonGoAnon, f.left)
}

// fillGoAnon gives the Go parts what they want of anon, in goFillOrder,
// records what did not fit as GoNotResidentBytes, and returns the filler
// holding the rest.
func fillGoAnon(a *Attribution, goWant *[NumParts]uint64, anon uint64) filler {
	f := filler{a: a, left: anon}
	var excess uint64
	for _, id := range goFillOrder {
		excess = satAdd(excess, f.give(id, goWant[id]))
	}
	if excess > 0 {
		a.GoNotResidentBytes = excess
		a.Notes |= NoteGoNotResident
	}
	return f
}

// markGoParts marks every Go part known (with zero bytes if none fitted).
func markGoParts(a *Attribution) {
	for _, id := range goFillOrder {
		a.Parts[id].Known = true
	}
}

func attributeCgroup(a *Attribution, s *Snapshot, goWant *[NumParts]uint64) {
	st := &s.Cgroup.Stats
	a.Base = BaseCgroup
	a.Total = st.Usage
	if st.AncestorsHidden {
		a.Notes |= NoteAncestorsHidden
	}
	f := filler{a: a, left: st.Usage}
	var over uint64
	proc := &s.Process
	const need = cgroupstat.StatAnon | cgroupstat.StatFile
	if st.Stat.Present&need != need {
		// No memory.stat: only this process's own memory can be named.
		a.Notes |= NoteNoCgroupStat
		markGoParts(a)
		if proc.Available {
			own := proc.Anon()
			if own > f.left {
				own = f.left
			}
			attributeOwnAnon(a, goWant, own)
			f.left -= own
			fileShmem(a, &f, proc)
		} else {
			a.Notes |= NoteNoProcess
			for _, id := range goFillOrder {
				f.give(id, goWant[id])
			}
		}
		a.Parts[PartUnaccounted] = Part{ID: PartUnaccounted, Bytes: f.left, Reclaim: ReclaimUnknown, Known: true}
		return
	}

	// Anonymous memory of the whole cgroup.
	anon := st.Stat.Anon
	if anon > f.left {
		over = anon - f.left
		anon = f.left
	}
	f.left -= anon
	markGoParts(a)
	if proc.Available {
		own := proc.Anon()
		if own > anon {
			// This process alone shows more anon than the cgroup: skew
			// between the two reads. No other process can be inferred.
			own = anon
		}
		attributeOwnAnon(a, goWant, own)
		// When memory.stat's anon exceeded usage, what was cut off came out
		// of the surplus over this process's anon.
		a.Parts[PartOtherProcesses] = Part{ID: PartOtherProcesses, Bytes: anon - own, Known: true, Capped: over > 0}
	} else {
		a.Notes |= NoteNoProcess
		g := fillGoAnon(a, goWant, anon)
		// The rest of the anon is non-Go memory of this process or other
		// processes: without the process view it cannot be named.
		a.Parts[PartUnaccounted].Bytes += g.left
	}

	// shmem is inside "file" (v2: "file ... including tmpfs and shared
	// memory"; v1: cache includes shmem). A part whose memory.stat key is
	// missing (an emulated cgroupfs) stays unknown: its memory is left in
	// unaccounted, not stated as 0.
	pr := st.Stat.Present
	if pr&cgroupstat.StatShmem != 0 {
		over = satAdd(over, f.give(PartShmem, st.Stat.Shmem))
	}

	if pr&cgroupstat.StatKernel != 0 {
		kernel := cgroupKernel(st)
		slabR := uint64(0)
		if pr&cgroupstat.StatSlabReclaimable != 0 {
			slabR = st.Stat.SlabReclaimable
			if slabR > kernel {
				slabR = kernel
			}
			a.Parts[PartKernelSlabReclaimable].Known = true
		} else {
			a.Notes |= NoteKernelUnsplit
		}
		over = satAdd(over, f.give(PartKernel, kernel-slabR))
		if slabR > 0 {
			over = satAdd(over, f.give(PartKernelSlabReclaimable, slabR))
		}
	}
	if pr&cgroupstat.StatActiveFile != 0 {
		over = satAdd(over, f.give(PartPageCacheActive, st.Stat.ActiveFile))
	}
	if pr&cgroupstat.StatInactiveFile != 0 {
		over = satAdd(over, f.give(PartPageCacheInactive, st.Stat.InactiveFile))
	}

	if over > 0 {
		a.OvercountBytes = over
		a.Notes |= NoteOvercount
	}
	a.Parts[PartUnaccounted].Bytes += f.left
	a.Parts[PartUnaccounted].Known = true

	// Dirty and writeback pages are page cache that needs I/O before it can
	// be reclaimed (v1: memcg reclaim cannot write back itself and waits).
	pc := a.Parts[PartPageCacheActive].Bytes + a.Parts[PartPageCacheInactive].Bytes
	dirty := satAdd(st.Stat.FileDirty, st.Stat.FileWriteback)
	if dirty > pc {
		dirty = pc
	}
	a.NeedsWritebackBytes = dirty
}

// fileShmem names the process's shared (file + shmem) resident pages
// within f: file_mapped and shmem from the status split when known.
func fileShmem(a *Attribution, f *filler, proc *ProcessStats) {
	shared := proc.Statm.Shared
	if shared > proc.Statm.Resident {
		shared = proc.Statm.Resident
	}
	st := &proc.Status
	const need = procstat.HasRssFile | procstat.HasRssShmem
	if st.Present&need == need {
		// RssShmem first: it cannot be reclaimed; the rest of shared is file.
		sh := st.RssShmem
		if sh > shared {
			sh = shared
		}
		f.give(PartShmem, sh)
		f.give(PartFileMapped, shared-sh)
		return
	}
	a.Notes |= NoteNoProcessSplit
	f.give(PartFileMapped, shared)
}

func attributeProcess(a *Attribution, s *Snapshot, goWant *[NumParts]uint64) {
	proc := &s.Process
	a.Base = BaseProcess
	a.Total = proc.RSS()
	markGoParts(a)
	anon := proc.Anon() // ≤ RSS by construction
	attributeOwnAnon(a, goWant, anon)
	f := filler{a: a, left: a.Total - anon}
	fileShmem(a, &f, proc)
	a.Parts[PartUnaccounted] = Part{ID: PartUnaccounted, Bytes: f.left, Reclaim: ReclaimUnknown, Known: true}
}

// summarize computes the totals and the headroom.
func summarize(a *Attribution, s *Snapshot) {
	var recl uint64
	for i := range a.Parts {
		p := &a.Parts[i]
		switch {
		case p.Reclaim == Reclaimable:
			recl += p.Bytes
		case p.Reclaim == RuntimeReleasable:
			a.RuntimeReleasableBytes += p.Bytes
		}
		if p.ID <= PartGoRuntimeOther {
			a.GoBytes += p.Bytes
		}
	}
	if a.NeedsWritebackBytes > recl {
		a.NeedsWritebackBytes = recl
	}
	a.ReclaimableBytes = recl - a.NeedsWritebackBytes
	a.UnreclaimableBytes = a.Total - recl
	a.NonGoBytes = a.Parts[PartNonGoAnon].Bytes

	if !s.Cgroup.Available {
		return
	}
	st := &s.Cgroup.Stats
	h := &a.Headroom
	h.Limit, h.High = cgroupstat.Unlimited, cgroupstat.Unlimited
	if limited(st.Limit) {
		h.HasLimit, h.Limit = true, st.Limit
		h.ToLimit = diff(st.Limit, st.Usage)
		h.AvailableBeforeOOM = diff(st.Limit, a.UnreclaimableBytes)
		if st.Limit > 0 {
			h.UsagePercent, h.HasUsagePercent = 100*float64(st.Usage)/float64(st.Limit), true
			if st.HasWorkingSet() {
				h.WorkingSetPercent, h.HasWorkingSetPercent = 100*float64(st.WorkingSet)/float64(st.Limit), true
			}
		}
	}
	if limited(st.High) {
		h.HasHigh, h.High = true, st.High
		h.ToHigh = diff(st.High, st.Usage)
	}
}
