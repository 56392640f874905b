package memprom

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/memwatch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ and the table in docs/metrics.md")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// source is a hand-made memwatch.Source.
type source struct {
	mu   sync.Mutex
	snap *memwatch.Snapshot // nil: no current snapshot
}

func (s *source) LatestInto(dst *memwatch.Snapshot) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap == nil {
		return false
	}
	*dst = *s.snap
	return true
}

func (s *source) set(snap *memwatch.Snapshot) {
	s.mu.Lock()
	s.snap = snap
	s.mu.Unlock()
}

// gather returns the metrics of one scrape of c by name, through a
// pedantic registry (which checks every metric against its Desc).
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the series of name whose labels include the
// given name=value pairs, and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, kv ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i < len(kv); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue(), true
		}
		return m.Gauge.GetValue(), true
	}
	return 0, false
}

func lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// v2Snapshot reads a copy of a cgroup v2 fixture captured from a real kernel
// (with memory.high, events and pressure written in) and replaces what
// depends on the test process (the Go view, the time) with fixed values, so
// that every exported number is reproducible.
func v2Snapshot(t testing.TB) *memwatch.Snapshot {
	t.Helper()
	root := fixture.Copy(t, "../../cgroupstat/testdata/v2-child-256m")
	cg := filepath.Join(root, "sys/fs/cgroup/mw/test")
	writeFile(t, filepath.Join(cg, "memory.high"), "209715200\n")
	writeFile(t, filepath.Join(cg, "memory.events"), "low 1\nhigh 42\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n")
	writeFile(t, filepath.Join(cg, "memory.pressure"),
		"some avg10=1.00 avg60=0.50 avg300=0.10 total=1234567\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7654\n")
	s, err := memwatch.Read(memwatch.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Cgroup.Available || s.Cgroup.Stats.Version != cgroupstat.V2 {
		t.Fatalf("fixture: cgroup view %v", s.Cgroup.Err)
	}
	s.Time = time.Date(2026, 12, 1, 12, 0, 0, 500_000_000, time.UTC)
	s.Go = memwatch.GoStats{
		HeapObjects: 300 << 10, HeapLive: 200 << 10, HeapUnused: 40 << 10, HeapFree: 16 << 10,
		HeapReleased: 1 << 20, HeapStacks: 32 << 10, MetadataOther: 8 << 10, Other: 4 << 10,
		GOGC: 100, GOMEMLIMIT: math.MaxInt64,
		Present: memwatch.GoHeapObjects | memwatch.GoHeapLive | memwatch.GoHeapUnused | memwatch.GoHeapFree |
			memwatch.GoHeapReleased | memwatch.GoHeapStacks | memwatch.GoMetadataOther | memwatch.GoOther |
			memwatch.GoGOGC | memwatch.GoGOMEMLIMIT,
	}
	s.Go.Total = s.Go.HeapObjects + s.Go.HeapUnused + s.Go.HeapFree + s.Go.HeapReleased + s.Go.HeapStacks +
		s.Go.MetadataOther + s.Go.Other
	s.Attribution = memwatch.Attribute(s)
	s.Level = memwatch.LevelWarn
	s.Sampling = memwatch.Sampling{Mode: "poll", Interval: 500 * time.Millisecond, TimeToLimit: 90 * time.Second, HasTimeToLimit: true}
	s.Actions = memwatch.Actions{
		Enabled: true, MemLimit: 180 << 20, MemLimitBound: memwatch.BoundFloor, MemLimitChanges: 3,
		GOGC: 50, GOGCSet: true, GOGCChanges: 2, FreeOSMemoryCount: 1,
		Shed:           memwatch.ShedSignal{Bytes: 8 << 20, Reason: "synthetic"},
		ShedAdvisories: 4, WontFitEpisodes: 1,
	}
	return s
}

// TestGoldenV2 compares a scrape of a full cgroup v2 snapshot with the
// reviewed exposition in testdata/v2.prom (go test -update rewrites it).
func TestGoldenV2(t *testing.T) {
	c := NewCollector(&source{snap: v2Snapshot(t)})
	golden := filepath.Join("testdata", "v2.prom")
	if *update {
		var names []string // CollectAndFormat formats only the metrics named
		for _, d := range defs {
			names = append(names, d.name)
		}
		b, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, names...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f); err != nil {
		t.Fatal(err)
	}
	lint(t, c)
	// Every series but v1's failcnt and the attribution parts that do not
	// apply to a cgroup base.
	s := v2Snapshot(t)
	want := maxSeries - 1
	for _, p := range s.Attribution.Parts {
		if !p.Known {
			want--
		}
	}
	if n := testutil.CollectAndCount(c); n != want {
		t.Errorf("%d series, want %d", n, want)
	}
}

// TestV2Values checks the golden snapshot's numbers against the fixture
// files and the snapshot they came from, so the golden file is not trusted
// blindly.
func TestV2Values(t *testing.T) {
	s := v2Snapshot(t)
	mfs := gather(t, NewCollector(&source{snap: s}))
	want := []struct {
		name string
		kv   []string
		v    float64
	}{
		{"memwatch_up", nil, 1},
		{"memwatch_snapshot_timestamp_seconds", nil, 1796126400.5},
		{"memwatch_level", nil, 2},
		{"memwatch_sampling_interval_seconds", nil, 0.5},
		{"memwatch_time_to_limit_seconds", nil, 90},
		{"memwatch_cgroup_info", []string{"version", "v2"}, 1},
		{"memwatch_cgroup_usage_bytes", nil, 1015808}, // memory.current
		{"memwatch_cgroup_limit_bytes", nil, 268435456},
		{"memwatch_cgroup_high_bytes", nil, 209715200},
		{"memwatch_cgroup_oom_kills_total", nil, 1},
		{"memwatch_cgroup_memory_events_total", []string{"event", "low"}, 1},
		{"memwatch_cgroup_memory_events_total", []string{"event", "high"}, 42},
		{"memwatch_cgroup_memory_events_total", []string{"event", "max"}, 3},
		{"memwatch_cgroup_memory_events_total", []string{"event", "oom"}, 2},
		{"memwatch_cgroup_memory_events_total", []string{"event", "oom_group_kill"}, 0},
		{"memwatch_pressure_memory_waiting_seconds_total", []string{"scope", "cgroup"}, 1.234567},
		{"memwatch_pressure_memory_stalled_seconds_total", []string{"scope", "cgroup"}, 0.007654},
		{"memwatch_gomemlimit_bytes", nil, 180 << 20},
		{"memwatch_gomemlimit_at_floor", nil, 1},
		{"memwatch_gogc_percent", nil, 50},
		{"memwatch_actions_total", []string{"action", "set_gomemlimit"}, 3},
		{"memwatch_actions_total", []string{"action", "set_gogc"}, 2},
		{"memwatch_actions_total", []string{"action", "free_os_memory"}, 1},
		{"memwatch_actions_total", []string{"action", "advise_shed"}, 4},
		{"memwatch_shed_advised_bytes", nil, 8 << 20},
		{"memwatch_wont_fit", nil, 0},
		{"memwatch_wont_fit_episodes_total", nil, 1},
		{"memwatch_cgroup_working_set_bytes", nil, float64(s.Cgroup.Stats.WorkingSet)},
		{"memwatch_headroom_bytes", nil, float64(s.Attribution.Headroom.AvailableBeforeOOM)},
	}
	for _, w := range want {
		got, ok := value(mfs, w.name, w.kv...)
		if !ok || got != w.v {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.kv, got, ok, w.v)
		}
	}
	if _, ok := mfs["memwatch_cgroup_failcnt_total"]; ok {
		t.Error("failcnt (v1 only) exported for a v2 cgroup")
	}
	checkAttribution(t, mfs, s)
}

