package memwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Basis is the quantity the Watcher compares with a limit to judge the
// Level.
type Basis uint8

// Bases.
const (
	// BasisWorkingSet compares the cgroup's working set (usage minus
	// inactive file cache: what cAdvisor, kubectl top and kubelet eviction
	// use) with the effective hard limit. Page cache the kernel can drop
	// does not raise the level.
	BasisWorkingSet Basis = iota
	// BasisUsage compares the cgroup's raw usage (memory.current,
	// memory.usage_in_bytes) with the effective hard limit.
	BasisUsage
	// BasisGoMemLimit compares what GOMEMLIMIT governs (Go runtime memory
	// Sys − HeapReleased) with GOMEMLIMIT. Without a GOMEMLIMIT the level
	// is LevelUnknown.
	BasisGoMemLimit
)

// String returns "working_set", "usage" or "gomemlimit".
func (b Basis) String() string {
	switch b {
	case BasisWorkingSet:
		return "working_set"
	case BasisUsage:
		return "usage"
	case BasisGoMemLimit:
		return "gomemlimit"
	}
	return fmt.Sprintf("Basis(%d)", uint8(b))
}

// Watcher errors.
var (
	// ErrStarted is returned by Start on a Watcher already started.
	ErrStarted = errors.New("memwatch: watcher already started")
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("memwatch: watcher stopped")
)

// WithInterval sets the nominal sampling interval (default 1s). The
// Watcher samples more often as the forecast time to the limit shrinks (see
// Watcher).
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithMinInterval sets the floor of the adaptive interval (default 100ms).
// Kernel wake-ups may sample sooner, but not more often than every tenth of
// the floor.
func WithMinInterval(d time.Duration) Option { return func(o *options) { o.minInterval = d } }

// WithLogger sets the logger of the Watcher (default: discard). A missing
// cgroup is logged at Debug; dropped or panicking callbacks at Warn/Error.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithThresholds sets the warn and critical levels as fractions of the limit
// (defaults 0.80 and 0.90). New fails unless 0 < warn < critical ≤ 1.
func WithThresholds(warn, critical float64) Option {
	return func(o *options) { o.warn, o.critical = warn, critical }
}

// WithHysteresis sets how far (as a fraction of the limit, default 0.05) the
// basis must fall below a threshold before the level drops back.
func WithHysteresis(h float64) Option { return func(o *options) { o.hyst = h } }

// WithBasis chooses what is compared with the limit (default
// BasisWorkingSet).
func WithBasis(b Basis) Option { return func(o *options) { o.basis = b } }

// WithFullEvery makes every n-th sample a full one (memory.stat, events,
// PSI, /proc/self/status, meminfo; default 5). At LevelWarn and above, and
// after a kernel wake-up, every sample is full.
func WithFullEvery(n int) Option { return func(o *options) { o.fullEvery = n } }

// WithEvents enables or disables kernel wake-ups (default enabled; see
// Watcher). Disabled, the Watcher only polls.
func WithEvents(on bool) Option { return func(o *options) { o.events = on } }

// WithStopTimeout bounds how long Stop waits for a running callback (default
// 2s); a callback still running then is abandoned (see Watcher.Stop).
func WithStopTimeout(d time.Duration) Option { return func(o *options) { o.stopTimeout = d } }

// OnLevel registers the function called when the Level changes (including
// the first judgement, from LevelUnknown).
func OnLevel(f func(old, new Level, s *Snapshot)) Option {
	return func(o *options) { o.onLevel = f }
}

// OnOOMKill registers the function called when the cgroup's oom_kill
// counter rises (v2 memory.events, v1 memory.oom_control; seen on full
// samples) with the increase. The kill may have hit another process of the
// cgroup.
func OnOOMKill(f func(delta uint64, s *Snapshot)) Option {
	return func(o *options) { o.onOOMKill = f }
}

// OnLimitChange registers the function called when the effective hard
// limit changes. A missing limit is cgroupstat.Unlimited.
func OnLimitChange(f func(old, new uint64, s *Snapshot)) Option {
	return func(o *options) { o.onLimitChange = f }
}

// OnHigh registers the function called when usage crosses memory.high
// upward or the v2 memory.events "high" counter rises: the kernel is
// throttling the cgroup (v2 only; v1 has no memory.high).
func OnHigh(f func(s *Snapshot)) Option { return func(o *options) { o.onHigh = f } }

type eventKind uint8

const (
	evLevel eventKind = iota
	evOOM
	evLimit
	evHigh
	evShed
)

type event struct {
	kind     eventKind
	old, new uint64
	snap     *Snapshot
}

