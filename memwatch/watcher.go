package memwatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Watcher errors.
var (
	// ErrStarted is returned by Start on a Watcher already started.
	ErrStarted = errors.New("memwatch: watcher already started")
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("memwatch: watcher stopped")
)

// Source is where exporters read snapshots: the latest snapshot of
// something that samples, copied without waiting for it. [*Watcher] is a
// Source; exporters (memwatch/memdebug, memwatch/memprom, memwatch/memotel)
// take one.
type Source interface {
	// LatestInto copies the latest snapshot into dst and reports whether
	// there is a current one. It must not block on sampling and should not
	// allocate.
	LatestInto(dst *Snapshot) bool
}

// Watcher samples memory periodically, judges the Level against the
// thresholds, calls the registered callbacks and applies the opt-in
// actions.
//
// A Watcher is made of parts with one job each (docs/ARCHITECTURE.md, "The
// path of one sample"): the [Sampler] reads; the level tracker judges the
// level, forecasts the time to the limit and notices limit, OOM-kill and
// memory.high changes; the actuator applies the actions and restores them;
// the kernel event source wakes the Watcher; the dispatcher runs the
// callbacks; the publication hands the latest snapshot to readers. The
// Watcher's own goroutine runs them in that order, then the operator's
// reports (below).
//
// # Levels
//
// The measure ([WithMeasure]) is compared with the effective hard limit
// (memory.max / limit_in_bytes over the visible ancestors) — the OOM point —
// not with memory.high: high crossings have their own callback ([OnHigh]).
// Rising is immediate; falling needs hysteresis ([WithHysteresis]). Without
// a limit the level is [LevelUnknown].
//
// # Sampling
//
// Every sample reads the cheap files; every n-th ([WithFullEvery]), every
// sample at [LevelWarn] or above, and every sample after a kernel wake-up is
// full. The interval adapts: from the growth rate of the measure between
// samples the Watcher forecasts the time to the limit (ttl, in
// Snapshot.Sampling) and waits clamp(ttl/4, [WithMinInterval],
// [WithInterval]).
//
// On Linux, where the cgroupfs is writable, the kernel also wakes the Watcher
// (Snapshot.Sampling.Mode says which are active): on v2 an inotify watch on
// memory.events ("inotify"); on v1 eventfd usage thresholds at the warn and
// critical byte values, re-registered when the limit changes, and an OOM
// notification ("eventfd"); and a PSI trigger on the cgroup's memory.pressure
// ("psi", 150 ms of "some" stall in 2 s). On a read-only cgroupfs (the usual
// case in containers), when a registration fails, or off Linux it polls
// ("poll"); without usage thresholds it also re-reads usage and limit
// between samples ([WithPollCheck]) so that a threshold crossing or a limit
// change is seen within that period.
//
// # Callbacks
//
// Callbacks run one at a time on a dedicated goroutine fed by a bounded
// queue; the sampler never waits for them. Each On... option may be given
// more than once: an event calls every function of its kind, in the order
// the options were given. When the queue is full the event is dropped,
// counted ([Watcher.Dropped]) and logged. A callback that panics or calls
// runtime.Goexit is contained and logged, and the next one still runs. Each
// gets its own copy of the Snapshot.
//
// # Last words
//
// A process the kernel OOM-kills gets no chance to explain itself, so the
// Watcher says what it knows while it still can, once per episode, at most
// once per [LastWordsInterval] for each kind, and nothing while memory is
// fine. Given a logger ([WithLogger]; a Watcher without one stays silent) it
// logs:
//
//   - at Warn, when the level turns critical: the [Snapshot.Verdict] and the
//     largest attribution parts (the episode ends when the level is back to
//     ok);
//   - at Error, when [ShedAdvice] advises shedding live heap and no [OnShed]
//     handler is there to do it: how much must go, and that the process
//     will likely be OOM-killed (the advice of the action options, or,
//     without them, against the runtime's GOMEMLIMIT);
//   - at Warn, when the GC CPU limiter engages (a newer
//     GoStats.GCLimiterLastEnabled cycle) while GOMEMLIMIT binds: the
//     runtime then caps the GC at about half the CPU and lets the heap grow
//     past GOMEMLIMIT, so the kernel's limit, not GOMEMLIMIT, ends a live
//     heap that no longer fits (the episode lasts while GOMEMLIMIT binds).
//
// [WithTerminationMessage] writes the same explanation to the container's
// termination message file, which Kubernetes shows after the kill.
type Watcher struct {
	cfg     watcherConfig
	log     *slog.Logger
	sampler *Sampler
	tracker *levelTracker
	act     *actuator // nil without action options
	disp    *dispatcher
	pub     *publication
	words   *lastWords
	term    *terminationMessage // nil without WithTerminationMessage
	sleeper sleeper             // nil before Start
	mode    string

	// Lifecycle (Start, Stop).
	mu       sync.Mutex
	started  bool
	stopped  bool
	halted   atomic.Bool // Stop was called: no current snapshot
	stopReq  atomic.Bool // run must return (Stop, or the Start context ended)
	stopOnce sync.Once
	done     chan struct{}      // closed when run has finished
	trigger  chan chan struct{} // forced samples (tests), buffered

	// State of the run goroutine.
	last      lastSample
	thrLimit  uint64 // limit the kernel usage thresholds are set for
	pollCheck bool   // re-read usage and limit between samples
	stats     runStats
}

