package memwatch

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// handlers are the registered callbacks (the On... options), each kind in
// the order its options were given.
type handlers struct {
	onLevel       []func(old, new Level, s *Snapshot)
	onOOMKill     []func(delta uint64, s *Snapshot)
	onLimitChange []func(old, new uint64, s *Snapshot)
	onHigh        []func(s *Snapshot)
	onShed        []func(sig ShedSignal, s *Snapshot)

	// loop is (*dispatcher).loop, set by the On... options (see
	// handlersToAdd). Without callbacks there is nothing to run and no
	// goroutine starts; as a function value set only there it also keeps
	// the loop and the containment of panics (runtime.Stack) out of
	// programs that register no callback, such as memwatch/auto (10 KB,
	// scripts/binsize.sh).
	loop func(*dispatcher)
}

// handlersToAdd returns the callbacks of c for an On... option to add a
// function to.
func handlersToAdd(c *watcherConfig) *handlers {
	h := handlersOf(c)
	h.loop = (*dispatcher).loop
	return h
}

// count returns how many functions are registered for kind.
func (h *handlers) count(kind eventKind) int {
	switch kind {
	case evLevel:
		return len(h.onLevel)
	case evOOM:
		return len(h.onOOMKill)
	case evLimit:
		return len(h.onLimitChange)
	case evHigh:
		return len(h.onHigh)
	case evShed:
		return len(h.onShed)
	}
	return 0
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
// a bounded queue, so that the sampler never waits for a callback. An event
// is handed to every function registered for its kind, in the order they
// were given. A full queue drops the event (counted and logged); a callback
// that panics or calls runtime.Goexit is contained and logged, and the next
// callback, of the same event or the next, still runs.
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
func (d *dispatcher) wants(kind eventKind) bool { return d.h.count(kind) > 0 }

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

// start starts the goroutine, if there are callbacks (a loop).
func (d *dispatcher) start() {
	if d.h.loop == nil {
		close(d.done) // nothing to run: emit queues nothing
		return
	}
	go d.h.loop(d)
}

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
			d.run(e, 0)
		}
	}
}

// run hands e to its functions from the from-th on, one at a time.
func (d *dispatcher) run(e event, from int) {
	for i := from; i < d.h.count(e.kind); i++ {
		d.call(e, i)
	}
}

// call runs the i-th function of e's kind. A panic is recovered and logged
// with its stack. runtime.Goexit (t.FailNow in a test, for example) cannot
// be stopped: it ends this goroutine once the deferred functions have run,
// so the deferred function starts a new goroutine that hands e to the
// remaining functions and then takes over the queue.
func (d *dispatcher) call(e event, i int) {
	finished := false
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("memwatch: callback panicked", "panic", r, "stack", string(debug.Stack()))
			return
		}
		if !finished {
			d.log.Error("memwatch: callback called runtime.Goexit; later callbacks run on a new goroutine")
			go func() {
				d.run(e, i+1)
				d.loop()
			}()
		}
	}()
	// Each function gets its own copy: the last one e's, the others a
	// copy of it, so that none sees what another changed or kept.
	s := e.snap
	if i < d.h.count(e.kind)-1 {
		s = new(Snapshot)
		*s = *e.snap
	}
	switch e.kind {
	case evLevel:
		d.h.onLevel[i](Level(e.old), Level(e.new), s)
	case evOOM:
		d.h.onOOMKill[i](e.new, s)
	case evLimit:
		d.h.onLimitChange[i](e.old, e.new, s)
	case evHigh:
		d.h.onHigh[i](s)
	case evShed:
		d.h.onShed[i](s.Actions.Shed, s)
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