// checkAttribution checks memwatch_attribution_bytes against the
// snapshot's Attribution: one series per known part, summing to the total,
// the reclaimable="false" ones to UnreclaimableBytes, and the headroom is
// the limit minus that.
func checkAttribution(t *testing.T, mfs map[string]*dto.MetricFamily, s *memwatch.Snapshot) {
	t.Helper()
	a := &s.Attribution
	var known int
	for _, p := range a.Parts {
		if !p.Known {
			if _, ok := value(mfs, "memwatch_attribution_bytes", "part", p.Name()); ok {
				t.Errorf("part %s exported although unknown", p.Name())
			}
			continue
		}
		known++
		recl := fmt.Sprint(p.Reclaim == memwatch.Reclaimable)
		got, ok := value(mfs, "memwatch_attribution_bytes", "part", p.Name(), "reclaimable", recl)
		if !ok || got != float64(p.Bytes) {
			t.Errorf("part %s reclaimable=%s: %v (present %v), want %d", p.Name(), recl, got, ok, p.Bytes)
		}
	}
	mf := mfs["memwatch_attribution_bytes"]
	if mf == nil || len(mf.Metric) != known {
		t.Fatalf("attribution series: %v, want %d", mf, known)
	}
	var total, unrecl float64
	for _, m := range mf.Metric {
		total += m.Gauge.GetValue()
		for _, l := range m.Label {
			if l.GetName() == "reclaimable" && l.GetValue() == "false" {
				unrecl += m.Gauge.GetValue()
			}
		}
	}
	if total != float64(a.Total) {
		t.Errorf("attribution sums to %v, want the total %d", total, a.Total)
	}
	if unrecl != float64(a.UnreclaimableBytes) {
		t.Errorf(`reclaimable="false" sums to %v, want UnreclaimableBytes %d`, unrecl, a.UnreclaimableBytes)
	}
	if a.Headroom.HasLimit {
		h, _ := value(mfs, "memwatch_headroom_bytes")
		if lim := float64(a.Headroom.Limit); h != lim-unrecl {
			t.Errorf("headroom %v, want limit %v − unreclaimable %v", h, lim, unrecl)
		}
	}
}

