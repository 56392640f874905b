//go:build linux

package memwatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
	"golang.org/x/sys/unix"
)

// envWatcherHelper makes the test binary run watcherHelper (re-executed
// inside a test cgroup).
const envWatcherHelper = "MEMWATCH_WATCHER_HELPER"

// helperStep is one allocation step of the helper: when it started and
// ended and the cgroup's usage after it.
type helperStep struct {
	Start, End int64 // unix nanoseconds
	Usage      uint64
}

// helperReport is what the helper prints as its last line.
type helperReport struct {
	Mode     string
	Limit    uint64
	Warn     int64 // unix nanoseconds of the warn callback (0: none)
	Critical int64
	Steps    []helperStep
	Err      string
	// relimit helper
	NewLimit     uint64
	LimitChanged bool
	Wakeups      uint64 // kernel wake-ups after the limit change
}

// TestWatcherHelperProcess is the helper body; it does nothing in a normal
// run.
func TestWatcherHelperProcess(t *testing.T) {
	if os.Getenv(envWatcherHelper) == "" {
		return
	}
	var rep helperReport
	if os.Getenv(envWatcherHelper) == "relimit" {
		rep = relimitHelper()
	} else {
		rep = watcherHelper()
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("report %s\n", b)
	os.Exit(0)
}

// watcherHelper runs a Watcher on its own cgroup (usage basis, default
// thresholds and 1 s nominal interval) and allocates anonymous memory in
// 8 MiB steps, 20 ms apart, up to 240 MiB or until the critical callback has
// fired, timestamping each step.
func watcherHelper() (rep helperReport) {
	var mu sync.Mutex
	mode := os.Getenv(envWatcherHelper)
	check := DefaultPollCheck
	if mode == "poll-nocheck" {
		check = 0
	}
	w, err := New(WithMeasure(MeasureUsage), WithEvents(mode == "events"), WithPollCheck(check), OnLevel(func(_, n Level, s *Snapshot) {
		now := time.Now().UnixNano()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case n == LevelWarn && rep.Warn == 0:
			rep.Warn = now
		case n == LevelCritical && rep.Critical == 0:
			rep.Critical = now
			if rep.Warn == 0 {
				rep.Warn = now
			}
		}
	}))
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		rep.Err = err.Error()
		return rep
	}
	s := w.Latest()
	rep.Mode, rep.Limit = s.Sampling.Mode, s.Cgroup.Stats.Limit
	usageFile := filepath.Join(s.Cgroup.Location.Dir, "memory.usage_in_bytes")
	if s.Cgroup.Location.Version == 2 {
		usageFile = filepath.Join(s.Cgroup.Location.Dir, "memory.current")
	}
	var keep [][]byte
	const step = 8 << 20
	for total := 0; total < 240<<20; total += step {
		mu.Lock()
		done := rep.Critical != 0
		mu.Unlock()
		if done {
			break
		}
		start := time.Now().UnixNano()
		b, err := unix.Mmap(-1, 0, step, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			rep.Err = err.Error()
			return rep
		}
		// MADV_POPULATE_WRITE faults the pages in from the kernel, so the
		// race detector's shadow memory is not touched.
		if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
			for i := 0; i < len(b); i += os.Getpagesize() {
				b[i] = 1
			}
		}
		keep = append(keep, b)
		end := time.Now().UnixNano()
		raw, err := os.ReadFile(usageFile)
		if err != nil {
			rep.Err = err.Error()
			return rep
		}
		u, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
		rep.Steps = append(rep.Steps, helperStep{Start: start, End: end, Usage: u})
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := rep.Critical != 0
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Stop()
	for _, b := range keep {
		unix.Munmap(b)
	}
	mu.Lock()
	defer mu.Unlock()
	return rep
}

// thresholdRun is the outcome of one helper run in a 256 MiB cgroup.
type thresholdRun struct {
	mode                 string
	warnLat, criticalLat time.Duration // callback time − start of the step that crossed
}

