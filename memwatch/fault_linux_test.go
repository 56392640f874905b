//go:build linux

package memwatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

// Fault injection: a Watcher with every action on (adaptive GOMEMLIMIT and
// GOGC, FreeOSMemory, OnShed) while its cgroup changes under it. What must
// hold (issue 11): GOMEMLIMIT changes only when the limit really changes
// (no flap, and never back to "no limit" on a failed read), OnLimitChange
// fires once for each real change, the level does not alternate while a
// fault lasts, and the Watcher does not spin.
//
// A faultLog records, phase by phase, what the Watcher did as seen from
// outside: the GOMEMLIMIT in force (polled), its callbacks and its
// snapshots.

// faultEvent is one recorded change, at a time since the log began: for
// callbacks the time of the snapshot they were called for, for GOMEMLIMIT
// when the poller saw it.
type faultEvent struct {
	Old, New uint64
	At       time.Duration
}

// faultSample is one published snapshot.
type faultSample struct {
	At      time.Duration // Snapshot.Time since the log began
	Avail   bool          // cgroup view available
	Reason  string        // Actions.MemLimitReason
	Changes uint64        // Actions.MemLimitChanges
	Err     string        // the cgroup view's error
}

// faultPhase is a stretch of the run with one fault in place.
type faultPhase struct {
	Name      string
	Start     time.Duration
	CPU, Wall time.Duration // process CPU time and wall time of the phase
	Wakeups   uint64        // kernel wake-ups of the Watcher during the phase
}

// faultLog is the record of one run; its exported fields are the helper's
// report. Everything is attributed to phases by time: a phase begins once
// its fault is in place, and events are placed by the time of the snapshot
// that caused them.
type faultLog struct {
	mu      sync.Mutex
	start   time.Time
	cpu0    time.Duration
	wake0   uint64
	w       *Watcher
	lastGML int64
	lastT   time.Time
	notify  func(old, new uint64) // also called from OnLimitChange (helper)

	Phases  []faultPhase
	Samples []faultSample
	Limits  []faultEvent // OnLimitChange
	Levels  []faultEvent // OnLevel
	GML     []faultEvent // GOMEMLIMIT in force, on each change
	Shed    int
	Stopped int64 // GOMEMLIMIT after Stop
	Err     string
}

func newFaultLog() *faultLog {
	return &faultLog{start: time.Now(), lastGML: debug.SetMemoryLimit(-1)}
}

// options returns the Watcher options of a fault run: every action, every
// sample full, a short interval.
func (l *faultLog) options(interval time.Duration) []WatcherOption {
	return []WatcherOption{
		WithInterval(interval), WithMinInterval(interval), WithFullEvery(1),
		WithAdaptiveMemLimit(DefaultMemLimitPolicy()),
		WithAdaptiveGOGC(DefaultGOGCPolicy()),
		WithFreeOSMemory(time.Second, 1<<20),
		OnShed(func(ShedSignal, *Snapshot) {
			l.mu.Lock()
			l.Shed++
			l.mu.Unlock()
		}),
		OnLimitChange(func(old, new uint64, s *Snapshot) {
			l.mu.Lock()
			l.Limits = append(l.Limits, faultEvent{Old: old, New: new, At: s.Time.Sub(l.start)})
			notify := l.notify
			l.mu.Unlock()
			if notify != nil {
				notify(old, new)
			}
		}),
		OnLevel(func(old, new Level, s *Snapshot) {
			l.mu.Lock()
			l.Levels = append(l.Levels, faultEvent{Old: uint64(old), New: uint64(new), At: s.Time.Sub(l.start)})
			l.mu.Unlock()
		}),
	}
}

// setPhase closes the current phase and opens the next ("" only closes).
func (l *faultLog) setPhase(tb testing.TB, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, cpu := time.Since(l.start), processCPU(tb)
	var wake uint64
	if l.w != nil {
		wake = l.w.stats.wakeups.Load()
	}
	if n := len(l.Phases); n > 0 {
		p := &l.Phases[n-1]
		p.CPU, p.Wall, p.Wakeups = cpu-l.cpu0, now-p.Start, wake-l.wake0
	}
	if name != "" {
		l.Phases = append(l.Phases, faultPhase{Name: name, Start: now})
		l.cpu0, l.wake0 = cpu, wake
	}
}

