package memwatch

import (
	"log/slog"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// eventConfig is what the kernel event source needs: where the cgroup is,
// which of its files to watch, the Sampler's open usage descriptor (v1
// usage thresholds are registered on it; the Sampler owns it and keeps it
// open until the event source is closed), and the function to call when
// the kernel signals.
type eventConfig struct {
	loc     cgroupstat.Location
	files   cgroupstat.Files
	usageFd int
	log     *slog.Logger
	wake    func()
}

// eventSource is the platform's kernel wake-up machinery (events_linux.go;
// elsewhere there is none and the Watcher polls).
type eventSource interface {
	// setThresholds replaces the v1 usage thresholds (0 removes them).
	setThresholds(warn, crit uint64)
	// close unregisters everything and waits for the poll goroutine.
	close()
}