// runThresholdHelper runs the helper in mode "events" (the kernel wake-ups
// available here), "poll" (none; usage and limit checked between samples)
// or "poll-nocheck" (none, and no check: only the adaptive interval).
func runThresholdHelper(tb testing.TB, mode string) thresholdRun {
	tb.Helper()
	const limit = 256 << 20
	cg := cgtest.Create(tb, cgtest.WithLimit(limit), cgtest.WithNoSwap())
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestWatcherHelperProcess$")
	cmd.Env = append(os.Environ(), envWatcherHelper+"="+mode)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ch := cg.Start(tb, cmd)
	if err := ch.Wait(time.Minute); err != nil {
		tb.Fatalf("helper: %v (killed %v); stdout %q stderr %q", err, ch.Killed(), out.String(), errOut.String())
	}
	var rep helperReport
	for line := range strings.SplitSeq(out.String(), "\n") {
		if p, ok := strings.CutPrefix(line, "report "); ok {
			if err := json.Unmarshal([]byte(p), &rep); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if rep.Err != "" || len(rep.Steps) == 0 {
		tb.Fatalf("helper failed: %q; output %q %q", rep.Err, out.String(), errOut.String())
	}
	if rep.Limit != limit {
		tb.Fatalf("helper saw limit %d, want %d", rep.Limit, limit)
	}
	lat := func(name string, frac float64, at int64) time.Duration {
		tb.Helper()
		thr := uint64(frac * limit)
		for i, s := range rep.Steps {
			if s.Usage < thr {
				continue
			}
			if at == 0 {
				tb.Fatalf("%s: usage crossed %d at step %d but no callback (mode %s)", name, thr, i, rep.Mode)
			}
			if at < s.Start {
				tb.Fatalf("%s callback %v before the crossing step", name, time.Duration(s.Start-at))
			}
			return time.Duration(at - s.Start)
		}
		tb.Fatalf("%s: usage never crossed %d (last %d)", name, thr, rep.Steps[len(rep.Steps)-1].Usage)
		return 0
	}
	return thresholdRun{
		mode:        rep.Mode,
		warnLat:     lat("warn", 0.80, rep.Warn),
		criticalLat: lat("critical", 0.90, rep.Critical),
	}
}

// TestWatcherRealCgroupThresholds runs a Watcher inside a real 256 MiB
// memory cgroup while the process allocates toward the limit, and checks
// that the warn and critical callbacks fire soon after usage crosses 80%
// and 90%.
func TestWatcherRealCgroupThresholds(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: allocates 240 MiB in a child cgroup")
	}
	r := runThresholdHelper(t, "events")
	t.Logf("mode %s: warn callback %v after the crossing step began, critical %v", r.mode, r.warnLat, r.criticalLat)
	for name, d := range map[string]time.Duration{"warn": r.warnLat, "critical": r.criticalLat} {
		if d > 500*time.Millisecond {
			t.Errorf("%s callback latency %v > 500ms (mode %s)", name, d, r.mode)
		}
	}
}

// BenchmarkThresholdLatency reports the time from the start of the
// allocation step that crosses a threshold to the callback, in a real
// cgroup (one helper process per iteration).
// "events" uses the kernel wake-ups available here; "poll" disables them
// and relies on the usage/limit check between samples (WithPollCheck, 50
// ms); "poll-nocheck" has neither (1 s nominal interval, adaptive). Compare
// them within one run:
//
//	go test ./memwatch/ -run '^$' -bench ThresholdLatency -benchtime 5x
func BenchmarkThresholdLatency(b *testing.B) {
	for _, name := range []string{"events", "poll", "poll-nocheck"} {
		b.Run(name, func(b *testing.B) {
			var warn, crit time.Duration
			n := 0
			var mode string
			for b.Loop() {
				r := runThresholdHelper(b, name)
				warn += r.warnLat
				crit += r.criticalLat
				mode = r.mode
				n++
			}
			b.ReportMetric(float64(warn.Microseconds())/float64(n)/1000, "warn-ms")
			b.ReportMetric(float64(crit.Microseconds())/float64(n)/1000, "critical-ms")
			b.ReportMetric(0, "ns/op")
			b.Logf("mode %s", mode)
		})
	}
}

// TestWatcherEventsModes checks which kernel wake-ups are active for this
// process's own cgroup and that Stop closes every descriptor.
func TestWatcherEventsModes(t *testing.T) {
	before := countFds(t)
	w, err := New(WithInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Latest()
	t.Logf("mode on this host: %s (cgroup %v, readonly %v)", s.Sampling.Mode, s.Cgroup.Location.Version, s.Cgroup.Location.ReadOnly)
	if !strings.HasPrefix(s.Sampling.Mode, "poll") {
		t.Fatalf("mode %q", s.Sampling.Mode)
	}
	w.Stop()
	if after := countFds(t); after != before {
		t.Fatalf("open descriptors %d before, %d after Stop", before, after)
	}
}

func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// relimitHelper lowers its own cgroup's limit while a Watcher runs, waits
// for the limit-change callback, then allocates toward the new warn
// threshold: only re-registered v1 thresholds can wake the Watcher then (the
// old ones lie above the new limit).
func relimitHelper() (rep helperReport) {
	var mu sync.Mutex
	changed := make(chan struct{}, 1)
	w, err := New(WithMeasure(MeasureUsage),
		OnLimitChange(func(_, _ uint64, _ *Snapshot) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}),
		OnLevel(func(_, n Level, _ *Snapshot) {
			if n >= LevelWarn {
				mu.Lock()
				if rep.Warn == 0 {
					rep.Warn = time.Now().UnixNano()
				}
				mu.Unlock()
			}
		}))
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		rep.Err = err.Error()
		return rep
	}
	s := w.Latest()
	rep.Mode, rep.Limit = s.Sampling.Mode, s.Cgroup.Stats.Limit
	dir := s.Cgroup.Location.Dir
	var keep [][]byte
	alloc := func() error {
		b, err := unix.Mmap(-1, 0, 8<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return err
		}
		if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
			for i := 0; i < len(b); i += os.Getpagesize() {
				b[i] = 1
			}
		}
		keep = append(keep, b)
		return nil
	}
	defer func() {
		for _, b := range keep {
			unix.Munmap(b)
		}
	}()
	for range 4 {
		if err := alloc(); err != nil {
			rep.Err = err.Error()
			return rep
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes"))
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	u, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	rep.NewLimit = (u + 48<<20) &^ 4095
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatUint(rep.NewLimit, 10)), 0); err != nil {
		rep.Err = err.Error()
		return rep
	}
	select {
	case <-changed:
		rep.LimitChanged = true
	case <-time.After(5 * time.Second):
		return rep
	}
	w0 := w.stats.wakeups.Load()
	for range 5 {
		if err := alloc(); err != nil {
			rep.Err = err.Error()
			return rep
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		done := rep.Warn != 0
		mu.Unlock()
		if done {
			break
		}
	}
	rep.Wakeups = w.stats.wakeups.Load() - w0
	mu.Lock()
	defer mu.Unlock()
	return rep
}