// TestWatcherV1 scrapes a real Watcher on a copy of a cgroup v1 fixture
// (with an OOM kill and failcnt written in).
func TestWatcherV1(t *testing.T) {
	root := fixture.Copy(t, "../testdata/v1-limit")
	cg := filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")
	writeFile(t, filepath.Join(cg, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	writeFile(t, filepath.Join(cg, "memory.failcnt"), "17\n")
	w, err := memwatch.New(memwatch.WithRoot(root), memwatch.WithInterval(time.Hour), memwatch.WithEvents(false))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(w)
	if mfs := gather(t, c); len(mfs) != 1 || mfs["memwatch_up"].Metric[0].Gauge.GetValue() != 0 {
		t.Fatalf("before Start: %v, want only memwatch_up 0", mfs)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Latest() // one sample: the next is an hour away
	mfs := gather(t, c)
	for _, w := range []struct {
		name string
		kv   []string
		v    float64
	}{
		{"memwatch_up", nil, 1},
		{"memwatch_level", nil, 1}, // ok: 41% of the limit
		{"memwatch_sampling_interval_seconds", nil, 3600},
		{"memwatch_cgroup_info", []string{"version", "v1"}, 1},
		{"memwatch_cgroup_usage_bytes", nil, 221585408}, // memory.usage_in_bytes
		{"memwatch_cgroup_limit_bytes", nil, 536870912}, // memory.limit_in_bytes
		{"memwatch_cgroup_oom_kills_total", nil, 2},
		{"memwatch_cgroup_failcnt_total", nil, 17},
		// The fixture's cgroup2 directory is the root: host-wide PSI.
		{"memwatch_pressure_memory_waiting_seconds_total", []string{"scope", "host"}, 0.055434},
		{"memwatch_pressure_memory_stalled_seconds_total", []string{"scope", "host"}, 0.004393},
		{"memwatch_snapshot_timestamp_seconds", nil, float64(s.Time.UnixNano()) / 1e9},
		{"memwatch_cgroup_working_set_bytes", nil, float64(s.Cgroup.Stats.WorkingSet)},
	} {
		got, ok := value(mfs, w.name, w.kv...)
		if !ok || got != w.v {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.kv, got, ok, w.v)
		}
	}
	for _, name := range []string{
		"memwatch_cgroup_high_bytes", "memwatch_cgroup_memory_events_total", // v1 has neither
		"memwatch_time_to_limit_seconds",                                                     // one sample: no growth rate
		"memwatch_actions_total", "memwatch_gomemlimit_bytes", "memwatch_shed_advised_bytes", // no action option
	} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported", name)
		}
	}
	checkAttribution(t, mfs, s)
	lint(t, c)

	w.Stop()
	if mfs := gather(t, c); len(mfs) != 1 || mfs["memwatch_up"].Metric[0].Gauge.GetValue() != 0 {
		t.Fatalf("after Stop: %v, want only memwatch_up 0", mfs)
	}
}