// slot is one preallocated snapshot buffer. state is 0 when free, n > 0
// while n readers copy it, −1 while the sampler writes it.
type slot struct {
	snap  Snapshot
	state atomic.Int32
}

const numSlots = 3

// Watcher samples memory periodically, judges the Level against the
// thresholds and calls the registered callbacks.
//
// # Levels
//
// The basis (WithBasis) is measured against the effective hard limit
// (memory.max / limit_in_bytes over the visible ancestors) — the OOM point —
// not against memory.high: high crossings have their own callback
// (OnHigh). Rising is immediate; falling needs hysteresis (WithHysteresis).
// Without a limit the level is LevelUnknown.
//
// # Sampling
//
// Every sample reads the cheap files; every n-th (WithFullEvery), every
// sample at LevelWarn or above, and every sample after a kernel wake-up is
// full. The interval adapts: from the growth rate of the basis between
// samples the Watcher forecasts the time to the limit (ttl) and waits
// clamp(ttl/4, WithMinInterval, WithInterval).
//
// On Linux, where the cgroupfs is writable, the kernel also wakes the Watcher
// (Snapshot.Sampling.Mode says which are active): on v2 an inotify watch on
// memory.events ("inotify"); on v1 eventfd usage thresholds at the warn and
// critical byte values, re-registered when the limit changes, and an OOM
// notification ("eventfd"); and a PSI trigger on the cgroup's memory.pressure
// ("psi", 150 ms of "some" stall in 2 s). On a read-only cgroupfs, when a
// registration fails, or off Linux it polls ("poll").
//
// # Callbacks
//
// Callbacks run one at a time on a dedicated goroutine fed by a bounded
// queue; the sampler never waits for them. When the queue is full the event
// is dropped, counted (Dropped) and logged. A panicking callback is
// recovered and logged. Each gets its own copy of the Snapshot.
type Watcher struct {
	opts    options
	log     *slog.Logger
	sampler *Sampler

	mu      sync.Mutex
	started bool
	stopped bool

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when run has finished
	wake     chan struct{}
	trigger  chan chan struct{}

	queue    chan event
	dispStop chan struct{}
	dispDone chan struct{}
	dropped  atomic.Uint64
	wakeups  atomic.Uint64 // kernel wake-ups received (tests)

	slots  [numSlots]*slot
	latest atomic.Pointer[slot]
	halted atomic.Bool // Stop was called: no current snapshot

	// State of the run goroutine.
	ev        eventSource
	mode      string
	interval  time.Duration
	level     Level
	n         uint64
	have      bool
	prevUsed  uint64
	prevTime  time.Time
	prevLimit uint64
	prevOOM   uint64
	haveOOM   bool
	prevHighN uint64
	haveHighN bool
	aboveHigh bool
	thrLimit  uint64
	lastTime  time.Time
	actSt     actionState
}

// New creates a Watcher and opens its Sampler (see NewSampler). Start runs
// it; Stop releases it.
func New(opts ...Option) (*Watcher, error) {
	o := buildOptions(opts)
	if !(o.warn > 0 && o.warn < o.critical && o.critical <= 1) {
		return nil, fmt.Errorf("memwatch: thresholds warn %v critical %v: need 0 < warn < critical ≤ 1", o.warn, o.critical)
	}
	if o.hyst < 0 || o.hyst >= o.warn {
		return nil, fmt.Errorf("memwatch: hysteresis %v: need 0 ≤ hysteresis < warn", o.hyst)
	}
	if o.interval <= 0 {
		return nil, fmt.Errorf("memwatch: interval %v: must be positive", o.interval)
	}
	if o.minInterval <= 0 || o.minInterval > o.interval {
		o.minInterval = min(o.interval, 100*time.Millisecond)
	}
	if o.fullEvery < 1 {
		o.fullEvery = 1
	}
	if o.basis > BasisGoMemLimit {
		return nil, fmt.Errorf("memwatch: unknown basis %d", o.basis)
	}
	if o.queueSize < 1 {
		o.queueSize = 1
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := NewSampler(opts...)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		opts:     o,
		log:      log,
		sampler:  s,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		trigger:  make(chan chan struct{}),
		queue:    make(chan event, o.queueSize),
		dispStop: make(chan struct{}),
		dispDone: make(chan struct{}),
		mode:     "poll",
		interval: o.interval,
	}
	for i := range w.slots {
		w.slots[i] = new(slot)
	}
	return w, nil
}

