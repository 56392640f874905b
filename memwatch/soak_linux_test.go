//go:build linux

package memwatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
	"golang.org/x/sys/unix"
)

// The soak test runs a Watcher with every action on, sampling every 20 ms,
// under a workload that changes in cycles (heap allocated and freed, non-Go
// memory mapped and unmapped, page cache written and dropped), and checks
// that nothing the Watcher owns grows: RSS, open descriptors, goroutines,
// and the CPU it costs per sample.
//
// The CI form runs for soakShort inside the normal go test (skipped with
// -short). The long form is a documented command:
//
//	MEMWATCH_SOAK=30m go test ./memwatch/ -run '^TestSoak$' -v -timeout 40m
//
// As root the workload runs in a child process inside a fresh memory
// cgroup with a limit (so the adaptive GOMEMLIMIT, the levels, shedding and
// FreeOSMemory all act); otherwise in the test process, in whatever cgroup
// it is in.

const (
	soakShort    = 10 * time.Second
	soakInterval = 20 * time.Millisecond
	envSoak      = "MEMWATCH_SOAK"        // duration of the long form
	envSoakChild = "MEMWATCH_SOAK_HELPER" // duration, in the child
)

// soakRow is the state at the quiet point of one workload cycle (after the
// free phase).
type soakRow struct {
	Elapsed    time.Duration
	Cycle      int
	RSS        uint64 // /proc/self/statm resident
	FDs        int
	Goroutines int
	Samples    uint64        // Watcher samples so far
	Checks     uint64        // usage/limit checks between samples so far
	ProcCPU    time.Duration // process CPU time so far (CLOCK_PROCESS_CPUTIME_ID)
	// QuietCPU and QuietSamples are the process CPU time and the samples
	// of this cycle's quiet part.
	QuietCPU     time.Duration
	QuietSamples uint64
	GOMEMLIMIT   int64
	Level        Level
	Available    bool
	Shed         uint64 // OnShed calls so far
	FreeOS       uint64 // FreeOSMemory calls so far
	Dropped      uint64
}

// soakReport is the soak's outcome (the child prints it as JSON).
type soakReport struct {
	Rows   []soakRow
	Limit  uint64 // the cgroup limit the Watcher saw (0: none)
	Mode   string
	Levels []string // level changes, "old→new"
	Err    string
}

// soakRun runs the Watcher and the workload for d.
func soakRun(d time.Duration) (rep soakReport) {
	var shed atomic.Uint64
	var mu sync.Mutex // guards levels (the callback goroutine appends)
	var levels []string
	w, err := New(
		WithInterval(soakInterval), WithMinInterval(MinInterval),
		WithAdaptiveMemLimit(DefaultMemLimitPolicy()),
		WithAdaptiveGOGC(DefaultGOGCPolicy()),
		WithFreeOSMemory(time.Second, 1<<20),
		OnShed(func(ShedSignal, *Snapshot) { shed.Add(1) }),
		OnLevel(func(old, new Level, _ *Snapshot) {
			mu.Lock()
			if len(levels) < 1000 {
				levels = append(levels, old.String()+"→"+new.String())
			}
			mu.Unlock()
		}),
	)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	// Samples are counted through the Watcher's read hook, called before
	// and after each sample and each usage/limit check.
	var calls atomic.Uint64
	w.stats.readClock = func() time.Duration {
		calls.Add(1)
		return 0
	}
	if err := w.Start(context.Background()); err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer func() {
		w.Stop()
		mu.Lock()
		rep.Levels = levels
		mu.Unlock()
	}()
	s := w.Latest()
	rep.Mode = s.Sampling.Mode
	if s.Cgroup.Available && s.Cgroup.Stats.HasLimit() {
		rep.Limit = s.Cgroup.Stats.Limit
	}
	dir, err := os.MkdirTemp("", "memwatch-soak-")
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer os.RemoveAll(dir)

	samples := func() uint64 { return calls.Load()/2 - w.stats.checks.Load() }
	start := time.Now()
	cycle := max(time.Second, min(d/60, 5*time.Second))
	var snap Snapshot
	for i := 0; time.Since(start) < d; i++ {
		var quiet soakQuiet
		if err := soakCycle(filepath.Join(dir, "cache"), i, rep.Limit, cycle, samples, &quiet); err != nil {
			rep.Err = err.Error()
			return rep
		}
		w.LatestInto(&snap)
		rep.Rows = append(rep.Rows, soakRow{
			Elapsed: time.Since(start), Cycle: i,
			RSS: statmRSS(), FDs: openFDs(), Goroutines: runtime.NumGoroutine(),
			Samples: samples(), Checks: w.stats.checks.Load(), ProcCPU: processCPUClock(),
			QuietCPU: quiet.cpu, QuietSamples: quiet.samples,
			GOMEMLIMIT: debug.SetMemoryLimit(-1), Level: snap.Level, Available: snap.Cgroup.Available,
			Shed: shed.Load(), FreeOS: snap.Actions.FreeOSMemoryCount, Dropped: w.Dropped(),
		})
	}
	return rep
}

