//go:build !linux

package memwatch

// newSleeper: kernel notifications exist only on Linux; elsewhere the
// Watcher sleeps on a timer and polls.
func newSleeper(eventConfig, bool) (sleeper, string) { return newTimerSleeper(), "poll" }
