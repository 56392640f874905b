package memwatch

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// actuatorConfig is what the actuator needs: the action options.
type actuatorConfig struct {
	memLimit          *MemLimitPolicy // WithAdaptiveMemLimit
	gogc              *GOGCPolicy     // WithAdaptiveGOGC
	freeOS            bool            // WithFreeOSMemory
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
			errs = append(errs, fmt.Errorf("WithAdaptiveMemLimit: SlackRatio %v: need 0 ≤ ratio < 1", p.SlackRatio))
		}
		if !finite(p.MinHeadroomOverLive) || p.MinHeadroomOverLive < 0 {
			errs = append(errs, fmt.Errorf("WithAdaptiveMemLimit: MinHeadroomOverLive %v: need a finite value ≥ 0", p.MinHeadroomOverLive))
		}
	}
	if c.wontFit > WontFitExit {
		errs = append(errs, fmt.Errorf("WithWontFitPolicy(%d): unknown action", c.wontFit))
	}
	return errs
}

// Reasons the adaptive limit is inactive.
const (
	memLimitReasonEnv = "GOMEMLIMIT set in the environment wins (see WithOverrideEnvGOMEMLIMIT)"
	memLimitReasonOff = "adaptive GOMEMLIMIT not enabled"
)

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
	if cfg.gogc != nil && a.haveGOGC && a.origGOGC >= 0 {
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

func (a *actuator) applyMemLimit(s *Snapshot, d *MemLimitDecision) {
	a.act.MemLimitReason = d.Reason
	a.act.MemLimitSource, a.act.MemLimitBound = d.Source, d.Bound
	a.act.MemLimitDecided, a.act.MemLimitBudget = d.Limit, d.Budget
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

func (a *actuator) applyGOGC(s *Snapshot, d *MemLimitDecision) {
	target, set := a.origGOGC, false
	if d.Set {
		target, set = a.cfg.gogc.Decide(s, d.Budget), true
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
		debug.FreeOSMemory()
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

// restore waits for a running FreeOSMemory and puts back the GOMEMLIMIT
// and GOGC in force at Start, once.
func (a *actuator) restore() {
	a.freeWG.Wait()
	a.restoreOnce.Do(func() {
		if a.curLimit != a.origLimit {
			debug.SetMemoryLimit(a.origLimit)
			a.log.Info("memwatch: GOMEMLIMIT restored", "old", a.curLimit, "new", a.origLimit)
			a.curLimit, a.limitSet = a.origLimit, false
		}
		if a.haveGOGC && a.curGOGC != a.origGOGC {
			debug.SetGCPercent(a.origGOGC)
			a.log.Debug("memwatch: GOGC restored", "old", a.curGOGC, "new", a.origGOGC)
			a.curGOGC, a.gogcSet = a.origGOGC, false
		}
	})
}
