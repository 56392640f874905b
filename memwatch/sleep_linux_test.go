//go:build linux

package memwatch

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newTestSleeper(t testing.TB) *kernelSleeper {
	t.Helper()
	e, err := newKernelSleeper(slog.New(slog.DiscardHandler), -1)
	if err != nil {
		t.Fatalf("newKernelSleeper: %v", err)
	}
	t.Cleanup(e.close)
	return e
}

// notInGo is the runtime's count of goroutines in a system call (or cgo).
func notInGo(t testing.TB) uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines/not-in-go:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Skip("this Go has no /sched/goroutines/not-in-go metric")
	}
	return s[0].Value.Uint64()
}

// TestSleeperParksInPoller checks that a sleeping Watcher is parked in the
// Go poller, not blocked in a system call: a goroutine in a blocking
// syscall keeps its P until sysmon takes it back (10–20 ms when sysmon
// idles), which with GOMAXPROCS=1 stalls the whole program on every sleep
// (BenchmarkSleepStall measures it). The runtime counts goroutines in
// system calls; the sleeper must not be one of them.
func TestSleeperParksInPoller(t *testing.T) {
	e := newTestSleeper(t)
	base := notInGo(t)
	for range 4 { // the lowest of a few reads: the count is approximate
		base = min(base, notInGo(t))
		time.Sleep(2 * time.Millisecond)
	}
	done := make(chan wake, 1)
	go func() { done <- e.sleep(time.Minute) }()
	time.Sleep(100 * time.Millisecond) // let it park
	inSyscall := 0
	const reads = 10
	for range reads {
		if notInGo(t) > base {
			inSyscall++
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.poke()
	select {
	case woke := <-done:
		if woke != 0 {
			t.Errorf("sleep reported a poke as a kernel signal (%b)", woke)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poke did not end the sleep")
	}
	if inSyscall > reads/2 {
		t.Errorf("a sleeping sleeper counted as in a system call in %d of %d reads (baseline %d): it blocks a thread and its P", inSyscall, reads, base)
	}
}

// TestSleeperDeadline: a sleep without signals lasts its duration, and a
// sleep of 0 or less returns at once.
func TestSleeperDeadline(t *testing.T) {
	e := newTestSleeper(t)
	for _, d := range []time.Duration{30 * time.Millisecond, 5 * time.Millisecond} {
		t0 := time.Now()
		if e.sleep(d) != 0 {
			t.Errorf("sleep(%v) reported a kernel signal, none was sent", d)
		}
		if got := time.Since(t0); got < d || got > d+5*time.Second {
			t.Errorf("sleep(%v) took %v", d, got)
		}
	}
	t0 := time.Now()
	e.sleep(-time.Second)
	e.sleep(0)
	if got := time.Since(t0); got > 5*time.Second {
		t.Errorf("sleep(0) took %v", got)
	}
}

// TestSleeperPokeBeforeSleep: a poke that comes before the sleep ends the
// next sleep at once (Stop racing the sampler must not be lost).
func TestSleeperPokeBeforeSleep(t *testing.T) {
	e := newTestSleeper(t)
	e.poke()
	t0 := time.Now()
	if e.sleep(time.Minute) != 0 {
		t.Error("a poke reported as a kernel signal")
	}
	if got := time.Since(t0); got > 10*time.Second {
		t.Fatalf("sleep after a poke took %v", got)
	}
	// Drained: the next sleep runs to its deadline.
	t0 = time.Now()
	e.sleep(20 * time.Millisecond)
	if got := time.Since(t0); got < 20*time.Millisecond {
		t.Errorf("the poke was not drained: the next sleep returned after %v", got)
	}
}

// TestSleeperKernelSignal: a descriptor the kernel signals (an inotify
// watch here, as on memory.events) ends the sleep and is reported as a
// kernel signal; the sleeper drains it.
func TestSleeperKernelSignal(t *testing.T) {
	e := newTestSleeper(t)
	path := filepath.Join(t.TempDir(), "memory.events")
	if err := os.WriteFile(path, []byte("oom 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		t.Skipf("inotify watch: %v", err)
	}
	if err := e.watch(fd, unix.EPOLLIN); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	e.inotify = fd // closed by e.close
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan wake, 1)
	go func() { done <- e.sleep(time.Minute) }()
	time.Sleep(20 * time.Millisecond)
	if _, err := f.WriteAt([]byte("1"), 4); err != nil { // one write: one IN_MODIFY
		t.Fatal(err)
	}
	select {
	case woke := <-done:
		if woke != wokeEvents {
			t.Errorf("an inotify event on memory.events reported as %b, want wokeEvents", woke)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the inotify event did not end the sleep")
	}
	if e.sleep(10*time.Millisecond) != 0 {
		t.Error("the inotify event was not drained: reported again")
	}
}

// TestSleeperNoAllocs: sleeping allocates nothing.
func TestSleeperNoAllocs(t *testing.T) {
	if snapshotRace {
		t.Skip("the race runtime allocates on its own")
	}
	e := newTestSleeper(t)
	if n := testing.AllocsPerRun(20, func() {
		e.sleep(0)
		e.sleep(50 * time.Microsecond)
		e.poke()
		e.sleep(time.Second)
	}); n != 0 {
		t.Errorf("%v allocations per sleep cycle, want 0", n)
	}
}

// stallSink keeps BenchmarkSleepStall's busy loop from being optimised away.
var stallSink uint64

// BenchmarkSleepStall measures what a goroutine that sleeps and wakes
// every period costs the rest of a program running on one P (GOMAXPROCS=1,
// as in a one-CPU container): a busy loop's work in a window beside the
// sleeper, relative to the same loop beside a goroutine sleeping on a Go
// timer, windows interleaved in one run. "ppoll" is the blocking ppoll(2)
// the sleeper used before it waited in the Go poller. 50ms is how often the
// usage/limit check runs near a threshold; 5ms exaggerates the wake-ups to
// show a per-wake cost.
//
//	go test ./memwatch/ -run '^$' -bench SleepStall -benchtime 3x
func BenchmarkSleepStall(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := newTestSleeper(b)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(efd)
	const window = time.Second
	for _, period := range []time.Duration{50 * time.Millisecond, 5 * time.Millisecond} {
		b.Run(period.String(), func(b *testing.B) {
			sleeps := map[string]func(){
				"timer":   func() { time.Sleep(period) },
				"sleeper": func() { e.sleep(period) },
				"ppoll": func() {
					fds := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
					ts := unix.NsecToTimespec(int64(period))
					unix.Ppoll(fds, &ts, nil)
				},
			}
			work := map[string]uint64{}
			measure := func(name string) {
				var stop atomic.Bool
				done := make(chan struct{})
				go func() {
					defer close(done)
					for !stop.Load() {
						sleeps[name]()
					}
				}()
				var n uint64
				x := uint64(1)
				for t0 := time.Now(); time.Since(t0) < window; {
					for range 10000 {
						x = x*6364136223846793005 + 1442695040888963407
					}
					n++
				}
				stop.Store(true)
				<-done
				stallSink += x // keeps the loop
				work[name] += n
			}
			for b.Loop() {
				for _, name := range []string{"timer", "sleeper", "ppoll"} {
					measure(name)
				}
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(work["sleeper"])/float64(work["timer"]), "sleeper/timer")
			b.ReportMetric(float64(work["ppoll"])/float64(work["timer"]), "ppoll/timer")
		})
	}
}
