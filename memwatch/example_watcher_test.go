package memwatch_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-memwatch/memwatch/memwatch"
)

// A service's main starts a Watcher, mounts its handler and sheds load when
// memory gets critical.
func ExampleWatcher_Handler() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w, err := memwatch.New(
		memwatch.WithLogger(slog.Default()),
		memwatch.OnLevel(func(old, new memwatch.Level, s *memwatch.Snapshot) {
			slog.Warn("memory level", "old", old, "new", new, "verdict", s.Verdict())
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	w.Publish("memwatch") // also at /debug/vars

	mux := http.NewServeMux()
	mux.Handle("/debug/memwatch", w.Handler()) // JSON; ?format=text for humans
	srv := &http.Server{Addr: ":8080", Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// A Watcher judges memory against the cgroup limit and calls back on
// changes; Latest is always available without blocking.
func ExampleNew() {
	w, err := memwatch.New(
		memwatch.WithThresholds(0.75, 0.90),
		memwatch.WithBasis(memwatch.BasisWorkingSet),
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