// soakQuiet is the process CPU time and the samples of a cycle's quiet
// part, after the workload has freed everything: the CPU is then the
// Watcher's (and the runtime's background work).
type soakQuiet struct {
	cpu     time.Duration
	samples uint64
}

// soakCycle is one cycle of the workload, sized by the cgroup limit: at
// the peak of the largest cycles 44% of it in Go heap, 44% in non-Go
// anonymous memory (the working set then reaches the critical level, the
// live heap no longer fits the budget) and 25% in page cache (of 128 MiB without a limit; a
// quarter of that under the race detector, whose shadow memory is charged
// too). It allocates and touches, holds for half the cycle, frees
// everything (runtime.GC and FreeOSMemory included, so that the quiet point
// is comparable from cycle to cycle) and stays quiet for the rest.
func soakCycle(cachePath string, i int, limit uint64, cycle time.Duration, samples func() uint64, quiet *soakQuiet) error {
	t0 := time.Now()
	base := uint64(128 << 20)
	if limit > 0 {
		base = limit
	}
	if snapshotRace {
		base /= 4
	}
	scale := uint64(i%4 + 1) // the workload changes: 1/4 … 4/4 of the peak
	mib := func(pct uint64) int { return int(base * pct / 100 * scale / 4 >> 20) }
	heapMiB, mmapMiB, cacheMiB := mib(44), mib(44), mib(25)
	page := os.Getpagesize()

	heap := make([][]byte, 0, heapMiB)
	for range heapMiB {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += page {
			b[j] = 1
		}
		heap = append(heap, b)
	}
	mem, err := unix.Mmap(-1, 0, mmapMiB<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	for j := 0; j < len(mem); j += page {
		mem[j] = 1
	}
	f, err := os.Create(cachePath)
	if err != nil {
		unix.Munmap(mem)
		return err
	}
	chunk := bytes.Repeat([]byte{'x'}, 1<<20)
	for range cacheMiB {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			unix.Munmap(mem)
			return err
		}
	}
	if _, err := f.Seek(0, 0); err == nil {
		for {
			if _, err := f.Read(chunk); err != nil {
				break
			}
		}
	}
	time.Sleep(cycle/2 - time.Since(t0))

	f.Close()
	os.Remove(cachePath)
	unix.Munmap(mem)
	runtime.KeepAlive(heap)
	heap = nil
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(cycle / 10) // the runtime's background work after the GC
	cpu0, n0 := processCPUClock(), samples()
	time.Sleep(cycle - time.Since(t0))
	quiet.cpu, quiet.samples = processCPUClock()-cpu0, samples()-n0
	return nil
}

func statmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n * uint64(os.Getpagesize())
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func processCPUClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// TestSoakHelperProcess is the child of TestSoak; it does nothing in a
// normal run.
func TestSoakHelperProcess(t *testing.T) {
	v := os.Getenv(envSoakChild)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	rep := soakReport{Err: fmt.Sprint(err)}
	if err == nil {
		rep = soakRun(d)
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("report %s\n", b)
	os.Exit(0)
}

// TestSoak: see the comment at the top of this file.
func TestSoak(t *testing.T) {
	d := soakShort
	if v := os.Getenv(envSoak); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("%s=%q: %v", envSoak, v, err)
		}
	} else if testing.Short() {
		t.Skip("short mode: the soak's CI form runs for " + soakShort.String())
	} else if os.Getenv("MEMWATCH_VM") != "" {
		t.Skip("in the VM harness: the soak's CI form runs on the host")
	}
	var rep soakReport
	where := "the test process (its own cgroup)"
	if cg, ok := soakCgroup(t); ok {
		where = "a child in " + cg.Path()
		rep = soakChild(t, cg, d)
	} else {
		saveRuntime(t)
		rep = soakRun(d)
	}
	if rep.Err != "" {
		t.Fatalf("soak: %s", rep.Err)
	}
	checkSoak(t, rep, where)
}

// soakCgroup creates the soak's cgroup (a limit that lets the actions act)
// when it can; it reports false without the privilege.
func soakCgroup(t *testing.T) (cg *cgtest.Cgroup, ok bool) {
	if os.Geteuid() != 0 {
		return nil, false
	}
	limit := uint64(384 << 20)
	if snapshotRace {
		limit = 768 << 20
	}
	return cgtest.Create(t, cgtest.WithLimit(limit), cgtest.WithNoSwap()), true
}

