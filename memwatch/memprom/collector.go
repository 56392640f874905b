package memprom

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/memwatch"
)

// Collector is a [prometheus.Collector] that exports the latest snapshot of
// a [memwatch.Source] (usually a [*memwatch.Watcher]). A scrape copies that
// snapshot ([memwatch.Source.LatestInto]) and converts it: it reads no
// kernel file, never waits for the sampler and never stops the world. It
// allocates one buffer for the series it sends and nothing per series.
//
// Register one Collector per Source; a registry rejects a second one
// (same metric names). A Collector is safe for concurrent scrapes.
type Collector struct {
	src memwatch.Source

	mu   sync.Mutex        // guards everything below
	snap memwatch.Snapshot // reused copy of the latest snapshot

	cgroup    cgroupID // the cgroup the kernel counters came from
	hasCgroup bool
	gen       uint64 // incremented when the cgroup is replaced

	oomKills, failcnt counter
	events            [len(eventNames)]counter
	psiSome, psiFull  [len(scopeNames)]counter // by scope: cgroup, host
	actions           [len(actionNames)]counter
	wontFitEpisodes   counter
}

// cgroupID identifies the cgroup counters are read from.
type cgroupID struct {
	version   cgroupstat.Version
	path, dir string
}

// NewCollector returns a Collector exporting the latest snapshot of src.
// While src has no current snapshot (a Watcher before Start or after Stop,
// or a nil src) a scrape exports only memwatch_up 0.
func NewCollector(src memwatch.Source) *Collector {
	return &Collector{src: src}
}

// Describe sends the descriptors of every metric the Collector may export
// (see the package documentation); a scrape exports a subset.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

// Collect sends the metrics of the source's latest snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	b := batch{s: make([]sample, 0, maxSeries)}
	c.mu.Lock()
	c.fill(&b)
	c.mu.Unlock()
	for i := range b.s {
		ch <- &b.s[i]
	}
}

