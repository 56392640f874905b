package memdebug_test

import (
	"context"
	"expvar"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
)

// A service serves its Watcher's snapshot on a separate localhost listener,
// the way net/http/pprof is usually served: operators reach it with
// kubectl port-forward and memwatch-inspect -url, the public port never
// sees it.
func ExampleHandler() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w, err := memwatch.New(memwatch.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()

	debug := http.NewServeMux()
	debug.Handle("/debug/memwatch", memdebug.Handler(w)) // JSON; ?format=text for humans
	srv := &http.Server{Addr: "localhost:6060", Handler: debug, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// A Var shows the latest snapshot in expvar. expvar cannot republish a
// name, so on a configuration reload the Var is pointed at the new Watcher.
func ExampleVar() {
	w, err := memwatch.New()
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	v := memdebug.NewVar(w)
	expvar.Publish("memwatch", v)

	// Reload: replace the Watcher; the stopped one is no longer shown.
	w.Stop()
	w2, err := memwatch.New(memwatch.WithThresholds(0.7, 0.85))
	if err != nil {
		log.Fatal(err)
	}
	if err := w2.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w2.Stop()
	v.Set(w2)
}
