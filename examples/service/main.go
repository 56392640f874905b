// Command service is a small HTTP service wired to memwatch: it starts a
// Watcher with the adaptive GOMEMLIMIT, exports it to Prometheus, serves the
// latest snapshot for operators, logs level changes, limit changes, OOM
// kills and shedding advice with slog, and shuts down cleanly on SIGINT or
// SIGTERM.
//
// It listens twice, the way net/http/pprof is usually served:
//
//   - -addr (default localhost:8080; in a container, -addr :8080) is the
//     public listener: the application ("/") and /metrics, which Prometheus
//     must reach. /metrics holds memwatch's collector (memwatch/memprom) and
//     client_golang's Go and process collectors: aggregate numbers, as every
//     Go service exports.
//   - -debug-addr (default localhost:6060; empty disables it) is for
//     operators only: /debug/memwatch (the snapshot as JSON, ?format=text
//     for people) and /debug/vars (expvar, with the command line and the
//     snapshot). They show cgroup paths and the command line; reach them with
//     kubectl port-forward, never expose them.
//
// This directory is its own Go module (it requires client_golang, which the
// memwatch module does not):
//
//	cd examples/service && go run . -addr :8080
//	go run ./examples/memwatch-inspect -url http://localhost:6060/debug/memwatch
//	curl -s localhost:8080/metrics | grep ^memwatch_
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
	"github.com/go-memwatch/memwatch/memwatch/memprom"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "public listen address: the application and /metrics")
	debugAddr := flag.String("debug-addr", "localhost:6060", "operators' listen address: /debug/memwatch and /debug/vars (keep it private; empty disables)")
	interval := flag.Duration("interval", time.Second, "nominal sampling interval")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	public, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	var debug net.Listener
	if *debugAddr != "" {
		if debug, err = net.Listen("tcp", *debugAddr); err != nil {
			log.Error("listen", "err", err)
			os.Exit(1)
		}
	}
	if err := serve(ctx, public, debug, log, config{interval: *interval}); err != nil {
		log.Error("service", "err", err)
		os.Exit(1)
	}
}

// config holds what the command line and the tests choose.
type config struct {
	root     string        // directory /proc and /sys are read under ("" = "/"; tests use fixtures)
	interval time.Duration // nominal sampling interval
}

// serve runs the service on the public listener and, when debug is not
// nil, the operators' endpoints on debug, until ctx is done; then it shuts
// both down.
func serve(ctx context.Context, public, debug net.Listener, log *slog.Logger, cfg config) error {
	w, err := memwatch.New(
		memwatch.WithRoot(cfg.root),
		memwatch.WithInterval(cfg.interval),
		memwatch.WithLogger(log),
		// GOMEMLIMIT = limit − non-Go memory − slack, recomputed on every
		// sample; a GOMEMLIMIT in the environment wins. Remove to only observe.
		memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()),
		memwatch.OnShed(func(sig memwatch.ShedSignal, _ *memwatch.Snapshot) {
			// A real service drops caches or refuses work here.
			log.Warn("memwatch advises shedding live heap", "bytes", sig.Bytes, "wont_fit", sig.WontFit, "reason", sig.Reason)
		}),
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
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := w.Start(ctx); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		memprom.NewCollector(w),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/{$}", func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "hello; memory: ")
		if s := w.Latest(); s != nil {
			fmt.Fprintln(rw, s.Level, "-", s.Verdict())
		} else {
			fmt.Fprintln(rw, "not watched")
		}
	})
	servers := []*http.Server{{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	listeners := []net.Listener{public}
	log.Info("serving", "addr", public.Addr().String(), "mode", w.Latest().Sampling.Mode)

	if debug != nil {
		// expvar cannot unpublish a name: publish a Var once and point it at
		// the current Watcher.
		if v, ok := expvar.Get("memwatch").(*memdebug.Var); ok {
			v.Set(w)
		} else {
			expvar.Publish("memwatch", memdebug.NewVar(w))
		}
		dmux := http.NewServeMux()
		dmux.Handle("/debug/memwatch", memdebug.Handler(w))
		dmux.Handle("/debug/vars", expvar.Handler())
		servers = append(servers, &http.Server{Handler: dmux, ReadHeaderTimeout: 5 * time.Second})
		listeners = append(listeners, debug)
		log.Info("serving debug endpoints", "addr", debug.Addr().String())
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	pending := len(servers)
	var serveErr error // the first Serve failure
	select {
	case serveErr = <-errc: // a listener failed: shut the others down too
		pending--
	case <-ctx.Done():
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var shutdownErr error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); shutdownErr == nil {
			shutdownErr = err
		}
	}
	for range pending {
		if err := <-errc; serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	if serveErr != nil {
		return serveErr
	}
	return shutdownErr
}
