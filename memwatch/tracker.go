package memwatch

import (
	"fmt"
	"math"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Measure is the quantity the Watcher compares with a limit to judge the
// Level (see [WithMeasure]).
type Measure uint8

// Measures.
const (
	// MeasureWorkingSet compares the cgroup's working set (usage minus
	// inactive file cache: what cAdvisor, kubectl top and kubelet eviction
	// use) with the effective hard limit. Page cache the kernel can drop
	// does not raise the level. While the working set is unknown (memory.stat
	// without inactive_file) the usage, its upper bound, stands in: the level
	// may rise early, never late.
	MeasureWorkingSet Measure = iota
	// MeasureUsage compares the cgroup's raw usage (memory.current,
	// memory.usage_in_bytes) with the effective hard limit.
	MeasureUsage
	// MeasureGoMemLimit compares what GOMEMLIMIT governs (Go runtime memory
	// Sys − HeapReleased) with GOMEMLIMIT. Without a GOMEMLIMIT the level
	// is LevelUnknown.
	MeasureGoMemLimit
)

// String returns "working_set", "usage" or "gomemlimit".
func (m Measure) String() string {
	switch m {
	case MeasureWorkingSet:
		return "working_set"
	case MeasureUsage:
		return "usage"
	case MeasureGoMemLimit:
		return "gomemlimit"
	}
	return fmt.Sprintf("Measure(%d)", uint8(m))
}

// trackerConfig is what the level tracker needs.
type trackerConfig struct {
	measure               Measure
	warn, critical, hyst  float64
	interval, minInterval time.Duration
}

// levelTracker judges each snapshot: the Level (thresholds with
// hysteresis on the chosen measure), the forecast time to the limit and the
// next sampling interval, and what changed since the previous snapshot
// (limit, OOM kills, memory.high). It only reads snapshots and its own
// state: no I/O, no goroutines, so it is tested with hand-made snapshots.
type levelTracker struct {
	cfg      trackerConfig
	level    Level
	interval time.Duration

	have      bool // a previous snapshot was judged
	prevUsed  uint64
	prevTime  time.Time
	prevLimit uint64
	haveLimit bool
	// prevEvents are the event counters of the last full sample that had
	// them (haveEvents).
	prevEvents cgroupstat.EventCounts
	haveEvents bool
	aboveHigh  bool
	usageBand  uint8 // band of the cgroup usage at the last observation
}

// changes is what one observation found. The zero value means nothing
// changed.
type changes struct {
	level              bool
	oldLevel, newLevel Level
	limit              bool
	oldLimit, newLimit uint64
	oomKills           uint64 // rise of the oom_kill counter
	high               bool   // usage crossed memory.high, or the high counter rose
}

func newLevelTracker(cfg trackerConfig) *levelTracker {
	return &levelTracker{cfg: cfg, interval: cfg.interval}
}

// thresholdBytes returns the warn and critical thresholds in bytes of
// limit (0, 0 without a limit, or when the measure is not a cgroup one).
func (t *levelTracker) thresholdBytes(limit uint64) (warn, crit uint64) {
	if t.cfg.measure == MeasureGoMemLimit || limit == 0 || limit == cgroupstat.Unlimited {
		return 0, 0
	}
	return uint64(float64(limit) * t.cfg.warn), uint64(float64(limit) * t.cfg.critical)
}

// measure returns the chosen measure of s and the limit it is judged
// against.
func (t *levelTracker) measure(s *Snapshot) (used, limit uint64, ok bool) {
	switch t.cfg.measure {
	case MeasureGoMemLimit:
		if !s.Go.HasLimit() {
			return s.Go.Retained(), 0, false
		}
		return s.Go.Retained(), uint64(s.Go.GOMEMLIMIT), true
	case MeasureUsage:
		used = s.Cgroup.Stats.Usage
	default:
		used = s.Cgroup.Stats.WorkingSet
		if !s.Cgroup.Stats.HasWorkingSet() {
			used = s.Cgroup.Stats.Usage
		}
	}
	if !s.Cgroup.Available || !s.Cgroup.Stats.HasLimit() {
		return used, 0, false
	}
	return used, s.Cgroup.Stats.Limit, true
}

// crossed reports whether a usage and limit read between samples (see
// WithPollCheck) call for a sample now: the limit changed, or usage has
// risen into a higher threshold band (ok < warn < critical, no hysteresis)
// than at the last observation. Usage bounds the working set from above,
// so a rise of the working set is caught early rather than late; a usage
// that sits above a threshold because of page cache triggers once, not on
// every check.
func (t *levelTracker) crossed(usage, limit uint64) bool {
	if t.cfg.measure == MeasureGoMemLimit || !t.haveLimit {
		return false
	}
	if limit != t.prevLimit {
		return true
	}
	return t.band(usage, limit) > t.usageBand
}

// eventsMatter reports whether event counters read between samples (v2
// memory.events, which the kernel says has changed) call for a sample: one
// of high, oom, oom_kill and oom_group_kill differs from the last full
// sample's, or there is none to compare with. A change of max (or low)
// alone does not: max rises on every reclaim at memory.max, page cache
// included, up to hundreds of times a second, and a full sample for each
// was 62 a second in the cgroup v2 VM with page-cache churn at the limit,
// where one a second was due. The usage/limit check and the samples watch
// the usage itself.
func (t *levelTracker) eventsMatter(c *cgroupstat.EventCounts) bool {
	o := &t.prevEvents
	return !t.haveEvents || c.High != o.High || c.OOM != o.OOM || c.OOMKill != o.OOMKill || c.OOMGroupKill != o.OOMGroupKill
}

// assumedGrowth is the fastest growth the usage/limit check plans for, in
// limits per second: a process that faults in its whole limit in half a
// second is caught by the check at most its period late.
const assumedGrowth = 2.0

// checkPeriod is how long until the next usage/limit check: the time the
// usage needs, growing at assumedGrowth limits per second, to reach the
// next threshold above it, clamped to [floor, ceil]. A calm process far
// below its thresholds is checked a few times a second; one close to a
// threshold every floor.
func (t *levelTracker) checkPeriod(usage, limit uint64, floor, ceil time.Duration) time.Duration {
	if limit == 0 || limit == cgroupstat.Unlimited {
		return ceil
	}
	next := t.cfg.warn
	switch t.band(usage, limit) {
	case 1:
		next = t.cfg.critical
	case 2:
		return floor // only a limit change is left to notice; stay close
	}
	dist := next - float64(usage)/float64(limit)
	d := time.Duration(dist / assumedGrowth * float64(time.Second))
	return min(max(d, floor), ceil)
}

// band is the threshold band of a usage: 0 below warn, 1 below critical,
// 2 at or above critical (0 without a limit).
func (t *levelTracker) band(usage, limit uint64) uint8 {
	if limit == 0 || limit == cgroupstat.Unlimited {
		return 0
	}
	frac := float64(usage) / float64(limit)
	switch {
	case frac >= t.cfg.critical:
		return 2
	case frac >= t.cfg.warn:
		return 1
	}
	return 0
}

// observe judges s, writes s.Level and the forecast fields of s.Sampling
// (Interval, TimeToLimit) and reports what changed.
func (t *levelTracker) observe(s *Snapshot) changes {
	var ch changes
	used, limit, ok := t.measure(s)
	var frac float64
	switch {
	case ok && limit == 0:
		frac = 1 // a limit of 0 (the kernel accepts it) is reached by any charge
	case ok:
		frac = float64(used) / float64(limit)
	}
	old := t.level
	t.level = judge(old, frac, ok, t.cfg.warn, t.cfg.critical, t.cfg.hyst)
	if t.level != old {
		ch.level, ch.oldLevel, ch.newLevel = true, old, t.level
	}

	t.interval = t.cfg.interval
	s.Sampling.TimeToLimit, s.Sampling.HasTimeToLimit = 0, false
	if t.have && ok {
		dt := s.Time.Sub(t.prevTime)
		s.Sampling.TimeToLimit, s.Sampling.HasTimeToLimit = timeToLimit(used, t.prevUsed, limit, dt)
		t.interval = nextInterval(used, t.prevUsed, limit, dt, t.cfg.minInterval, t.cfg.interval)
	}
	s.Level = t.level
	s.Sampling.Interval = t.interval

	if c := &s.Cgroup; c.Available {
		st := &c.Stats
		if t.haveLimit && st.Limit != t.prevLimit {
			ch.limit, ch.oldLimit, ch.newLimit = true, t.prevLimit, st.Limit
		}
		t.prevLimit, t.haveLimit = st.Limit, true
		t.usageBand = t.band(st.Usage, st.Limit)
		if st.Full && st.Events.HasEvents {
			e, o := &st.Events.EventCounts, &t.prevEvents
			if t.haveEvents && e.OOMKill > o.OOMKill {
				ch.oomKills = e.OOMKill - o.OOMKill
			}
			if t.haveEvents && st.Version == cgroupstat.V2 && e.High > o.High {
				ch.high = true
			}
			t.prevEvents, t.haveEvents = *e, true
		}
		above := st.High != cgroupstat.Unlimited && st.Usage >= st.High
		if above && !t.aboveHigh {
			ch.high = true
		}
		t.aboveHigh = above
	}
	t.prevUsed, t.prevTime, t.have = used, s.Time, true
	return ch
}

// judge applies the thresholds with hysteresis. Rising is immediate: a
// fraction at or above crit is LevelCritical, at or above warn at least
// LevelWarn. Falling needs the fraction to drop hyst below the threshold
// being left: critical falls to warn below crit−hyst, warn falls to ok
// below warn−hyst. Without a known fraction the level is LevelUnknown.
func judge(cur Level, frac float64, known bool, warn, crit, hyst float64) Level {
	if !known {
		return LevelUnknown
	}
	target := LevelOK
	switch {
	case frac >= crit:
		target = LevelCritical
	case frac >= warn:
		target = LevelWarn
	}
	if cur == LevelUnknown || target >= cur {
		return target
	}
	next := cur
	if next == LevelCritical && frac < crit-hyst {
		next = LevelWarn
	}
	if next == LevelWarn && frac < warn-hyst {
		next = LevelOK
	}
	return next
}

// timeToLimit forecasts how long until used reaches limit at the growth
// rate since the previous sample: (limit−used)/rate. It reports false
// without a limit, without elapsed time or without growth; 0 when used is
// already at or over the limit.
func timeToLimit(used, prevUsed, limit uint64, dt time.Duration) (time.Duration, bool) {
	if limit == 0 || dt <= 0 {
		return 0, false
	}
	if used >= limit {
		return 0, true
	}
	if used <= prevUsed {
		return 0, false
	}
	rate := float64(used-prevUsed) / dt.Seconds() // bytes per second
	ttl := float64(limit-used) / rate * float64(time.Second)
	if ttl >= math.MaxInt64 {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(ttl), true
}

// nextInterval is the adaptive sampling interval. With used growing toward
// limit, the time to the limit is ttl (timeToLimit); the next sample comes
// after clamp(ttl/4, floor, nominal), so about four samples fall between
// now and a forecast OOM. Without growth, a limit or a positive headroom
// forecast, the nominal interval is kept; with no headroom left, the floor.
func nextInterval(used, prevUsed, limit uint64, dt time.Duration, floor, nominal time.Duration) time.Duration {
	ttl, ok := timeToLimit(used, prevUsed, limit, dt)
	if !ok {
		return nominal
	}
	return min(max(ttl/4, floor), nominal)
}
