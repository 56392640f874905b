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
//
// Files read (D = the cgroup's directory, A = D and each visible ancestor up
// to the mount point):
//
//	         v2                                    v1
//	cheap    memory.current, min memory.max(A),    memory.usage_in_bytes, min limit_in_bytes(A)
//	         min memory.high(A), memory.peak,      (and the last hierarchical_memory_limit),
//	         memory.swap.current, min swap.max(A)  max_usage_in_bytes, memsw.usage/limit
//	full     memory.stat, memory.events(.local),   memory.stat, failcnt, oom_control,
//	         memory.pressure                       kmem.usage_in_bytes, cgroup2 memory.pressure
//
// ReadMembers, a cold path for people, also reads D's cgroup.procs and
// /proc/<pid>/comm of a few of its processes.
//
// PSI falls back to /proc/pressure/memory.
//
// Usage and the limits are what a reading needs: a failure of one of those
// files fails the read, naming the file. Every other part is optional and
// degrades alone (see Part and Stats.Errs): a file that is missing where
// the kernel may lack it (memory.peak, swap accounting, memory.events.local,
// PSI) is reported absent (HasPeak, HasSwap, HasLocal, PSINone), never as
// zeros; a file that fails to open, read or parse, or a memory.stat without
// inactive_file, makes only the fields that need it unknown, with the
// reason in Stats.Errs.
//
// A number no kernel can print is an error, not a reading: a usage or
// counter file saying "max" or a value at or above 2^63 (only limit files
// may say "max"), a key repeated in a key-value file. Every file is opened
// non-blocking and must be a regular file (a FIFO or a device in its place
// is refused), reads are bounded (1 MiB, 8 MiB for mountinfo), and under
// WithRoot no path leaves the root (see WithRoot).
//
// A process whose memory no cgroup below the root accounts for (the v2 root
// cgroup, or a v2 hierarchy without the memory controller) has no memory
// limit: Discover and Open report it as ErrNoLimit, with the reason.
//
// Discovery, Open and the Reader exist on Linux only (elsewhere they return
// ErrUnsupported); the exported parsers are pure and portable.
package cgroupstat

import (
	"errors"
	"fmt"
	"math"
	"strings"

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
	// ErrNoLimit: nothing below the root cgroup accounts for the process's
	// memory, so no memory limit applies to it: it is in the root cgroup
	// (cgroup v2 has no memory.current or memory.max there), or the memory
	// controller is not enabled on its cgroup2 hierarchy (cgroup.controllers
	// lacks "memory": booted with cgroup_disable=memory, or the controller
	// is bound to a v1 hierarchy that is not mounted). It wraps ErrNoCgroup,
	// so errors.Is(err, ErrNoCgroup) holds too.
	ErrNoLimit error = noLimitError{}
)

type noLimitError struct{}

func (noLimitError) Error() string { return "cgroupstat: no memory limit applies" }
func (noLimitError) Unwrap() error { return ErrNoCgroup }

// NotRegularError reports a path that is not a regular file where a kernel
// file was expected (a FIFO, a device, a socket or a directory): it is
// refused before any read, so that it can neither block nor feed an endless
// stream. errors.Is(err, ErrNotRegular) matches it.
type NotRegularError = kfile.NotRegularError

// ErrNotRegular is matched by every *NotRegularError.
var ErrNotRegular = kfile.ErrNotRegular

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

// Error describes the failure: the file, the reason and the cause.
func (e *DiscoveryError) Error() string {
	return "cgroupstat: " + e.File + ": " + e.Reason + ": " + strings.TrimPrefix(e.Err.Error(), "cgroupstat: ")
}

// Unwrap returns the sentinel or I/O error, for errors.Is and errors.As.
func (e *DiscoveryError) Unwrap() error { return e.Err }

// Version is the cgroup version serving the memory controller.
type Version int

// Cgroup versions.
const (
	VersionUnknown Version = 0
	V1             Version = 1
	V2             Version = 2
)