// lastSample is what the run goroutine remembers of its last sample.
type lastSample struct {
	time         time.Time
	usage, limit uint64 // cgroup usage and limit
	cgroup       bool   // the cgroup view was available
}

// runStats counts what the run goroutine did, for tests and benchmarks.
type runStats struct {
	samples, fulls  uint64        // samples taken by run, of which full
	checks, wakeups atomic.Uint64 // usage/limit checks; kernel wake-ups that brought a sample
	eventWakes      atomic.Uint64 // memory.events wake-ups (eventsChanged), sampled or not
	readClock       func() time.Duration
	readCPU         time.Duration // CPU of the reads where they ran, when readClock is a thread CPU clock
}

// New creates a Watcher and opens its Sampler (see [NewSampler]). Start runs
// it; Stop releases it. It fails when an option value cannot be used (the
// error names the option) or the root directory does not exist.
func New(opts ...WatcherOption) (*Watcher, error) {
	cfg, err := buildWatcherConfig(opts)
	if err != nil {
		return nil, err
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.actuator.shedHandler = len(handlersOf(&cfg).onShed) > 0
	cfg.lastWords.shedHandled = cfg.actuator.shedHandler
	s, err := newSampler(cfg.sampler)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		cfg:     cfg,
		log:     log,
		sampler: s,
		tracker: newLevelTracker(cfg.tracker),
		disp:    newDispatcher(*handlersOf(&cfg), cfg.queueSize, log),
		pub:     newPublication(),
		words:   newLastWords(cfg.lastWords, log),
		term:    newTerminationMessage(cfg.termination, log),
		mode:    "poll",
		done:    make(chan struct{}),
		stats:   runStats{readClock: func() time.Duration { return 0 }},
		trigger: make(chan chan struct{}, 1),
	}
	return w, nil
}

// Start takes a first sample (so Latest is set when it returns), registers
// the kernel wake-ups and starts sampling in the background until ctx is
// done or Stop is called. It fails if ctx is nil, or if the Watcher was
// started or stopped before.
func (w *Watcher) Start(ctx context.Context) error {
	if ctx == nil {
		return errors.New("memwatch: Start with a nil context")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return ErrStopped
	}
	if w.started {
		return ErrStarted
	}
	w.started = true
	if _, err := w.sampler.Location(); err != nil {
		w.log.Debug("memwatch: no memory cgroup; watching Go and process memory only", "reason", err)
	}
	loc, files, usageFd, err := w.sampler.cgroupFiles()
	events := w.cfg.events && err == nil
	w.sleeper, w.mode = newSleeper(eventConfig{loc: loc, files: files, usageFd: usageFd, log: w.log}, events)
	// Without usage thresholds from the kernel (v1 eventfd), a crossing
	// would wait for the next sample: check usage and limit in between.
	_, cgErr := w.sampler.Location()
	w.pollCheck = w.cfg.pollEvery > 0 && cgErr == nil && w.cfg.tracker.measure != MeasureGoMemLimit &&
		!hasMode(w.mode, "eventfd")
	w.act = newActuator(w.cfg.actuator, w.log)
	w.sample(true)
	w.log.Debug("memwatch: watcher started", "mode", w.mode, "interval", w.cfg.tracker.interval,
		"measure", w.cfg.tracker.measure, "poll_check", w.pollCheck)
	w.disp.start()
	// The end of ctx stops the Watcher. A goroutine waits for it only when
	// ctx can end at all (context.AfterFunc would need none, but linked
	// about 26 KB of context machinery into every program importing
	// memwatch/auto, which starts with context.Background(); see
	// scripts/binsize.sh).
	if done := ctx.Done(); done != nil {
		go func() {
			select {
			case <-done:
				w.requestStop()
			case <-w.done:
			}
		}()
	}
	go w.run()
	return nil
}

