package memotel

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/procstat"
)

const mib = 1 << 20

// series is one instrument as the SDK exported it.
type series struct {
	unit, desc string
	kind       string // Counter, UpDownCounter or Gauge
	float      bool
	// points maps the encoded attribute set ("k=v,k=v", "" for none) to
	// the value.
	points map[string]float64
}

// newSDK returns a manual reader and a meter of a real SDK MeterProvider,
// shut down when the test ends.
func newSDK(t testing.TB) (*sdkmetric.ManualReader, metric.Meter, *sdkmetric.MeterProvider) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Errorf("MeterProvider.Shutdown: %v", err)
		}
	})
	return reader, mp.Meter(ScopeName), mp
}

// collect collects once and returns the instruments of scope that have
// data points, by name.
func collect(t testing.TB, r sdkmetric.Reader, scope string) map[string]series {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]series{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			continue
		}
		for _, m := range sm.Metrics {
			s := series{unit: m.Unit, desc: m.Description, points: map[string]float64{}}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				s.kind = sumKind(t, m.Name, d.IsMonotonic, d.Temporality)
				for _, p := range d.DataPoints {
					s.points[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Sum[float64]:
				s.kind, s.float = sumKind(t, m.Name, d.IsMonotonic, d.Temporality), true
				for _, p := range d.DataPoints {
					s.points[key(p.Attributes)] = p.Value
				}
			case metricdata.Gauge[int64]:
				s.kind = "Gauge"
				for _, p := range d.DataPoints {
					s.points[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				s.kind, s.float = "Gauge", true
				for _, p := range d.DataPoints {
					s.points[key(p.Attributes)] = p.Value
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			if len(s.points) > 0 {
				out[m.Name] = s
			}
		}
	}
	return out
}

func sumKind(t testing.TB, name string, monotonic bool, temp metricdata.Temporality) string {
	t.Helper()
	if temp != metricdata.CumulativeTemporality {
		t.Errorf("%s: temporality %v, want cumulative", name, temp)
	}
	if monotonic {
		return "Counter"
	}
	return "UpDownCounter"
}

func key(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// checkSpecs checks that every collected instrument has the unit,
// description and kind of its spec.
func checkSpecs(t *testing.T, got map[string]series) {
	t.Helper()
	for _, s := range specs {
		g, ok := got[s.name]
		if !ok {
			continue
		}
		if g.unit != s.unit || g.desc != s.desc || g.kind != s.kind.String() || g.float != s.kind.float() {
			t.Errorf("%s: unit %q desc %q kind %s float %v; want %q %q %s %v",
				s.name, g.unit, g.desc, g.kind, g.float, s.unit, s.desc, s.kind, s.kind.float())
		}
	}
}

// want is the expected export: name → encoded attribute set → value.
type want map[string]map[string]float64

func one(v float64) map[string]float64 { return map[string]float64{"": v} }

// checkExport compares got with w exactly: the same instruments, the same
// attribute sets, the same values.
func checkExport(t *testing.T, got map[string]series, w want) {
	t.Helper()
	checkSpecs(t, got)
	if g, e := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(w)); !slices.Equal(g, e) {
		t.Errorf("instruments:\n got %q\nwant %q", g, e)
	}
	for name, points := range w {
		g, ok := got[name]
		if !ok {
			continue
		}
		if !maps.Equal(g.points, points) {
			t.Errorf("%s:\n got %v\nwant %v", name, g.points, points)
		}
	}
}

// partPoints returns the memwatch.attribution points of a snapshot.
func partPoints(t *testing.T, s *memwatch.Snapshot) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	var sum uint64
	for _, p := range s.Attribution.Parts {
		if !p.Known {
			continue
		}
		recl := "false"
		if p.Reclaim == memwatch.Reclaimable {
			recl = "true"
		}
		m[keyPart+"="+p.Name()+","+keyReclaim+"="+recl] = float64(p.Bytes)
		sum += p.Bytes
	}
	if sum != s.Attribution.Total {
		t.Fatalf("attribution parts sum to %d, total %d", sum, s.Attribution.Total)
	}
	return m
}

// copyFixture copies a fixture tree of the memwatch package into a
// temporary directory (the Watcher may write cgroup.event_control there).
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../testdata/"+name)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// collectStable collects while w's latest snapshot stays the same and
// returns both.
func collectStable(t *testing.T, r sdkmetric.Reader, w *memwatch.Watcher) (map[string]series, *memwatch.Snapshot) {
	t.Helper()
	var before, after memwatch.Snapshot
	for range 5 {
		if !w.LatestInto(&before) {
			t.Fatal("watcher has no snapshot")
		}
		got := collect(t, r, ScopeName)
		if w.LatestInto(&after) && after.Time.Equal(before.Time) {
			return got, &after
		}
	}
	t.Fatal("the watcher resampled during every collection")
	return nil, nil
}

// TestFixtureWatcher exports a Watcher reading the v1-limit fixture (a
// cgroup v1 container with a 512 MiB limit) and checks the values against
// the fixture's files.
func TestFixtureWatcher(t *testing.T) {
	w, err := memwatch.New(memwatch.WithRoot(copyFixture(t, "v1-limit")), memwatch.WithInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	reader, meter, _ := newSDK(t)
	if _, err := Register(meter, w); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reader, ScopeName); len(got) != 0 {
		t.Errorf("before Start: exported %v, want nothing", slices.Sorted(maps.Keys(got)))
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, snap := collectStable(t, reader, w)

	// The fixture's numbers (sys/fs/cgroup/memory/mwsnap, proc/self/statm).
	const (
		usage        = 221585408 // memory.usage_in_bytes
		limit        = 536870912 // memory.limit_in_bytes
		inactiveFile = 50368512  // memory.stat total_inactive_file
		rss          = 160055296 // memory.stat total_rss
		statmPages   = 34189     // statm resident
	)
	st := &snap.Cgroup.Stats
	if st.PSI.Source == cgroupstat.PSINone {
		t.Fatal("fixture snapshot has no PSI")
	}
	psi := func(kind string) string {
		return keyPSIKind + "=" + kind + "," + keyPSISource + "=" + st.PSI.Source.String()
	}
	h := &snap.Attribution.Headroom
	if !h.HasLimit || h.AvailableBeforeOOM != int64(limit-snap.Attribution.UnreclaimableBytes) {
		t.Fatalf("headroom %+v, unreclaimable %d", h, snap.Attribution.UnreclaimableBytes)
	}
	w1 := want{
		"process.memory.usage":         one(statmPages * float64(os.Getpagesize())),
		"container.memory.usage":       one(usage),
		"container.memory.working_set": one(usage - inactiveFile),
		"container.memory.available":   one(limit - (usage - inactiveFile)),
		"container.memory.rss":         one(rss),
		"memwatch.cgroup.limit":        one(limit),
		"memwatch.attribution":         partPoints(t, snap),
		"memwatch.headroom":            one(float64(h.AvailableBeforeOOM)),
		"memwatch.level":               one(float64(memwatch.LevelOK)),
		"memwatch.cgroup.oom_kills":    one(0), // memory.oom_control oom_kill
		"memwatch.cgroup.failcnt":      one(0), // memory.failcnt
		"memwatch.psi.stall.time": {
			psi("full"): 4393e-6, // memory.pressure total=
			psi("some"): 55434e-6,
		},
	}
	if snap.Sampling.HasTimeToLimit {
		w1["memwatch.time_to_limit"] = one(snap.Sampling.TimeToLimit.Seconds())
	}
	checkExport(t, got, w1)

	w.Stop()
	if got := collect(t, reader, ScopeName); len(got) != 0 {
		t.Errorf("after Stop: exported %v, want nothing", slices.Sorted(maps.Keys(got)))
	}
}

// fakeSource is a hand-made Source.
type fakeSource struct {
	mu   sync.Mutex
	snap memwatch.Snapshot
	ok   bool
}

func (f *fakeSource) LatestInto(dst *memwatch.Snapshot) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok {
		*dst = f.snap
	}
	return f.ok
}

func (f *fakeSource) set(s memwatch.Snapshot) {
	f.mu.Lock()
	f.snap, f.ok = s, true
	f.mu.Unlock()
}

// v2Snapshot is a cgroup v2 container near its limit with every action on.
func v2Snapshot() memwatch.Snapshot {
	var s memwatch.Snapshot
	s.Time = time.Unix(1_700_000_000, 0)
	s.DetailTime = s.Time
	s.Full = true
	s.Level = memwatch.LevelWarn
	s.Sampling = memwatch.Sampling{Mode: "poll", Interval: time.Second, TimeToLimit: 90 * time.Second, HasTimeToLimit: true}
	s.Go = memwatch.GoStats{
		HeapObjects: 96 * mib, HeapLive: 64 * mib, HeapFree: 8 * mib, HeapStacks: 2 * mib,
		Total: 120 * mib, GOGC: 150, GOMEMLIMIT: 400 * mib,
	}
	s.Process = memwatch.ProcessStats{
		ViewStatus: memwatch.ViewStatus{Available: true},
		Statm:      procstat.Statm{Resident: 150 * mib, Shared: 10 * mib},
	}
	s.Cgroup = memwatch.CgroupStats{
		ViewStatus: memwatch.ViewStatus{Available: true},
		Location:   cgroupstat.Location{Version: cgroupstat.V2, Path: "/pod/app"},
		Stats: cgroupstat.Stats{
			Version: cgroupstat.V2, Path: "/pod/app",
			Usage: 400 * mib, WorkingSet: 300 * mib,
			Limit: 512 * mib, LimitRaw: 512 * mib, High: 448 * mib, HighRaw: 448 * mib,
			SwapLimit: cgroupstat.Unlimited,
			Full:      true,
			Stat: cgroupstat.MemStat{
				Anon: 200 * mib, File: 180 * mib, ActiveFile: 80 * mib, InactiveFile: 100 * mib, Kernel: 20 * mib,
				Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveFile |
					cgroupstat.StatInactiveFile | cgroupstat.StatKernel,
			},
			Events: cgroupstat.Events{
				HasEvents:   true,
				EventCounts: cgroupstat.EventCounts{Low: 1, High: 7, Max: 3, OOM: 2, OOMKill: 2, OOMGroupKill: 1},
			},
			PSI: cgroupstat.PSI{
				Source: cgroupstat.PSICgroup,
				Some:   cgroupstat.PSILine{Total: 2_500_000},
				Full:   cgroupstat.PSILine{Total: 1_250_000},
			},
		},
	}
	s.Actions = memwatch.Actions{
		Enabled:  true,
		MemLimit: 400 * mib, MemLimitBound: memwatch.BoundFloor, MemLimitChanges: 4,
		GOGC: 150, GOGCSet: true, GOGCChanges: 2,
		FreeOSMemoryCount: 1,
		Shed:              memwatch.ShedSignal{Bytes: 32 * mib, WontFit: true},
		ShedAdvisories:    3, WontFitEpisodes: 1,
	}
	s.Attribution = memwatch.Attribute(&s)
	return s
}

func registerFake(t *testing.T, s memwatch.Snapshot) (*sdkmetric.ManualReader, *fakeSource) {
	t.Helper()
	reader, meter, _ := newSDK(t)
	src := &fakeSource{}
	src.set(s)
	if _, err := Register(meter, src); err != nil {
		t.Fatal(err)
	}
	return reader, src
}

func TestV2Snapshot(t *testing.T) {
	s := v2Snapshot()
	reader, _ := registerFake(t, s)
	h := &s.Attribution.Headroom
	if !h.HasLimit || !h.HasHigh {
		t.Fatalf("headroom %+v", h)
	}
	ev := func(name string) string { return keyEvent + "=" + name }
	psi := func(kind string) string { return keyPSIKind + "=" + kind + "," + keyPSISource + "=cgroup" }
	act := func(name string) string { return keyAction + "=" + name }
	checkExport(t, collect(t, reader, ScopeName), want{
		"process.memory.usage":         one(150 * mib),
		"container.memory.usage":       one(400 * mib),
		"container.memory.working_set": one(300 * mib),
		"container.memory.available":   one(212 * mib),
		"container.memory.rss":         one(200 * mib),
		"memwatch.cgroup.limit":        one(512 * mib),
		"memwatch.cgroup.high":         one(448 * mib),
		"memwatch.attribution":         partPoints(t, &s),
		"memwatch.headroom":            one(float64(h.AvailableBeforeOOM)),
		"memwatch.level":               one(2),
		"memwatch.time_to_limit":       one(90),
		"memwatch.cgroup.oom_kills":    one(2),
		"memwatch.cgroup.events": {
			ev("low"): 1, ev("high"): 7, ev("max"): 3, ev("oom"): 2, ev("oom_group_kill"): 1,
		},
		"memwatch.psi.stall.time":         {psi("some"): 2.5, psi("full"): 1.25},
		"memwatch.actions":                {act("gomemlimit"): 4, act("gogc"): 2, act("free_os_memory"): 1},
		"memwatch.gomemlimit":             {keyLimitBound + "=floor": 400 * mib},
		"memwatch.gogc":                   one(150),
		"memwatch.shed.advised":           one(32 * mib),
		"memwatch.shed.advisories":        one(3),
		"memwatch.shed.wont_fit":          one(1),
		"memwatch.shed.wont_fit_episodes": one(1),
	})
}

// TestUnlimited: no limit, no memory.high, no actions, no full read yet.
func TestUnlimited(t *testing.T) {
	s := v2Snapshot()
	st := &s.Cgroup.Stats
	st.Limit, st.LimitRaw, st.High, st.HighRaw = cgroupstat.Unlimited, cgroupstat.Unlimited, cgroupstat.Unlimited, cgroupstat.Unlimited
	st.Full = false
	s.Level = memwatch.LevelUnknown
	s.Sampling.HasTimeToLimit, s.Sampling.TimeToLimit = false, 0
	s.Actions = memwatch.Actions{}
	s.Attribution = memwatch.Attribute(&s)
	if s.Attribution.Headroom.HasLimit || s.Attribution.Headroom.HasHigh {
		t.Fatalf("headroom %+v", s.Attribution.Headroom)
	}
	reader, _ := registerFake(t, s)
	checkExport(t, collect(t, reader, ScopeName), want{
		"process.memory.usage":         one(150 * mib),
		"container.memory.usage":       one(400 * mib),
		"container.memory.working_set": one(300 * mib),
		"memwatch.attribution":         partPoints(t, &s),
		"memwatch.level":               one(0),
	})
}

// TestNoCgroup: a process outside any memory cgroup (or not on Linux).
func TestNoCgroup(t *testing.T) {
	s := v2Snapshot()
	s.Cgroup = memwatch.CgroupStats{ViewStatus: memwatch.ViewStatus{Err: cgroupstat.ErrNoCgroup}}
	s.Actions = memwatch.Actions{}
	s.Sampling.HasTimeToLimit = false
	s.Attribution = memwatch.Attribute(&s)
	if s.Attribution.Base != memwatch.BaseProcess {
		t.Fatalf("base %v", s.Attribution.Base)
	}
	reader, _ := registerFake(t, s)
	checkExport(t, collect(t, reader, ScopeName), want{
		"process.memory.usage": one(150 * mib),
		"memwatch.attribution": partPoints(t, &s),
		"memwatch.level":       one(2),
	})
}

// TestV1Events: cgroup v1 has oom_kill (memory.oom_control) and failcnt,
// not the v2 memory.events counters.
func TestV1Events(t *testing.T) {
	s := v2Snapshot()
	s.Actions = memwatch.Actions{}
	st := &s.Cgroup.Stats
	st.Version, s.Cgroup.Location.Version = cgroupstat.V1, cgroupstat.V1
	st.High = cgroupstat.Unlimited
	st.Events = cgroupstat.Events{HasEvents: true, EventCounts: cgroupstat.EventCounts{OOMKill: 5}, Failcnt: 9, HasFailcnt: true}
	st.PSI = cgroupstat.PSI{Source: cgroupstat.PSIHost, Some: cgroupstat.PSILine{Total: 1e6}, Full: cgroupstat.PSILine{Total: 5e5}}
	s.Attribution = memwatch.Attribute(&s)
	reader, _ := registerFake(t, s)
	got := collect(t, reader, ScopeName)
	psi := func(kind string) string { return keyPSIKind + "=" + kind + "," + keyPSISource + "=host" }
	for name, w := range map[string]map[string]float64{
		"memwatch.cgroup.oom_kills": one(5),
		"memwatch.cgroup.failcnt":   one(9),
		"memwatch.psi.stall.time":   {psi("some"): 1, psi("full"): 0.5},
	} {
		if !maps.Equal(got[name].points, w) {
			t.Errorf("%s: got %v, want %v", name, got[name].points, w)
		}
	}
	for _, name := range []string{"memwatch.cgroup.events", "memwatch.cgroup.high"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s exported on cgroup v1", name)
		}
	}
}

// TestNoCurrentSnapshot: a source without a current snapshot (a Watcher
// before Start or after Stop) exports nothing, not its last values.
func TestNoCurrentSnapshot(t *testing.T) {
	reader, src := registerFake(t, v2Snapshot())
	if got := collect(t, reader, ScopeName); len(got) == 0 {
		t.Fatal("nothing exported from a current snapshot")
	}
	src.mu.Lock()
	src.ok = false
	src.mu.Unlock()
	if got := collect(t, reader, ScopeName); len(got) != 0 {
		t.Errorf("exported %v without a current snapshot", slices.Sorted(maps.Keys(got)))
	}
}

// TestCounterReset: a counter that goes down under the registration (the
// source now reads another cgroup) holds its exported value and grows
// again from there.
func TestCounterReset(t *testing.T) {
	s := v2Snapshot()
	reader, src := registerFake(t, s)
	first := collect(t, reader, ScopeName)

	s.Cgroup.Stats.Events.OOMKill = 0 // a fresh cgroup
	s.Cgroup.Stats.PSI.Some.Total = 0
	s.Actions.GOGCChanges = 0 // a fresh Watcher
	src.set(s)
	second := collect(t, reader, ScopeName)

	s.Cgroup.Stats.Events.OOMKill = 3
	s.Cgroup.Stats.PSI.Some.Total = 500_000
	s.Actions.GOGCChanges = 1
	src.set(s)
	third := collect(t, reader, ScopeName)

	for _, c := range []struct {
		name, key   string
		first, grow float64
	}{
		{"memwatch.cgroup.oom_kills", "", 2, 3},
		{"memwatch.psi.stall.time", keyPSIKind + "=some," + keyPSISource + "=cgroup", 2.5, 0.5},
		{"memwatch.actions", keyAction + "=gogc", 2, 1},
	} {
		v1, v2, v3 := first[c.name].points[c.key], second[c.name].points[c.key], third[c.name].points[c.key]
		if v1 != c.first || v2 != c.first || v3 != c.first+c.grow {
			t.Errorf("%s{%s}: %v, %v, %v; want %v, %v, %v", c.name, c.key, v1, v2, v3, c.first, c.first, c.first+c.grow)
		}
	}
	// An unchanged counter is unaffected.
	if v := third["memwatch.cgroup.events"].points[keyEvent+"=high"]; v != 7 {
		t.Errorf("memory.events high: %v, want 7", v)
	}
}

func TestMonotonic(t *testing.T) {
	var m monotonic
	for i, c := range []struct{ in, out uint64 }{
		{10, 10}, {12, 12}, {12, 12}, {3, 12}, {4, 13}, {0, 13}, {0, 13}, {7, 20},
	} {
		if got := m.next(c.in); got != c.out {
			t.Fatalf("step %d: next(%d) = %d, want %d", i, c.in, got, c.out)
		}
	}
}

func TestUnregister(t *testing.T) {
	reader, meter, _ := newSDK(t)
	src := &fakeSource{}
	src.set(v2Snapshot())
	reg, err := Register(meter, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(collect(t, reader, ScopeName)) == 0 {
		t.Fatal("nothing exported")
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reader, ScopeName); len(got) != 0 {
		t.Errorf("exported %v after Unregister", slices.Sorted(maps.Keys(got)))
	}
}

func TestRegisterErrors(t *testing.T) {
	_, meter, _ := newSDK(t)
	if _, err := Register(nil, &fakeSource{}); err == nil {
		t.Error("Register(nil meter) succeeded")
	}
	if _, err := Register(meter, nil); err == nil {
		t.Error("Register(nil source) succeeded")
	}
	// An instrument the meter refuses fails Register with its name.
	bad := &refusingMeter{Meter: meter}
	if _, err := Register(bad, &fakeSource{}); err == nil || !errors.Is(err, errRefused) {
		t.Errorf("Register on a refusing meter: %v", err)
	}
}

var errRefused = errors.New("refused")

// refusingMeter refuses Float64ObservableGauge.
type refusingMeter struct{ metric.Meter }

func (m *refusingMeter) Float64ObservableGauge(string, ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	return nil, errRefused
}

// TestConcurrentCollect collects from two readers at once while the source
// changes: run with -race. Every counter each reader sees is monotonic.
func TestConcurrentCollect(t *testing.T) {
	r1, r2 := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r1), sdkmetric.WithReader(r2))
	defer mp.Shutdown(context.Background())
	src := &fakeSource{}
	s := v2Snapshot()
	src.set(s)
	if _, err := Register(mp.Meter(ScopeName), src); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range []sdkmetric.Reader{r1, r2} {
		wg.Go(func() {
			last := int64(-1)
			for range 50 {
				var rm metricdata.ResourceMetrics
				if err := r.Collect(context.Background(), &rm); err != nil {
					t.Error(err)
					return
				}
				v, ok := oomKills(&rm)
				if !ok || v < last {
					t.Errorf("oom_kills went from %v to %v (present %v)", last, v, ok)
				}
				last = v
			}
		})
	}
	for i := range 50 {
		s.Cgroup.Stats.Events.OOMKill = uint64(i % 7) // resets every 7
		src.set(s)
	}
	wg.Wait()
}

