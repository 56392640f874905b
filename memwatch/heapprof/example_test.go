package heapprof_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/heapprof"
)

// A Watcher that writes a heap profile when the level rises to warn and to
// critical, for `go tool pprof` after the fact. A profile shows the Go heap
// only: when the attribution's largest parts are not Go (non_go_anon,
// other_processes, shmem), look there instead.
func Example() {
	p, err := heapprof.New(heapprof.Options{
		Dir:    "/var/lib/myservice/profiles", // e.g. a volume that outlives the container
		Keep:   10,
		Logger: slog.Default(), // "memwatch: heap profile written" at Info
	})
	if err != nil {
		log.Fatal(err) // for example: the directory does not exist
	}
	w, err := memwatch.New(
		memwatch.WithLogger(slog.Default()),
		p.Option(),
	)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
}
