// Package memotel exports the snapshots of a [memwatch.Source] (a running
// [memwatch.Watcher]) through the OpenTelemetry metric API: asynchronous
// instruments and one callback that copies the latest snapshot once per
// collection. A collection reads no kernel file and never stops the world:
// the Watcher has already sampled.
//
//	reader := sdkmetric.NewPeriodicReader(exporter)
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	reg, err := memotel.Register(mp.Meter(memotel.ScopeName), w)
//	...
//	defer reg.Unregister()
//
// It is a module of its own, so that the memwatch module does not require
// OpenTelemetry.
//
// # Instruments
//
// Where an OpenTelemetry semantic convention (registry v1.44.0) names a
// quantity, memotel uses it: process.memory.usage and the
// container.memory.* metrics, which describe the process's own memory
// cgroup (the container's, in Kubernetes). Everything else is under
// memwatch.*. Bytes are in By, times in s, counts in annotated units
// ({kill}, {event}); a value that does not apply (no limit, no memory.high,
// cgroup v1 only, no full read yet) is absent, never 0.
//
//	name                             kind           unit
//
//	process.memory.usage             UpDownCounter  By
//	container.memory.usage           UpDownCounter  By
//	container.memory.working_set     UpDownCounter  By
//	container.memory.available       UpDownCounter  By
//	container.memory.rss             UpDownCounter  By
//	memwatch.cgroup.limit            UpDownCounter  By
//	memwatch.cgroup.high             UpDownCounter  By
//	memwatch.attribution             UpDownCounter  By  (memwatch.part, memwatch.reclaimable)
//	memwatch.headroom                UpDownCounter  By
//	memwatch.level                   Gauge          {level}
//	memwatch.time_to_limit           Gauge          s
//	memwatch.cgroup.oom_kills        Counter        {kill}
//	memwatch.cgroup.events           Counter        {event}  (memwatch.cgroup.event)
//	memwatch.cgroup.failcnt          Counter        {event}
//	memwatch.psi.stall.time          Counter        s  (memwatch.psi.kind, memwatch.psi.source)
//	memwatch.actions                 Counter        {action}  (memwatch.action)
//	memwatch.gomemlimit              UpDownCounter  By  (memwatch.gomemlimit.bound)
//	memwatch.gogc                    Gauge          %
//	memwatch.shed.advised            UpDownCounter  By
//	memwatch.shed.advisories         Counter        {advisory}
//	memwatch.shed.wont_fit           Gauge          -
//	memwatch.shed.wont_fit_episodes  Counter        {episode}
//
// # Beside go.opentelemetry.io/contrib/instrumentation/runtime
//
// memotel does not re-emit the Go runtime's own view: go.memory.used,
// go.memory.limit (the GOMEMLIMIT the runtime holds), go.memory.gc.goal,
// go.config.gogc (the GOGC it holds) and the rest come from the contrib
// runtime instrumentation; register both (see the Example). The memwatch
// attribution splits Go's memory into parts that go.memory.used does not
// (live heap, garbage, free pages), and memwatch.gomemlimit and
// memwatch.gogc show only what memwatch itself set.
//
// # Counters
//
// The counters (memwatch.cgroup.oom_kills, memwatch.cgroup.events,
// memwatch.cgroup.failcnt, memwatch.psi.stall.time, memwatch.actions,
// memwatch.shed.advisories, memwatch.shed.wont_fit_episodes) are
// cumulative and monotonic. Kernel counters count from the cgroup's
// creation, so the first point of a process started in an existing cgroup
// (a restart inside the same container) includes events from before it;
// Prometheus's rate and increase take the first point as the base. If a
// counter goes down under a registration (the Source now reads another
// cgroup or Watcher), the exported value holds and grows again from there
// (see Register).
//
// docs/otel.md in the repository has the full table with the snapshot field
// behind each instrument.
package memotel