// String returns "v1", "v2" or "unknown".
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
	// memory files of the cgroup. On v2, when the memory controller is not
	// enabled for the cgroup itself (no memory.current in it), the kernel
	// charges its memory to the nearest ancestor that has it, and Dir is that
	// ancestor.
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
	//
	// The rule: hidden unless the mount shows the whole hierarchy, that is
	// unless MountRoot is "/" AND the mount point directory is the
	// hierarchy's real root. The second part is checked on the kernel's own
	// terms, not guessed from names: v1 creates cgroup.sane_behavior and
	// release_agent only in a hierarchy root, v2 creates cgroup.type and
	// cgroup.events in every cgroup except the root. So a path "/" inside a
	// cgroup namespace (mount root "/" in the namespace, but the mount point is
	// the container's cgroup) is hidden, while "/" on the host root is not.
	// On v1 the kernel's hierarchical_memory_limit (memory.stat) still
	// covers the invisible ancestors; see Stats.AncestorsHidden.
	AncestorsHidden bool
	// ReadOnly is true when the cgroupfs mount is read-only ("ro" in the
	// mount's or the superblock's options), as in most containers: reading
	// works, but PSI triggers, cgroup.event_control registrations and limit
	// changes are impossible; poll instead.
	ReadOnly bool
	// UnifiedDir is the process's own cgroup2 directory, where its
	// memory.pressure (PSI) lives: on v2 the cgroup's directory as listed in
	// /proc/self/cgroup (which differs from Dir only when the memory
	// controller is not enabled there, see Dir), in a hybrid layout the
	// directory in the cgroup2 mount beside the v1 memory hierarchy. Empty
	// when no cgroup2 hierarchy is visible (pure v1) or its path cannot be
	// translated.
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
	PSIHost                    // /proc/pressure/memory: host-wide (no cgroup2 directory, or it is the root cgroup)
)

// String returns "cgroup", "host" or "none".
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

// Events are the cgroup's memory event counters. HasEvents reports whether
// the main counter file (v2 memory.events, v1 memory.oom_control) was read;
// when it was not, the counters are absent, not zero. On v2, the hierarchical
// counters are in EventCounts and the cgroup-only ones in Local. On v1, OOMKill
// comes from memory.oom_control (kernel 4.13+), UnderOOM and OOMKillDisable
// too, and Failcnt from memory.failcnt (which also counts harmless reclaim of
// page cache at the limit: it is not an OOM sign), whether or not
// memory.oom_control could be read (HasFailcnt).
type Events struct {
	EventCounts
	Local          EventCounts
	HasLocal       bool
	HasEvents      bool
	Failcnt        uint64
	HasFailcnt     bool
	UnderOOM       bool
	OOMKillDisable bool
}

// Part is an optional part of a Stats: a group of fields that come from one
// kernel file (or, for the working set, from one memory.stat key) and that
// are unknown together when it fails. Stats.Errs is indexed by Part.
type Part uint8

// The optional parts.
const (
	// PartWorkingSet: WorkingSet, which needs inactive_file from
	// memory.stat (Stats.HasWorkingSet).
	PartWorkingSet Part = iota
	// PartPeak: Peak, from memory.peak or memory.max_usage_in_bytes (HasPeak).
	PartPeak
	// PartSwap: SwapUsage and SwapLimit, from memory.swap.current and
	// memory.swap.max, or memory.memsw.* (HasSwap).
	PartSwap
	// PartStat: Stat, from memory.stat (Stat.Present).
	PartStat
	// PartKernel: Stat.Kernel on v1, from memory.kmem.usage_in_bytes.
	PartKernel
	// PartEvents: the counters of v2 memory.events, or v1
	// memory.oom_control's OOMKill, UnderOOM and OOMKillDisable (HasEvents).
	PartEvents
	// PartEventsLocal: Events.Local, from v2 memory.events.local (HasLocal).
	PartEventsLocal
	// PartFailcnt: Events.Failcnt, from v1 memory.failcnt (HasFailcnt).
	PartFailcnt
	// PartPSI: PSI, from the pressure file (PSI.Source).
	PartPSI
	// NumParts is the number of parts.
	NumParts
)