// TestWatcherReregistersThresholds lowers the limit of a real cgroup under a
// running Watcher: it must report the change and re-register its v1 usage
// thresholds, which then wake it when usage crosses the new warn level.
func TestWatcherReregistersThresholds(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: runs a helper in a child cgroup")
	}
	cg := cgtest.Create(t, cgtest.WithLimit(256<<20), cgtest.WithNoSwap())
	if cg.Version() != 1 {
		t.Skip("v1 only: usage thresholds are a cgroup v1 mechanism")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestWatcherHelperProcess$")
	cmd.Env = append(os.Environ(), envWatcherHelper+"=relimit")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ch := cg.Start(t, cmd)
	if err := ch.Wait(time.Minute); err != nil {
		t.Fatalf("helper: %v; stdout %q stderr %q", err, out.String(), errOut.String())
	}
	var rep helperReport
	for line := range strings.SplitSeq(out.String(), "\n") {
		if p, ok := strings.CutPrefix(line, "report "); ok {
			if err := json.Unmarshal([]byte(p), &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep.Err != "" {
		t.Fatalf("helper: %s", rep.Err)
	}
	if !strings.Contains(rep.Mode, "eventfd") {
		t.Skipf("no eventfd wake-ups here (mode %s)", rep.Mode)
	}
	if !rep.LimitChanged {
		t.Fatalf("no limit-change callback after lowering the limit to %d", rep.NewLimit)
	}
	if rep.Warn == 0 {
		t.Fatalf("no warn after allocating toward the new limit %d", rep.NewLimit)
	}
	if rep.Wakeups == 0 {
		t.Fatalf("no kernel wake-up after the limit change: thresholds not re-registered (new limit %d)", rep.NewLimit)
	}
	t.Logf("limit lowered to %d: %d kernel wake-ups from the re-registered thresholds", rep.NewLimit, rep.Wakeups)
}
