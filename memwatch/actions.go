package memwatch

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// This file wires the pure policies of policy.go into the Watcher. Every
// action is opt-in: without an action option the Watcher never calls
// runtime/debug.

// WithAdaptiveMemLimit makes the Watcher set GOMEMLIMIT (debug.SetMemoryLimit)
// to p.Decide of every sample. The limit is changed only when the decision
// moves by more than 1% or 1 MiB (whichever is larger), so the runtime is
// not churned by noise. When the decision has no limit (Set false: no cgroup
// limit and no host fallback) the GOMEMLIMIT in force at Start is put back.
// Stop restores the GOMEMLIMIT in force at Start.
//
// A GOMEMLIMIT given in the environment wins: the Watcher then leaves the
// limit alone (Actions.MemLimitReason says so) unless
// WithOverrideEnvGOMEMLIMIT(true).
func WithAdaptiveMemLimit(p MemLimitPolicy) Option {
	return func(o *options) { o.memLimitPolicy = &p }
}

// WithAdaptiveGOGC makes the Watcher set GOGC (debug.SetGCPercent) to
// p.Decide(s, budget) on every sample, where budget is the MemLimitDecision
// Budget of the WithAdaptiveMemLimit policy (DefaultMemLimitPolicy without
// that option). GOGC is changed only when the value moves by more than 1%.
// Without a budget (no limit) the GOGC in force at Start is put back. When
// GOGC is off at Start (GOGC=off) the Watcher leaves it off. Stop restores
// the GOGC in force at Start.
//
// The trade: a raised GOGC lets the heap grow to the budget between
// collections, so the process holds about as much memory as it may. If the
// limit is lowered below that (an in-place resize) the process can reach the
// new limit before the next sample sees it (cgroup v1 and v2 announce no
// limit change): in bench/oomlab's "limit halved" scenario this option was
// OOM-killed in 2 of 3 runs where WithAdaptiveMemLimit alone survived every
// run. Use it where limits do not shrink under a running process.
func WithAdaptiveGOGC(p GOGCPolicy) Option {
	return func(o *options) { o.gogcPolicy = &p }
}

// WithFreeOSMemory makes the Watcher call debug.FreeOSMemory at
// LevelCritical when FreeOSMemoryWorthIt(s, minBytes), at most once per
// minInterval (values ≤ 0 mean 10s). FreeOSMemory forces a full GC; it runs
// on its own goroutine so sampling never waits for it, and never twice at
// once. Stop waits for a running one.
func WithFreeOSMemory(minInterval time.Duration, minBytes uint64) Option {
	return func(o *options) {
		if minInterval <= 0 {
			minInterval = 10 * time.Second
		}
		o.freeOS, o.freeOSMinInterval, o.freeOSMinBytes = true, minInterval, minBytes
	}
}

// OnShed registers the function called (through the callback goroutine, see
// Watcher) when ShedAdvice against the memory budget starts advising to shed
// live data, or when the advised amount grows by more than 10% (and 1 MiB)
// over the last call; not on every sample. The budget is that of the
// WithAdaptiveMemLimit policy (DefaultMemLimitPolicy without it). s.Actions
// holds the same signal.
func OnShed(f func(sig ShedSignal, s *Snapshot)) Option {
	return func(o *options) { o.onShed = f }
}

// WithOverrideEnvGOMEMLIMIT lets WithAdaptiveMemLimit change GOMEMLIMIT even
// when the environment sets GOMEMLIMIT (default false: the environment
// wins).
func WithOverrideEnvGOMEMLIMIT(override bool) Option {
	return func(o *options) { o.overrideEnvLimit = override }
}

// WontFitAction is what the Watcher does when ShedAdvice says the live heap
// alone no longer fits the memory budget (ShedSignal.WontFit): no GC
// setting can then avoid the limit, and the OOM kill usually follows after
// a GC death spiral (docs/ARCHITECTURE.md, "OOM lab findings").
type WontFitAction uint8

