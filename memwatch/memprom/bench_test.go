package memprom

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/memwatch"
)

// BenchmarkCollect is the Collector's share of a scrape of the fullest
// snapshot (every metric present): Collect, and Write of every series, as
// the registry calls them.
func BenchmarkCollect(b *testing.B) {
	c := NewCollector(&source{snap: v2Snapshot(b)})
	benchCollect(b, c)
}

// BenchmarkCollectWatcher is the same with a started Watcher (on a cgroup
// v1 fixture) as the source: the copy out of the Watcher included.
func BenchmarkCollectWatcher(b *testing.B) {
	w, err := memwatch.New(memwatch.WithRoot(fixture.Copy(b, "../testdata/v1-limit")),
		memwatch.WithInterval(time.Hour), memwatch.WithEvents(false))
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	benchCollect(b, NewCollector(w))
}

func benchCollect(b *testing.B, c *Collector) {
	ch := make(chan prometheus.Metric, maxSeries)
	var m dto.Metric
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = collectAll(c, ch, &m)
	}
	b.ReportMetric(float64(n), "series")
}

// BenchmarkGather is a whole Registry.Gather of the Collector alone:
// client_golang's checking, sorting and dto building on top of
// BenchmarkCollect (the text encoding for the wire comes on top of that).
func BenchmarkGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(&source{snap: v2Snapshot(b)}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