// poll records the GOMEMLIMIT in force and each snapshot the Watcher
// publishes, every 2 ms until ctx ends (a sample every interval ≥ 10 ms is
// not missed).
func (l *faultLog) poll(ctx context.Context, w *Watcher) {
	var s Snapshot
	for ctx.Err() == nil {
		gml := debug.SetMemoryLimit(-1)
		have := w.LatestInto(&s)
		l.mu.Lock()
		if gml != l.lastGML {
			l.GML = append(l.GML, faultEvent{Old: uint64(l.lastGML), New: uint64(gml), At: time.Since(l.start)})
			l.lastGML = gml
		}
		if have && !s.Time.Equal(l.lastT) {
			l.lastT = s.Time
			fs := faultSample{At: s.Time.Sub(l.start), Avail: s.Cgroup.Available,
				Reason: s.Actions.MemLimitReason, Changes: s.Actions.MemLimitChanges}
			if s.Cgroup.Err != nil {
				fs.Err = s.Cgroup.Err.Error()
			}
			l.Samples = append(l.Samples, fs)
		}
		l.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts the Watcher and its poller in the first phase; the returned
// stop ends both (once) and records the GOMEMLIMIT left after Stop.
func (l *faultLog) run(tb testing.TB, w *Watcher, first string) (stop func()) {
	l.w = w
	l.setPhase(tb, first)
	if err := w.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.poll(ctx, w)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.setPhase(tb, "")
			cancel()
			<-done
			w.Stop()
			l.mu.Lock()
			l.Stopped = debug.SetMemoryLimit(-1)
			l.mu.Unlock()
		})
	}
}

// phaseOf names the phase at time at.
func (l *faultLog) phaseOf(at time.Duration) string {
	name := ""
	for _, p := range l.Phases {
		if p.Start <= at {
			name = p.Name
		}
	}
	return name
}

func (l *faultLog) phase(name string) faultPhase {
	for _, p := range l.Phases {
		if p.Name == name {
			return p
		}
	}
	return faultPhase{}
}

// gmlIn returns the GOMEMLIMIT values that came into force during phase.
func (l *faultLog) gmlIn(phase string) []int64 {
	var v []int64
	for _, e := range l.GML {
		if l.phaseOf(e.At) == phase {
			v = append(v, int64(e.New))
		}
	}
	return v
}

// gmlAt returns the GOMEMLIMIT in force when phase began.
func (l *faultLog) gmlAt(phase string) int64 {
	v := int64(math.MaxInt64)
	start := l.phase(phase).Start
	for _, e := range l.GML {
		if e.At < start {
			v = int64(e.New)
		}
	}
	return v
}

// limitsIn returns the limit changes reported during phase, as "old→new".
func (l *faultLog) limitsIn(phase string) []string {
	var v []string
	for _, e := range l.Limits {
		if l.phaseOf(e.At) == phase {
			v = append(v, limitName(e.Old)+"→"+limitName(e.New))
		}
	}
	return v
}

func (l *faultLog) levelsIn(phase string) []string {
	var v []string
	for _, e := range l.Levels {
		if l.phaseOf(e.At) == phase {
			v = append(v, Level(e.Old).String()+"→"+Level(e.New).String())
		}
	}
	return v
}

// samplesIn counts the snapshots of phase and those without the cgroup
// view, and lists their distinct reasons and the last change count.
func (l *faultLog) samplesIn(phase string) (n, unavailable int, reasons []string, changes uint64) {
	for _, s := range l.Samples {
		if l.phaseOf(s.At) != phase {
			continue
		}
		n++
		if !s.Avail {
			unavailable++
		}
		if !slices.Contains(reasons, s.Reason) {
			reasons = append(reasons, s.Reason)
		}
		changes = s.Changes
	}
	return n, unavailable, reasons, changes
}

