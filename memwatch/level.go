package memwatch

import "fmt"

// Level is how close the memory cgroup is to its limit, as judged by the
// Watcher. A Snapshot read directly with Sample or Read carries LevelUnknown:
// judging needs the Watcher's thresholds and hysteresis.
type Level uint8

// Levels, from calm to critical. The zero value is LevelUnknown.
const (
	LevelUnknown  Level = iota // not judged (no Watcher, or no limit known yet)
	LevelOK                    // comfortably below the limit
	LevelWarn                  // approaching the limit: shed caches, slow intake
	LevelCritical              // an OOM kill is near: act now
)

var levelNames = [...]string{
	LevelUnknown:  "unknown",
	LevelOK:       "ok",
	LevelWarn:     "warn",
	LevelCritical: "critical",
}

// String returns "unknown", "ok", "warn" or "critical".
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// MarshalText encodes the level as its name (used by encoding/json).
func (l Level) MarshalText() ([]byte, error) {
	if int(l) >= len(levelNames) {
		return nil, errorf("memwatch: invalid level %d", uint8(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText decodes a level name as written by MarshalText.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if string(b) == n {
			*l = Level(i)
			return nil
		}
	}
	return errorf("memwatch: unknown level %q", b)
}
