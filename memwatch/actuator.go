package memwatch

import (
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// actuatorConfig is what the actuator needs: the action options.
type actuatorConfig struct {
	memLimit *MemLimitPolicy // WithAdaptiveMemLimit
	gogc     *GOGCPolicy     // WithAdaptiveGOGC
	freeOS   bool            // WithFreeOSMemory
	// freeOSMemory is debug.FreeOSMemory, set only by WithFreeOSMemory, so
	// that a program that never calls it does not link it and runtime.GC
	// (2.8 KB, scripts/binsize.sh).
	freeOSMemory      func()
	freeOSMinInterval time.Duration
	freeOSMinBytes    uint64
	shedHandler       bool // OnShed is set (filled in by New)
	overrideEnvLimit  bool
	wontFit           WontFitAction
	lookupEnv         func(string) (string, bool) // os.LookupEnv; tests replace it
	exit              func(code int)              // os.Exit; tests replace it
}

// enabled reports whether any action option is set.
func (c *actuatorConfig) enabled() bool {
	return c.memLimit != nil || c.gogc != nil || c.freeOS || c.shedHandler || c.wontFit != WontFitIgnore
}

// validate returns an error for each action option value New cannot use.
func (c *actuatorConfig) validate() []error {
	var errs []error
	if p := c.memLimit; p != nil {
		if !finite(p.SlackRatio) || p.SlackRatio < 0 || p.SlackRatio >= 1 {
			errs = append(errs, errorf("WithAdaptiveMemLimit: SlackRatio %v: need 0 ≤ ratio < 1", p.SlackRatio))
		}
		if !finite(p.MinHeadroomOverLive) || p.MinHeadroomOverLive < 0 {
			errs = append(errs, errorf("WithAdaptiveMemLimit: MinHeadroomOverLive %v: need a finite value ≥ 0", p.MinHeadroomOverLive))
		}
	}
	if c.wontFit > WontFitExit {
		errs = append(errs, errorf("WithWontFitPolicy(%d): unknown action", c.wontFit))
	}
	return errs
}

// Reasons the adaptive limit is inactive.
const (
	memLimitReasonEnv     = "GOMEMLIMIT set in the environment wins (see WithOverrideEnvGOMEMLIMIT)"
	memLimitReasonOff     = "adaptive GOMEMLIMIT not enabled"
	memLimitReasonWaiting = "another memwatch Watcher in this process manages GOMEMLIMIT"
	memLimitReasonYielded = "GOMEMLIMIT was changed outside memwatch; memwatch no longer manages it"
	memLimitReasonKept    = "cgroup view unreadable on this sample; GOMEMLIMIT kept as it was"
)

// knobState is an actuator's relation to one runtime setting (GOMEMLIMIT or
// GOGC), which the whole process shares.
type knobState uint8

const (
	knobWaiting knobState = iota // another Watcher owns it: hands off, claim when it is released
	knobOwned                    // this actuator manages it
	knobYielded                  // changed outside memwatch: hands off for good
)

// The actuator that manages each runtime setting. Two Watchers setting the
// same GOMEMLIMIT would undo each other on every sample; the first to claim
// a setting manages it until its Stop, the other waits and claims it then
// (a configuration reload that starts the new Watcher before stopping the
// old one hands over without a fight).
var limitOwner, gogcOwner atomic.Pointer[actuator]

// actuator applies the opt-in actions to the runtime: it turns the pure
// policies' decisions (policy.go) into debug.SetMemoryLimit,
// debug.SetGCPercent and debug.FreeOSMemory calls, records them in
// Snapshot.Actions, and puts the original settings back on restore.
// Without an action option it does nothing and never touches
// runtime/debug. It runs on the sampling goroutine.
type actuator struct {
	cfg actuatorConfig
	log *slog.Logger

	envLimit  bool // GOMEMLIMIT in the environment blocks the adaptive limit
	limitKnob knobState
	gogcKnob  knobState
	origLimit int64
	origGOGC  int
	haveGOGC  bool // origGOGC was read
	curLimit  int64
	limitSet  bool // curLimit was applied by us
	curGOGC   int
	gogcSet   bool
	shedFired uint64 // Bytes of the last shed advisory; 0 when advice ended
	wontFit   bool   // the last sample's advice was WontFit

	freeRunning atomic.Bool
	freeWG      sync.WaitGroup
	lastFree    time.Time

	restoreOnce sync.Once
	act         Actions
}

// newActuator records the runtime settings in force (call it right before
// the first sample) and returns nil when no action option is set.
func newActuator(cfg actuatorConfig, log *slog.Logger) *actuator {
	if !cfg.enabled() {
		return nil
	}
	a := &actuator{cfg: cfg, log: log}
	a.act.Enabled = true
	// What is in force at Start; a claim (the first sample, or when another
	// Watcher releases a setting) records it again.
	a.origLimit = debug.SetMemoryLimit(-1)
	a.curLimit = a.origLimit
	a.origGOGC, a.haveGOGC = readGOGC()
	a.curGOGC = a.origGOGC
	a.act.MemLimitReason = memLimitReasonOff
	a.act.MemLimitDecided, a.act.MemLimitBudget = NoMemLimit, NoMemLimit
	if cfg.memLimit != nil && !cfg.overrideEnvLimit {
		if v, ok := cfg.lookupEnv("GOMEMLIMIT"); ok && v != "" {
			a.envLimit = true
			a.act.MemLimitReason = memLimitReasonEnv
			log.Info("memwatch: GOMEMLIMIT set in the environment; adaptive limit inactive", "GOMEMLIMIT", v)
		}
	}
	return a
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

// apply computes and applies the action decisions for a judged sample (its
// Level is set) and records them in s.Actions. It reports whether a shed
// advisory is due (advice began, or grew by more than 10% and 1 MiB); the
// caller turns it into an OnShed call. It does not allocate except to log.
func (a *actuator) apply(s *Snapshot) (shed bool) {
	cfg := &a.cfg
	pol := DefaultMemLimitPolicy()
	if cfg.memLimit != nil {
		pol = *cfg.memLimit
	}
	d := pol.Decide(s)

	if cfg.memLimit != nil && !a.envLimit {
		a.applyMemLimit(s, &d)
	}
	if cfg.gogc != nil {
		a.applyGOGC(s, &d)
	}
	if cfg.freeOS && s.Level == LevelCritical {
		a.maybeFreeOSMemory(s)
	}
	if cfg.shedHandler || cfg.gogc != nil || cfg.memLimit != nil || cfg.wontFit != WontFitIgnore {
		shed = a.adviseShed(s, &d)
	}
	s.Actions = a.act
	return shed
}

// transientError reports whether the decision has no limit only because
// the cgroup view could not be read on this sample (a failed read, not the
// absence of a cgroup or of a limit): then the settings stay as they are.
func transientError(s *Snapshot, d *MemLimitDecision) bool {
	return !d.Set && !s.Cgroup.Available && s.Cgroup.Err != nil && !s.Cgroup.Unsupported()
}

// claimLimit makes the actuator manage GOMEMLIMIT when no other Watcher
// does, recording the value in force as the one to restore. It reports
// whether the actuator manages it.
func (a *actuator) claimLimit() bool {
	if a.limitKnob == knobWaiting && limitOwner.CompareAndSwap(nil, a) {
		a.limitKnob = knobOwned
		a.origLimit = debug.SetMemoryLimit(-1)
		a.curLimit, a.limitSet = a.origLimit, false
	}
	return a.limitKnob == knobOwned
}

func (a *actuator) applyMemLimit(s *Snapshot, d *MemLimitDecision) {
	a.act.MemLimitSource, a.act.MemLimitBound = d.Source, d.Bound
	a.act.MemLimitDecided, a.act.MemLimitBudget = d.Limit, d.Budget
	switch {
	case a.limitKnob == knobYielded:
		a.act.MemLimitReason = memLimitReasonYielded
		return
	case !a.claimLimit():
		a.act.MemLimitReason = memLimitReasonWaiting
		return
	case s.Go.Present&GoGOMEMLIMIT != 0 && s.Go.GOMEMLIMIT != a.curLimit:
		// Someone else (debug.SetMemoryLimit elsewhere, an operator's
		// tool) changed it since our last change: theirs wins.
		a.log.Warn("memwatch: GOMEMLIMIT changed outside memwatch; no longer managing it",
			"set_by_memwatch", a.curLimit, "now", s.Go.GOMEMLIMIT)
		a.limitKnob = knobYielded
		a.act.MemLimitReason, a.act.MemLimit = memLimitReasonYielded, 0
		return
	case transientError(s, d):
		a.act.MemLimitReason = memLimitReasonKept
		return
	}
	a.act.MemLimitReason = d.Reason
	target, set := a.origLimit, false
	if d.Set {
		target, set = int64(d.Limit), true
	}
	if target != a.curLimit && (limitChanged(a.curLimit, target) || set != a.limitSet) {
		debug.SetMemoryLimit(target)
		a.log.Info("memwatch: GOMEMLIMIT changed", "old", a.curLimit, "new", target,
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

// claimGOGC is claimLimit for GOGC. GOGC=off at the claim is left alone.
func (a *actuator) claimGOGC() bool {
	if a.gogcKnob == knobWaiting && gogcOwner.CompareAndSwap(nil, a) {
		a.gogcKnob = knobOwned
		a.origGOGC, a.haveGOGC = readGOGC()
		a.curGOGC, a.gogcSet = a.origGOGC, false
	}
	return a.gogcKnob == knobOwned && a.haveGOGC && a.origGOGC >= 0
}

func (a *actuator) applyGOGC(s *Snapshot, d *MemLimitDecision) {
	if a.gogcKnob == knobYielded || !a.claimGOGC() {
		a.act.GOGCSet = false
		return
	}
	if s.Go.Present&GoGOGC != 0 && s.Go.GOGC != int64(a.curGOGC) {
		a.log.Warn("memwatch: GOGC changed outside memwatch; no longer managing it",
			"set_by_memwatch", a.curGOGC, "now", s.Go.GOGC)
		a.gogcKnob = knobYielded
		a.act.GOGCSet = false
		return
	}
	if transientError(s, d) {
		return // keep GOGC as it is
	}
	target, set := a.origGOGC, false
	if d.Set {
		budget := d.Budget
		if budget == 0 {
			budget = 1 // nothing fits: the minimum GOGC (Decide reads 0 as "no limit")
		}
		target, set = a.cfg.gogc.Decide(s, budget), true
	}
	if target != a.curGOGC && (gogcChanged(a.curGOGC, target) || set != a.gogcSet) {
		debug.SetGCPercent(target)
		a.log.Debug("memwatch: GOGC changed", "old", a.curGOGC, "new", target, "budget", d.Budget)
		a.curGOGC = target
		a.act.GOGCChanges++
	}
	a.gogcSet = set
	a.act.GOGC, a.act.GOGCSet = a.curGOGC, a.gogcSet
}

// maybeFreeOSMemory starts debug.FreeOSMemory on its own goroutine when it
// is worth it, not too soon after the last one and not twice at once.
func (a *actuator) maybeFreeOSMemory(s *Snapshot) {
	if !FreeOSMemoryWorthIt(s, a.cfg.freeOSMinBytes) ||
		(!a.lastFree.IsZero() && s.Time.Sub(a.lastFree) < a.cfg.freeOSMinInterval) ||
		!a.freeRunning.CompareAndSwap(false, true) {
		return
	}
	a.lastFree = s.Time
	a.act.FreeOSMemoryTime = s.Time
	a.act.FreeOSMemoryCount++
	a.log.Info("memwatch: FreeOSMemory", "heap_free", s.Go.HeapFree)
	a.freeWG.Add(1)
	go func() {
		defer a.freeWG.Done()
		defer a.freeRunning.Store(false)
		a.cfg.freeOSMemory()
	}()
}

// adviseShed computes ShedAdvice against the decision's budget, handles the
// won't-fit policy and reports whether a shed advisory is due.
func (a *actuator) adviseShed(s *Snapshot, d *MemLimitDecision) bool {
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
		if a.cfg.wontFit != WontFitIgnore {
			a.log.Error("memwatch: live heap does not fit the memory budget", "heap_budget", sig.HeapBudget,
				"advised_shed_bytes", sig.Bytes, "budget", d.Budget, "effective_limit", d.Effective)
			if a.cfg.wontFit == WontFitExit {
				a.cfg.exit(WontFitExitCode)
			}
		}
	}
	a.wontFit = sig.WontFit
	if sig.Bytes == 0 {
		a.shedFired = 0
		return false
	}
	if a.shedFired != 0 && (sig.Bytes <= a.shedFired+1<<20 || sig.Bytes <= a.shedFired+a.shedFired/10) {
		return false
	}
	a.shedFired = sig.Bytes
	a.act.ShedAdvisories++
	a.log.Info("memwatch: shed advice", "bytes", sig.Bytes, "wont_fit", sig.WontFit, "reason", sig.Reason)
	return true
}

// restore waits for a running FreeOSMemory, puts back the GOMEMLIMIT and
// GOGC found when it claimed them — unless someone else changed them since
// memwatch last did: their value stays — and releases its claims, once.
func (a *actuator) restore() {
	a.freeWG.Wait()
	a.restoreOnce.Do(func() {
		if a.limitKnob == knobOwned && a.curLimit != a.origLimit {
			if now := debug.SetMemoryLimit(-1); now != a.curLimit {
				a.log.Warn("memwatch: GOMEMLIMIT changed outside memwatch; not restored", "set_by_memwatch", a.curLimit, "now", now)
			} else {
				debug.SetMemoryLimit(a.origLimit)
				a.log.Info("memwatch: GOMEMLIMIT restored", "old", a.curLimit, "new", a.origLimit)
			}
			a.curLimit, a.limitSet = a.origLimit, false
		}
		if a.gogcKnob == knobOwned && a.haveGOGC && a.curGOGC != a.origGOGC {
			if now, ok := readGOGC(); ok && now != a.curGOGC {
				a.log.Warn("memwatch: GOGC changed outside memwatch; not restored", "set_by_memwatch", a.curGOGC, "now", now)
			} else {
				debug.SetGCPercent(a.origGOGC)
				a.log.Debug("memwatch: GOGC restored", "old", a.curGOGC, "new", a.origGOGC)
			}
			a.curGOGC, a.gogcSet = a.origGOGC, false
		}
		limitOwner.CompareAndSwap(a, nil)
		gogcOwner.CompareAndSwap(a, nil)
	})
}