// limited reports whether a limit value is a real limit: cgroupstat reports
// none as cgroupstat.Unlimited, and values at or above 2^62 mean none
// (docs/ARCHITECTURE.md, "Kernel semantics"), as memwatch's JSON has it.
func limited(v uint64) bool { return v != cgroupstat.Unlimited && v < 1<<62 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fill converts the latest snapshot into b. c.mu is held.
func (c *Collector) fill(b *batch) {
	s := &c.snap
	if c.src == nil || !c.src.LatestInto(s) {
		b.add(mUp, 0, nil)
		return
	}
	b.add(mUp, 1, nil)
	b.add(mSnapshotTime, float64(s.Time.UnixNano())/1e9, nil)
	b.add(mLevel, float64(s.Level), nil)
	if s.Sampling.Interval > 0 {
		b.add(mSamplingInterval, s.Sampling.Interval.Seconds(), nil)
	}
	if s.Sampling.HasTimeToLimit {
		b.add(mTimeToLimit, s.Sampling.TimeToLimit.Seconds(), nil)
	}

	if cg := &s.Cgroup; cg.Available {
		c.fillCgroup(b, cg)
	}

	a := &s.Attribution
	for i := range a.Parts {
		p := &a.Parts[i]
		if !p.Known {
			continue
		}
		r := 0
		if p.Reclaim == memwatch.Reclaimable {
			r = 1
		}
		b.add(mAttribution, float64(p.Bytes), attributionLabels[p.ID][r])
	}
	if a.Headroom.HasLimit {
		b.add(mHeadroom, float64(a.Headroom.AvailableBeforeOOM), nil)
	}

	if act := &s.Actions; act.Enabled {
		c.fillActions(b, act)
	}
}

// fillCgroup exports the cgroup view. c.mu is held.
func (c *Collector) fillCgroup(b *batch, cg *memwatch.CgroupStats) {
	st := &cg.Stats
	id := cgroupID{cg.Location.Version, cg.Location.Path, cg.Location.Dir}
	if c.hasCgroup && id != c.cgroup {
		c.gen++ // a new cgroup: its counters continue ours (see counter)
	}
	c.cgroup, c.hasCgroup = id, true

	v := int(id.version)
	if v < 0 || v >= len(versionLabels) {
		v = int(cgroupstat.VersionUnknown)
	}
	b.add(mCgroupInfo, 1, versionLabels[v])
	b.add(mUsage, float64(st.Usage), nil)
	if st.HasWorkingSet() {
		b.add(mWorkingSet, float64(st.WorkingSet), nil)
	}
	if limited(st.Limit) {
		b.add(mLimit, float64(st.Limit), nil)
	}
	if limited(st.High) {
		b.add(mHigh, float64(st.High), nil)
	}
	if !st.Full {
		return // events and PSI come from a full read; none yet
	}
	if ev := &st.Events; ev.HasEvents {
		b.add(mOOMKills, float64(c.oomKills.observe(ev.OOMKill, c.gen)), nil)
		if id.version == cgroupstat.V2 {
			for i, n := range [len(eventNames)]uint64{ev.Low, ev.High, ev.Max, ev.OOM, ev.OOMGroupKill} {
				b.add(mMemoryEvents, float64(c.events[i].observe(n, c.gen)), eventLabels[i])
			}
		}
	}
	if ev := &st.Events; ev.HasFailcnt && id.version != cgroupstat.V2 {
		b.add(mFailcnt, float64(c.failcnt.observe(ev.Failcnt, c.gen)), nil)
	}
	if psi := &st.PSI; psi.Source == cgroupstat.PSICgroup || psi.Source == cgroupstat.PSIHost {
		sc, gen := 0, c.gen
		if psi.Source == cgroupstat.PSIHost {
			sc, gen = 1, 0 // host-wide counters survive a change of cgroup
		}
		b.add(mPSIWaiting, float64(c.psiSome[sc].observe(psi.Some.Total, gen))/1e6, scopeLabels[sc])
		b.add(mPSIStalled, float64(c.psiFull[sc].observe(psi.Full.Total, gen))/1e6, scopeLabels[sc])
	}
}

// fillActions exports what the Watcher's actions did. c.mu is held.
func (c *Collector) fillActions(b *batch, act *memwatch.Actions) {
	if act.MemLimit > 0 {
		b.add(mGOMEMLIMIT, float64(act.MemLimit), nil)
		b.add(mGOMEMLIMITAtFloor, b2f(act.MemLimitBound == memwatch.BoundFloor), nil)
	}
	if act.GOGCSet {
		b.add(mGOGC, float64(act.GOGC), nil)
	}
	for i, n := range [len(actionNames)]uint64{act.MemLimitChanges, act.GOGCChanges, act.FreeOSMemoryCount, act.ShedAdvisories} {
		b.add(mActions, float64(c.actions[i].observe(n, 0)), actionLabels[i])
	}
	// ShedAdvice always gives a reason; an empty one means the Watcher does
	// not compute it (only WithFreeOSMemory is set).
	if act.Shed.Reason != "" {
		b.add(mShedAdvised, float64(act.Shed.Bytes), nil)
		b.add(mWontFit, b2f(act.Shed.WontFit), nil)
		b.add(mWontFitEpisodes, float64(c.wontFitEpisodes.observe(act.WontFitEpisodes, 0)), nil)
	}
}

// counter makes a Prometheus counter out of a counter read from the kernel
// or the Watcher, which must never go down:
//
//   - the first value seen is exported as it is (the kernel's count since
//     the cgroup was created, the Watcher's since it started), so the
//     series agrees with the snapshot's JSON;
//   - when the counter falls (a replaced Source started again from 0) or
//     its cgroup is replaced (gen changes: another cgroup path, directory or
//     version), the exported value stays where it was and continues with
//     the increases of the new counter. The count the new cgroup already
//     had is not added: it did not happen while this process watched, and
//     an alert on increase() must not fire for it.
type counter struct {
	seen  bool
	gen   uint64
	last  uint64 // last raw value
	base  uint64 // exported value when start was taken
	start uint64 // raw value at the last rebase
}

// observe records raw, read from the counter of generation gen, and returns
// the value to export.
func (c *counter) observe(raw, gen uint64) uint64 {
	switch {
	case !c.seen:
		c.seen, c.gen = true, gen
		if gen > 0 {
			c.start = raw // first seen after a replacement: count from here
		}
	case gen != c.gen || raw < c.last:
		c.base += c.last - c.start
		c.start, c.gen = raw, gen
	}
	c.last = raw
	return c.base + raw - c.start
}

// sample is one exported series. Its metric value and labels live in the
// batch; Write points the registry's dto.Metric at them, so neither
// collecting nor writing allocates per series.
type sample struct {
	desc      *prometheus.Desc
	labels    []*dto.LabelPair // shared, never modified
	value     float64
	isCounter bool
	gauge     dto.Gauge
	counter   dto.Counter
}

// Desc implements prometheus.Metric.
func (s *sample) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.isCounter {
		s.counter.Value = &s.value
		m.Counter = &s.counter
	} else {
		s.gauge.Value = &s.value
		m.Gauge = &s.gauge
	}
	return nil
}

// batch is the series of one Collect. Its capacity (maxSeries) is never
// exceeded, so the samples never move and may be pointed to.
type batch struct{ s []sample }

func (b *batch) add(id metricID, v float64, labels []*dto.LabelPair) {
	n := len(b.s)
	b.s = b.s[:n+1]
	s := &b.s[n]
	s.desc, s.labels, s.value = descs[id], labels, v
	s.isCounter = defs[id].typ == prometheus.CounterValue
}