// errorsIn lists the distinct cgroup view errors of phase.
func (l *faultLog) errorsIn(phase string) []string {
	var errs []string
	for _, s := range l.Samples {
		if s.Err != "" && l.phaseOf(s.At) == phase && !slices.Contains(errs, s.Err) {
			errs = append(errs, s.Err)
		}
	}
	return errs
}

func limitName(v uint64) string {
	if v == cgroupstat.Unlimited {
		return "max"
	}
	return strconv.FormatUint(v, 10)
}

// gmlName names a GOMEMLIMIT value.
func gmlName(v int64) string {
	if v == math.MaxInt64 {
		return "off"
	}
	return strconv.FormatInt(v, 10)
}

// logTable writes the run's record for the test log.
func (l *faultLog) logTable(tb testing.TB) {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%-17s %7s %7s %7s %7s %7s  %-20s %-22s %s\n", "phase", "samples", "unavail", "changes", "cpu", "wakeups", "GOMEMLIMIT set", "limit changes", "levels")
	for _, p := range l.Phases {
		n, un, _, ch := l.samplesIn(p.Name)
		var g []string
		for _, v := range l.gmlIn(p.Name) {
			g = append(g, gmlName(v))
		}
		fmt.Fprintf(&b, "%-17s %7d %7d %7d %7v %7d  %-20s %-22s %s\n", p.Name, n, un, ch,
			p.CPU.Round(time.Millisecond), p.Wakeups, strings.Join(g, ","), strings.Join(l.limitsIn(p.Name), ","), strings.Join(l.levelsIn(p.Name), ","))
	}
	for _, p := range l.Phases {
		_, _, reasons, _ := l.samplesIn(p.Name)
		fmt.Fprintf(&b, "%s: reasons %q", p.Name, reasons)
		if errs := l.errorsIn(p.Name); len(errs) > 0 {
			fmt.Fprintf(&b, ", cgroup errors %q", errs)
		}
		b.WriteByte('\n')
	}
	tb.Logf("fault run:\n%s", b.String())
}

// checkSteady asserts that nothing changed during a fault phase: no
// GOMEMLIMIT change (in particular no return to "off"), no limit change, at
// most one level change (entering the fault; never back and forth).
func (l *faultLog) checkSteady(tb testing.TB, phase string) {
	tb.Helper()
	if g := l.gmlIn(phase); len(g) > 0 {
		tb.Errorf("%s: GOMEMLIMIT changed %d times (%v): a fault must keep it", phase, len(g), g)
	}
	if lc := l.limitsIn(phase); len(lc) > 0 {
		tb.Errorf("%s: limit changes reported %v, but the limit did not change", phase, lc)
	}
	if lv := l.levelsIn(phase); len(lv) > 1 {
		tb.Errorf("%s: level changed %d times %v: the level flaps", phase, len(lv), lv)
	}
}

// checkNoSpin asserts that the phase took about one sample per interval,
// not a loop.
func (l *faultLog) checkNoSpin(tb testing.TB, phase string, interval time.Duration) {
	tb.Helper()
	p := l.phase(phase)
	n, _, _, _ := l.samplesIn(phase)
	if max := int(p.Wall/interval)*3 + 10; n > max {
		tb.Errorf("%s: %d samples in %v at a %v interval (> %d): the Watcher spins", phase, n, p.Wall, interval, max)
	}
	// Under TCG in the QEMU VM every read is many times slower: the sample
	// count above still catches a spin there, the CPU share does not.
	if p.Wall > 0 && p.CPU > p.Wall/4 && os.Getenv("MEMWATCH_VM") == "" {
		tb.Errorf("%s: %v CPU in %v of wall time: the Watcher spins", phase, p.CPU, p.Wall)
	}
}