// Start takes a first sample (so Latest is set when it returns), registers
// the kernel wake-ups and starts sampling in the background until ctx is
// done or Stop is called. It fails if the Watcher was started or stopped
// before.
func (w *Watcher) Start(ctx context.Context) error {
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
	if w.opts.events {
		w.ev, w.mode = startEvents(w)
	}
	w.initActions()
	w.sampleOnce(true)
	w.setThresholds(w.prevLimit)
	w.log.Debug("memwatch: watcher started", "mode", w.mode, "interval", w.opts.interval, "basis", w.opts.basis)
	go w.dispatch()
	go w.run(ctx)
	return nil
}

// Stop stops sampling, closes every descriptor and waits for the background
// goroutines. It waits for a running callback at most WithStopTimeout, then
// returns anyway: that callback's goroutine is abandoned and exits when the
// callback returns. Events still queued are dropped. Stop is idempotent,
// safe before Start and from several goroutines at once; no callback starts
// after it returns. Called from a callback, it returns only after the stop
// timeout (it waits for the callback that called it).
func (w *Watcher) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.halted.Store(true)
	started := w.started
	w.mu.Unlock()
	w.stopOnce.Do(func() {
		close(w.stop)
		if !started {
			w.sampler.Close()
			close(w.done)
		}
	})
	<-w.done
}

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
// exporters must not keep serving it). It never waits for the sampler.
func (w *Watcher) LatestInto(dst *Snapshot) bool {
	for {
		if w.halted.Load() {
			return false
		}
		sl := w.latest.Load()
		if sl == nil {
			return false
		}
		st := sl.state.Load()
		if st < 0 || !sl.state.CompareAndSwap(st, st+1) {
			continue // being rewritten or contended: reload
		}
		if w.latest.Load() != sl {
			// Superseded between the load and the pin; the sampler may
			// reuse it at any time once unpinned.
			sl.state.Add(-1)
			continue
		}
		*dst = sl.snap
		sl.state.Add(-1)
		return true
	}
}

// Dropped returns how many callback events were dropped because the queue
// was full.
func (w *Watcher) Dropped() uint64 { return w.dropped.Load() }

// acquire returns a slot the sampler may write: not the published one and
// not pinned by a reader. With every slot pinned it allocates a new one.
func (w *Watcher) acquire() *slot {
	pub := w.latest.Load()
	for _, sl := range w.slots {
		if sl != pub && sl.state.CompareAndSwap(0, -1) {
			return sl
		}
	}
	sl := new(slot)
	sl.state.Store(-1)
	return sl
}

func (w *Watcher) publish(sl *slot) {
	sl.state.Store(0)
	w.latest.Store(sl)
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	defer w.shutdown()
	timer := time.NewTimer(w.interval)
	defer timer.Stop()
	for {
		var reply chan struct{}
		woken := false
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-timer.C:
		case <-w.wake:
			w.wakeups.Add(1)
			floor := max(w.opts.minInterval/10, time.Millisecond)
			if since := time.Since(w.lastTime); since < floor {
				timer.Reset(floor - since)
				continue
			}
			woken = true
		case reply = <-w.trigger:
		}
		w.n++
		full := woken || reply != nil || w.n%uint64(w.opts.fullEvery) == 0 || w.level >= LevelWarn
		w.sampleOnce(full)
		if reply != nil {
			close(reply)
		}
		timer.Reset(w.interval)
	}
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
	<-reply
	return true
}

func (w *Watcher) shutdown() {
	if w.ev != nil {
		w.ev.close()
	}
	w.sampler.Close()
	w.restoreActions()
	close(w.dispStop)
	t := time.NewTimer(w.opts.stopTimeout)
	defer t.Stop()
	select {
	case <-w.dispDone:
	case <-t.C:
		w.log.Warn("memwatch: a callback is still running; Stop abandons it", "timeout", w.opts.stopTimeout)
	}
}

// measure returns the basis and the limit it is judged against.
func (w *Watcher) measure(s *Snapshot) (used, limit uint64, ok bool) {
	switch w.opts.basis {
	case BasisGoMemLimit:
		if !s.Go.HasLimit() {
			return s.Go.Retained(), 0, false
		}
		return s.Go.Retained(), uint64(s.Go.GOMEMLIMIT), true
	case BasisUsage:
		used = s.Cgroup.Stats.Usage
	default:
		used = s.Cgroup.Stats.WorkingSet
	}
	if !s.Cgroup.Available || !s.Cgroup.Stats.HasLimit() {
		return used, 0, false
	}
	return used, s.Cgroup.Stats.Limit, true
}

