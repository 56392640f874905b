package memotel_test

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memotel"
)

// Register memwatch's instruments beside the Go runtime's on one
// MeterProvider.
func Example() {
	ctx := context.Background()

	// The reader stands in for an exporter's: a service would use
	// sdkmetric.NewPeriodicReader around an OTLP exporter, or the
	// Prometheus exporter (itself a reader).
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	// go.memory.used, go.memory.limit, go.config.gogc, ...: the runtime's
	// own view, which memotel does not repeat.
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		log.Fatal(err)
	}

	// The Watcher reads a cgroup v1 container captured in a fixture tree
	// here; a service leaves out WithRoot and WithEvents.
	w, err := memwatch.New(memwatch.WithRoot("../testdata/v1-limit"), memwatch.WithEvents(false))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()

	reg, err := memotel.Register(mp.Meter(memotel.ScopeName), w)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	// What an exporter would send, for three of the instruments.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != memotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch m.Name {
			case "container.memory.working_set", "memwatch.cgroup.limit":
				fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value, m.Unit)
			case "memwatch.level":
				fmt.Println(m.Name, m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value, m.Unit)
			}
		}
	}
	// Output:
	// container.memory.working_set 171216896 By
	// memwatch.cgroup.limit 536870912 By
	// memwatch.level 1 {level}
}
