package cgroupstat

import (
	"errors"
	"fmt"

	"github.com/go-memwatch/memwatch/internal/kfile"
	"github.com/go-memwatch/memwatch/internal/readset"
)

type options struct {
	root     string
	memTotal uint64
}

// Option configures Discover and Open.
type Option func(*options)

// WithRoot resolves every path (/proc/..., /sys/fs/cgroup/...) under dir, like a
// chroot. The default is "/".
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithMemTotal sets the host memory size used to treat too-large limits as
// unlimited, instead of reading MemTotal from <root>/proc/meminfo.
func WithMemTotal(bytes uint64) Option { return func(o *options) { o.memTotal = bytes } }

// Files are the absolute paths of the kernel files a Reader uses, for a
// watcher that registers inotify watches, v1 eventfd notifications or PSI
// triggers on them. An empty string means the file is not available.
type Files struct {
	// Usage is memory.current (v2) or memory.usage_in_bytes (v1): the file
	// a v1 usage threshold registers on.
	Usage string
	// Limit is the cgroup's own memory.max (v2) or memory.limit_in_bytes (v1).
	Limit string
	// Stat is memory.stat.
	Stat string
	// Events is memory.events (v2; inotify IN_MODIFY and POLLPRI on change)
	// or memory.oom_control (v1; the file a v1 OOM notification registers
	// on).
	Events string
	// EventsLocal is memory.events.local (v2, kernel 5.2+).
	EventsLocal string
	// Pressure is the PSI file read by ReadFull and PressureSource where it
	// lives: the cgroup's memory.pressure (v2 directory, or the cgroup2
	// directory in a hybrid layout) or the host-wide /proc/pressure/memory.
	// Both accept triggers ("some <stall µs> <window µs>") when writable.
	Pressure       string
	PressureSource PSISource
	// EventControl is v1 cgroup.event_control (write "<eventfd> <fd> [args]"
	// to register); "" on v2.
	EventControl string
}

// chainFile is a limit file of the cgroup or one of its visible ancestors.
type chainFile struct {
	f   *kfile.File
	dir string
}

// Reader reads one memory cgroup repeatedly. It is not safe for concurrent use.
//
// Open opens every file once; ReadCheap and ReadFull re-read them with pread
// at offset 0 into buffers the Reader owns and do not allocate. A file that
// existed at Open and then fails to read (the cgroup was removed: the kernel
// returns ENODEV) makes the read fail with an error naming that file; the
// Stats are then incomplete and must not be used.
type Reader struct {
	loc      Location
	memTotal uint64
	files    Files

	usage     *kfile.File
	limits    []chainFile // own first, then each visible ancestor up to the mount point
	highs     []chainFile // v2 memory.high, same order
	swapMaxes []chainFile // v2 memory.swap.max, same order
	peak      *kfile.File // v2 memory.peak, v1 memory.max_usage_in_bytes
	swapCur   *kfile.File // v2 memory.swap.current
	memswUse  *kfile.File // v1 memory.memsw.usage_in_bytes
	memswLim  *kfile.File // v1 memory.memsw.limit_in_bytes
	stat      *kfile.File
	events    *kfile.File // v2 memory.events
	eventsLoc *kfile.File // v2 memory.events.local
	failcnt   *kfile.File // v1 memory.failcnt
	oomCtl    *kfile.File // v1 memory.oom_control
	kmem      *kfile.File // v1 memory.kmem.usage_in_bytes
	psi       *kfile.File
	psiSource PSISource

	// State carried from the last full read.
	inactiveFile uint64
	hierLimit    uint64 // v1 hierarchical_memory_limit, raw
	hierMemsw    uint64 // v1 hierarchical_memsw_limit, raw
	hierSeen     bool
	closed       bool
}

// errClosed is returned by reads after Close.
var errClosed = errors.New("cgroupstat: reader is closed")

// Location returns where the cgroup was found.
func (r *Reader) Location() Location { return r.loc }

// MemTotal returns the host memory size in bytes used for normalisation.
func (r *Reader) MemTotal() uint64 { return r.memTotal }

// Files returns the paths of the kernel files in use.
func (r *Reader) Files() Files { return r.files }

// UsageFd returns the descriptor of the open usage file (memory.current or
// memory.usage_in_bytes), as needed by a v1 cgroup.event_control threshold
// registration ("<eventfd> <fd> <bytes>"). It stays owned by the Reader:
// valid until Close, and must not be closed by the caller. It returns -1
// after Close.
func (r *Reader) UsageFd() int {
	if r.closed || r.usage == nil {
		return -1
	}
	return int(r.usage.Fd())
}

