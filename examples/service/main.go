// Command service is a small HTTP service wired to memwatch: it starts a
// Watcher, serves the latest snapshot at /debug/memwatch (JSON; text with
// ?format=text), publishes it in expvar (/debug/vars), logs level changes,
// limit changes and OOM kills with slog, and shuts down cleanly on SIGINT or
// SIGTERM.
//
//	go run ./examples/service -addr :8080
//	go run ./examples/memwatch-inspect -url http://localhost:8080/debug/memwatch
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "listen address")
	interval := flag.Duration("interval", time.Second, "nominal sampling interval")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	if err := serve(ctx, ln, log, memwatch.WithInterval(*interval)); err != nil {
		log.Error("service", "err", err)
		os.Exit(1)
	}
}

// serve runs the service on ln until ctx is done, then shuts it down.
func serve(ctx context.Context, ln net.Listener, log *slog.Logger, opts ...memwatch.WatcherOption) error {
	opts = append(opts,
		memwatch.WithLogger(log),
		memwatch.OnLevel(func(old, new memwatch.Level, s *memwatch.Snapshot) {
			lvl := slog.LevelInfo
			if new >= memwatch.LevelWarn {
				lvl = slog.LevelWarn
			}
			log.Log(context.Background(), lvl, "memory level changed", "old", old, "new", new, "verdict", s.Verdict())
		}),
		memwatch.OnLimitChange(func(old, new uint64, _ *memwatch.Snapshot) {
			log.Info("memory limit changed", "old", old, "new", new)
		}),
		memwatch.OnOOMKill(func(n uint64, _ *memwatch.Snapshot) {
			log.Error("OOM kill in this cgroup", "kills", n)
		}),
	)
	w, err := memwatch.New(opts...)
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := w.Start(ctx); err != nil {
		return err
	}
	if expvar.Get("memwatch") == nil {
		expvar.Publish("memwatch", memdebug.NewVar(w))
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/memwatch", memdebug.Handler(w))
	mux.Handle("/debug/vars", expvar.Handler())
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		s := w.Latest()
		io.WriteString(rw, "hello; memory: ")
		fmt.Fprintln(rw, s.Level, "-", s.Verdict())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "mode", w.Latest().Sampling.Mode)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
