//go:build linux

package memwatch

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the CPU time of the whole process so far, all threads
// (CLOCK_PROCESS_CPUTIME_ID: the scheduler's nanosecond run time, not
// getrusage's tick-sampled split).
func processCPU(tb testing.TB) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// cpuPer returns the process CPU time per call of f over n calls.
func cpuPer(tb testing.TB, n int, f func()) time.Duration {
	c0 := processCPU(tb)
	for range n {
		f()
	}
	return (processCPU(tb) - c0) / time.Duration(n)
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkWatcherCPU measures what a running Watcher costs an idle
// process beyond the reads it makes: windows without and with a Watcher
// alternate (same machine load), and the process CPU clock gives the CPU of
// each.
// The reads are priced two ways in the same run: in place (the thread CPU
// time of each sample and usage/limit check where the Watcher made it,
// cold caches included) and hot (CPU per read in a tight loop, times how
// many the Watcher made). It reports the Watcher's CPU in µs per second of
// wall time, the reads' CPU, and the ratios ("overhead": 1 means the
// Watcher costs only its reads). "default" uses the kernel wake-ups
// available here; "poll" has none (as on a read-only cgroupfs) and checks
// usage and limit between samples (WithPollCheck).
//
//	go test ./memwatch/ -run '^$' -bench WatcherCPU -benchtime 3x
func BenchmarkWatcherCPU(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []WatcherOption
	}{
		{"default", nil},
		{"poll", []WatcherOption{WithEvents(false)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const window = 5 * time.Second
			var idle, busy time.Duration
			var cheap, full, checks uint64
			var inPlace time.Duration
			windows := 0
			var mode string
			for b.Loop() {
				c0 := processCPU(b)
				time.Sleep(window)
				idle += processCPU(b) - c0

				w, err := New(c.opts...)
				if err != nil {
					b.Fatal(err)
				}
				w.stats.readClock = threadCPU
				if err := w.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				mode = w.Latest().Sampling.Mode
				r0 := w.stats.readCPU // read by Start: outside the window
				c1 := processCPU(b)
				time.Sleep(window)
				busy += processCPU(b) - c1
				w.Stop()
				cheap += w.stats.samples - w.stats.fulls
				full += w.stats.fulls
				checks += w.stats.checks.Load()
				inPlace += w.stats.readCPU - r0
				windows++
			}
			b.StopTimer()

			s, err := NewSampler()
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var snap Snapshot
			perCheap := cpuPer(b, 2000, func() { s.Sample(&snap, false) })
			perFull := cpuPer(b, 500, func() { s.Sample(&snap, true) })
			perCheck := cpuPer(b, 5000, func() { s.usageLimit() })

			secs := float64(windows) * window.Seconds()
			extra := float64((busy - idle).Microseconds()) / secs
			hot := float64((time.Duration(cheap)*perCheap + time.Duration(full)*perFull + time.Duration(checks)*perCheck).Microseconds()) / secs
			cold := float64(inPlace.Microseconds()) / secs
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(extra, "watcher-µs/s")
			b.ReportMetric(cold, "reads-µs/s")
			b.ReportMetric(hot, "hot-reads-µs/s")
			if cold > 0 && hot > 0 {
				b.ReportMetric(extra/cold, "overhead")
				b.ReportMetric(extra/hot, "overhead-vs-hot")
			}
			b.Logf("mode %s: %d cheap (%v each), %d full (%v), %d checks (%v) in %.0f s; idle process %.0f µs/s",
				mode, cheap, perCheap, full, perFull, checks, perCheck, secs, float64(idle.Microseconds())/secs)
		})
	}
}