// readNum reads a one-number file; "max" (v2) reads as Unlimited.
func readNum(f *kfile.File) (uint64, error) {
	b, err := f.Read()
	if err != nil {
		return 0, err
	}
	b = kfile.TrimSpace(b)
	if kfile.Equal(b, "max") {
		return Unlimited, nil
	}
	v, ok := kfile.ParseUint(b)
	if !ok {
		return 0, &ParseError{File: f.Path(), Line: 1, Reason: "want a number or max, got " + kfile.Quote(b)}
	}
	return v, nil
}

// minChain returns the smallest value over the chain and the directory that
// set it (the nearest one on ties).
func minChain(c []chainFile) (uint64, string, error) {
	v, dir := Unlimited, ""
	for i := range c {
		x, err := readNum(c[i].f)
		if err != nil {
			return 0, "", err
		}
		if x < v {
			v, dir = x, c[i].dir
		}
	}
	return v, dir, nil
}

// noLimitFloor: a v1 limit at or above 2^62 is "none"; the kernel's own "no
// limit" is 2^63 - PAGE_SIZE (PAGE_COUNTER_MAX pages).
const noLimitFloor = 1 << 62

// normalize maps "no limit" encodings, and limits the host cannot reach
// (above MemTotal), to Unlimited.
func (r *Reader) normalize(raw uint64) uint64 {
	if raw >= noLimitFloor || (r.memTotal > 0 && raw > r.memTotal) {
		return Unlimited
	}
	return raw
}

