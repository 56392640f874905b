package memtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/bytefmt"
	"github.com/go-memwatch/memwatch/internal/kfile"
	"github.com/go-memwatch/memwatch/procstat"
)

// Quality says how a Measurement was obtained.
type Quality uint8

// Qualities.
const (
	// Unavailable: the layer could not be measured (see Measurement.Reason).
	Unavailable Quality = iota
	// Exact: a counter or kernel peak that misses nothing.
	Exact
	// Sampled: the highest of periodic samples (and the values at start and
	// end); a spike shorter than the interval can be missed.
	Sampled
)

// String returns "unavailable", "exact" or "sampled".
func (q Quality) String() string {
	switch q {
	case Exact:
		return "exact"
	case Sampled:
		return "sampled"
	default:
		return "unavailable"
	}
}

// Breakdown is a process-level decomposition of memory at one sample, in
// bytes. The process's resident anonymous memory (statm resident − shared) is
// split into the Go heap (heap/objects), other Go memory (the rest of what
// the runtime retains, as far as it is resident) and non-Go memory (cgo,
// unix.Mmap, ...): the Go parts are capped at the anonymous memory, so NonGo
// is a lower bound. Zero when the process view is unavailable.
type Breakdown struct {
	RSS     uint64 // statm resident
	GoHeap  uint64 // Go heap objects (live and not yet swept)
	GoOther uint64 // other runtime memory: free heap, stacks, metadata (resident part)
	NonGo   uint64 // anonymous memory the runtime does not account for
	File    uint64 // resident file-backed and shared memory (statm shared)
	// CgroupUsage is the cgroup's usage at the sample (0 when not read) and
	// CgroupRest the part of it not explained by this process's resident
	// memory: page cache, kernel memory, other processes.
	CgroupUsage uint64
	CgroupRest  uint64
}

// String formats the decomposition for failure messages.
func (b Breakdown) String() string {
	if b.RSS == 0 && b.GoHeap == 0 {
		return "no decomposition (process view unavailable)"
	}
	s := fmt.Sprintf("Go heap %s, other Go %s, non-Go %s, file/shared %s",
		bytefmt.Compact(b.GoHeap), bytefmt.Compact(b.GoOther), bytefmt.Compact(b.NonGo), bytefmt.Compact(b.File))
	if b.CgroupUsage > 0 {
		s += fmt.Sprintf(", rest of cgroup (page cache, kernel, other processes) %s", bytefmt.Compact(b.CgroupRest))
	}
	return s
}

// Measurement is one layer of a Result.
type Measurement struct {
	// Quality says how Peak was obtained; Reason says why it is not Exact
	// (or why the layer is Unavailable).
	Quality Quality
	Reason  string
	// Base is the value when the function started and Peak the highest
	// value while it ran (for Alloc and AllocObjects, Peak is the counter
	// at the end, read after a GC).
	Base uint64
	Peak uint64
	// AtPeak is the process decomposition at the sample where this layer
	// was highest (for an exact peak, the highest sample: the nearest one
	// available). Zero for the allocation counters.
	AtPeak Breakdown
}

// Available reports whether the layer was measured.
func (m Measurement) Available() bool { return m.Quality != Unavailable }

// Growth is Peak − Base (0 when Peak is lower): what the function added.
func (m Measurement) Growth() uint64 {
	if m.Peak < m.Base {
		return 0
	}
	return m.Peak - m.Base
}