func soakChild(t *testing.T, cg *cgtest.Cgroup, d time.Duration) soakReport {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestSoakHelperProcess$")
	cmd.Env = append(os.Environ(), envSoakChild+"="+d.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ch := cg.Start(t, cmd)
	if err := ch.Wait(d + 2*time.Minute); err != nil {
		t.Fatalf("soak child: %v (killed %v); stderr %q", err, ch.Killed(), tailString(errOut.String(), 2000))
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "report "); ok {
			var rep soakReport
			if err := json.Unmarshal([]byte(p), &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
	}
	t.Fatalf("soak child printed no report; stderr %q", tailString(errOut.String(), 2000))
	return soakReport{}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// soakWindow is one third of the run (start, middle, end), summarized.
type soakWindow struct {
	name            string
	to              soakRow // its last row
	rss             uint64  // median RSS of the window's quiet points
	fds, goroutines int     // the largest of the window
	cpuPerSample    time.Duration
	quietPerSample  time.Duration
	samplesPerSec   float64
}

// window summarizes rows; prev is the row before them. The quiet CPU per
// sample is the least over the window's cycles: other work on the machine
// only ever adds to it (cold caches, preemption), so the least is the
// Watcher's own cost and compares across windows.
func window(name string, rows []soakRow, prev soakRow) soakWindow {
	w := soakWindow{name: name, to: rows[len(rows)-1]}
	rss := make([]uint64, len(rows))
	var quiet []time.Duration
	for i, r := range rows {
		rss[i] = r.RSS
		w.fds, w.goroutines = max(w.fds, r.FDs), max(w.goroutines, r.Goroutines)
		if r.QuietSamples > 0 {
			quiet = append(quiet, r.QuietCPU/time.Duration(r.QuietSamples))
		}
	}
	slices.Sort(rss)
	w.rss = rss[len(rss)/2]
	if n := w.to.Samples - prev.Samples; n > 0 {
		w.cpuPerSample = (w.to.ProcCPU - prev.ProcCPU) / time.Duration(n)
		w.samplesPerSec = float64(n) / (w.to.Elapsed - prev.Elapsed).Seconds()
	}
	if len(quiet) > 0 {
		w.quietPerSample = slices.Min(quiet)
	}
	return w
}

// Bounds of the soak: what may grow from the first third to the last.
const (
	soakRSSGrowth       = 32 << 20 // plus 10% of the first third's RSS
	soakGoroutineGrowth = 2        // a FreeOSMemory or callback goroutine may be running
	soakCPUGrowth       = 2.0      // CPU per sample, last third / first third (+ soakCPUSlack)
	soakCPUSlack        = 50 * time.Microsecond
)

// checkSoak prints the table (start, middle, end thirds) and applies the
// bounds.
func checkSoak(t *testing.T, rep soakReport, where string) {
	t.Helper()
	rows := rep.Rows
	if len(rows) < 6 {
		t.Fatalf("only %d workload cycles: too short to compare", len(rows))
	}
	// The first cycle warms up (files opened, buffers grown): the windows
	// start after it.
	first, rows := rows[0], rows[1:]
	third := len(rows) / 3
	ws := []soakWindow{window("start", rows[:third], first)}
	ws = append(ws, window("middle", rows[third:2*third], rows[third-1]))
	ws = append(ws, window("end", rows[2*third:], rows[2*third-1]))
	var b strings.Builder
	fmt.Fprintf(&b, "soak in %s: %d cycles over %v, limit %s, mode %s, %d level changes, %d shed calls, %d FreeOSMemory, %d dropped\n",
		where, len(rep.Rows), rep.Rows[len(rep.Rows)-1].Elapsed.Round(time.Second), FormatBytes(rep.Limit), rep.Mode,
		len(rep.Levels), rep.Rows[len(rep.Rows)-1].Shed, rep.Rows[len(rep.Rows)-1].FreeOS, rep.Rows[len(rep.Rows)-1].Dropped)
	fmt.Fprintf(&b, "%-7s %9s %10s %5s %10s %9s %11s %12s %10s\n", "window", "until", "RSS (med)", "fds", "goroutines", "samples/s", "CPU/sample", "quiet (min)", "GOMEMLIMIT")
	for _, w := range ws {
		fmt.Fprintf(&b, "%-7s %9v %10s %5d %10d %9.1f %11v %12v %10s\n", w.name, w.to.Elapsed.Round(time.Second), FormatBytes(w.rss),
			w.fds, w.goroutines, w.samplesPerSec, w.cpuPerSample.Round(time.Microsecond), w.quietPerSample.Round(time.Microsecond), gmlName(w.to.GOMEMLIMIT))
	}
	t.Log(b.String())

	s, e := ws[0], ws[2]
	if e.fds > s.fds {
		t.Errorf("open descriptors grew from %d to %d", s.fds, e.fds)
	}
	if e.goroutines > s.goroutines+soakGoroutineGrowth {
		t.Errorf("goroutines grew from %d to %d", s.goroutines, e.goroutines)
	}
	if e.rss > s.rss+soakRSSGrowth+s.rss/10 {
		t.Errorf("RSS at the quiet points grew from %s to %s (bound: +%s + 10%%)", FormatBytes(s.rss), FormatBytes(e.rss), FormatBytes(soakRSSGrowth))
	}
	if lim := time.Duration(float64(s.cpuPerSample)*soakCPUGrowth) + soakCPUSlack; e.cpuPerSample > lim {
		t.Errorf("process CPU per sample grew from %v to %v (bound %v)", s.cpuPerSample, e.cpuPerSample, lim)
	}
	if lim := time.Duration(float64(s.quietPerSample)*soakCPUGrowth) + soakCPUSlack; e.quietPerSample > lim {
		t.Errorf("CPU per sample in the quiet parts grew from %v to %v (bound %v)", s.quietPerSample, e.quietPerSample, lim)
	}
	if e.samplesPerSec < 0.5/soakInterval.Seconds() {
		t.Errorf("%.1f samples/s at the end, want about %v", e.samplesPerSec, 1/soakInterval.Seconds())
	}
}
