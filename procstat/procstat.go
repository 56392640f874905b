// Package procstat reads the process view of memory from /proc: resident set
// size from /proc/self/statm (the hot path: one pread into a reused buffer,
// no allocation), the RSS split and peak from /proc/self/status, the
// smaps_rollup totals, and the host's MemTotal/MemAvailable from /proc/meminfo.
//
// Every path is resolved under a root directory ("/" in production), so the
// same code runs against fixture trees copied from real kernels.
//
// procstat knows nothing about Go's runtime or cgroups; see package cgroupstat
// for the kernel's cgroup view and package memwatch for the joined view.
package procstat

import (
	"errors"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// ErrUnsupported is returned on operating systems without /proc.
var ErrUnsupported = errors.New("procstat: unsupported on this operating system (needs Linux /proc)")

// ErrClosed is returned by the methods of a Reader after Close.
var ErrClosed = errors.New("procstat: reader is closed")

// ParseError reports malformed content in a /proc file: the file, the line
// and the reason. Use errors.As to inspect it.
type ParseError = kfile.ParseError

// NotRegularError reports a path that is not a regular file where a /proc
// file was expected (a FIFO, a device such as /dev/zero, a socket or a
// directory): it is refused before any read, so that it can neither block
// nor feed an endless stream. errors.Is(err, ErrNotRegular) matches it.
type NotRegularError = kfile.NotRegularError

// ErrNotRegular is matched by every *NotRegularError.
var ErrNotRegular = kfile.ErrNotRegular

// Statm is /proc/self/statm converted to bytes (the kernel counts pages).
type Statm struct {
	Size     uint64 // VmSize: total virtual memory
	Resident uint64 // RSS: resident pages (anon + file + shmem)
	Shared   uint64 // resident file-backed and shmem pages
	Text     uint64 // program code
	Data     uint64 // data + stack
}

// Status holds the memory fields of /proc/self/status, in bytes (Threads is a
// count). A field the kernel does not print stays 0 and its bit in Present is
// clear: RssAnon, RssFile and RssShmem appeared in Linux 4.5, and kernel
// threads print no Vm* lines at all.
type Status struct {
	VmRSS    uint64
	RssAnon  uint64
	RssFile  uint64
	RssShmem uint64
	VmHWM    uint64 // peak RSS (resettable via ResetPeakRSS)
	VmSwap   uint64
	VmPeak   uint64
	VmSize   uint64
	Threads  uint64
	Present  StatusFields
}

// StatusFields is a bit set of the Status fields found in the file.
type StatusFields uint16

// Bits of StatusFields.
const (
	HasVmRSS StatusFields = 1 << iota
	HasRssAnon
	HasRssFile
	HasRssShmem
	HasVmHWM
	HasVmSwap
	HasVmPeak
	HasVmSize
	HasThreads
)

// SmapsRollup holds the totals of /proc/self/smaps_rollup (Linux 4.14+), in
// bytes. A field the kernel does not print stays 0 and its bit in Present is
// clear: Pss_Anon, Pss_File, Pss_Shmem and later Pss_Dirty were added after
// the file itself, so older kernels lack them. Rss is always present.
type SmapsRollup struct {
	Rss, Pss, PssDirty, PssAnon, PssFile, PssShmem uint64
	SharedClean, SharedDirty                       uint64
	PrivateClean, PrivateDirty                     uint64
	Referenced, Anonymous, LazyFree                uint64
	AnonHugePages, ShmemPmdMapped, FilePmdMapped   uint64
	Swap, SwapPss, Locked                          uint64
	Present                                        SmapsFields
}

// SmapsFields is a bit set of the SmapsRollup fields found in the file.
type SmapsFields uint32

// Bits of SmapsFields, one per SmapsRollup field, named after the kernel's
// keys.
const (
	HasRss SmapsFields = 1 << iota
	HasPss
	HasPssDirty
	HasPssAnon
	HasPssFile
	HasPssShmem
	HasSharedClean
	HasSharedDirty
	HasPrivateClean
	HasPrivateDirty
	HasReferenced
	HasAnonymous
	HasLazyFree
	HasAnonHugePages
	HasShmemPmdMapped
	HasFilePmdMapped
	HasSwap
	HasSwapPss
	HasLocked
)

// Meminfo holds the host memory totals of /proc/meminfo used as the
// no-limit fallback, in bytes. MemTotal is always present (ParseMeminfo
// fails without it); for the others check Present (MemAvailable appeared in
// Linux 3.14).
type Meminfo struct {
	MemTotal     uint64
	MemFree      uint64
	MemAvailable uint64
	Buffers      uint64
	Cached       uint64
	SwapTotal    uint64
	SwapFree     uint64
	Present      MeminfoFields
}

// MeminfoFields is a bit set of the Meminfo fields found in the file.
type MeminfoFields uint8

// Bits of MeminfoFields.
const (
	HasMemTotal MeminfoFields = 1 << iota
	HasMemFree
	HasMemAvailable
	HasBuffers
	HasCached
	HasSwapTotal
	HasSwapFree
)