// Result is what Measure observed.
type Result struct {
	// Duration is how long the function ran.
	Duration time.Duration
	// Alloc and AllocObjects count heap allocations (cumulative counters;
	// Growth is the amount allocated while the function ran, by every
	// goroutine).
	Alloc        Measurement
	AllocObjects Measurement
	// LiveHeap is the heap in objects (heap/objects), Base after a forced
	// GC. Peak also covers LiveHeapAfter.
	LiveHeap Measurement
	// LiveHeapAfter is heap/objects after two forced GCs at the end: what
	// the function left reachable, plus LiveHeap.Base.
	LiveHeapAfter uint64
	// GoMemory is the runtime's memory from the OS: total − heap/released.
	GoMemory Measurement
	// RSS is the process's resident set size.
	RSS Measurement
	// Cgroup is the memory cgroup's usage.
	Cgroup Measurement
	// CgroupPeakSinceCreation is the cgroup's peak (memory.peak) when the
	// kernel could not reset it (before Linux 6.12): the highest usage since
	// the cgroup was created, not only while the function ran. 0 otherwise.
	CgroupPeakSinceCreation uint64
	// Samples is how many samples the sampling goroutine took.
	Samples int
	// Interval is the sampling interval.
	Interval time.Duration
}

// Retained is LiveHeapAfter − LiveHeap.Base: heap the function left
// reachable (0 when negative).
func (r *Result) Retained() uint64 {
	if r.LiveHeapAfter < r.LiveHeap.Base {
		return 0
	}
	return r.LiveHeapAfter - r.LiveHeap.Base
}

// String summarizes the result on one line per layer.
func (r Result) String() string {
	line := func(name string, m Measurement) string {
		if !m.Available() {
			return fmt.Sprintf("%-13s unavailable: %s\n", name, m.Reason)
		}
		return fmt.Sprintf("%-13s +%s (base %s, peak %s, %s)\n", name,
			bytefmt.Compact(m.Growth()), bytefmt.Compact(m.Base), bytefmt.Compact(m.Peak), m.Quality)
	}
	s := fmt.Sprintf("%-13s %s, %d objects\n", "allocated", bytefmt.Compact(r.Alloc.Growth()), r.AllocObjects.Growth())
	s += line("live heap", r.LiveHeap)
	s += fmt.Sprintf("%-13s +%s after GC\n", "retained", bytefmt.Compact(r.Retained()))
	s += line("Go memory", r.GoMemory)
	s += line("RSS", r.RSS)
	s += line("cgroup", r.Cgroup)
	return s
}

// DefaultInterval is the default sampling interval.
const DefaultInterval = time.Millisecond

type measureConfig struct {
	interval time.Duration
	root     string
}

// Option configures Measure and AssertBudget.
type Option func(*measureConfig)

// WithInterval sets the sampling interval (default DefaultInterval).
// Non-positive values keep the default.
func WithInterval(d time.Duration) Option {
	return func(c *measureConfig) {
		if d > 0 {
			c.interval = d
		}
	}
}

// withRoot resolves /proc and the cgroup under dir (tests).
func withRoot(dir string) Option { return func(c *measureConfig) { c.root = dir } }

// mu serializes measurements: peak resets are process- and cgroup-wide.
var mu sync.Mutex

// The runtime/metrics read by the sampler, in this order.
var metricNames = [...]string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/allocs:objects",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
}

const (
	mAllocBytes = iota
	mAllocObjects
	mHeapObjects
	mTotal
	mReleased
)

// sample is one reading of every layer.
type sample struct {
	m       [len(metricNames)]uint64
	statm   procstat.Statm
	hasProc bool
	cgUsage uint64
	hasCg   bool
}

func (s *sample) goMemory() uint64 {
	if s.m[mReleased] > s.m[mTotal] {
		return 0
	}
	return s.m[mTotal] - s.m[mReleased]
}

func (s *sample) breakdown() Breakdown {
	var b Breakdown
	if s.hasProc {
		b.RSS = s.statm.Resident
		b.File = s.statm.Shared
		anon := uint64(0)
		if s.statm.Resident > s.statm.Shared {
			anon = s.statm.Resident - s.statm.Shared
		}
		goRes := min(anon, s.goMemory())
		b.GoHeap = min(goRes, s.m[mHeapObjects])
		b.GoOther = goRes - b.GoHeap
		b.NonGo = anon - goRes
	} else {
		b.GoHeap = s.m[mHeapObjects]
		b.GoOther = s.goMemory() - min(s.goMemory(), b.GoHeap)
	}
	if s.hasCg {
		b.CgroupUsage = s.cgUsage
		if s.cgUsage > b.RSS {
			b.CgroupRest = s.cgUsage - b.RSS
		}
	}
	return b
}

