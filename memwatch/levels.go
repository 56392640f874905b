package memwatch

import "time"

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

// nextInterval is the adaptive sampling interval. With used growing at
// rate bytes/s toward limit, the time to the limit is ttl = (limit−used)/rate;
// the next sample comes after clamp(ttl/4, floor, nominal), so about four
// samples fall between now and a forecast OOM. Without growth, a limit or a
// positive headroom forecast, the nominal interval is kept; with no headroom
// left, the floor.
func nextInterval(used, prevUsed, limit uint64, dt time.Duration, floor, nominal time.Duration) time.Duration {
	if limit == 0 || dt <= 0 {
		return nominal
	}
	if used >= limit {
		return floor
	}
	if used <= prevUsed {
		return nominal
	}
	rate := float64(used-prevUsed) / dt.Seconds() // bytes per second
	ttl := time.Duration(float64(limit-used) / rate * float64(time.Second))
	next := ttl / 4
	if next < floor {
		return floor
	}
	if next > nominal {
		return nominal
	}
	return next
}
