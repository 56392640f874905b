package cgroupstat

import (
	"errors"
	"fmt"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

type options struct {
	fs       kfile.Root // the real root unless WithRoot
	memTotal uint64
}

// Option configures Discover and Open.
type Option func(*options)

// WithRoot resolves every path (/proc/..., /sys/fs/cgroup/...) under dir, like a
// chroot. The default is "/".
//
// The containment is real, so that a fixture tree cannot make the readers
// report another directory's numbers: paths from mountinfo and
// /proc/self/cgroup with "." or ".." components are refused (ErrOutsideMount
// or a *ParseError), and every open resolves symbolic links inside dir (an
// absolute link /x means dir/x; ".." stops at dir; /proc magic links are
// refused): openat2 with RESOLVE_IN_ROOT on Linux 5.6+, the same walk in
// user space where openat2 is missing or filtered.
func WithRoot(dir string) Option {
	// Only here, so that the containment code (kfile.NewRoot) is linked
	// only into programs that use WithRoot: 12.5 KB of binary.
	return func(o *options) { o.fs = kfile.NewRoot(dir) }
}

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
// at offset 0 into buffers the Reader owns and do not allocate. A usage or
// limit file that existed at Open and then fails to read (the cgroup was
// removed: the kernel returns ENODEV) makes the read fail with an error
// naming that file; the Stats are then incomplete and must not be used. Any
// other file that fails makes only its part unknown (Stats.Errs).
type Reader struct {
	fs          kfile.Root
	loc         Location
	memTotal    uint64
	memTotalErr error
	files       Files

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

	// openErr holds, per optional part, why its file could not be opened
	// (reported on every read of that part).
	openErr [NumParts]error
	// statPath is memory.stat's path, opened again on full reads while it
	// could not be opened (a file missing for a moment must not lose the
	// breakdown for the Reader's life).
	statPath string

	// State carried from the last full read.
	inactiveFile  uint64
	hasInactive   bool   // inactiveFile is known
	wsErr         error  // why it is not
	errNoInactive error  // the ParseError for a memory.stat without inactive_file, made once
	hierLimit     uint64 // v1 hierarchical_memory_limit, raw
	hierMemsw     uint64 // v1 hierarchical_memsw_limit, raw
	hierSeen      bool
	closed        bool
}

// errClosed is returned by reads after Close.
var errClosed = errors.New("cgroupstat: reader is closed")

// Location returns where the cgroup was found.
func (r *Reader) Location() Location { return r.loc }

// MemTotal returns the host memory size in bytes used for normalisation
// (WithMemTotal, or MemTotal of <root>/proc/meminfo), or 0 when it is
// unknown: then only the 2^62 rule makes a limit "none" (MemTotalErr says
// why).
func (r *Reader) MemTotal() uint64 { return r.memTotal }

// MemTotalErr returns why MemTotal is unknown (proc/meminfo missing,
// unreadable or without MemTotal), or nil.
func (r *Reader) MemTotalErr() error { return r.memTotalErr }

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

// readFile reads f. When the read of an optional file (opt) fails with an
// I/O error, not a parse error, the file is opened again once and re-read:
// the kernel removes memory.pressure while PSI is off for the cgroup
// (reads through the old descriptor answer ENODEV) and recreates it when
// PSI is back. Usage and limit files are not reopened: their failure means
// the cgroup is gone, and a new one of the same name is not the process's.
func (r *Reader) readFile(f *kfile.File, opt bool) ([]byte, error) {
	b, err := f.Read()
	if err == nil || !opt {
		return b, err
	}
	// kfile.File.Read returns its errors unwrapped: a type assertion, not
	// errors.As, which would link internal/reflectlite into every program
	// (scripts/binsize.sh).
	if _, parse := err.(*ParseError); parse || r.fs.Reopen(f) != nil {
		return nil, err
	}
	return f.Read()
}

// readLimit reads a limit file: a number, or "max" (v2) for none, which
// reads as Unlimited.
func (r *Reader) readLimit(f *kfile.File, opt bool) (uint64, error) {
	b, err := r.readFile(f, opt)
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

// readCount reads a usage or counter file: a number below 2^63. Only
// limit files may say "max", and no kernel counter reaches 2^63
// (kfile.MaxCount): either is an impossible reading, not a huge one.
func (r *Reader) readCount(f *kfile.File, opt bool) (uint64, error) {
	b, err := r.readFile(f, opt)
	if err != nil {
		return 0, err
	}
	b = kfile.TrimSpace(b)
	v, ok := kfile.ParseUint(b)
	if !ok {
		return 0, &ParseError{File: f.Path(), Line: 1, Reason: "want a number, got " + kfile.Quote(b)}
	}
	if v > kfile.MaxCount {
		return 0, &ParseError{File: f.Path(), Line: 1, Reason: "impossible value " + kfile.Quote(b) + " (at or above 2^63)"}
	}
	return v, nil
}

// minChain returns the smallest value over the chain and the directory that
// set it (the nearest one on ties).
func (r *Reader) minChain(c []chainFile, opt bool) (uint64, string, error) {
	v, dir := Unlimited, ""
	for i := range c {
		x, err := r.readLimit(c[i].f, opt)
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

// appendFiles appends the files ReadCheap (full false) or ReadFull (full
// true) re-reads, in the order they read them. Keep it beside the two.
//
//lint:ignore U1000 memwatch's floor benchmarks pull it in by go:linkname (readset_test.go).
func (r *Reader) appendFiles(dst []*kfile.File, full bool) []*kfile.File {
	if r.closed {
		return dst
	}
	if full {
		if r.stat != nil {
			dst = append(dst, r.stat)
		}
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
		for _, f := range [...]*kfile.File{r.failcnt, r.oomCtl} {
			if f != nil {
				dst = append(dst, f)
			}
		}
	}
	if r.psi != nil {
		dst = append(dst, r.psi)
	}
	return dst
}

// ReadCheap fills usage, limits, high, peak, swap and the working set
// (with the InactiveFile of the last full read, Open's included). It does not
// allocate unless an optional part fails. Stat, Events and PSI and their
// errors are left as they were and Full is set to false. It fails only when
// the usage or a limit cannot be read.
func (r *Reader) ReadCheap(s *Stats) error {
	if r.closed {
		return errClosed
	}
	s.Version, s.Path, s.Full = r.loc.Version, r.loc.Path, false
	usage, err := r.readCount(r.usage, false)
	if err != nil {
		return err
	}
	s.Usage = usage
	s.WorkingSet, s.Errs[PartWorkingSet] = 0, r.wsErr
	if r.hasInactive {
		s.WorkingSet = subSat(usage, r.inactiveFile)
	}

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
		h, _, err := r.minChain(r.highs, false)
		if err != nil {
			return err
		}
		s.HighRaw, s.High = h, r.normalize(h)
	}

	s.Peak, s.HasPeak, s.Errs[PartPeak] = 0, false, r.openErr[PartPeak]
	if r.peak != nil {
		if v, err := r.readCount(r.peak, true); err != nil {
			s.Errs[PartPeak] = err
		} else {
			s.Peak, s.HasPeak = v, true
		}
	}

	s.SwapUsage, s.SwapLimit, s.HasSwap, s.Errs[PartSwap] = 0, 0, false, r.openErr[PartSwap]
	if err := r.readSwap(s, usage, raw); err != nil {
		s.SwapUsage, s.SwapLimit, s.HasSwap, s.Errs[PartSwap] = 0, 0, false, err
	}
	return nil
}

// readSwap fills the swap fields when swap accounting is available. usage
// and rawLimit are this reading's usage and raw hard limit (v1 memsw counts
// memory + swap).
func (r *Reader) readSwap(s *Stats, usage, rawLimit uint64) error {
	switch {
	case r.swapCur != nil: // v2
		cur, err := r.readCount(r.swapCur, true)
		if err != nil {
			return err
		}
		lim, _, err := r.minChain(r.swapMaxes, true)
		if err != nil {
			return err
		}
		s.SwapUsage, s.SwapLimit, s.HasSwap = cur, lim, true
		if lim >= noLimitFloor {
			s.SwapLimit = Unlimited
		}
	case r.memswUse != nil && r.memswLim != nil: // v1: memsw = memory + swap
		msu, err := r.readCount(r.memswUse, true)
		if err != nil {
			return err
		}
		msl, err := r.readLimit(r.memswLim, true)
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
			s.SwapLimit = subSat(msl, rawLimit)
		}
	}
	return nil
}

// ReadFull does ReadCheap and also reads memory.stat, the event counters and
// PSI. It does not allocate in steady state (a part that keeps failing
// allocates its error on each read). Like ReadCheap it fails only
// when the usage or a limit cannot be read: a failure of memory.stat, the
// event files or PSI makes that part unknown, with the reason in s.Errs.
func (r *Reader) ReadFull(s *Stats) error {
	if r.closed {
		return errClosed
	}
	r.readStat(s)
	if err := r.ReadCheap(s); err != nil {
		return err
	}
	r.readEvents(s)
	r.readPSI(s)
	s.Full = true
	return nil
}

// readStat reads memory.stat (and v1 kmem usage) into s.Stat, and keeps what
// ReadCheap needs from it: inactive_file for the working set, the v1
// hierarchical limits. When it fails those keep their last good values.
func (r *Reader) readStat(s *Stats) {
	if r.stat == nil && r.openErr[PartStat] != nil && r.statPath != "" {
		if f, err := r.fs.Open(r.statPath, 4096); err == nil {
			r.stat, r.openErr[PartStat] = f, nil
			r.files.Stat = f.Path()
		}
	}
	s.Stat, s.Errs[PartStat] = MemStat{}, r.openErr[PartStat]
	if r.stat != nil {
		b, err := r.readFile(r.stat, true)
		if err == nil {
			err = ParseMemStat(r.stat.Path(), b, r.loc.Version, &s.Stat)
		}
		if err != nil {
			s.Stat, s.Errs[PartStat] = MemStat{}, err
		}
	}
	switch {
	case s.Errs[PartStat] == nil && s.Stat.Present&StatInactiveFile != 0:
		r.inactiveFile, r.hasInactive, r.wsErr = s.Stat.InactiveFile, true, nil
	case s.Errs[PartStat] == nil:
		// Read, but without the key (an emulated cgroupfs): the working
		// set is unknown, not usage.
		if r.errNoInactive == nil {
			key := "inactive_file"
			if r.loc.Version == V1 {
				key = "total_inactive_file"
			}
			r.errNoInactive = &ParseError{File: r.stat.Path(), Reason: "no " + key + " key (needed for the working set)"}
		}
		r.hasInactive, r.wsErr = false, r.errNoInactive
	case !r.hasInactive:
		// Never read: the working set is unknown for the same reason.
		r.wsErr = s.Errs[PartStat]
	}
	if r.loc.Version != V1 {
		return
	}
	if s.Errs[PartStat] == nil && s.Stat.Present&StatHierarchicalLimit != 0 {
		r.hierLimit, r.hierSeen = s.Stat.HierarchicalLimit, true
		r.hierMemsw = Unlimited
		if s.Stat.Present&StatHierarchicalMemswLimit != 0 {
			r.hierMemsw = s.Stat.HierarchicalMemswLimit
		}
	}
	s.Errs[PartKernel] = r.openErr[PartKernel]
	if r.kmem != nil {
		if v, err := r.readCount(r.kmem, true); err != nil {
			s.Errs[PartKernel] = err
		} else {
			s.Stat.Kernel = v
			s.Stat.Present |= StatKernel
		}
	}
}

// readEvents reads the event counters: v2 memory.events and
// memory.events.local; v1 memory.failcnt and memory.oom_control, each on its
// own.
func (r *Reader) readEvents(s *Stats) {
	s.Events = Events{}
	if r.loc.Version == V2 {
		s.Errs[PartEvents], s.Errs[PartEventsLocal] = r.openErr[PartEvents], r.openErr[PartEventsLocal]
		if r.events != nil {
			if err := r.readEventCounts(r.events, &s.Events.EventCounts); err != nil {
				s.Errs[PartEvents] = err
			} else {
				s.Events.HasEvents = true
			}
		}
		if r.eventsLoc != nil {
			if err := r.readEventCounts(r.eventsLoc, &s.Events.Local); err != nil {
				s.Errs[PartEventsLocal] = err
			} else {
				s.Events.HasLocal = true
			}
		}
		return
	}
	s.Errs[PartFailcnt], s.Errs[PartEvents] = r.openErr[PartFailcnt], r.openErr[PartEvents]
	if r.failcnt != nil {
		if v, err := r.readCount(r.failcnt, true); err != nil {
			s.Errs[PartFailcnt] = err
		} else {
			s.Events.Failcnt, s.Events.HasFailcnt = v, true
		}
	}
	if r.oomCtl != nil {
		b, err := r.readFile(r.oomCtl, true)
		if err == nil {
			err = ParseOOMControl(r.oomCtl.Path(), b, &s.Events)
		}
		if err != nil {
			s.Events.OOMKill, s.Events.UnderOOM, s.Events.OOMKillDisable = 0, false, false
			s.Errs[PartEvents] = err
		} else {
			s.Events.HasEvents = true
		}
	}
}

func (r *Reader) readEventCounts(f *kfile.File, dst *EventCounts) error {
	b, err := r.readFile(f, true)
	if err == nil {
		err = ParseEvents(f.Path(), b, dst)
	}
	if err != nil {
		*dst = EventCounts{}
	}
	return err
}

// readPSI reads the pressure file chosen at Open.
func (r *Reader) readPSI(s *Stats) {
	s.PSI, s.Errs[PartPSI] = PSI{}, r.openErr[PartPSI]
	if r.psi == nil {
		return
	}
	b, err := r.readFile(r.psi, true)
	if err == nil {
		err = ParsePSI(r.psi.Path(), b, &s.PSI)
	}
	if err != nil {
		s.PSI, s.Errs[PartPSI] = PSI{}, err
		return
	}
	s.PSI.Source = r.psiSource
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
