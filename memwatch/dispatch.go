package memwatch

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// handlers are the registered callbacks (the On... options).
type handlers struct {
	onLevel       func(old, new Level, s *Snapshot)
	onOOMKill     func(delta uint64, s *Snapshot)
	onLimitChange func(old, new uint64, s *Snapshot)
	onHigh        func(s *Snapshot)
	onShed        func(sig ShedSignal, s *Snapshot)
}

type eventKind uint8

const (
	evLevel eventKind = iota
	evOOM
	evLimit
	evHigh
	evShed
)

// event is one callback to make, with its own copy of the snapshot.
type event struct {
	kind     eventKind
	old, new uint64
	snap     *Snapshot
}

// dispatcher runs the callbacks one at a time on its own goroutine, fed by
// a bounded queue, so that the sampler never waits for a callback. A full
// queue drops the event (counted and logged); a callback that panics or
// calls runtime.Goexit is contained and logged, and the next callback
// still runs.
type dispatcher struct {
	h       handlers
	log     *slog.Logger
	queue   chan event
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when the goroutine has returned
	dropped atomic.Uint64
}

func newDispatcher(h handlers, queueSize int, log *slog.Logger) *dispatcher {
	return &dispatcher{
		h:     h,
		log:   log,
		queue: make(chan event, max(queueSize, 1)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// wants reports whether a handler is registered for kind: events nobody
// handles are not queued (and their snapshot not copied).
func (d *dispatcher) wants(kind eventKind) bool {
	switch kind {
	case evLevel:
		return d.h.onLevel != nil
	case evOOM:
		return d.h.onOOMKill != nil
	case evLimit:
		return d.h.onLimitChange != nil
	case evHigh:
		return d.h.onHigh != nil
	case evShed:
		return d.h.onShed != nil
	}
	return false
}

// emit queues a callback with its own copy of s, if a handler wants it;
// a full queue drops it.
func (d *dispatcher) emit(e event, s *Snapshot) {
	if !d.wants(e.kind) {
		return
	}
	c := new(Snapshot)
	*c = *s
	e.snap = c
	select {
	case d.queue <- e:
	default:
		n := d.dropped.Add(1)
		d.log.Warn("memwatch: callback queue full; event dropped", "dropped_total", n)
	}
}

// start starts the goroutine.
func (d *dispatcher) start() { go d.loop() }

func (d *dispatcher) loop() {
	for {
		select {
		case <-d.stop:
			close(d.done)
			return
		case e := <-d.queue:
			select {
			case <-d.stop:
				close(d.done)
				return
			default:
			}
			d.call(e)
		}
	}
}

// call runs one callback. A panic is recovered and logged with its stack.
// runtime.Goexit (t.FailNow in a test, for example) cannot be stopped: it
// ends this goroutine once the deferred functions have run, so the deferred
// function starts a new loop that takes over the queue.
func (d *dispatcher) call(e event) {
	finished := false
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("memwatch: callback panicked", "panic", r, "stack", string(debug.Stack()))
			return
		}
		if !finished {
			d.log.Error("memwatch: callback called runtime.Goexit; later callbacks run on a new goroutine")
			go d.loop()
		}
	}()
	switch e.kind {
	case evLevel:
		d.h.onLevel(Level(e.old), Level(e.new), e.snap)
	case evOOM:
		d.h.onOOMKill(e.new, e.snap)
	case evLimit:
		d.h.onLimitChange(e.old, e.new, e.snap)
	case evHigh:
		d.h.onHigh(e.snap)
	case evShed:
		d.h.onShed(e.snap.Actions.Shed, e.snap)
	}
	finished = true
}

// close stops the goroutine and waits for a running callback at most
// timeout; it reports false when it had to abandon one. Queued events are
// dropped.
func (d *dispatcher) close(timeout time.Duration) bool {
	close(d.stop)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.done:
		return true
	case <-t.C:
		return false
	}
}