// probe holds what the sampler reads.
type probe struct {
	mu   sync.Mutex // read is called by the sampler and by Measure
	ms   []metrics.Sample
	ok   [len(metricNames)]bool
	proc *procstat.Reader
	// procErr is why the process view is unavailable.
	procErr error
	cg      *cgroupFiles
	cgErr   error
}

func newProbe(cfg *measureConfig) *probe {
	p := &probe{ms: make([]metrics.Sample, len(metricNames))}
	known := map[string]bool{}
	for _, d := range metrics.All() {
		known[d.Name] = true
	}
	for i, n := range metricNames {
		p.ms[i].Name = n
		p.ok[i] = known[n]
	}
	p.proc, p.procErr = procstat.Open(procstat.WithRoot(cfg.root))
	p.cg, p.cgErr = openCgroup(cfg.root)
	return p
}

func (p *probe) close() {
	if p.proc != nil {
		p.proc.Close()
	}
	if p.cg != nil {
		p.cg.close()
	}
}

// read fills s. It allocates nothing, so the sampler does not disturb the
// allocation counters.
func (p *probe) read(s *sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	metrics.Read(p.ms)
	for i := range p.ms {
		if p.ms[i].Value.Kind() == metrics.KindUint64 {
			s.m[i] = p.ms[i].Value.Uint64()
		}
	}
	s.hasProc = p.proc != nil && p.proc.ReadStatm(&s.statm) == nil
	s.hasCg = false
	if p.cg != nil {
		if v, err := p.cg.usage(); err == nil {
			s.cgUsage, s.hasCg = v, true
		}
	}
}

// peaks tracks the highest sample of each sampled layer.
type peaks struct {
	heap, gomem, rss, cg         uint64
	heapAt, gomemAt, rssAt, cgAt Breakdown
	n                            int
}

func (pk *peaks) add(s *sample) {
	pk.n++
	var b Breakdown
	have := false
	bd := func() Breakdown {
		if !have {
			b, have = s.breakdown(), true
		}
		return b
	}
	if v := s.m[mHeapObjects]; v > pk.heap || pk.n == 1 {
		pk.heap, pk.heapAt = v, bd()
	}
	if v := s.goMemory(); v > pk.gomem || pk.n == 1 {
		pk.gomem, pk.gomemAt = v, bd()
	}
	if s.hasProc && (s.statm.Resident > pk.rss || pk.n == 1) {
		pk.rss, pk.rssAt = s.statm.Resident, bd()
	}
	if s.hasCg && (s.cgUsage > pk.cg || pk.n == 1) {
		pk.cg, pk.cgAt = s.cgUsage, bd()
	}
}