// sampleOnce takes a sample into a free slot, judges it, publishes it and
// queues the callback events. It runs on the run goroutine (or in Start
// before it exists).
func (w *Watcher) sampleOnce(full bool) {
	sl := w.acquire()
	s := &sl.snap
	if err := w.sampler.Sample(s, full); err != nil {
		sl.state.Store(0)
		return
	}
	used, limit, ok := w.measure(s)
	var frac float64
	if ok {
		frac = float64(used) / float64(limit)
	}
	old := w.level
	w.level = judge(old, frac, ok, w.opts.warn, w.opts.critical, w.opts.hyst)
	var ttl time.Duration
	haveTTL := false
	w.interval = w.opts.interval
	if w.have && ok {
		dt := s.Time.Sub(w.prevTime)
		ttl, haveTTL = timeToLimit(used, w.prevUsed, limit, dt)
		w.interval = nextInterval(used, w.prevUsed, limit, dt, w.opts.minInterval, w.opts.interval)
	}
	s.Level = w.level
	s.Sampling = Sampling{Mode: w.mode, Interval: w.interval, TimeToLimit: ttl, HasTimeToLimit: haveTTL}
	w.applyActions(s)
	w.publish(sl)
	w.lastTime = s.Time

	if w.level != old {
		w.log.Debug("memwatch: level", "old", old, "new", w.level, "used", used, "limit", limit)
		if w.opts.onLevel != nil {
			w.emit(event{kind: evLevel, old: uint64(old), new: uint64(w.level)}, s)
		}
	}
	c := &s.Cgroup
	if c.Available {
		lim := c.Stats.Limit
		if w.have && lim != w.prevLimit {
			w.log.Info("memwatch: cgroup limit changed", "old", w.prevLimit, "new", lim)
			if w.opts.onLimitChange != nil {
				w.emit(event{kind: evLimit, old: w.prevLimit, new: lim}, s)
			}
			w.setThresholds(lim)
		}
		w.prevLimit = lim
		if c.Stats.Full && c.Stats.Events.HasEvents {
			k := c.Stats.Events.OOMKill
			if w.haveOOM && k > w.prevOOM {
				w.log.Warn("memwatch: OOM kill in the cgroup", "count", k-w.prevOOM)
				if w.opts.onOOMKill != nil {
					w.emit(event{kind: evOOM, new: k - w.prevOOM}, s)
				}
			}
			w.prevOOM, w.haveOOM = k, true
		}
		highEvent := false
		if c.Stats.Full && c.Stats.Events.HasEvents && c.Stats.Version == cgroupstat.V2 {
			h := c.Stats.Events.High
			highEvent = w.haveHighN && h > w.prevHighN
			w.prevHighN, w.haveHighN = h, true
		}
		above := c.Stats.High != cgroupstat.Unlimited && c.Stats.Usage >= c.Stats.High
		if (highEvent || (above && !w.aboveHigh)) && w.opts.onHigh != nil {
			w.emit(event{kind: evHigh}, s)
		}
		w.aboveHigh = above
	}
	w.prevUsed, w.prevTime, w.have = used, s.Time, true
}

// emit queues a callback event with its own copy of the snapshot; a full
// queue drops it.
func (w *Watcher) emit(e event, s *Snapshot) {
	c := new(Snapshot)
	*c = *s
	e.snap = c
	select {
	case w.queue <- e:
	default:
		n := w.dropped.Add(1)
		w.log.Warn("memwatch: callback queue full; event dropped", "dropped_total", n)
	}
}

func (w *Watcher) dispatch() {
	defer close(w.dispDone)
	for {
		select {
		case <-w.dispStop:
			return
		case e := <-w.queue:
			select {
			case <-w.dispStop:
				return
			default:
			}
			w.call(e)
		}
	}
}

func (w *Watcher) call(e event) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("memwatch: callback panicked", "panic", r)
		}
	}()
	switch e.kind {
	case evLevel:
		w.opts.onLevel(Level(e.old), Level(e.new), e.snap)
	case evOOM:
		w.opts.onOOMKill(e.new, e.snap)
	case evLimit:
		w.opts.onLimitChange(e.old, e.new, e.snap)
	case evHigh:
		w.opts.onHigh(e.snap)
	case evShed:
		w.opts.onShed(e.snap.Actions.Shed, e.snap)
	}
}

// setThresholds (re)registers the kernel usage thresholds for a limit.
func (w *Watcher) setThresholds(limit uint64) {
	if w.ev == nil || w.opts.basis == BasisGoMemLimit || limit == w.thrLimit {
		return
	}
	w.thrLimit = limit
	if limit == cgroupstat.Unlimited || limit == 0 {
		w.ev.setThresholds(0, 0)
		return
	}
	w.ev.setThresholds(uint64(float64(limit)*w.opts.warn), uint64(float64(limit)*w.opts.critical))
}

// wakeUp asks the run goroutine to sample now (from the event goroutine).
func (w *Watcher) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// eventSource is the platform's kernel wake-up machinery.
type eventSource interface {
	setThresholds(warn, crit uint64)
	close()
}
