package memprom_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memprom"
)

// A service registers memwatch's collector beside client_golang's Go and
// process collectors (which memprom does not repeat) and serves them on
// /metrics.
func Example() {
	ctx := context.Background()
	w, err := memwatch.New(memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		memprom.NewCollector(w),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// The collector exports a Watcher's latest snapshot; here a Watcher reading
// a cgroup v1 fixture tree (a 512 MiB limit) instead of /proc and /sys.
func ExampleNewCollector() {
	w, err := memwatch.New(memwatch.WithRoot("../testdata/v1-limit"), memwatch.WithInterval(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(memprom.NewCollector(w))

	show := func() {
		mfs, err := reg.Gather()
		if err != nil {
			log.Fatal(err)
		}
		for _, mf := range mfs {
			switch name := mf.GetName(); name {
			case "memwatch_up", "memwatch_level", "memwatch_cgroup_limit_bytes",
				"memwatch_cgroup_usage_bytes", "memwatch_cgroup_working_set_bytes":
				fmt.Println(name, mf.Metric[0].GetGauge().GetValue())
			case "memwatch_cgroup_oom_kills_total":
				fmt.Println(name, mf.Metric[0].GetCounter().GetValue())
			case "memwatch_attribution_bytes":
				fmt.Println(name, len(mf.Metric), "parts")
			}
		}
	}
	show() // not started: no current snapshot
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	show()
	// Output:
	// memwatch_up 0
	// memwatch_attribution_bytes 14 parts
	// memwatch_cgroup_limit_bytes 5.36870912e+08
	// memwatch_cgroup_oom_kills_total 0
	// memwatch_cgroup_usage_bytes 2.21585408e+08
	// memwatch_cgroup_working_set_bytes 1.71216896e+08
	// memwatch_level 1
	// memwatch_up 1
}
