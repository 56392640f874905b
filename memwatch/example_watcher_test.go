package memwatch_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/go-memwatch/memwatch/memwatch"
)

// A Watcher judges memory against the cgroup limit and calls back on
// changes; Latest is always available without blocking.
func ExampleNew() {
	w, err := memwatch.New(
		memwatch.WithThresholds(0.75, 0.90),
		memwatch.WithMeasure(memwatch.MeasureWorkingSet),
		memwatch.OnOOMKill(func(n uint64, s *memwatch.Snapshot) {
			slog.Error("OOM kill in our cgroup", "kills", n)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	s := w.Latest()
	slog.Info("memory", "level", s.Level, "mode", s.Sampling.Mode)
}