// Won't-fit actions.
const (
	// WontFitIgnore does nothing beyond OnShed and Snapshot.Actions
	// (default).
	WontFitIgnore WontFitAction = iota
	// WontFitLog logs at Error when the condition appears (once per
	// episode).
	WontFitLog
	// WontFitExit logs at Error and exits the process with
	// WontFitExitCode, so that a supervisor restarts it with a clear reason
	// instead of the kernel killing it later. Deferred functions do not run.
	WontFitExit
)

// WontFitExitCode is the exit status of WontFitExit.
const WontFitExitCode = 3

// WithWontFitPolicy sets what the Watcher does when the live heap alone no
// longer fits the memory budget (see WontFitAction). The budget is that of
// the WithAdaptiveMemLimit policy (DefaultMemLimitPolicy without it). To
// react in code, use OnShed and test ShedSignal.WontFit.
func WithWontFitPolicy(a WontFitAction) Option {
	return func(o *options) { o.wontFit = a }
}

// Actions records what the Watcher's action options did (see
// WithAdaptiveMemLimit, WithAdaptiveGOGC, WithFreeOSMemory, OnShed,
// WithWontFitPolicy). It is the zero value (Enabled false) when no action
// option is set. The Go view of the same snapshot was read before the
// sample's actions were applied.
type Actions struct {
	// Enabled is true when the Watcher has at least one action option.
	Enabled bool

	// MemLimit is the GOMEMLIMIT in bytes the Watcher has set and that is
	// in force; 0 when the Watcher has not changed GOMEMLIMIT (or has put
	// the original back).
	MemLimit uint64
	// MemLimitReason is the last decision's reason, or why the adaptive
	// limit is inactive (environment GOMEMLIMIT, option not set).
	MemLimitReason string
	// MemLimitSource and MemLimitBound are those of the last decision.
	MemLimitSource LimitSource
	MemLimitBound  LimitBound
	// MemLimitDecided is the last decision's limit (NoMemLimit when none);
	// it may differ from MemLimit by less than the change threshold.
	MemLimitDecided uint64
	// MemLimitBudget is the last decision's Budget (NoMemLimit when none).
	MemLimitBudget uint64
	// MemLimitChanged is when the Watcher last changed GOMEMLIMIT;
	// MemLimitChanges counts its changes (restoring the original included).
	MemLimitChanged time.Time
	MemLimitChanges uint64

	// GOGC is the GOGC the Watcher has set; valid when GOGCSet.
	// GOGCChanges counts the Watcher's changes of GOGC.
	GOGC        int
	GOGCSet     bool
	GOGCChanges uint64

	// FreeOSMemoryTime is when the Watcher last started debug.FreeOSMemory;
	// FreeOSMemoryCount how many times it has.
	FreeOSMemoryTime  time.Time
	FreeOSMemoryCount uint64

	// Shed is the last ShedAdvice (computed when OnShed, WithAdaptiveGOGC or
	// WithAdaptiveMemLimit is set). ShedAdvisories counts the times advice
	// to shed began or grew enough to call OnShed again (whether or not
	// OnShed is set); WontFitEpisodes the times the live heap stopped
	// fitting the budget.
	Shed            ShedSignal
	ShedAdvisories  uint64
	WontFitEpisodes uint64
}

// Reasons the adaptive limit is inactive.
const (
	memLimitReasonEnv = "GOMEMLIMIT set in the environment wins (see WithOverrideEnvGOMEMLIMIT)"
	memLimitReasonOff = "adaptive GOMEMLIMIT not enabled"
)

// actionState is the run goroutine's state of the actions.
type actionState struct {
	enabled   bool
	envLimit  bool // GOMEMLIMIT in the environment blocks the adaptive limit
	origLimit int64
	origGOGC  int
	haveGOGC  bool // origGOGC was read
	curLimit  int64
	limitSet  bool // curLimit was applied by us
	curGOGC   int
	gogcSet   bool
	shedFired uint64 // Bytes of the last OnShed call; 0 when advice ended
	wontFit   bool   // the last sample's advice was WontFit

	freeRunning atomic.Bool
	freeWG      sync.WaitGroup
	lastFree    time.Time

	restoreOnce sync.Once
	act         Actions
}