// Measure runs fn in the calling goroutine and measures its memory on every
// layer (see the package documentation for what each layer means and what
// cannot be isolated). Concurrent calls are serialized. If fn exits the
// goroutine (t.FailNow inside it), the sampler is stopped and Measure does
// not return.
func Measure(fn func(), opts ...Option) Result {
	cfg := measureConfig{interval: DefaultInterval, root: "/"}
	for _, o := range opts {
		o(&cfg)
	}
	mu.Lock()
	defer mu.Unlock()

	p := newProbe(&cfg)
	defer p.close()
	r := Result{Interval: cfg.interval}

	// Reset the kernel peaks, then take the baseline after a GC.
	rssReset := errors.New("process view unavailable")
	if p.proc != nil {
		rssReset = p.proc.ResetPeakRSS()
	}
	var cgReset error
	if p.cg != nil {
		cgReset = p.cg.resetPeak()
	}
	var (
		pk       peaks
		cur      sample
		base     sample
		stop     = make(chan struct{})
		stopped  = make(chan struct{})
		ready    = make(chan struct{})
		tick     = time.NewTicker(cfg.interval)
		stopOnce sync.Once
	)
	defer tick.Stop()
	halt := func() { stopOnce.Do(func() { close(stop); <-stopped }) }
	go func() {
		defer close(stopped)
		var s sample
		p.read(&s)
		pk.add(&s)
		close(ready)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				p.read(&s)
				pk.add(&s)
			}
		}
	}()
	defer halt()
	<-ready
	// A GC flushes the per-P allocation caches, whose counts the runtime
	// publishes ahead (a whole span at a time) and corrects at the flush:
	// the allocation counters are exact right after a GC.
	runtime.GC()
	p.read(&base)

	start := time.Now()
	fn()
	r.Duration = time.Since(start)
	p.read(&cur)
	halt()
	pk.add(&cur)

	// What the function left reachable.
	runtime.GC()
	runtime.GC()
	var after sample
	p.read(&after)

	r.Samples = pk.n
	goQ := func(i int, name string) (Quality, string) {
		if !p.ok[i] {
			return Unavailable, "runtime/metrics has no " + name + " in " + runtime.Version()
		}
		return Exact, ""
	}
	q, why := goQ(mAllocBytes, metricNames[mAllocBytes])
	r.Alloc = Measurement{Quality: q, Reason: why, Base: base.m[mAllocBytes], Peak: after.m[mAllocBytes]}
	q, why = goQ(mAllocObjects, metricNames[mAllocObjects])
	r.AllocObjects = Measurement{Quality: q, Reason: why, Base: base.m[mAllocObjects], Peak: after.m[mAllocObjects]}

	sampledWhy := fmt.Sprintf("sampled every %v: an upper bound including garbage not yet collected; spikes shorter than the interval can be missed", cfg.interval)
	q, why = goQ(mHeapObjects, metricNames[mHeapObjects])
	if q == Exact {
		q, why = Sampled, sampledWhy
	}
	r.LiveHeap = Measurement{Quality: q, Reason: why, Base: base.m[mHeapObjects], Peak: max(pk.heap, after.m[mHeapObjects]), AtPeak: pk.heapAt}
	r.LiveHeapAfter = after.m[mHeapObjects]

	q, why = goQ(mTotal, metricNames[mTotal])
	if q == Exact && !p.ok[mReleased] {
		q, why = Unavailable, "runtime/metrics has no "+metricNames[mReleased]
	} else if q == Exact {
		q, why = Sampled, fmt.Sprintf("sampled every %v", cfg.interval)
	}
	r.GoMemory = Measurement{Quality: q, Reason: why, Base: base.goMemory(), Peak: pk.gomem, AtPeak: pk.gomemAt}

	r.RSS = p.rssResult(&base, &pk, rssReset, cfg.interval)
	r.Cgroup, r.CgroupPeakSinceCreation = p.cgroupResult(&base, &pk, cgReset, cfg.interval)
	return r
}

func (p *probe) rssResult(base *sample, pk *peaks, resetErr error, interval time.Duration) Measurement {
	if p.proc == nil || !base.hasProc {
		err := p.procErr
		if err == nil {
			err = errors.New("statm not readable")
		}
		return Measurement{Reason: err.Error()}
	}
	m := Measurement{Base: base.statm.Resident, Peak: pk.rss, AtPeak: pk.rssAt}
	if resetErr == nil {
		var st procstat.Status
		err := p.proc.ReadStatus(&st)
		if err == nil && st.Present&procstat.HasVmHWM != 0 {
			m.Quality = Exact
			m.Peak = max(m.Peak, st.VmHWM)
			return m
		}
		if err == nil {
			err = errors.New("no VmHWM in /proc/self/status")
		}
		resetErr = err
	}
	m.Quality = Sampled
	m.Reason = fmt.Sprintf("peak RSS not resettable (%v): statm sampled every %v", resetErr, interval)
	return m
}

