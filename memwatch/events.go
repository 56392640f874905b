package memwatch

import (
	"log/slog"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// eventConfig is what the kernel event source needs: where the cgroup is,
// which of its files to watch, and the Sampler's open usage descriptor (v1
// usage thresholds are registered on it; the Sampler owns it and keeps it
// open until the sleeper is closed).
type eventConfig struct {
	loc     cgroupstat.Location
	files   cgroupstat.Files
	usageFd int
	log     *slog.Logger
}

// sleeper is how the Watcher's goroutine waits for its next sample: on
// Linux in the kernel, together with the cgroup's notifications
// (events_linux.go); elsewhere on a timer.
type sleeper interface {
	// sleep blocks until d has passed, poke is called, or the kernel
	// signals; it reports what the kernel signalled (0: nothing).
	sleep(d time.Duration) wake
	// poke makes a sleep in progress (or the next one) return; any
	// goroutine may call it, also after close.
	poke()
	// setThresholds replaces the v1 usage thresholds (0 removes them).
	setThresholds(warn, crit uint64)
	// close releases the sleeper's resources.
	close()
}

// wake is what the kernel signalled during a sleep, as bits.
type wake uint8

const (
	// wokeEvents: the v2 memory.events file changed (inotify). Its max
	// counter rises on every reclaim while usage sits at memory.max, so
	// the Watcher samples only when a counter that matters changed (see
	// Watcher.eventsChanged).
	wokeEvents wake = 1 << iota
	// wokeKernel: any other signal (a v1 OOM notification or usage
	// threshold, the PSI trigger): sample.
	wokeKernel
)

// timerSleeper sleeps on a timer: for systems without the kernel
// notifications, and as a fallback where an eventfd is refused.
type timerSleeper struct {
	t     *time.Timer
	poked chan struct{}
}

func newTimerSleeper() *timerSleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerSleeper{t: t, poked: make(chan struct{}, 1)}
}

func (s *timerSleeper) sleep(d time.Duration) wake {
	s.t.Reset(max(d, 0))
	select {
	case <-s.t.C:
	case <-s.poked:
		s.t.Stop()
	}
	return 0
}

func (s *timerSleeper) poke() {
	select {
	case s.poked <- struct{}{}:
	default:
	}
}

func (s *timerSleeper) setThresholds(uint64, uint64) {}
func (s *timerSleeper) close()                       { s.t.Stop() }
