package memotel

import (
	"context"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-memwatch/memwatch/memwatch"
)

// BenchmarkCollect measures one collection through a real SDK reader:
//
//   - observe: memotel's callback alone (copy the snapshot, observe it);
//   - fake: a collection of memotel's instruments from a hand-made source
//     with every instrument present (the SDK's aggregation included);
//   - watcher: the same from a Watcher on the v1-limit fixture;
//   - runtime: for scale, a collection of the contrib runtime
//     instrumentation alone.
func BenchmarkCollect(b *testing.B) {
	ctx := context.Background()
	b.Run("observe", func(b *testing.B) {
		_, meter, _ := newSDK(b)
		src := &fakeSource{}
		src.set(v2Snapshot())
		r, _, err := newRegistration(meter, src)
		if err != nil {
			b.Fatal(err)
		}
		var o countObserver
		b.ReportAllocs()
		for b.Loop() {
			_ = r.observe(ctx, &o)
		}
		b.ReportMetric(float64(o.n)/float64(b.N), "observations/op")
	})
	collectLoop := func(b *testing.B, reader *sdkmetric.ManualReader) {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := reader.Collect(ctx, &rm); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(numPoints(&rm)), "series")
	}
	b.Run("fake", func(b *testing.B) {
		reader, meter, _ := newSDK(b)
		src := &fakeSource{}
		src.set(v2Snapshot())
		if _, err := Register(meter, src); err != nil {
			b.Fatal(err)
		}
		collectLoop(b, reader)
	})
	b.Run("watcher", func(b *testing.B) {
		dir := b.TempDir()
		if err := os.CopyFS(dir, os.DirFS("../testdata/v1-limit")); err != nil {
			b.Fatal(err)
		}
		w, err := memwatch.New(memwatch.WithRoot(dir), memwatch.WithInterval(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		reader, meter, _ := newSDK(b)
		if _, err := Register(meter, w); err != nil {
			b.Fatal(err)
		}
		collectLoop(b, reader)
	})
	b.Run("runtime", func(b *testing.B) {
		reader, _, mp := newSDK(b)
		if err := runtime.Start(runtime.WithMeterProvider(mp), runtime.WithMinimumReadMemStatsInterval(0)); err != nil {
			b.Fatal(err)
		}
		collectLoop(b, reader)
	})
}

// numPoints counts the data points of a collection.
func numPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n += len(d.DataPoints)
			case metricdata.Sum[float64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[int64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[float64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n += len(d.DataPoints)
			}
		}
	}
	return n
}
