package memwatch

import (
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// trackerSnap is a hand-made snapshot with a cgroup view.
func trackerSnap(t0 time.Time, sec int, usage, ws, limit uint64) *Snapshot {
	s := &Snapshot{Time: t0.Add(time.Duration(sec) * time.Second)}
	s.Cgroup.Available = true
	st := &s.Cgroup.Stats
	st.Version = cgroupstat.V2
	st.Usage, st.WorkingSet, st.Limit, st.High = usage, ws, limit, cgroupstat.Unlimited
	return s
}

func testTrackerConfig() trackerConfig {
	return trackerConfig{measure: MeasureWorkingSet, warn: 0.8, critical: 0.9, hyst: 0.05,
		interval: time.Second, minInterval: 100 * time.Millisecond}
}

func TestTrackerObserve(t *testing.T) {
	tr := newLevelTracker(testTrackerConfig())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	s := trackerSnap(t0, 0, 600*mib, 500*mib, 1000*mib)
	ch := tr.observe(s)
	if !ch.level || ch.oldLevel != LevelUnknown || ch.newLevel != LevelOK || ch.limit || ch.high || ch.oomKills != 0 {
		t.Fatalf("first observation: %+v", ch)
	}
	if s.Level != LevelOK || s.Sampling.Interval != time.Second || s.Sampling.HasTimeToLimit {
		t.Fatalf("first snapshot: level %v sampling %+v", s.Level, s.Sampling)
	}

	// The working set grows 100 MiB/s: 300 MiB to go is 3 s, the next
	// sample comes after 3s/4 (within [100ms, 1s]).
	s = trackerSnap(t0, 1, 700*mib, 600*mib, 1000*mib)
	ch = tr.observe(s)
	if ch.level || ch.limit {
		t.Fatalf("growth: %+v", ch)
	}
	if !s.Sampling.HasTimeToLimit || s.Sampling.TimeToLimit != 4*time.Second || s.Sampling.Interval != time.Second {
		t.Fatalf("forecast: %+v, want time to limit 4s and interval 1s", s.Sampling)
	}
	s = trackerSnap(t0, 2, 1000*mib, 850*mib, 1000*mib)
	ch = tr.observe(s)
	if !ch.level || ch.newLevel != LevelWarn || s.Sampling.TimeToLimit != 600*time.Millisecond || s.Sampling.Interval != 150*time.Millisecond {
		t.Fatalf("warn: %+v, sampling %+v", ch, s.Sampling)
	}

	// Limit cut: a change, and the level follows at once.
	s = trackerSnap(t0, 3, 1000*mib, 850*mib, 900*mib)
	ch = tr.observe(s)
	if !ch.limit || ch.oldLimit != 1000*mib || ch.newLimit != 900*mib || ch.newLevel != LevelCritical {
		t.Fatalf("limit cut: %+v", ch)
	}

	// OOM kills and memory.high counters only count on full samples, from
	// the second one on.
	s = trackerSnap(t0, 4, 500*mib, 400*mib, 900*mib)
	s.Cgroup.Stats.Full, s.Cgroup.Stats.Events.HasEvents = true, true
	s.Cgroup.Stats.Events.OOMKill, s.Cgroup.Stats.Events.High = 3, 10
	if ch = tr.observe(s); ch.oomKills != 0 || ch.high {
		t.Fatalf("first counters: %+v", ch)
	}
	s = trackerSnap(t0, 5, 500*mib, 400*mib, 900*mib)
	s.Cgroup.Stats.Full, s.Cgroup.Stats.Events.HasEvents = true, true
	s.Cgroup.Stats.Events.OOMKill, s.Cgroup.Stats.Events.High = 5, 11
	if ch = tr.observe(s); ch.oomKills != 2 || !ch.high {
		t.Fatalf("counters rose: %+v", ch)
	}

	// Usage crossing memory.high upward is a change once, not while above.
	for i, want := range []bool{true, false, false, true} {
		usage := uint64(850 * mib)
		if i == 2 {
			usage = 700 * mib // below high again
		}
		s = trackerSnap(t0, 6+i, usage, 400*mib, 900*mib)
		s.Cgroup.Stats.High = 800 * mib
		if ch = tr.observe(s); ch.high != want {
			t.Errorf("high crossing step %d: %v, want %v", i, ch.high, want)
		}
	}

	// Without a cgroup the level is unknown and nothing else changes.
	s = &Snapshot{Time: t0.Add(20 * time.Second)}
	if ch = tr.observe(s); ch.newLevel != LevelUnknown || ch.limit || s.Sampling.Interval != time.Second {
		t.Fatalf("no cgroup: %+v %+v", ch, s.Sampling)
	}
}

func TestTrackerCrossed(t *testing.T) {
	tr := newLevelTracker(testTrackerConfig())
	if tr.crossed(950*mib, 1000*mib) {
		t.Fatal("crossed before any observation")
	}
	// Usage sits at 85% because of page cache; the working set is low.
	tr.observe(trackerSnap(time.Now(), 0, 850*mib, 300*mib, 1000*mib))
	if tr.level != LevelOK {
		t.Fatalf("level %v", tr.level)
	}
	if tr.crossed(860*mib, 1000*mib) {
		t.Error("usage staying in the warn band triggered a sample")
	}
	if !tr.crossed(910*mib, 1000*mib) {
		t.Error("usage rising into the critical band did not trigger")
	}
	if !tr.crossed(500*mib, 800*mib) {
		t.Error("a limit change did not trigger")
	}
	if tr.crossed(100*mib, 1000*mib) {
		t.Error("a fall triggered")
	}
	// The measure GOMEMLIMIT is not judged on cgroup usage.
	g := newLevelTracker(trackerConfig{measure: MeasureGoMemLimit, warn: 0.8, critical: 0.9})
	g.observe(trackerSnap(time.Now(), 0, 100*mib, 100*mib, 1000*mib))
	if g.crossed(990*mib, 1000*mib) {
		t.Error("gomemlimit measure triggered on cgroup usage")
	}
}

func TestTimeToLimit(t *testing.T) {
	for _, c := range []struct {
		used, prev, limit uint64
		dt                time.Duration
		want              time.Duration
		ok                bool
	}{
		{used: 600, prev: 500, limit: 1000, dt: time.Second, want: 4 * time.Second, ok: true},
		{used: 1000, prev: 500, limit: 1000, dt: time.Second, want: 0, ok: true},
		{used: 1200, prev: 1300, limit: 1000, dt: time.Second, want: 0, ok: true},
		{used: 500, prev: 600, limit: 1000, dt: time.Second},
		{used: 500, prev: 500, limit: 1000, dt: time.Second},
		{used: 600, prev: 500, limit: 0, dt: time.Second},
		{used: 600, prev: 500, limit: 1000, dt: 0},
		{used: 2, prev: 1, limit: 1 << 62, dt: time.Hour, want: time.Duration(1<<63 - 1), ok: true},
	} {
		got, ok := timeToLimit(c.used, c.prev, c.limit, c.dt)
		if got != c.want || ok != c.ok {
			t.Errorf("timeToLimit(%d, %d, %d, %v) = %v, %v; want %v, %v", c.used, c.prev, c.limit, c.dt, got, ok, c.want, c.ok)
		}
	}
}

func TestTrackerCheckPeriod(t *testing.T) {
	tr := newLevelTracker(testTrackerConfig())
	const floor, ceil = 50 * time.Millisecond, time.Second
	for _, c := range []struct {
		usage, limit uint64
		want         time.Duration
	}{
		{0, 1000, 400 * time.Millisecond},   // 0.8 of a limit at 2 limits/s
		{500, 1000, 150 * time.Millisecond}, // 0.3 to warn
		{780, 1000, floor},                  // 10 ms to warn: the floor
		{850, 1000, floor},                  // warn band, 0.05 to critical: 25 ms
		{950, 1000, floor},                  // critical band
		{100, 0, ceil},                      // no limit
		{100, cgroupstat.Unlimited, ceil},   // no limit
	} {
		if got := tr.checkPeriod(c.usage, c.limit, floor, ceil); got != c.want {
			t.Errorf("checkPeriod(%d, %d) = %v, want %v", c.usage, c.limit, got, c.want)
		}
	}
	tr.cfg.warn, tr.cfg.critical = 0.5, 0.9
	if got := tr.checkPeriod(600, 1000, floor, ceil); got != 150*time.Millisecond {
		t.Errorf("warn band, 0.3 to critical: %v, want 150ms", got)
	}
}
