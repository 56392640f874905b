//go:build linux

package memwatch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"golang.org/x/sys/unix"
)

// vmSkipReason is why the VM tests skip outside the QEMU harness.
const vmSkipReason = "runs only inside the VM harness (scripts/test-vm.sh)"

// requireVMv2 skips unless the test runs inside the VM harness on cgroup v2.
func requireVMv2(t *testing.T) {
	t.Helper()
	if os.Getenv("MEMWATCH_VM") != "v2" {
		t.Skip(vmSkipReason)
	}
}

// vmEnvBytes returns a byte count the harness exported (0 when unset or
// "max").
func vmEnvBytes(t *testing.T, name string) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" || v == "max" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// readCgroupUint reads a one-number cgroup v2 file such as memory.current.
func readCgroupUint(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", path, b, err)
	}
	return n
}

// readEventsHigh reads the "high" counter of a v2 memory.events directly (the
// oracle for the Watcher's parsed value).
func readEventsHigh(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "high "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			return n
		}
	}
	t.Fatalf("%s has no high counter: %q", path, b)
	return 0
}

// TestVMWatcherHighWakeup drives the cgroup past memory.high with anonymous
// memory and checks the v2 wake-up path end to end on a real kernel: the
// inotify watch on memory.events and the PSI trigger are registered, OnHigh
// fires, the events high counter rises and the level follows the usage
// against memory.max.
func TestVMWatcherHighWakeup(t *testing.T) {
	requireVMv2(t)
	high := vmEnvBytes(t, "MEMWATCH_VM_HIGH")
	hardMax := vmEnvBytes(t, "MEMWATCH_VM_MAX")
	if high == 0 || hardMax == 0 || high+16<<20 > hardMax {
		t.Skipf("needs MEMWATCH_VM_HIGH and MEMWATCH_VM_MAX set with at least 16 MiB between them (high %d, max %d)", high, hardMax)
	}

	type highCall struct {
		at   time.Time
		snap *Snapshot
	}
	type levelCall struct {
		old, new Level
		snap     *Snapshot
	}
	var (
		mu     sync.Mutex
		highs  []highCall
		levels []levelCall
	)
	highCh := make(chan struct{}, 1)
	levelCh := make(chan struct{}, 1)
	w, err := New(
		// A fixed 1 s interval (no adaptive shortening): a reaction much
		// faster than that comes from a kernel wake-up.
		WithInterval(time.Second), WithMinInterval(time.Second),
		OnHigh(func(s *Snapshot) {
			now := time.Now()
			mu.Lock()
			highs = append(highs, highCall{now, s})
			mu.Unlock()
			select {
			case highCh <- struct{}{}:
			default:
			}
		}),
		OnLevel(func(old, new Level, s *Snapshot) {
			mu.Lock()
			levels = append(levels, levelCall{old, new, s})
			mu.Unlock()
			select {
			case levelCh <- struct{}{}:
			default:
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	s0 := w.Latest()
	c0 := &s0.Cgroup
	if !c0.Available {
		t.Fatalf("cgroup view unavailable: %v", c0.Err)
	}
	if c0.Stats.Version != cgroupstat.V2 {
		t.Fatalf("cgroup version %v, want v2", c0.Stats.Version)
	}
	if c0.Stats.High != high || c0.Stats.Limit != hardMax {
		t.Fatalf("cgroup high %d limit %d, harness set high %d max %d", c0.Stats.High, c0.Stats.Limit, high, hardMax)
	}
	if !c0.Stats.Full || !c0.Stats.Events.HasEvents {
		t.Fatalf("first sample has no memory.events (full %v, has events %v)", c0.Stats.Full, c0.Stats.Events.HasEvents)
	}
	mode := s0.Sampling.Mode
	t.Logf("mode %q, cgroup %s, usage %d, high %d, limit %d, events.high %d", mode, c0.Location.Path, c0.Stats.Usage, high, hardMax, c0.Stats.Events.High)
	parts := strings.Split(mode, "+")
	has := func(p string) bool {
		for _, x := range parts {
			if x == p {
				return true
			}
		}
		return false
	}
	// The VM runs as root with a writable cgroupfs and psi=1: both v2
	// wake-ups must register (see startEvents).
	if !has("inotify") || !has("psi") {
		t.Fatalf("mode %q: want the inotify watch and the PSI trigger", mode)
	}
	if has("eventfd") {
		t.Errorf("mode %q: v1 eventfd registered on cgroup v2", mode)
	}

	dir := c0.Location.Dir
	currentPath := filepath.Join(dir, "memory.current")
	eventsPath := filepath.Join(dir, "memory.events")
	usage0 := readCgroupUint(t, currentPath)
	const step = 1 << 20 // fine steps: the crossing step bounds the latency measurement
	target := high + 8<<20
	if usage0+16<<20 > high {
		t.Fatalf("usage %d already within 16 MiB of memory.high %d before the test allocates", usage0, high)
	}
	// Map enough for the target plus slack (reclaimed page cache lowers the
	// usage the mapping has to make up for); the loop stops at the target.
	size := int(target-usage0) + 16<<20
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	wake0 := w.stats.wakeups.Load()
	page := unix.Getpagesize()

	var crossStart, crossEnd time.Time
	touched := 0
	start := time.Now()
	for touched+step <= len(mem) {
		t0 := time.Now()
		for i := touched; i < touched+step; i += page {
			mem[i] = 1
		}
		touched += step
		cur := readCgroupUint(t, currentPath)
		t1 := time.Now()
		if crossStart.IsZero() && cur >= high {
			crossStart, crossEnd = t0, t1
			t.Logf("crossed memory.high after %d MiB touched in %v: usage %d (step took %v)", touched>>20, t1.Sub(start).Round(time.Millisecond), cur, t1.Sub(t0).Round(time.Millisecond))
			// Wait for OnHigh before pushing further: the latency is then
			// that of the crossing alone.
			select {
			case <-highCh:
			case <-time.After(5 * time.Second):
				t.Errorf("OnHigh did not fire within 5s of usage %d passing memory.high %d (mode %q, wake-ups %d)", cur, high, mode, w.stats.wakeups.Load()-wake0)
			}
		}
		if cur >= target {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("allocation loop too slow: %d MiB touched in %v, usage %d", touched>>20, time.Since(start).Round(time.Millisecond), cur)
		}
	}
	if crossStart.IsZero() {
		t.Fatalf("usage never reached memory.high %d after touching %d MiB (usage %d)", high, touched>>20, readCgroupUint(t, currentPath))
	}
	t.Logf("touched %d MiB in %v, usage %d (target %d)", touched>>20, time.Since(start).Round(time.Millisecond), readCgroupUint(t, currentPath), target)

	mu.Lock()
	var first highCall
	nHigh := len(highs)
	if nHigh > 0 {
		first = highs[0]
	}
	mu.Unlock()
	if nHigh == 0 {
		t.Fatalf("OnHigh never fired (mode %q, kernel wake-ups %d)", mode, w.stats.wakeups.Load()-wake0)
	}
	// Log only: TCG timing is too noisy to assert on.
	t.Logf("OnHigh latency: %v after the crossing step ended, %v after it started; callback usage %d high %d events.high %d; kernel wake-ups so far %d",
		first.at.Sub(crossEnd).Round(time.Millisecond), first.at.Sub(crossStart).Round(time.Millisecond),
		first.snap.Cgroup.Stats.Usage, first.snap.Cgroup.Stats.High, first.snap.Cgroup.Stats.Events.High, w.stats.wakeups.Load()-wake0)
	if first.snap.Cgroup.Stats.High != high {
		t.Errorf("OnHigh snapshot high %d, want %d", first.snap.Cgroup.Stats.High, high)
	}
	if first.snap.Cgroup.Stats.Usage < high && first.snap.Cgroup.Stats.Events.High <= c0.Stats.Events.High {
		t.Errorf("OnHigh snapshot shows neither usage %d ≥ high %d nor a risen events.high (%d, was %d)",
			first.snap.Cgroup.Stats.Usage, high, first.snap.Cgroup.Stats.Events.High, c0.Stats.Events.High)
	}

	// The kernel counts high events and notifies memory.events; the Watcher
	// must have been woken, not only polled.
	if n := w.stats.wakeups.Load() - wake0; n == 0 {
		t.Errorf("no kernel wake-up reached the Watcher while usage passed memory.high (mode %q)", mode)
	}

	// A full sample now (every sample at warn or above is full; force one to
	// be independent of the timer).
	if !w.sampleNow() {
		t.Fatal("watcher stopped")
	}
	s := w.Latest()
	st := &s.Cgroup.Stats
	kernelHigh := readEventsHigh(t, eventsPath)
	t.Logf("after: usage %d working set %d limit %d level %v events.high %d → %d (file now %d) events.max %d oom_kill %d",
		st.Usage, st.WorkingSet, st.Limit, s.Level, c0.Stats.Events.High, st.Events.High, kernelHigh, st.Events.Max, st.Events.OOMKill)
	if !st.Full || !st.Events.HasEvents {
		t.Fatalf("forced sample not full or without events (full %v, has events %v)", st.Full, st.Events.HasEvents)
	}
	if st.Events.High <= c0.Stats.Events.High {
		t.Errorf("events.high %d did not rise from %d after usage passed memory.high", st.Events.High, c0.Stats.Events.High)
	}
	if st.Events.High > kernelHigh {
		t.Errorf("snapshot events.high %d is above the kernel's later value %d", st.Events.High, kernelHigh)
	}
	if st.Events.OOMKill != c0.Stats.Events.OOMKill {
		t.Errorf("oom_kill changed %d → %d: the test must stay below memory.max", c0.Stats.Events.OOMKill, st.Events.OOMKill)
	}

	// The level is judged on the working set against memory.max with the
	// default thresholds; derive the expectation from this snapshot.
	o := defaultWatcherConfig().tracker
	frac := float64(st.WorkingSet) / float64(st.Limit)
	want := LevelOK
	switch {
	case frac >= o.critical:
		want = LevelCritical
	case frac >= o.warn:
		want = LevelWarn
	}
	t.Logf("working set / limit = %.4f (warn %.2f, critical %.2f) → at least %v", frac, o.warn, o.critical, want)
	if want < LevelWarn {
		t.Fatalf("working set %d is below warn (%.4f of %d) although usage passed memory.high: the test setup is off", st.WorkingSet, frac, st.Limit)
	}
	// Rising is immediate, falling needs hysteresis: the level is at least
	// what this snapshot's fraction says.
	if s.Level < want {
		t.Errorf("level %v for working set fraction %.4f, want at least %v", s.Level, frac, want)
	}
	// OnLevel must have reported the rise out of ok.
	deadline := time.After(5 * time.Second)
	for {
		mu.Lock()
		var top Level
		var trail []string
		for _, l := range levels {
			trail = append(trail, l.old.String()+"→"+l.new.String())
			top = max(top, l.new)
		}
		mu.Unlock()
		if top >= want {
			t.Logf("OnLevel transitions: %s", strings.Join(trail, ", "))
			break
		}
		select {
		case <-levelCh:
		case <-deadline:
			t.Fatalf("OnLevel reported %v at most within 5s, want %v (transitions %v)", top, want, trail)
		}
	}
}
