//go:build !linux

package memwatch

// startEvents: kernel wake-ups exist only on Linux; the Watcher polls.
func startEvents(eventConfig) (eventSource, string) { return nil, "poll" }