func subSat(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// The benchmarks of package memwatch time preading these files alone (see
// package readset).
func init() {
	readset.Cgroup = func(r any, full bool, dst []*kfile.File) []*kfile.File {
		return r.(*Reader).appendFiles(dst, full)
	}
}

// appendFiles appends the files ReadCheap (full false) or ReadFull (full
// true) re-reads, in the order they read them. Keep it beside the two.
func (r *Reader) appendFiles(dst []*kfile.File, full bool) []*kfile.File {
	if r.closed {
		return dst
	}
	if full {
		dst = append(dst, r.stat)
		if r.loc.Version == V1 && r.kmem != nil {
			dst = append(dst, r.kmem)
		}
	}
	dst = append(dst, r.usage)
	for _, c := range [...][]chainFile{r.limits, r.highs} {
		for i := range c {
			dst = append(dst, c[i].f)
		}
	}
	if r.peak != nil {
		dst = append(dst, r.peak)
	}
	switch {
	case r.swapCur != nil:
		dst = append(dst, r.swapCur)
		for i := range r.swapMaxes {
			dst = append(dst, r.swapMaxes[i].f)
		}
	case r.memswUse != nil && r.memswLim != nil:
		dst = append(dst, r.memswUse, r.memswLim)
	}
	if !full {
		return dst
	}
	if r.loc.Version == V2 {
		for _, f := range [...]*kfile.File{r.events, r.eventsLoc} {
			if f != nil {
				dst = append(dst, f)
			}
		}
	} else {
		dst = append(dst, r.failcnt)
		if r.oomCtl != nil {
			dst = append(dst, r.oomCtl)
		}
	}
	if r.psi != nil {
		dst = append(dst, r.psi)
	}
	return dst
}

// ReadCheap fills usage, limits, high, peak, swap and the working set
// (with the InactiveFile of the last full read, Open's included). It does not
// allocate. Stat, Events and PSI are left as they were and Full is set to
// false.
func (r *Reader) ReadCheap(s *Stats) error {
	if r.closed {
		return errClosed
	}
	s.Version, s.Path, s.Full = r.loc.Version, r.loc.Path, false
	usage, err := readNum(r.usage)
	if err != nil {
		return err
	}
	s.Usage = usage
	s.WorkingSet = subSat(usage, r.inactiveFile)

	raw, dir, err := r.limitRaw()
	if err != nil {
		return err
	}
	s.LimitRaw, s.Limit = raw, r.normalize(raw)
	if s.Limit == Unlimited {
		dir = ""
	}
	s.LimitDir = dir
	s.AncestorsHidden = r.loc.AncestorsHidden && !(r.loc.Version == V1 && r.hierSeen)

	s.High, s.HighRaw = Unlimited, Unlimited
	if len(r.highs) > 0 {
		h, _, err := minChain(r.highs)
		if err != nil {
			return err
		}
		s.HighRaw, s.High = h, r.normalize(h)
	}

	s.Peak, s.HasPeak = 0, r.peak != nil
	if r.peak != nil {
		if s.Peak, err = readNum(r.peak); err != nil {
			return err
		}
	}

	s.SwapUsage, s.SwapLimit, s.HasSwap = 0, 0, false
	switch {
	case r.swapCur != nil: // v2
		if s.SwapUsage, err = readNum(r.swapCur); err != nil {
			return err
		}
		lim, _, err := minChain(r.swapMaxes)
		if err != nil {
			return err
		}
		s.SwapLimit, s.HasSwap = lim, true
		if lim >= noLimitFloor {
			s.SwapLimit = Unlimited
		}
	case r.memswUse != nil && r.memswLim != nil: // v1: memsw = memory + swap
		msu, err := readNum(r.memswUse)
		if err != nil {
			return err
		}
		msl, err := readNum(r.memswLim)
		if err != nil {
			return err
		}
		if r.hierSeen && r.hierMemsw < msl {
			msl = r.hierMemsw
		}
		s.SwapUsage, s.HasSwap = subSat(msu, usage), true
		if msl >= noLimitFloor {
			s.SwapLimit = Unlimited
		} else {
			s.SwapLimit = subSat(msl, raw)
		}
	}
	return nil
}

// ReadFull does ReadCheap and also reads memory.stat, the event counters and
// PSI. It does not allocate in steady state.
func (r *Reader) ReadFull(s *Stats) error {
	if r.closed {
		return errClosed
	}
	b, err := r.stat.Read()
	if err != nil {
		return err
	}
	if err := ParseMemStat(r.stat.Path(), b, r.loc.Version, &s.Stat); err != nil {
		return err
	}
	if s.Stat.Present&StatInactiveFile == 0 {
		key := "inactive_file"
		if r.loc.Version == V1 {
			key = "total_inactive_file"
		}
		return &ParseError{File: r.stat.Path(), Reason: "no " + key + " key (needed for the working set)"}
	}
	r.inactiveFile = s.Stat.InactiveFile
	if r.loc.Version == V1 {
		if s.Stat.Present&StatHierarchicalLimit == 0 {
			return &ParseError{File: r.stat.Path(), Reason: "no hierarchical_memory_limit key"}
		}
		r.hierLimit, r.hierSeen = s.Stat.HierarchicalLimit, true
		r.hierMemsw = Unlimited
		if s.Stat.Present&StatHierarchicalMemswLimit != 0 {
			r.hierMemsw = s.Stat.HierarchicalMemswLimit
		}
		if r.kmem != nil {
			if s.Stat.Kernel, err = readNum(r.kmem); err != nil {
				return err
			}
			s.Stat.Present |= StatKernel
		}
	}
	if err := r.ReadCheap(s); err != nil {
		return err
	}

	s.Events = Events{}
	if r.loc.Version == V2 {
		if r.events != nil {
			if b, err = r.events.Read(); err != nil {
				return err
			}
			if err := ParseEvents(r.events.Path(), b, &s.Events.EventCounts); err != nil {
				return err
			}
			s.Events.HasEvents = true
		}
		if r.eventsLoc != nil {
			if b, err = r.eventsLoc.Read(); err != nil {
				return err
			}
			if err := ParseEvents(r.eventsLoc.Path(), b, &s.Events.Local); err != nil {
				return err
			}
			s.Events.HasLocal = true
		}
	} else {
		if s.Events.Failcnt, err = readNum(r.failcnt); err != nil {
			return err
		}
		if r.oomCtl != nil {
			if b, err = r.oomCtl.Read(); err != nil {
				return err
			}
			if err := ParseOOMControl(r.oomCtl.Path(), b, &s.Events); err != nil {
				return err
			}
			s.Events.HasEvents = true
		}
	}

	s.PSI = PSI{Source: r.psiSource}
	if r.psi != nil {
		if b, err = r.psi.Read(); err != nil {
			return err
		}
		if err := ParsePSI(r.psi.Path(), b, &s.PSI); err != nil {
			return err
		}
	}
	s.Full = true
	return nil
}

// Close releases the open files. It is safe to call more than once.
func (r *Reader) Close() error {
	if r == nil || r.closed {
		return nil
	}
	r.closed = true
	var first error
	for _, f := range []*kfile.File{r.usage, r.peak, r.swapCur, r.memswUse, r.memswLim, r.stat,
		r.events, r.eventsLoc, r.failcnt, r.oomCtl, r.kmem, r.psi} {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, c := range [][]chainFile{r.limits, r.highs, r.swapMaxes} {
		for i := range c {
			if err := c[i].f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// String describes the location for logs.
func (l Location) String() string {
	s := fmt.Sprintf("%s %s at %s", l.Version, l.Path, l.Dir)
	if l.Deleted {
		s += " (deleted)"
	}
	if l.AncestorsHidden {
		s += " (ancestors hidden)"
	}
	if l.ReadOnly {
		s += " (read-only)"
	}
	return s
}