// TestFaultFixtureWatcher runs a Watcher with every action on over a copy
// of the v1 fixture and spoils its files while it runs. A regular file
// renamed away keeps being read through the open descriptor (nothing may
// change); a file rewritten in place with junk makes its reads fail until
// it is restored (a transient fault: GOMEMLIMIT kept, no flap; files other
// than usage and limit only degrade fields); the limit rewritten to the v1
// "no limit" value is a real change (GOMEMLIMIT goes back to what it was
// before the Watcher, and returns with the limit).
func TestFaultFixtureWatcher(t *testing.T) {
	saveRuntime(t)
	root := fixture.Copy(t, "testdata/v1-limit")
	cg := filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")
	const interval = 20 * time.Millisecond
	const dwell = 300 * time.Millisecond
	const limit = 512 << 20

	l := newFaultLog()
	orig := l.lastGML
	w, err := New(append(l.options(interval), WithRoot(root))...)
	if err != nil {
		t.Fatal(err)
	}
	stop := l.run(t, w, "start")
	defer stop()
	time.Sleep(dwell)

	type step struct {
		phase string
		fault func() (restore func())
	}
	inPlace := func(name, content string) func() func() {
		return func() func() { return rewrite(t, filepath.Join(cg, name), content) }
	}
	steps := []step{
		{"renamed", func() func() {
			p := filepath.Join(cg, "memory.stat")
			if err := os.Rename(p, p+".away"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Rename(p+".away", p); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"stat-junk", inPlace("memory.stat", "junk\n")},
		{"oomctl-junk", inPlace("memory.oom_control", "oom_kill_disable x\n")},
		{"failcnt-bad", inPlace("memory.failcnt", "-1\n")},
		{"kmem-max", inPlace("memory.kmem.usage_in_bytes", "max\n")},
		{"usage-empty", inPlace("memory.usage_in_bytes", "")},
		{"limit-junk", inPlace("memory.limit_in_bytes", "max max\n")},
	}
	// Each phase begins before its change, and the change waits for a
	// sample in flight to end: a phase holds only samples taken after the
	// previous change.
	phase := func(name string) {
		l.setPhase(t, name)
		time.Sleep(5 * time.Millisecond)
	}
	for _, s := range steps {
		phase(s.phase)
		restore := s.fault()
		time.Sleep(dwell)
		phase(s.phase + "-back")
		restore()
		time.Sleep(dwell)
	}
	// A real change: no limit (v1 prints PAGE_COUNTER_MAX pages in
	// limit_in_bytes and in the hierarchical limit of memory.stat), then the
	// limit again.
	const none = "9223372036854771712"
	stat, err := os.ReadFile(filepath.Join(cg, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	unlimitedStat := strings.Replace(string(stat), "hierarchical_memory_limit 536870912\n", "hierarchical_memory_limit "+none+"\n", 1)
	phase("unlimited")
	restoreStat := rewrite(t, filepath.Join(cg, "memory.stat"), unlimitedStat)
	restoreLimit := rewrite(t, filepath.Join(cg, "memory.limit_in_bytes"), none+"\n")
	time.Sleep(dwell)
	phase("limited")
	restoreStat()
	restoreLimit()
	time.Sleep(dwell)
	stop()
	l.logTable(t)

	if gml0 := l.gmlAt("renamed"); gml0 == orig || gml0 <= 0 || gml0 >= limit {
		t.Fatalf("GOMEMLIMIT %s after the first samples under a 512 MiB limit", gmlName(gml0))
	}
	for _, s := range steps {
		l.checkSteady(t, s.phase)
		l.checkNoSpin(t, s.phase, interval)
		// Back to normal: GOMEMLIMIT as before, no limit change.
		if g := l.gmlIn(s.phase + "-back"); len(g) > 0 {
			t.Errorf("%s-back: GOMEMLIMIT changed %v after the fault ended", s.phase, g)
		}
		if lc := l.limitsIn(s.phase + "-back"); len(lc) > 0 {
			t.Errorf("%s-back: limit changes %v", s.phase, lc)
		}
	}
	// The renamed file is still read through its descriptor: nothing at all
	// may change, not even the view.
	if _, un, _, _ := l.samplesIn("renamed"); un > 0 || len(l.levelsIn("renamed")) > 0 {
		t.Errorf("renamed: %d samples without the cgroup view, levels %v", un, l.levelsIn("renamed"))
	}
	// Only usage and limit are what protection needs: a spoilt
	// memory.stat, oom_control, failcnt or kmem file degrades fields, the
	// view stays (issue 11, "degrade per field").
	for _, p := range []string{"stat-junk", "oomctl-junk", "failcnt-bad", "kmem-max"} {
		if n, un, _, _ := l.samplesIn(p); un > 0 {
			t.Errorf("%s: the cgroup view was unavailable on %d of %d samples (degrade per field: usage and limit are still readable)", p, un, n)
		}
	}
	if got := l.limitsIn("unlimited"); len(got) != 1 || got[0] != "536870912→max" {
		t.Errorf("unlimited: limit changes %v, want [536870912→max]", got)
	}
	if got := l.limitsIn("limited"); len(got) != 1 || got[0] != "max→536870912" {
		t.Errorf("limited: limit changes %v, want [max→536870912]", got)
	}
	if g := l.gmlIn("unlimited"); len(g) != 1 || g[0] != orig {
		t.Errorf("unlimited: GOMEMLIMIT %v, want one change back to the original %s", g, gmlName(orig))
	}
	if g := l.gmlIn("limited"); len(g) != 1 || g[0] == orig || g[0] >= limit {
		t.Errorf("limited: GOMEMLIMIT %v, want one change to a limit below %d", g, limit)
	}
	if n := len(l.Limits); n != 2 {
		t.Errorf("%d limit-change callbacks, want 2 (one per real change)", n)
	}
	if l.Stopped != orig {
		t.Errorf("GOMEMLIMIT %s after Stop, want the original %s", gmlName(l.Stopped), gmlName(orig))
	}
}

// rewrite replaces the content of a fixture file in place (same inode, so
// a descriptor the Watcher holds sees it) with one pwrite, padded with
// newlines to at least the old length so that no reader sees a truncated
// file between two writes. It returns the function that puts the old
// content back the same way.
func rewrite(t *testing.T, path, content string) (restore func()) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if len(b) < len(old) {
			b = append(b[:len(b):len(b)], bytes.Repeat([]byte("\n"), len(old)-len(b))...)
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	put([]byte(content))
	return func() {
		put(old)
		if err := os.Truncate(path, int64(len(old))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultFixtureFileReturns starts a Watcher while memory.stat is missing
// from the fixture and puts it back: usage and limit (what protection
// needs) must be there from the first sample, and the breakdown must
// return with the file.
func TestFaultFixtureFileReturns(t *testing.T) {
	saveRuntime(t)
	root := fixture.Copy(t, "testdata/v1-limit")
	stat := filepath.Join(root, "sys/fs/cgroup/memory/mwsnap/memory.stat")
	if err := os.Rename(stat, stat+".away"); err != nil {
		t.Fatal(err)
	}
	const interval = 20 * time.Millisecond
	l := newFaultLog()
	w, err := New(append(l.options(interval), WithRoot(root))...)
	if err != nil {
		t.Fatal(err)
	}
	stop := l.run(t, w, "missing")
	defer stop()
	first := w.Latest()
	time.Sleep(200 * time.Millisecond)
	if err := os.Rename(stat+".away", stat); err != nil {
		t.Fatal(err)
	}
	l.setPhase(t, "returned")
	deadline := time.Now().Add(2 * time.Second)
	var last *Snapshot
	for time.Now().Before(deadline) {
		last = w.Latest()
		if last.Cgroup.Available && last.Cgroup.Stats.Full && last.Cgroup.Stats.Stat.Present&cgroupstat.StatInactiveFile != 0 {
			break
		}
		time.Sleep(interval)
	}
	stop()
	l.logTable(t)
	if !first.Cgroup.Available || first.Cgroup.Stats.Limit != 512<<20 {
		t.Errorf("without memory.stat: cgroup view available %v, limit %d (error %v); usage and limit need only their own files",
			first.Cgroup.Available, first.Cgroup.Stats.Limit, first.Cgroup.Err)
	}
	if first.Actions.MemLimit == 0 {
		t.Errorf("without memory.stat GOMEMLIMIT was not set (reason %q)", first.Actions.MemLimitReason)
	}
	if !last.Cgroup.Available || !last.Cgroup.Stats.Full || last.Cgroup.Stats.Stat.Present&cgroupstat.StatInactiveFile == 0 {
		t.Errorf("memory.stat back for 2s: available %v, full %v, stat keys %#x (error %v): the breakdown did not return",
			last.Cgroup.Available, last.Cgroup.Stats.Full, last.Cgroup.Stats.Stat.Present, last.Cgroup.Err)
	}
	// With the breakdown back, the non-Go memory it shows is counted again:
	// GOMEMLIMIT may move once, to the decision on the whole snapshot, and
	// never back to "no limit".
	if g := l.gmlIn("returned"); len(g) > 1 {
		t.Errorf("returned: GOMEMLIMIT changed %d times (%v): it flaps", len(g), g)
	}
	if d := DefaultMemLimitPolicy().Decide(last); last.Actions.MemLimit == 0 || limitChanged(int64(last.Actions.MemLimit), int64(d.Limit)) {
		t.Errorf("returned: GOMEMLIMIT %d, want the decision on the whole snapshot %d", last.Actions.MemLimit, d.Limit)
	}
	if lc := l.limitsIn("returned"); len(lc) > 0 {
		t.Errorf("returned: limit changes reported %v, but the limit did not change", lc)
	}
	if lv := l.levelsIn("returned"); len(lv) > 1 {
		t.Errorf("returned: level changed %d times %v: the level flaps", len(lv), lv)
	}
}

// envFaultHelper makes the test binary run faultHelper (inside a test
// cgroup).
const envFaultHelper = "MEMWATCH_FAULT_HELPER"

// TestFaultHelperProcess is the helper's body; it does nothing in a normal
// run. It runs a fault Watcher on its own cgroup, prints "ready", then
// follows the phases the parent sends on stdin ("phase <name>", answered
// "phase <name>"; "stop"), prints "limit <old> <new>" from OnLimitChange
// as it happens, and ends with "report <JSON faultLog>".
func TestFaultHelperProcess(t *testing.T) {
	if os.Getenv(envFaultHelper) == "" {
		return
	}
	l := newFaultLog()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Printf(format+"\n", args...)
		outMu.Unlock()
	}
	l.notify = func(old, new uint64) { say("limit %s %s", limitName(old), limitName(new)) }
	w, err := New(l.options(50 * time.Millisecond)...)
	if err != nil {
		say("report %s", mustJSON(&faultLog{Err: err.Error()}))
		os.Exit(0)
	}
	stop := l.run(t, w, "start")
	say("ready %s", w.Latest().Sampling.Mode)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		if cmd == "stop" {
			break
		}
		if cmd == "phase" {
			l.setPhase(t, arg)
			say("phase %s", arg)
		}
	}
	stop()
	l.mu.Lock()
	say("report %s", mustJSON(l))
	l.mu.Unlock()
	os.Exit(0)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// faultChild is the parent's side of a helper.
type faultChild struct {
	t     *testing.T
	stdin *os.File
	lines chan string
	ch    *cgtest.Child
}

// expect waits (bounded) for a line with the given prefix and returns it.
func (c *faultChild) expect(prefix string, timeout time.Duration) string {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("helper exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timer.C:
			c.t.Fatalf("no %q from the helper within %v", prefix, timeout)
		}
	}
}

func (c *faultChild) phase(name string) {
	c.t.Helper()
	fmt.Fprintf(c.stdin, "phase %s\n", name)
	c.expect("phase "+name, 5*time.Second)
}

// TestFaultRealCgroupV1 injects faults into a real v1 memory cgroup (root
// only) while a helper process inside it runs a Watcher with every action
// on: the limit set to unlimited and back (two real changes: GOMEMLIMIT off
// and on again, two callbacks), then the process moved to another cgroup
// and its old cgroup removed (the Watcher's descriptors then read ENODEV:
// GOMEMLIMIT must stay as it was, the limit must not be reported changed,
// and the Watcher must not spin).
func TestFaultRealCgroupV1(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: runs a helper in child cgroups for about 5s")
	}
	const limit = 256 << 20
	a := cgtest.Create(t, cgtest.WithLimit(limit), cgtest.WithNoSwap())
	if a.Version() != 1 {
		t.Skip("v1 only (the VM test covers v2)")
	}
	b := cgtest.Create(t, cgtest.WithLimit(384<<20), cgtest.WithNoSwap())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestFaultHelperProcess$")
	cmd.Env = append(os.Environ(), envFaultHelper+"=1")
	var stderr syncbuf.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &stderr
	c := &faultChild{t: t, stdin: inW, lines: make(chan string, 64)}
	c.ch = a.Start(t, cmd)
	inR.Close()
	outW.Close()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	mode := strings.TrimPrefix(c.expect("ready", time.Minute), "ready ")
	t.Logf("helper %d in %s, sampling mode %s", c.ch.Pid(), a.Path(), mode)
	const dwell = 500 * time.Millisecond
	time.Sleep(dwell)

	c.phase("unlimited")
	// memory+swap first: v1 refuses a memory limit above the memsw limit.
	if a.SwapLimited() {
		if err := a.WriteFile("memory.memsw.limit_in_bytes", "-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.WriteFile("memory.limit_in_bytes", "-1"); err != nil {
		t.Fatal(err)
	}
	c.expect("limit "+strconv.Itoa(limit)+" max", 5*time.Second)
	time.Sleep(dwell)

	c.phase("limited")
	if err := a.SetLimit(limit); err != nil {
		t.Fatal(err)
	}
	if a.SwapLimited() {
		if err := a.WriteFile("memory.memsw.limit_in_bytes", strconv.Itoa(limit)); err != nil {
			t.Fatal(err)
		}
	}
	c.expect("limit max "+strconv.Itoa(limit), 5*time.Second)
	time.Sleep(dwell)

	c.phase("moved")
	if err := b.WriteFile("cgroup.procs", strconv.Itoa(c.ch.Pid())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(dwell)

	c.phase("removed")
	if err := rmdirRetry(a.Dir(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * dwell)

	fmt.Fprintln(c.stdin, "stop")
	line := c.expect("report ", 30*time.Second)
	if err := c.ch.Wait(30 * time.Second); err != nil {
		t.Fatalf("helper: %v; stderr %s", err, stderr.String())
	}
	var l faultLog
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "report ")), &l); err != nil {
		t.Fatal(err)
	}
	if l.Err != "" {
		t.Fatalf("helper: %s", l.Err)
	}
	l.logTable(t)

	orig := int64(math.MaxInt64)
	set := l.gmlAt("unlimited")
	if set == orig || set >= limit {
		t.Fatalf("GOMEMLIMIT %s under a %d limit before the faults", gmlName(set), limit)
	}
	if got := l.limitsIn("unlimited"); len(got) != 1 || got[0] != strconv.Itoa(limit)+"→max" {
		t.Errorf("unlimited: limit changes %v, want exactly one to max", got)
	}
	if g := l.gmlIn("unlimited"); len(g) != 1 || g[0] != orig {
		t.Errorf("unlimited: GOMEMLIMIT %v, want one change back to off (no limit, no GOMEMLIMIT)", g)
	}
	if got := l.limitsIn("limited"); len(got) != 1 || got[0] != "max→"+strconv.Itoa(limit) {
		t.Errorf("limited: limit changes %v, want exactly one back to %d", got, limit)
	}
	g := l.gmlIn("limited")
	if len(g) != 1 || g[0] == orig || g[0] >= limit {
		t.Errorf("limited: GOMEMLIMIT %v, want one change to a limit below %d", g, limit)
	}
	for _, p := range []string{"moved", "removed"} {
		l.checkSteady(t, p)
		l.checkNoSpin(t, p, 50*time.Millisecond)
	}
	if n := len(l.Limits); n != 2 {
		t.Errorf("%d limit-change callbacks, want 2", n)
	}
	if n, _, _, _ := l.samplesIn("removed"); n == 0 {
		t.Errorf("removed: no sample published")
	}
	if l.Stopped != orig {
		t.Errorf("GOMEMLIMIT %s after Stop, want it restored to off", gmlName(l.Stopped))
	}
}

// rmdirRetry removes a cgroup directory, retrying while the kernel still
// reports it busy (a task moved out is released asynchronously).
func rmdirRetry(dir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := os.Remove(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