func (p *probe) cgroupResult(base *sample, pk *peaks, resetErr error, interval time.Duration) (Measurement, uint64) {
	if p.cg == nil || !base.hasCg {
		err := p.cgErr
		if err == nil {
			err = errors.New("usage not readable")
		}
		return Measurement{Reason: err.Error()}, 0
	}
	m := Measurement{Base: base.cgUsage, Peak: pk.cg, AtPeak: pk.cgAt}
	peak, perr := p.cg.peak()
	if resetErr == nil && perr == nil {
		m.Quality = Exact
		m.Peak = max(m.Peak, peak)
		return m, 0
	}
	m.Quality = Sampled
	var since uint64
	switch {
	case resetErr != nil && perr == nil:
		since = peak
		m.Reason = fmt.Sprintf("cgroup peak not reset (%v; memory.peak is resettable from Linux 6.12): usage sampled every %v; the peak since cgroup creation is %s",
			resetErr, interval, bytefmt.Compact(peak))
	case resetErr != nil:
		m.Reason = fmt.Sprintf("cgroup peak not available (%v): usage sampled every %v", resetErr, interval)
	default:
		m.Reason = fmt.Sprintf("cgroup peak not readable (%v): usage sampled every %v", perr, interval)
	}
	return m, since
}

// cgroupFiles are the process's memory cgroup usage and peak files.
type cgroupFiles struct {
	version cgroupstat.Version
	dir     string
	usageF  *os.File
	peakF   *os.File // v1 max_usage_in_bytes or v2 memory.peak (O_RDWR when reset)
	buf     [32]byte
	noPeak  error
}

func openCgroup(root string) (*cgroupFiles, error) {
	loc, err := cgroupstat.Discover(cgroupstat.WithRoot(root))
	if err != nil {
		return nil, err
	}
	c := &cgroupFiles{version: loc.Version, dir: loc.Dir}
	usage := "memory.current"
	if loc.Version == cgroupstat.V1 {
		usage = "memory.usage_in_bytes"
	}
	c.usageF, err = openKernelFile(filepath.Join(loc.Dir, usage), os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// openKernelFile opens a cgroup file without blocking (a FIFO in its place
// would block an open for reading or writing forever) and keeps it only if
// it is a regular file, as every cgroupfs file is.
func openKernelFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &cgroupstat.NotRegularError{Path: path, Mode: fi.Mode().Type()}
		}
		return nil, err
	}
	return f, nil
}

func (c *cgroupFiles) close() {
	c.usageF.Close()
	if c.peakF != nil {
		c.peakF.Close()
	}
}

func (c *cgroupFiles) usage() (uint64, error) { return c.readUint(c.usageF) }

func (c *cgroupFiles) readUint(f *os.File) (uint64, error) {
	n, err := f.ReadAt(c.buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	return parseUint(c.buf[:n])
}

var errBadNumber = errors.New("memtest: malformed number in cgroup file")

func parseUint(b []byte) (uint64, error) {
	if i := bytes.IndexAny(b, "\n "); i >= 0 {
		b = b[:i]
	}
	v, ok := kfile.ParseUint(b)
	if !ok {
		return 0, errBadNumber
	}
	return v, nil
}

// resetPeak resets the cgroup's peak: v1 writes 0 to
// memory.max_usage_in_bytes; v2 writes to memory.peak through a descriptor
// kept open, since from Linux 6.12 the reset applies to reads through that
// descriptor. The peak file stays open for peak either way.
func (c *cgroupFiles) resetPeak() error {
	name := "memory.peak"
	value := "reset\n"
	if c.version == cgroupstat.V1 {
		name, value = "memory.max_usage_in_bytes", "0"
	}
	path := filepath.Join(c.dir, name)
	f, err := openKernelFile(path, os.O_RDWR)
	if err == nil {
		if _, err = f.WriteString(value); err == nil {
			c.peakF = f
			return nil
		}
		f.Close()
		err = fmt.Errorf("write %s: %w", path, err)
	}
	if ro, oerr := openKernelFile(path, os.O_RDONLY); oerr == nil {
		c.peakF = ro
	} else {
		c.noPeak = oerr
	}
	return err
}

func (c *cgroupFiles) peak() (uint64, error) {
	if c.peakF == nil {
		if c.noPeak != nil {
			return 0, c.noPeak
		}
		return 0, errors.New("peak file not opened")
	}
	return c.readUint(c.peakF)
}
