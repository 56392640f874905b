package memwatch

import (
	"errors"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// ErrClosed is returned by Sample after Close.
var ErrClosed = errors.New("memwatch: sampler is closed")

// Snapshot is one moment of a Go process's memory seen three ways: the Go
// runtime (Go), the process (Process, from /proc/self) and the memory cgroup
// (Cgroup, the view the OOM killer acts on), plus the host totals (Host) and
// the attribution of the cgroup's charge (Attribution).
//
// A Snapshot is a plain value: a Sampler fills a caller-owned one in place,
// reusing it costs no allocation, and copying it is safe.
//
// Cheap samples re-read only the fast files (statm, memory usage and limits,
// runtime/metrics). The breakdowns that come from costly files (the process
// status split, memory.stat, events, PSI, meminfo) are carried over from the
// Sampler's last full read; DetailTime says when that was.
type Snapshot struct {
	// Time is when the sample was taken.
	Time time.Time
	// Full is true when this sample read every file (Sample with full=true,
	// or the Sampler's first sample).
	Full bool
	// DetailTime is when the breakdowns were last read (equal to Time for a
	// full sample; zero when no full read has succeeded).
	DetailTime time.Time
	// Level is set by the Watcher; LevelUnknown otherwise.
	Level Level
	// Sampling describes how the snapshot was taken; the Watcher sets Mode
	// and Interval.
	Sampling Sampling

	Go      GoStats
	Process ProcessStats
	Cgroup  CgroupStats
	Host    HostStats

	// Attribution decomposes the cgroup's charge (or, without a cgroup, the
	// process's RSS) into named parts. Sample computes it with Attribute.
	Attribution Attribution

	// Actions records what the Watcher's action options did (zero outside a
	// Watcher and without action options).
	Actions Actions
}

// Sampling describes how a snapshot was taken.
type Sampling struct {
	// Mode is the Watcher's sampling mode (its own vocabulary); empty when
	// the snapshot comes from Sample or Read.
	Mode string
	// Interval is the Watcher's current sampling interval; 0 otherwise.
	Interval time.Duration
	// TimeToLimit is the Watcher's forecast of the time until the measure
	// it judges (working set by default) reaches the limit, at its growth
	// rate since the previous sample; valid when HasTimeToLimit (a limit is
	// known and the measure grew, or is already at the limit: then 0).
	TimeToLimit    time.Duration
	HasTimeToLimit bool
}

// ViewStatus says whether a view could be read.
type ViewStatus struct {
	// Available is true when the view's primary numbers (RSS; cgroup usage
	// and limits; host MemTotal) are valid in this snapshot.
	Available bool
	// Err is why the view is unavailable (Available false: no cgroup, not
	// Linux, a file that failed to read or parse), or, with Available true,
	// why its breakdown from the last full read is missing.
	Err error
}

// Unsupported reports whether the view is missing for an expected reason:
// the operating system has no /proc or cgroups, or the process is not in a
// (visible) memory cgroup. Other errors are real failures.
//
// A process that no cgroup below the root accounts for (the cgroup v2 root
// cgroup, or a hierarchy without the memory controller) has no memory
// limit: its cgroup view is unavailable with an error matching
// [cgroupstat.ErrNoLimit] that says why, and is unsupported in this sense
// ([CgroupStats.NoLimit]).
func (v *ViewStatus) Unsupported() bool {
	return errors.Is(v.Err, procstat.ErrUnsupported) ||
		errors.Is(v.Err, cgroupstat.ErrUnsupported) ||
		errors.Is(v.Err, cgroupstat.ErrNoCgroup) ||
		errors.Is(v.Err, cgroupstat.ErrNotMounted)
}

// ProcessStats is the process's view from /proc/self.
type ProcessStats struct {
	ViewStatus
	// Statm is read on every sample (one pread).
	Statm procstat.Statm
	// Status (RssAnon/RssFile/RssShmem split, VmHWM peak, VmSwap) comes from
	// the last full read; Status.Present is 0 when it was never read.
	Status procstat.Status
}

// RSS is the resident set size (statm resident) in bytes.
func (p *ProcessStats) RSS() uint64 { return p.Statm.Resident }

// Anon is the resident anonymous memory, from statm: the kernel prints
// resident = anon + file + shmem pages and shared = file + shmem pages
// (fs/proc/task_mmu.c, task_statm), so anon = resident − shared. It is as
// fresh as RSS, unlike Status.RssAnon.
func (p *ProcessStats) Anon() uint64 {
	if p.Statm.Shared > p.Statm.Resident {
		return 0
	}
	return p.Statm.Resident - p.Statm.Shared
}

// CgroupStats is the memory cgroup's view.
//
// Usage and the limits are the view: when they cannot be read it is
// unavailable. Every other part degrades alone (Stats.Errs, by
// [cgroupstat.Part]): a part that is unknown on this sample keeps the value
// of its last good read where that stays true of the cgroup (memory.stat,
// the event counters: a breakdown that lags anyway, counters that only
// grow), and its error then says why the value was not refreshed; a part
// never read, and PSI, the peak and swap (whose last value could be
// anything now), read as unknown. The working set is unknown until a full
// read has found inactive_file.
type CgroupStats struct {
	ViewStatus
	// Location is where the cgroup was found (version, path, directory,
	// whether ancestors are hidden).
	Location cgroupstat.Location
	// Stats is the reading: usage, limits and working set from this sample;
	// Stat, Events and PSI from the last full read (Stats.Full reports
	// whether they are present).
	Stats cgroupstat.Stats
	// Members lists the processes in the cgroup, so that a person can see
	// who "other processes" are (for example the `go run` that started this
	// one). Reading it opens a file per process, so only [Read] fills it;
	// Sample leaves it nil, as it is when cgroup.procs could not be read.
	// It is not part of the JSON.
	Members *cgroupstat.Members
}

// partState says what a part with an error holds: "last good" when the
// Sampler carried its last good value over, else "unknown".
func partState(st *cgroupstat.Stats, p cgroupstat.Part) string {
	var known bool
	switch p {
	case cgroupstat.PartStat:
		known = st.Stat.Present&^cgroupstat.StatKernel != 0
	case cgroupstat.PartKernel:
		known = st.Stat.Present&cgroupstat.StatKernel != 0
	case cgroupstat.PartEvents:
		known = st.Events.HasEvents
	case cgroupstat.PartEventsLocal:
		known = st.Events.HasLocal
	case cgroupstat.PartFailcnt:
		known = st.Events.HasFailcnt
	}
	if known {
		return "last good"
	}
	return "unknown"
}

// NoLimit reports whether the view is unavailable because nothing below the
// root cgroup accounts for the process's memory, so that no memory limit
// applies to it ([cgroupstat.ErrNoLimit]; Err says why).
func (c *CgroupStats) NoLimit() bool { return errors.Is(c.Err, cgroupstat.ErrNoLimit) }

// HostStats is the host's memory from /proc/meminfo.
type HostStats struct {
	ViewStatus
	// MemTotal is the host's memory size in bytes.
	MemTotal uint64
	// MemAvailable is the kernel's estimate of memory available for new
	// work without swapping (last full read).
	MemAvailable uint64
	// Meminfo holds all fields of the last full read.
	Meminfo procstat.Meminfo
}

// Err returns the errors of the views that failed for a reason other than
// being unsupported (see ViewStatus.Unsupported), joined; nil when every
// available view read cleanly. It allocates; it is not for hot paths.
func (s *Snapshot) Err() error {
	var errs []error
	for _, v := range [...]struct {
		name string
		st   *ViewStatus
	}{{"process", &s.Process.ViewStatus}, {"cgroup", &s.Cgroup.ViewStatus}, {"host", &s.Host.ViewStatus}} {
		if v.st.Err != nil && !v.st.Unsupported() {
			errs = append(errs, errorf("%s view: %w", v.name, v.st.Err))
		}
	}
	return errors.Join(errs...)
}

// Sampler owns the open kernel files and the buffers that fill Snapshots.
// Open one per process and keep it: a Sample then allocates nothing and
// never stops the world (unless WithExactMemStats). A Sampler is not safe
// for concurrent use.
type Sampler struct {
	cfg samplerConfig
	goR *goReader

	proc    *procstat.Reader
	procErr error
	cg      *cgroupstat.Reader
	cgErr   error
	loc     cgroupstat.Location

	// Breakdowns of the last full read, carried into cheap samples.
	detail     bool
	detailTime time.Time
	status     procstat.Status
	statusErr  error
	meminfo    procstat.Meminfo
	meminfoErr error
	cgStat     cgroupstat.MemStat
	cgEvents   cgroupstat.Events
	cgPSI      cgroupstat.PSI
	cgErrs     [cgroupstat.NumParts]error // of the full-read parts
	cgFull     bool
	cgGood     cgGood

	closed bool
}

// NewSampler opens the process and cgroup readers under the configured root
// and discovers the runtime metrics. A view that is unavailable (no memory
// cgroup, not Linux) does not make it fail: every Sample then records that
// view as unavailable with the reason. It fails only when the root directory
// does not exist.
func NewSampler(opts ...SamplerOption) (*Sampler, error) {
	return newSampler(buildSamplerConfig(opts))
}

func newSampler(o samplerConfig) (*Sampler, error) {
	if dir, err := statDir(o.root); err != nil {
		return nil, errorf("memwatch: root: %w", err)
	} else if !dir {
		return nil, errorf("memwatch: root %s is not a directory", o.root)
	}
	s := &Sampler{cfg: o, goR: newGoReader(o.readMemStats)}
	s.proc, s.procErr = procstat.Open(o.procOpts()...)
	if s.procErr != nil {
		s.proc = nil
	}
	s.cg, s.cgErr = cgroupstat.Open(o.cgOpts()...)
	if s.cgErr != nil {
		s.cg = nil
	} else {
		s.loc = s.cg.Location()
	}
	return s, nil
}

// Location returns where the memory cgroup was found, and the reason when it
// was not.
func (s *Sampler) Location() (cgroupstat.Location, error) { return s.loc, s.cgErr }

// cgroupFiles returns where the cgroup is, the paths of its files and the
// descriptor of the open usage file (v1 usage thresholds are registered on
// it; it stays owned by the Sampler, valid until Close). It returns the
// reason when the cgroup view is unavailable, and ErrClosed after Close.
func (s *Sampler) cgroupFiles() (cgroupstat.Location, cgroupstat.Files, int, error) {
	if s.closed {
		return cgroupstat.Location{}, cgroupstat.Files{}, -1, ErrClosed
	}
	if s.cg == nil {
		return cgroupstat.Location{}, cgroupstat.Files{}, -1, s.cgErr
	}
	return s.loc, s.cg.Files(), s.cg.UsageFd(), nil
}

// usageLimit reads only the cgroup's usage and effective limit (see
// cgroupstat.Reader.ReadUsageLimit), for the check between samples.
func (s *Sampler) usageLimit() (usage, limit uint64, ok bool) {
	if s.closed || s.cg == nil {
		return 0, 0, false
	}
	usage, limit, err := s.cg.ReadUsageLimit()
	return usage, limit, err == nil
}

// eventCounts reads only the cgroup's v2 memory.events counters
// (cgroupstat.Reader.ReadEventCounts), for the Watcher woken by a change of
// that file.
func (s *Sampler) eventCounts(c *cgroupstat.EventCounts) bool {
	if s.closed || s.cg == nil {
		return false
	}
	return s.cg.ReadEventCounts(c) == nil
}

// Sample fills snap with a new reading. With full=false only the cheap files
// are read and the breakdowns of the last full read are carried over; the
// first Sample of a Sampler is always full. Views that cannot be read are
// marked unavailable in snap with the reason; Sample itself fails only after
// Close or with a nil snap. Steady-state samples allocate nothing.
//
// Fields the Watcher owns (Level, Sampling) are left as they are.
func (s *Sampler) Sample(snap *Snapshot, full bool) error {
	if snap == nil {
		return errors.New("memwatch: Sample: nil snapshot")
	}
	if s.closed {
		return ErrClosed
	}
	full = full || !s.detail
	now := time.Now()
	snap.Time = now
	snap.Full = full

	s.goR.read(&snap.Go)
	s.sampleProcess(snap, full)
	s.sampleCgroup(snap, full)
	if full {
		s.detail = true
		s.detailTime = now
	}
	s.sampleHost(snap, full)
	snap.DetailTime = s.detailTime
	attribute(&snap.Attribution, snap)
	return nil
}

func (s *Sampler) sampleProcess(snap *Snapshot, full bool) {
	p := &snap.Process
	if s.proc == nil {
		*p = ProcessStats{ViewStatus: ViewStatus{Err: s.procErr}}
		return
	}
	if err := s.proc.ReadStatm(&p.Statm); err != nil {
		*p = ProcessStats{ViewStatus: ViewStatus{Err: err}}
		return
	}
	if full {
		s.statusErr = s.proc.ReadStatus(&s.status)
		if s.statusErr != nil {
			s.status = procstat.Status{}
		}
	}
	p.Status = s.status
	p.ViewStatus = ViewStatus{Available: true, Err: s.statusErr}
}

func (s *Sampler) sampleCgroup(snap *Snapshot, full bool) {
	c := &snap.Cgroup
	if s.cg == nil {
		*c = CgroupStats{ViewStatus: ViewStatus{Err: s.cgErr}}
		return
	}
	// The readers fill every field of c.Stats (ReadCheap all but the
	// breakdowns, set here), so they read straight into the snapshot.
	st := &c.Stats
	var err error
	if full {
		// A failed full read (the usage or a limit) keeps the breakdowns
		// of the last one for the cheap samples that follow.
		err = s.cg.ReadFull(st)
		if err == nil {
			s.cgGood.carry(st)
			s.cgStat, s.cgEvents, s.cgPSI, s.cgFull = st.Stat, st.Events, st.PSI, true
			for p := range s.cgErrs {
				if cgroupstat.Part(p).Full() {
					s.cgErrs[p] = st.Errs[p]
				}
			}
		}
	} else {
		err = s.cg.ReadCheap(st)
		st.Stat, st.Events, st.PSI, st.Full = s.cgStat, s.cgEvents, s.cgPSI, s.cgFull
		for p := range s.cgErrs {
			if cgroupstat.Part(p).Full() {
				st.Errs[p] = s.cgErrs[p]
			}
		}
	}
	if err != nil {
		*c = CgroupStats{ViewStatus: ViewStatus{Err: err}, Location: s.loc}
		return
	}
	c.ViewStatus = ViewStatus{Available: true}
	c.Location = s.loc
	c.Members = nil
}

// cgGood holds the last good value of each full-read part that may stand in
// for a failed read (see CgroupStats).
type cgGood struct {
	stat      cgroupstat.MemStat
	hasStat   bool
	kernel    uint64 // v1 memory.kmem.usage_in_bytes
	hasKernel bool
	events    cgroupstat.Events // EventCounts, UnderOOM, OOMKillDisable
	hasEvents bool
	local     cgroupstat.EventCounts
	hasLocal  bool
	failcnt   uint64
	hasFail   bool
}

// carry records the parts of a full read that succeeded, and fills the
// ones that failed with their last good values (their errors stay, saying
// why the values are not fresh).
func (g *cgGood) carry(st *cgroupstat.Stats) {
	v1Kernel := st.Version == cgroupstat.V1 // v1 Stat.Kernel is the kmem file's
	if st.Errs[cgroupstat.PartStat] == nil {
		g.stat, g.hasStat = st.Stat, true
	} else if g.hasStat {
		k, kbit := st.Stat.Kernel, st.Stat.Present&cgroupstat.StatKernel
		st.Stat = g.stat
		if v1Kernel {
			st.Stat.Kernel, st.Stat.Present = k, st.Stat.Present&^cgroupstat.StatKernel|kbit
		}
	}
	if v1Kernel {
		if st.Errs[cgroupstat.PartKernel] == nil && st.Stat.Present&cgroupstat.StatKernel != 0 {
			g.kernel, g.hasKernel = st.Stat.Kernel, true
		} else if st.Errs[cgroupstat.PartKernel] != nil && g.hasKernel {
			st.Stat.Kernel, st.Stat.Present = g.kernel, st.Stat.Present|cgroupstat.StatKernel
		}
	}
	ev := &st.Events
	switch {
	case st.Errs[cgroupstat.PartEvents] == nil && ev.HasEvents:
		g.events, g.hasEvents = *ev, true
	case st.Errs[cgroupstat.PartEvents] != nil && g.hasEvents:
		ev.EventCounts, ev.UnderOOM, ev.OOMKillDisable, ev.HasEvents = g.events.EventCounts, g.events.UnderOOM, g.events.OOMKillDisable, true
	}
	switch {
	case st.Errs[cgroupstat.PartEventsLocal] == nil && ev.HasLocal:
		g.local, g.hasLocal = ev.Local, true
	case st.Errs[cgroupstat.PartEventsLocal] != nil && g.hasLocal:
		ev.Local, ev.HasLocal = g.local, true
	}
	switch {
	case st.Errs[cgroupstat.PartFailcnt] == nil && ev.HasFailcnt:
		g.failcnt, g.hasFail = ev.Failcnt, true
	case st.Errs[cgroupstat.PartFailcnt] != nil && g.hasFail:
		ev.Failcnt, ev.HasFailcnt = g.failcnt, true
	}
}

func (s *Sampler) sampleHost(snap *Snapshot, full bool) {
	h := &snap.Host
	if s.proc == nil {
		*h = HostStats{ViewStatus: ViewStatus{Err: s.procErr}}
		return
	}
	if full {
		s.meminfoErr = s.proc.ReadMeminfo(&s.meminfo)
		if s.meminfoErr != nil {
			s.meminfo = procstat.Meminfo{}
		}
	}
	if s.meminfoErr != nil || s.meminfo.MemTotal == 0 {
		err := s.meminfoErr
		if err == nil {
			err = errNoMeminfo
		}
		*h = HostStats{ViewStatus: ViewStatus{Err: err}}
		return
	}
	*h = HostStats{
		ViewStatus:   ViewStatus{Available: true},
		MemTotal:     s.meminfo.MemTotal,
		MemAvailable: s.meminfo.MemAvailable,
		Meminfo:      s.meminfo,
	}
}

var errNoMeminfo = errors.New("memwatch: /proc/meminfo has no MemTotal")

// Close releases the open files. It is safe to call more than once.
func (s *Sampler) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs [2]error
	if s.proc != nil {
		errs[0] = s.proc.Close()
	}
	if s.cg != nil {
		errs[1] = s.cg.Close()
	}
	return errors.Join(errs[0], errs[1])
}

// Read takes one full snapshot with a temporary Sampler, for callers without
// a Watcher. Its GC CPU fraction covers the whole process lifetime. Unlike
// Sample, it also lists the cgroup's processes (CgroupStats.Members).
func Read(opts ...SamplerOption) (*Snapshot, error) {
	s, err := NewSampler(opts...)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	snap := new(Snapshot)
	if err := s.Sample(snap, true); err != nil {
		return nil, err
	}
	s.readMembers(snap)
	return snap, nil
}

// maxMembers is how many processes other than this one Read names.
const maxMembers = 5

// readMembers fills snap.Cgroup.Members (cold path: it allocates and opens
// a file per named process). An unreadable cgroup.procs leaves it nil: the
// list only helps a person read other_processes, it changes no number.
func (s *Sampler) readMembers(snap *Snapshot) {
	if !snap.Cgroup.Available {
		return
	}
	m, err := cgroupstat.ReadMembers(s.loc, maxMembers, s.cfg.cgOpts()...)
	if err == nil {
		snap.Cgroup.Members = &m
	}
}