var partNames = [NumParts]string{
	PartWorkingSet:  "working_set",
	PartPeak:        "peak",
	PartSwap:        "swap",
	PartStat:        "stat",
	PartKernel:      "kernel",
	PartEvents:      "events",
	PartEventsLocal: "events_local",
	PartFailcnt:     "failcnt",
	PartPSI:         "psi",
}

// String returns the part's snake_case name ("working_set", "stat",
// "events_local"...).
func (p Part) String() string {
	if p < NumParts {
		return partNames[p]
	}
	return "invalid"
}

// Full reports whether the part is read by ReadFull only (memory.stat,
// events, PSI), not by ReadCheap.
func (p Part) Full() bool { return p >= PartStat && p < NumParts }

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
	// Kernel is v2 "kernel" (5.18+): every kernel allocation charged to
	// the cgroup, the analogue of v1's kmem counter (kernel stacks, page
	// tables, percpu, vmalloc, slab and other accounted allocations; not
	// sock). On older v2 kernels it is the sum KernelStack + PageTables +
	// Percpu + SlabReclaimable + SlabUnreclaimable, a lower bound, and
	// StatKernelFromParts is set. On v1 it is memory.kmem.usage_in_bytes
	// when that file exists.
	Kernel                  uint64
	KernelStack, PageTables uint64
	Percpu, Sock            uint64
	SlabReclaimable         uint64
	SlabUnreclaimable       uint64
	Swap                    uint64 // v1 total_swap; v2 uses Stats.SwapUsage
	AnonTHP                 uint64
	// HierarchicalLimit and HierarchicalMemswLimit are v1's
	// hierarchical_memory_limit and hierarchical_memsw_limit: raw kernel
	// numbers, the minimum over the cgroup and all its ancestors, visible or
	// not.
	HierarchicalLimit      uint64
	HierarchicalMemswLimit uint64
	Present                StatFields
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
	StatKernelFromParts // Kernel was summed from its parts (no "kernel" key)
	StatHierarchicalLimit
	StatHierarchicalMemswLimit
)