func TestNoSource(t *testing.T) {
	for _, c := range []*Collector{NewCollector(nil), NewCollector(&source{})} {
		err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP memwatch_up `+defs[mUp].help+`
# TYPE memwatch_up gauge
memwatch_up 0
`))
		if err != nil {
			t.Error(err)
		}
	}
}

// TestAbsent: without a cgroup view only the process-based attribution and
// the Watcher's fields remain; without a limit the limit-relative metrics
// are absent, not 0.
func TestAbsent(t *testing.T) {
	s := v2Snapshot(t)
	s.Actions = memwatch.Actions{Enabled: true, FreeOSMemoryCount: 2} // WithFreeOSMemory alone
	s.Sampling = memwatch.Sampling{}
	s.Cgroup.Stats.Limit, s.Cgroup.Stats.High = cgroupstat.Unlimited, cgroupstat.Unlimited
	s.Attribution = memwatch.Attribute(s)
	mfs := gather(t, NewCollector(&source{snap: s}))
	for _, name := range []string{
		"memwatch_cgroup_limit_bytes", "memwatch_cgroup_high_bytes", "memwatch_headroom_bytes",
		"memwatch_sampling_interval_seconds", "memwatch_time_to_limit_seconds",
		"memwatch_gomemlimit_bytes", "memwatch_gomemlimit_at_floor", "memwatch_gogc_percent",
		"memwatch_shed_advised_bytes", "memwatch_wont_fit", "memwatch_wont_fit_episodes_total",
	} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported", name)
		}
	}
	if v, ok := value(mfs, "memwatch_actions_total", "action", "free_os_memory"); !ok || v != 2 {
		t.Errorf("free_os_memory %v %v", v, ok)
	}

	s.Cgroup = memwatch.CgroupStats{ViewStatus: memwatch.ViewStatus{Err: cgroupstat.ErrNoCgroup}}
	s.Actions = memwatch.Actions{}
	s.Attribution = memwatch.Attribute(s)
	if s.Attribution.Base != memwatch.BaseProcess {
		t.Fatalf("base %v", s.Attribution.Base)
	}
	c := NewCollector(&source{snap: s})
	mfs = gather(t, c)
	for name := range mfs {
		if strings.HasPrefix(name, "memwatch_cgroup_") || strings.HasPrefix(name, "memwatch_pressure_") ||
			name == "memwatch_actions_total" {
			t.Errorf("%s exported without a cgroup view / actions", name)
		}
	}
	checkAttribution(t, mfs, s)
	lint(t, c)
}

// TestCounters: counters continue across a replaced cgroup and a source
// whose counters restart, and never go down.
func TestCounters(t *testing.T) {
	base := v2Snapshot(t)
	src := &source{}
	c := NewCollector(src)
	step := func(path string, oomKill, high, psiSome, hostSome, shed uint64, host bool) map[string]*dto.MetricFamily {
		s := *base
		s.Cgroup.Location.Path = path
		ev := &s.Cgroup.Stats.Events
		ev.OOMKill, ev.High = oomKill, high
		s.Cgroup.Stats.PSI.Some.Total = psiSome
		s.Cgroup.Stats.PSI.Source = cgroupstat.PSICgroup
		if host {
			s.Cgroup.Stats.PSI.Source = cgroupstat.PSIHost
			s.Cgroup.Stats.PSI.Some.Total = hostSome
		}
		s.Actions.ShedAdvisories = shed
		src.set(&s)
		return gather(t, c)
	}
	type want struct {
		oom, high, shed float64
	}
	check := func(mfs map[string]*dto.MetricFamily, w want) {
		t.Helper()
		for _, x := range []struct {
			name string
			kv   []string
			v    float64
		}{
			{"memwatch_cgroup_oom_kills_total", nil, w.oom},
			{"memwatch_cgroup_memory_events_total", []string{"event", "high"}, w.high},
			{"memwatch_actions_total", []string{"action", "advise_shed"}, w.shed},
		} {
			if got, _ := value(mfs, x.name, x.kv...); got != x.v {
				t.Errorf("%s%v = %v, want %v", x.name, x.kv, got, x.v)
			}
		}
	}
	check(step("/a", 5, 10, 1e6, 0, 1, false), want{5, 10, 1}) // first values as they are
	check(step("/a", 7, 12, 2e6, 0, 2, false), want{7, 12, 2})
	// The cgroup is replaced: the new one's earlier counts are not added.
	mfs := step("/b", 2, 100, 5e5, 0, 3, false)
	check(mfs, want{7, 12, 3})
	if v, _ := value(mfs, "memwatch_pressure_memory_waiting_seconds_total", "scope", "cgroup"); v != 2 {
		t.Errorf("cgroup PSI after replacement %v, want 2", v)
	}
	check(step("/b", 4, 101, 5e5, 0, 4, false), want{9, 13, 4})
	// The source restarts its counters (a new Watcher): no decrease.
	check(step("/b", 4, 101, 5e5, 0, 0, false), want{9, 13, 4})
	check(step("/b", 4, 101, 5e5, 0, 2, false), want{9, 13, 6})
	// Host-wide pressure is exported as it is and survives a cgroup change.
	mfs = step("/b", 4, 101, 0, 3e6, 2, true)
	if v, _ := value(mfs, "memwatch_pressure_memory_waiting_seconds_total", "scope", "host"); v != 3 {
		t.Errorf("host PSI %v, want 3", v)
	}
	mfs = step("/c", 4, 101, 0, 4e6, 2, true)
	if v, _ := value(mfs, "memwatch_pressure_memory_waiting_seconds_total", "scope", "host"); v != 4 {
		t.Errorf("host PSI after a cgroup change %v, want 4", v)
	}
	check(mfs, want{9, 13, 6})
}

func TestCounterObserve(t *testing.T) {
	var c counter
	for i, x := range []struct{ raw, gen, want uint64 }{
		{10, 0, 10}, {15, 0, 15}, {3, 0, 15}, {4, 0, 16}, {50, 1, 16}, {60, 1, 26}, {60, 1, 26},
	} {
		if got := c.observe(x.raw, x.gen); got != x.want {
			t.Fatalf("step %d: observe(%d, %d) = %d, want %d", i, x.raw, x.gen, got, x.want)
		}
	}
	var d counter // first seen after a replacement: starts at 0
	if got := d.observe(7, 2); got != 0 {
		t.Fatalf("first observe after a replacement = %d, want 0", got)
	}
}

// TestConcurrentScrapes runs scrapes in parallel with a changing source
// (for the race detector) and checks every scrape is consistent.
func TestConcurrentScrapes(t *testing.T) {
	base := v2Snapshot(t)
	src := &source{snap: base}
	c := NewCollector(src)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				s := *base
				s.Cgroup.Stats.Events.OOMKill = uint64(i)
				src.set(&s)
				if _, err := reg.Gather(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// collectAll runs one Collect and writes every metric, as a registry does.
func collectAll(c *Collector, ch chan prometheus.Metric, m *dto.Metric) int {
	c.Collect(ch)
	n := len(ch)
	for i := 0; i < n; i++ {
		*m = dto.Metric{}
		if err := (<-ch).Write(m); err != nil {
			panic(err)
		}
	}
	return n
}

// TestScrapeAllocs: a scrape allocates its one batch, nothing per series.
func TestScrapeAllocs(t *testing.T) {
	c := NewCollector(&source{snap: v2Snapshot(t)})
	ch := make(chan prometheus.Metric, maxSeries)
	var m dto.Metric
	allocs := testing.AllocsPerRun(100, func() { collectAll(c, ch, &m) })
	if allocs > 1 {
		t.Errorf("%v allocations per Collect and Write of every series, want 1 (the batch)", allocs)
	}
}

// nonGCPauses returns how many stop-the-world pauses not due to the GC the
// runtime has made (runtime.ReadMemStats, GOMAXPROCS changes, ...).
func nonGCPauses() uint64 {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return math.MaxUint64
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

// TestNoStopTheWorld: scraping does not stop the world; the control shows
// that the runtime counter does see runtime.ReadMemStats.
func TestNoStopTheWorld(t *testing.T) {
	if nonGCPauses() == math.MaxUint64 {
		t.Skip("/sched/pauses/total/other:seconds not offered by this Go version")
	}
	c := NewCollector(&source{snap: v2Snapshot(t)})
	ch := make(chan prometheus.Metric, maxSeries)
	var m dto.Metric
	before := nonGCPauses()
	for i := 0; i < 1000; i++ {
		collectAll(c, ch, &m)
	}
	if d := nonGCPauses() - before; d != 0 {
		t.Errorf("%d stop-the-world pauses during 1000 scrapes", d)
	}
	var ms runtime.MemStats
	before = nonGCPauses()
	runtime.ReadMemStats(&ms)
	if nonGCPauses() == before {
		t.Error("control: runtime.ReadMemStats was not counted as a stop-the-world pause")
	}
}

// TestDescribe: Describe lists every metric a scrape can send, and a scrape
// of the fullest snapshot stays within maxSeries.
func TestDescribe(t *testing.T) {
	c := NewCollector(&source{snap: v2Snapshot(t)})
	ch := make(chan *prometheus.Desc, numMetrics+1)
	c.Describe(ch)
	close(ch)
	described := map[*prometheus.Desc]bool{}
	for d := range ch {
		described[d] = true
	}
	if len(described) != int(numMetrics) {
		t.Fatalf("%d descriptors, want %d", len(described), numMetrics)
	}
	mch := make(chan prometheus.Metric, maxSeries)
	c.Collect(mch)
	close(mch)
	for m := range mch {
		if !described[m.Desc()] {
			t.Errorf("undescribed metric %v", m.Desc())
		}
	}
	var buf bytes.Buffer
	for _, d := range defs {
		if d.name == "" || d.help == "" || d.source == "" || d.series == 0 {
			fmt.Fprintf(&buf, "incomplete definition %+v\n", d)
		}
	}
	if buf.Len() > 0 {
		t.Error(buf.String())
	}
}
