package memwatch

import (
	"math"
	"time"
)

// judge applies the thresholds with hysteresis. Rising is immediate: a
// fraction at or above critical is LevelCritical, at or above warn at least
// LevelWarn. Falling needs the fraction to drop hyst below the threshold
// being left: critical falls to warn below critical−hyst, warn falls to ok
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
	if ttl >= float64(math.MaxInt64) {
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