// actionsEnabled reports whether any action option is set.
func (o *options) actionsEnabled() bool {
	return o.memLimitPolicy != nil || o.gogcPolicy != nil || o.freeOS || o.onShed != nil || o.wontFit != WontFitIgnore
}

// readGOGC reads the current GOGC without changing it (/gc/gogc:percent).
func readGOGC() (int, bool) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	v := s[0].Value.Uint64()
	// The runtime stores GOGC as an int32, −1 for off; the metric is its
	// uint64 conversion.
	return int(int32(uint32(v))), true
}

// initActions records the original runtime settings (from Start, before the
// first sample).
func (w *Watcher) initActions() {
	a := &w.actSt
	if !w.opts.actionsEnabled() {
		return
	}
	a.enabled = true
	a.act.Enabled = true
	a.origLimit = debug.SetMemoryLimit(-1)
	a.curLimit = a.origLimit
	a.origGOGC, a.haveGOGC = readGOGC()
	a.curGOGC = a.origGOGC
	a.act.MemLimitReason = memLimitReasonOff
	a.act.MemLimitDecided, a.act.MemLimitBudget = NoMemLimit, NoMemLimit
	if w.opts.memLimitPolicy != nil && !w.opts.overrideEnvLimit {
		if v, ok := w.opts.lookupEnv("GOMEMLIMIT"); ok && v != "" {
			a.envLimit = true
			a.act.MemLimitReason = memLimitReasonEnv
			w.log.Info("memwatch: GOMEMLIMIT set in the environment; adaptive limit inactive", "GOMEMLIMIT", v)
		}
	}
}

// limitChanged reports whether moving from cur to next is worth a
// SetMemoryLimit: more than 1% of cur and more than 1 MiB.
func limitChanged(cur, next int64) bool {
	d := next - cur
	if d < 0 {
		d = -d
	}
	return d > 1<<20 && d > cur/100
}

// gogcChanged reports whether moving GOGC from cur to next is worth it: more
// than 1% of cur.
func gogcChanged(cur, next int) bool {
	d := next - cur
	if d < 0 {
		d = -d
	}
	return d > 0 && d*100 > cur
}