// requestStop makes run return (from Stop or when the Start context ends).
func (w *Watcher) requestStop() {
	w.stopReq.Store(true)
	w.sleeper.poke()
}

// hasMode reports whether the sampling mode ("poll+inotify+psi") includes
// part.
func hasMode(mode, part string) bool {
	for len(mode) > 0 {
		i := 0
		for i < len(mode) && mode[i] != '+' {
			i++
		}
		if mode[:i] == part {
			return true
		}
		if i == len(mode) {
			break
		}
		mode = mode[i+1:]
	}
	return false
}

// Stop stops sampling, closes every descriptor, restores what the actions
// changed and waits for the background goroutines. It waits for a running
// callback at most [WithStopTimeout], then returns anyway: that callback's
// goroutine is abandoned and exits when the callback returns. Events still
// queued are dropped. From the moment Stop is called the Watcher has no
// current snapshot (Latest returns nil): its last one would only grow
// stale. Stop is idempotent, safe before Start and from several goroutines
// at once; no callback starts after it returns. Called from a callback, it
// returns only after the stop timeout (it waits for the callback that
// called it).
func (w *Watcher) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.halted.Store(true)
	started := w.started
	w.mu.Unlock()
	w.stopOnce.Do(func() {
		if started {
			w.requestStop()
		} else {
			w.sampler.Close()
			close(w.done)
		}
	})
	<-w.done
}

// Latest returns a copy of the most recent snapshot, or nil when there is
// no current one (before Start, after Stop). It never waits for the
// sampler; the copy is the caller's. It allocates the copy; LatestInto
// does not.
func (w *Watcher) Latest() *Snapshot {
	c := new(Snapshot)
	if !w.LatestInto(c) {
		return nil
	}
	return c
}

// LatestInto copies the most recent snapshot into dst without allocating
// and reports whether there is a current one: false before Start and once
// Stop has been called (a stopped Watcher's last snapshot is stale and
// exporters must not keep serving it), and on a nil Watcher. It never
// waits for the sampler.
func (w *Watcher) LatestInto(dst *Snapshot) bool {
	if w == nil || w.halted.Load() { // nil: e.g. memwatch/auto's Watcher when it is off
		return false
	}
	return w.pub.copyInto(dst)
}

// Dropped returns how many callback events were dropped because the queue
// was full.
func (w *Watcher) Dropped() uint64 { return w.disp.dropped.Load() }

// run is the Watcher's goroutine: it sleeps until the next sample, the next
// usage/limit check, a kernel signal or Stop, and wakes once for each of
// them, nothing else.
func (w *Watcher) run() {
	defer close(w.done)
	defer w.shutdown()
	nextSample := w.last.time.Add(w.tracker.interval)
	nextCheck := w.last.time.Add(w.checkPeriod(w.last.usage, w.last.limit, w.last.cgroup))
	var wakeAt time.Time // a kernel signal asks for a sample at wakeAt (zero: none)
	for !w.stopReq.Load() {
		now := time.Now()
		var reply chan struct{}
		select {
		case reply = <-w.trigger:
		default:
		}
		full, due := false, false
		switch {
		case reply != nil:
			full, due = true, true
		case !wakeAt.IsZero() && !now.Before(wakeAt):
			full, due = true, true
		case !now.Before(nextSample):
			due = true
		case w.pollCheck && !now.Before(nextCheck):
			// Two preads; sample only when they show a crossing or a new
			// limit.
			w.stats.checks.Add(1)
			usage, limit, ok := w.readUsageLimit()
			if ok && w.tracker.crossed(usage, limit) {
				full, due = true, true
			}
			nextCheck = now.Add(w.checkPeriod(usage, limit, ok))
		}
		if !due {
			until := nextSample
			if w.pollCheck && nextCheck.Before(until) {
				until = nextCheck
			}
			if !wakeAt.IsZero() && wakeAt.Before(until) {
				until = wakeAt
			}
			if woke := w.sleeper.sleep(time.Until(until)); woke != 0 && wakeAt.IsZero() &&
				(woke&wokeKernel != 0 || w.eventsChanged()) {
				// Sample now, but not more often than a tenth of the
				// interval floor.
				w.stats.wakeups.Add(1)
				floor := max(w.cfg.tracker.minInterval/10, time.Millisecond)
				wakeAt = w.last.time.Add(floor)
			}
			continue
		}
		w.stats.samples++
		full = full || w.stats.samples%uint64(w.cfg.fullEvery) == 0 || w.tracker.level >= LevelWarn
		if full {
			w.stats.fulls++
		}
		w.sample(full)
		wakeAt = time.Time{}
		if reply != nil {
			close(reply)
		}
		nextSample = w.last.time.Add(w.tracker.interval)
		nextCheck = w.last.time.Add(w.checkPeriod(w.last.usage, w.last.limit, w.last.cgroup))
	}
}