// Stats is one reading of the memory cgroup. A Reader fills it in place.
type Stats struct {
	Version Version
	Path    string // the cgroup path (Location.Path)

	// Usage is memory.current (v2) or memory.usage_in_bytes (v1).
	Usage uint64
	// WorkingSet is max(0, Usage - InactiveFile): what cAdvisor, kubectl top
	// and kubelet eviction use. ReadCheap computes it with the InactiveFile of
	// the last full read that had one. It is unknown (0, HasWorkingSet
	// false) when no full read has found inactive_file in memory.stat:
	// Errs[PartWorkingSet] says why.
	WorkingSet uint64

	// Limit is the effective hard limit (OOM point): the minimum of the own
	// and every visible ancestor's memory.max (v2), or of the own and visible
	// ancestors' limit_in_bytes and the last hierarchical_memory_limit seen
	// (v1; an ancestor with memory.use_hierarchy 0 does not count). Unlimited
	// when none applies, including values at or above 2^62 or above the
	// host's MemTotal; LimitRaw keeps the kernel's number in every case
	// (Unlimited for a v2 "max").
	Limit    uint64
	LimitRaw uint64
	// LimitDir is the cgroup directory whose file set the effective limit
	// ("" when unlimited or when it came from v1 hierarchical_memory_limit).
	LimitDir string
	// High is the effective memory.high (v2 throttling point; Unlimited when
	// unset or on v1), and HighRaw the kernel's number.
	High    uint64
	HighRaw uint64
	// AncestorsHidden reports that limits set on invisible ancestors may be
	// missing from Limit and High (Location.AncestorsHidden). It is false on
	// v1 once a full read has seen hierarchical_memory_limit, which the
	// kernel computes over all ancestors, visible or not.
	AncestorsHidden bool

	// Peak is memory.peak (v2, 5.19+) or memory.max_usage_in_bytes (v1);
	// HasPeak reports whether the kernel provides it.
	Peak    uint64
	HasPeak bool
	// SwapUsage and SwapLimit come from memory.swap.current and the minimum
	// memory.swap.max over the cgroup and its visible ancestors (v2), or from
	// the memsw (memory+swap) files minus the memory ones (v1: SwapUsage =
	// memsw.usage - usage, clamped at 0 as the two are read at slightly
	// different moments; SwapLimit = memsw.limit, or
	// hierarchical_memsw_limit when lower, minus LimitRaw). SwapLimit is
	// Unlimited when no swap limit applies. HasSwap reports whether swap
	// accounting is available (false: the files are missing, the fields 0).
	SwapUsage uint64
	SwapLimit uint64
	HasSwap   bool

	// Filled by ReadFull only; ReadCheap leaves them as they were (stale)
	// and sets Full to false.
	Stat   MemStat
	Events Events
	PSI    PSI
	// Full is true when Stat, Events and PSI come from a full read.
	Full bool

	// Errs holds, for each optional part, why it is unknown in this
	// reading: the file could not be opened (it is not a regular file, for
	// example), read (a removed cgroup answers ENODEV, PSI turned off for
	// the cgroup EOPNOTSUPP) or parsed, or an expected file or key is
	// missing. A part with an error reads as absent: its Has* flag false, its
	// fields zero (PSI.Source PSINone). nil when the part was read, or is
	// absent because the kernel does not provide it. The full-read parts'
	// errors (Part.Full) are set by ReadFull and left alone by ReadCheap,
	// like the fields they explain.
	Errs [NumParts]error
}

// HasLimit reports whether a hard limit applies.
func (s *Stats) HasLimit() bool { return s.Limit != Unlimited }

// Member is a process in a cgroup (see ReadMembers).
type Member struct {
	// PID is the process id in the pid namespace of the /proc under the
	// root.
	PID int
	// Comm is the process's command name from /proc/<pid>/comm (at most 15
	// bytes, set by the kernel from the executable's name or by the process
	// itself); empty when it could not be read, for example because the
	// process exited after cgroup.procs was read.
	Comm string
}

// Members lists the processes of a cgroup: who else is charged to it. It is
// a cold-path reading (see ReadMembers), never part of a Stats.
type Members struct {
	// Count is the number of processes in the cgroup's cgroup.procs, this
	// process included when it is one of them. Processes of its descendant
	// cgroups are not counted, although their memory is in the cgroup's
	// usage.
	Count int
	// SelfPID and ParentPID are this process's pid and its parent's, as
	// /proc/self/status under the root gives them (the pid namespace of that
	// /proc); 0 when it could not be read.
	SelfPID, ParentPID int
	// Self is true when SelfPID is one of the Count processes.
	Self bool
	// Others are processes of cgroup.procs other than this one, as many as
	// ReadMembers was asked for: the parent first when it is in the cgroup
	// (a `go run`, a shell), then the others in the file's order.
	Others []Member
}

// HasWorkingSet reports whether WorkingSet is known: it is unless
// Errs[PartWorkingSet] says why not (so a Stats built by hand has one).
func (s *Stats) HasWorkingSet() bool { return s.Errs[PartWorkingSet] == nil }

// Degraded returns the errors of the optional parts that could not be read
// (Errs), joined, each prefixed with the part's name; nil when every part
// was read or is absent. It allocates: for logs and tools, not hot paths.
func (s *Stats) Degraded() error {
	var errs []error
	for p, err := range s.Errs {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Part(p), err))
		}
	}
	return errors.Join(errs...)
}