func oomKills(rm *metricdata.ResourceMetrics) (int64, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "memwatch.cgroup.oom_kills" && len(d.DataPoints) == 1 {
				return d.DataPoints[0].Value, true
			}
		}
	}
	return 0, false
}

// countObserver counts observations; it is all observe needs.
type countObserver struct {
	metric.Observer // nil: only the methods below are called
	n               int
}

func (c *countObserver) ObserveInt64(metric.Int64Observable, int64, ...metric.ObserveOption) { c.n++ }
func (c *countObserver) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {
	c.n++
}

// TestObserveAllocs: the callback allocates nothing (the SDK's own work
// is measured by BenchmarkCollect).
func TestObserveAllocs(t *testing.T) {
	_, meter, _ := newSDK(t)
	src := &fakeSource{}
	src.set(v2Snapshot())
	r, _, err := newRegistration(meter, src)
	if err != nil {
		t.Fatal(err)
	}
	var o countObserver
	if err := r.observe(context.Background(), &o); err != nil || o.n == 0 {
		t.Fatalf("observe: %v, %d observations", err, o.n)
	}
	if a := testing.AllocsPerRun(100, func() { _ = r.observe(context.Background(), &o) }); a != 0 {
		t.Errorf("observe allocates %v times", a)
	}
}