// applyActions computes and applies the action decisions for a sample and
// records them in s.Actions. It runs on the sampler goroutine (or in
// Start) and does not allocate except to log or to queue a callback.
func (w *Watcher) applyActions(s *Snapshot) {
	a := &w.actSt
	if !a.enabled {
		return
	}
	o := &w.opts
	pol := DefaultMemLimitPolicy()
	if o.memLimitPolicy != nil {
		pol = *o.memLimitPolicy
	}
	d := pol.Decide(s)

	if o.memLimitPolicy != nil && !a.envLimit {
		a.act.MemLimitReason = d.Reason
		a.act.MemLimitSource, a.act.MemLimitBound = d.Source, d.Bound
		a.act.MemLimitDecided, a.act.MemLimitBudget = d.Limit, d.Budget
		target, set := a.origLimit, false
		if d.Set {
			target, set = int64(d.Limit), true
		}
		if target != a.curLimit && (limitChanged(a.curLimit, target) || set != a.limitSet) {
			debug.SetMemoryLimit(target)
			w.log.Info("memwatch: GOMEMLIMIT changed", "old", a.curLimit, "new", target,
				"reason", d.Reason, "source", d.Source, "bound", d.Bound, "budget", d.Budget)
			a.curLimit, a.limitSet = target, set
			a.act.MemLimitChanged = s.Time
			a.act.MemLimitChanges++
		} else if !set {
			a.limitSet = false
		}
		a.act.MemLimit = 0
		if a.limitSet {
			a.act.MemLimit = uint64(a.curLimit)
		}
	}

	if o.gogcPolicy != nil && a.haveGOGC && a.origGOGC >= 0 {
		target, set := a.origGOGC, false
		if d.Set {
			target, set = o.gogcPolicy.Decide(s, d.Budget), true
		}
		if target != a.curGOGC && (gogcChanged(a.curGOGC, target) || set != a.gogcSet) {
			debug.SetGCPercent(target)
			w.log.Debug("memwatch: GOGC changed", "old", a.curGOGC, "new", target, "budget", d.Budget)
			a.curGOGC = target
			a.act.GOGCChanges++
		}
		a.gogcSet = set
		a.act.GOGC, a.act.GOGCSet = a.curGOGC, a.gogcSet
	}

	if o.freeOS && s.Level == LevelCritical && FreeOSMemoryWorthIt(s, o.freeOSMinBytes) &&
		(a.lastFree.IsZero() || s.Time.Sub(a.lastFree) >= o.freeOSMinInterval) &&
		a.freeRunning.CompareAndSwap(false, true) {
		a.lastFree = s.Time
		a.act.FreeOSMemoryTime = s.Time
		a.act.FreeOSMemoryCount++
		w.log.Info("memwatch: FreeOSMemory", "heap_free", s.Go.HeapFree)
		a.freeWG.Add(1)
		go func() {
			defer a.freeWG.Done()
			defer a.freeRunning.Store(false)
			debug.FreeOSMemory()
		}()
	}
	if o.onShed != nil || o.gogcPolicy != nil || o.memLimitPolicy != nil || o.wontFit != WontFitIgnore {
		budget := d.Budget
		switch {
		case !d.Set:
			budget = 0 // ShedAdvice then uses the runtime's GOMEMLIMIT
		case budget == 0:
			budget = 1 // nothing fits (ShedAdvice reads 0 as "no limit")
		}
		sig := ShedAdvice(s, budget)
		a.act.Shed = sig
		if sig.WontFit && !a.wontFit {
			a.act.WontFitEpisodes++
		}
		if sig.WontFit && !a.wontFit && o.wontFit != WontFitIgnore {
			w.log.Error("memwatch: live heap does not fit the memory budget", "heap_budget", sig.HeapBudget,
				"advised_shed_bytes", sig.Bytes, "budget", d.Budget, "effective_limit", d.Effective)
			if o.wontFit == WontFitExit {
				o.exit(WontFitExitCode)
			}
		}
		a.wontFit = sig.WontFit
		if sig.Bytes == 0 {
			a.shedFired = 0
		} else if a.shedFired == 0 || (sig.Bytes > a.shedFired+1<<20 && sig.Bytes > a.shedFired+a.shedFired/10) {
			a.shedFired = sig.Bytes
			a.act.ShedAdvisories++
			w.log.Info("memwatch: shed advice", "bytes", sig.Bytes, "wont_fit", sig.WontFit, "reason", sig.Reason)
			if o.onShed != nil {
				s.Actions = a.act
				w.emit(event{kind: evShed}, s)
			}
		}
	}

	s.Actions = a.act
}

// restoreActions waits for a running FreeOSMemory and puts back the
// GOMEMLIMIT and GOGC in force at Start, once.
func (w *Watcher) restoreActions() {
	a := &w.actSt
	if !a.enabled {
		return
	}
	a.freeWG.Wait()
	a.restoreOnce.Do(func() {
		if a.curLimit != a.origLimit {
			debug.SetMemoryLimit(a.origLimit)
			w.log.Info("memwatch: GOMEMLIMIT restored", "old", a.curLimit, "new", a.origLimit)
			a.curLimit, a.limitSet = a.origLimit, false
		}
		if a.haveGOGC && a.curGOGC != a.origGOGC {
			debug.SetGCPercent(a.origGOGC)
			w.log.Debug("memwatch: GOGC restored", "old", a.curGOGC, "new", a.origGOGC)
			a.curGOGC, a.gogcSet = a.origGOGC, false
		}
	})
}

// defaultLookupEnv is the environment lookup of the options; defaultExit
// their exit function (WontFitExit).
var (
	defaultLookupEnv = os.LookupEnv
	defaultExit      = os.Exit
)
