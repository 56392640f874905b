// Package cgroupstat reads the memory cgroup of the current process: the
// kernel's view, the one the OOM killer acts on.
//
// It discovers the cgroup per controller from /proc/self/cgroup and
// /proc/self/mountinfo (cgroup v1, v2 and the hybrid layout), translates the
// path against the mount's root, and refuses paths that lie outside the
// visible mount rather than read a wrong cgroup. A Reader opens the files once
// and re-reads them with pread into buffers it owns: ReadCheap (usage and
// limits) and ReadFull (plus memory.stat, events and PSI) fill a caller-owned
// *Stats without allocating.
//
// Every path is resolved under a root directory ("/" in production), so the
// full discovery runs against fixture trees copied from real kernels.
package cgroupstat

import (
	"errors"
	"math"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// Sentinel errors, matched with errors.Is. Discovery failures are returned as
// *DiscoveryError wrapping one of these.
var (
	// ErrUnsupported: the operating system has no cgroups.
	ErrUnsupported = errors.New("cgroupstat: unsupported on this operating system (needs Linux cgroups)")
	// ErrNoCgroup: /proc/self/cgroup does not place the process in a memory cgroup.
	ErrNoCgroup = errors.New("cgroupstat: process is not in a memory cgroup")
	// ErrNotMounted: the memory controller's hierarchy is not mounted (or not visible).
	ErrNotMounted = errors.New("cgroupstat: memory cgroup hierarchy is not mounted")
	// ErrOutsideMount: the cgroup path lies outside the visible mount (for
	// example "/../sibling" from another cgroup namespace); reading would
	// return a wrong cgroup's numbers.
	ErrOutsideMount = errors.New("cgroupstat: cgroup path lies outside the visible cgroupfs mount")
)

// ParseError reports malformed content in a kernel file: the file, the line
// and the reason. Use errors.As to inspect it.
type ParseError = kfile.ParseError

// DiscoveryError explains why the process's memory cgroup could not be
// located. Err is one of the sentinel errors above (or an I/O error).
type DiscoveryError struct {
	File   string // the file that led to the conclusion
	Reason string
	Err    error
}

func (e *DiscoveryError) Error() string {
	return "cgroupstat: " + e.File + ": " + e.Reason + ": " + e.Err.Error()
}

func (e *DiscoveryError) Unwrap() error { return e.Err }

// Version is the cgroup version serving the memory controller.
type Version int

// Cgroup versions.
const (
	VersionUnknown Version = 0
	V1             Version = 1
	V2             Version = 2
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return "unknown"
}

// Unlimited is the value of a limit field (Limit, High, SwapLimit) when no
// limit applies.
const Unlimited uint64 = math.MaxUint64

// Location is where the process's memory cgroup lives.
type Location struct {
	Version Version
	// Hybrid is true when a cgroup2 hierarchy is mounted beside v1
	// controllers (memory itself may be served by either).
	Hybrid bool
	// Path is the cgroup path as printed in /proc/self/cgroup (without any
	// " (deleted)" suffix).
	Path string
	// Dir is the directory on disk (under the reader's root) holding the
	// memory files of the cgroup.
	Dir string
	// MountPoint is the directory where the hierarchy is mounted (under the
	// root) and MountRoot the hierarchy path that is its root (field 4 of
	// mountinfo). Ancestors above MountRoot are invisible.
	MountPoint string
	MountRoot  string
	// Deleted is true when the kernel marked the path " (deleted)".
	Deleted bool
	// AncestorsHidden is true when the cgroup's ancestors are not all visible
	// (a cgroup namespace or a container mount whose root is not the
	// hierarchy root): limits set above are not seen (v2), and a reported
	// limit is known only for what is visible.
	AncestorsHidden bool
	// UnifiedDir is the cgroup2 directory of the process in a hybrid layout
	// (where memory.pressure may live); empty otherwise.
	UnifiedDir string
}

// PSILine is one line of a pressure file: averages in percent and the total
// stall time in microseconds.
type PSILine struct {
	Avg10, Avg60, Avg300 float64
	Total                uint64
}

// PSISource says where pressure numbers came from.
type PSISource int

// PSI sources.
const (
	PSINone   PSISource = iota // no pressure file available
	PSICgroup                  // the cgroup's memory.pressure
	PSIHost                    // /proc/pressure/memory (host-wide fallback)
)

func (s PSISource) String() string {
	switch s {
	case PSICgroup:
		return "cgroup"
	case PSIHost:
		return "host"
	}
	return "none"
}

// PSI is memory pressure stall information.
type PSI struct {
	Source PSISource
	Some   PSILine
	Full   PSILine
}

// EventCounts are the counters of v2 memory.events (or memory.events.local).
type EventCounts struct {
	Low, High, Max, OOM, OOMKill, OOMGroupKill uint64
}

// Events are the cgroup's memory event counters. On v2, the hierarchical
// counters are in EventCounts and the cgroup-only ones in Local. On v1, OOMKill
// comes from memory.oom_control (kernel 4.13+), UnderOOM and OOMKillDisable
// too, and Failcnt from memory.failcnt (which also counts harmless reclaim of
// page cache at the limit: it is not an OOM sign).
type Events struct {
	EventCounts
	Local          EventCounts
	HasLocal       bool
	Failcnt        uint64
	UnderOOM       bool
	OOMKillDisable bool
}

// MemStat is the memory.stat breakdown in bytes, mapped to v2 names. On v1 the
// hierarchical total_* fields are used. Fields a kernel does not report stay
// 0 and are absent from Present.
type MemStat struct {
	Anon, File               uint64
	ActiveAnon, InactiveAnon uint64
	ActiveFile, InactiveFile uint64
	Unevictable              uint64
	Shmem                    uint64
	FileMapped               uint64
	FileDirty, FileWriteback uint64
	Kernel                   uint64 // v2 "kernel" (5.18+), else the sum of the parts below; v1 memory.kmem.usage_in_bytes when present
	KernelStack, PageTables  uint64
	Percpu, Sock             uint64
	SlabReclaimable          uint64
	SlabUnreclaimable        uint64
	Swap                     uint64 // v1 total_swap; v2 uses Stats.SwapUsage
	AnonTHP                  uint64
	Present                  StatFields
}

// StatFields is a bit set of the MemStat fields found.
type StatFields uint32

// Bits of StatFields.
const (
	StatAnon StatFields = 1 << iota
	StatFile
	StatActiveAnon
	StatInactiveAnon
	StatActiveFile
	StatInactiveFile
	StatUnevictable
	StatShmem
	StatFileMapped
	StatFileDirty
	StatFileWriteback
	StatKernel
	StatKernelStack
	StatPageTables
	StatPercpu
	StatSock
	StatSlabReclaimable
	StatSlabUnreclaimable
	StatSwap
	StatAnonTHP
)

// Stats is one reading of the memory cgroup. A Reader fills it in place.
type Stats struct {
	Version Version
	Path    string // the cgroup path (Location.Path)

	// Usage is memory.current (v2) or memory.usage_in_bytes (v1).
	Usage uint64
	// WorkingSet is max(0, Usage - InactiveFile): what cAdvisor, kubectl top
	// and kubelet eviction use. ReadCheap computes it with the InactiveFile of
	// the last full read.
	WorkingSet uint64

	// Limit is the effective hard limit (OOM point): the minimum of the own
	// and every visible ancestor's memory.max (v2), or of limit_in_bytes and
	// hierarchical_memory_limit (v1). Unlimited when none applies, including
	// values at or above 2^62 or above the host's MemTotal; LimitRaw keeps the
	// kernel's number in every case.
	Limit    uint64
	LimitRaw uint64
	// LimitDir is the cgroup directory whose file set the effective limit
	// ("" when unlimited or when it came from v1 hierarchical_memory_limit).
	LimitDir string
	// High is the effective memory.high (v2 throttling point; Unlimited when
	// unset or on v1), and HighRaw the kernel's number.
	High    uint64
	HighRaw uint64
	// AncestorsHidden: see Location.AncestorsHidden.
	AncestorsHidden bool

	// Peak is memory.peak (v2, 5.19+) or memory.max_usage_in_bytes (v1);
	// HasPeak reports whether the kernel provides it.
	Peak    uint64
	HasPeak bool
	// SwapUsage and SwapLimit come from memory.swap.current/max (v2) or the
	// memsw files minus the memory ones (v1); HasSwap reports whether swap
	// accounting is available.
	SwapUsage uint64
	SwapLimit uint64
	HasSwap   bool

	// Filled by ReadFull only.
	Stat   MemStat
	Events Events
	PSI    PSI
	// Full is true when Stat, Events and PSI come from a full read.
	Full bool
}

// HasLimit reports whether a hard limit applies.
func (s *Stats) HasLimit() bool { return s.Limit != Unlimited }