// checkPeriod is the time to the next usage/limit check: WithPollCheck
// close to a threshold, longer far below (see levelTracker.checkPeriod),
// never beyond the sampling interval.
func (w *Watcher) checkPeriod(usage, limit uint64, ok bool) time.Duration {
	if !ok {
		return w.cfg.pollEvery
	}
	return w.tracker.checkPeriod(usage, limit, w.cfg.pollEvery, max(w.cfg.pollEvery, w.tracker.interval))
}

// eventsChanged reports whether memory.events, which the kernel says has
// changed, calls for a sample (levelTracker.eventsMatter), or cannot be
// read (then the sample tells). One pread.
func (w *Watcher) eventsChanged() bool {
	w.stats.eventWakes.Add(1)
	var c cgroupstat.EventCounts
	return !w.sampler.eventCounts(&c) || w.tracker.eventsMatter(&c)
}

// readUsageLimit reads the cgroup's usage and limit for the check between
// samples.
func (w *Watcher) readUsageLimit() (usage, limit uint64, ok bool) {
	t0 := w.stats.readClock()
	usage, limit, ok = w.sampler.usageLimit()
	w.stats.readCPU += w.stats.readClock() - t0
	return usage, limit, ok
}

// sampleNow makes the run goroutine take a full sample now and waits for it
// (tests). It reports false when the Watcher is not running.
func (w *Watcher) sampleNow() bool {
	reply := make(chan struct{})
	select {
	case w.trigger <- reply:
	case <-w.done:
		return false
	}
	w.sleeper.poke()
	select {
	case <-reply:
		return true
	case <-w.done:
		return false
	}
}

func (w *Watcher) shutdown() {
	w.sleeper.close()
	w.sampler.Close()
	if w.act != nil {
		w.act.restore()
	}
	if !w.disp.close(w.cfg.stopTimeout) {
		w.log.Warn("memwatch: a callback is still running; Stop abandons it", "timeout", w.cfg.stopTimeout)
	}
}

// sample takes a sample into a free slot, runs it through the tracker and
// the actuator, publishes it and queues the callbacks. It runs on the run
// goroutine (or in Start before it exists).
func (w *Watcher) sample(full bool) {
	sl := w.pub.acquire()
	s := &sl.snap
	t0 := w.stats.readClock()
	err := w.sampler.Sample(s, full)
	w.stats.readCPU += w.stats.readClock() - t0
	if err != nil {
		w.pub.release(sl)
		return
	}
	w.last.usage, w.last.limit, w.last.cgroup = s.Cgroup.Stats.Usage, s.Cgroup.Stats.Limit, s.Cgroup.Available
	s.Sampling.Mode = w.mode
	ch := w.tracker.observe(s)
	shed := false
	if w.act != nil {
		shed = w.act.apply(s)
	}
	w.pub.publish(sl)
	w.last.time = s.Time

	if ch.level {
		w.log.Debug("memwatch: level", "old", ch.oldLevel, "new", ch.newLevel)
		w.disp.emit(event{kind: evLevel, old: uint64(ch.oldLevel), new: uint64(ch.newLevel)}, s)
	}
	if ch.limit {
		w.log.Info("memwatch: cgroup limit changed", "old", ch.oldLimit, "new", ch.newLimit)
		w.disp.emit(event{kind: evLimit, old: ch.oldLimit, new: ch.newLimit}, s)
	}
	if ch.oomKills > 0 {
		w.log.Warn("memwatch: OOM kill in the cgroup", "count", ch.oomKills)
		w.disp.emit(event{kind: evOOM, new: ch.oomKills}, s)
	}
	if ch.high {
		w.disp.emit(event{kind: evHigh}, s)
	}
	if shed {
		w.disp.emit(event{kind: evShed}, s)
	}
	if s.Cgroup.Available {
		w.setThresholds(s.Cgroup.Stats.Limit)
	}

	// The operator's reports, after the callbacks are queued.
	w.words.observe(s)
	if w.term != nil {
		w.term.observe(s)
	}
}

// setThresholds (re)registers the kernel usage thresholds when the limit
// changed.
func (w *Watcher) setThresholds(limit uint64) {
	if w.sleeper == nil || limit == w.thrLimit {
		return
	}
	w.thrLimit = limit
	if limit == cgroupstat.Unlimited {
		limit = 0
	}
	w.sleeper.setThresholds(w.tracker.thresholdBytes(limit))
}
