package memwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

const mib = 1 << 20

// fixtureV1 copies the v1-limit fixture (a real v1 cgroup "mwsnap" with a
// 512 MiB limit) to a temporary root the test may rewrite.
func fixtureV1(t *testing.T) (root, cg string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: the fixture is read through the Linux cgroup reader")
	}
	root = t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/v1-limit")); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")
}

func writeCg(t *testing.T, dir, name string, v any) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "%v\n", v), 0o644); err != nil {
		t.Fatal(err)
	}
}

type levelChange struct{ old, new Level }

// recvLevel waits for the next OnLevel event.
func recvLevel(t *testing.T, ch <-chan levelChange, want levelChange) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("level change %v→%v, want %v→%v", got.old, got.new, want.old, want.new)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no level change %v→%v", want.old, want.new)
	}
}

func noEvent[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("unexpected event %v", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// slowOpts keeps the timer out of the way: only sampleNow samples.
func slowOpts(root string, more ...WatcherOption) []WatcherOption {
	return append([]WatcherOption{WithRoot(root), WithInterval(time.Hour), WithMinInterval(time.Hour)}, more...)
}

func TestJudgeHysteresis(t *testing.T) {
	const w, c, h = 0.8, 0.9, 0.05
	steps := []struct {
		frac float64
		want Level
	}{
		{0.5, LevelOK}, {0.79, LevelOK}, {0.80, LevelWarn}, {0.76, LevelWarn}, {0.749, LevelOK},
		{0.95, LevelCritical}, {0.86, LevelCritical}, {0.849, LevelWarn}, {0.91, LevelCritical},
		{0.10, LevelOK}, {0.85, LevelWarn},
	}
	cur := LevelUnknown
	for i, s := range steps {
		cur = judge(cur, s.frac, true, w, c, h)
		if cur != s.want {
			t.Fatalf("step %d: frac %v gave %v, want %v", i, s.frac, cur, s.want)
		}
	}
	if got := judge(LevelCritical, 0, false, w, c, h); got != LevelUnknown {
		t.Fatalf("unknown fraction gave %v", got)
	}
}

func TestNextInterval(t *testing.T) {
	const floor, nom = 100 * time.Millisecond, time.Second
	for _, c := range []struct {
		used, prev, limit uint64
		dt                time.Duration
		want              time.Duration
	}{
		{100, 100, 1000, time.Second, nom},                               // flat
		{90, 100, 1000, time.Second, nom},                                // shrinking
		{200, 100, 1000, time.Second, nom},                               // ttl 8s → 2s, clamped to 1s
		{600, 100, 1000, time.Second, nom},                               // ttl 0.8s → 200ms... rate 500/s, ttl 0.8s
		{900, 500, 1000, time.Second, floor},                             // ttl 0.25s → 62ms → floor
		{1000, 900, 1000, time.Second, floor},                            // at the limit
		{550, 500, 1000, 100 * time.Millisecond, 225 * time.Millisecond}, // 500 B/s, ttl 0.9s
		{100, 50, 0, time.Second, nom},                                   // no limit
	} {
		got := nextInterval(c.used, c.prev, c.limit, c.dt, floor, nom)
		want := c.want
		if c.used == 600 {
			want = 200 * time.Millisecond
		}
		if got != want {
			t.Errorf("nextInterval(%d, %d, %d, %v) = %v, want %v", c.used, c.prev, c.limit, c.dt, got, want)
		}
	}
}

func TestWatcherLevelsFixture(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	levels := make(chan levelChange, 16)
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), OnLevel(func(o, n Level, s *Snapshot) {
		if s.Level != n {
			t.Errorf("callback snapshot level %v, want %v", s.Level, n)
		}
		levels <- levelChange{o, n}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if w.Latest() != nil {
		t.Fatal("Latest before Start is not nil")
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recvLevel(t, levels, levelChange{LevelUnknown, LevelOK}) // 211 MiB of 512
	s := w.Latest()
	if s.Level != LevelOK || s.Sampling.Mode != "poll" || s.Sampling.Interval != time.Hour {
		t.Fatalf("first snapshot: level %v, sampling %+v", s.Level, s.Sampling)
	}
	step := func(frac float64) {
		t.Helper()
		writeCg(t, cg, "memory.usage_in_bytes", uint64(frac*limit))
		if !w.sampleNow() {
			t.Fatal("watcher not running")
		}
	}
	step(0.85)
	recvLevel(t, levels, levelChange{LevelOK, LevelWarn})
	step(0.95)
	recvLevel(t, levels, levelChange{LevelWarn, LevelCritical})
	step(0.87) // above critical − hysteresis: stays
	noEvent(t, levels)
	if l := w.Latest().Level; l != LevelCritical {
		t.Fatalf("level %v after 0.87, want critical (hysteresis)", l)
	}
	step(0.84)
	recvLevel(t, levels, levelChange{LevelCritical, LevelWarn})
	step(0.77)
	noEvent(t, levels)
	step(0.70)
	recvLevel(t, levels, levelChange{LevelWarn, LevelOK})
	if iv := w.Latest().Sampling.Interval; iv != time.Hour {
		t.Fatalf("interval %v after a fall, want nominal", iv)
	}
}

// TestWatcherSeveralCallbacks: OnLevel given twice calls both functions, in
// the order given, and a panic in the first does not keep the second from
// running; OnShed given twice (or once with nil) tells the actions and the
// last words whether a handler exists.
func TestWatcherSeveralCallbacks(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	calls := make(chan string, 16)
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage),
		OnLevel(func(_, n Level, _ *Snapshot) {
			calls <- "first " + n.String()
			if n == LevelWarn {
				panic("first callback")
			}
		}),
		OnLevel(nil), // ignored
		OnLevel(func(_, n Level, _ *Snapshot) { calls <- "second " + n.String() }))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recv := func(want string) {
		t.Helper()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("call %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no call %q", want)
		}
	}
	recv("first ok")
	recv("second ok")
	writeCg(t, cg, "memory.usage_in_bytes", frac(0.85, limit))
	w.sampleNow()
	recv("first warn") // panics
	recv("second warn")
	writeCg(t, cg, "memory.usage_in_bytes", frac(0.95, limit))
	w.sampleNow()
	recv("first critical")
	recv("second critical")
	noEvent(t, calls)

	shed := func(sig ShedSignal, s *Snapshot) {}
	for _, c := range []struct {
		opts []WatcherOption
		fns  int
		want bool
	}{
		{nil, 0, false},
		{[]WatcherOption{OnShed(nil)}, 0, false},
		{[]WatcherOption{OnShed(shed)}, 1, true},
		{[]WatcherOption{OnShed(shed), OnShed(nil), OnShed(shed)}, 2, true},
	} {
		w, err := New(slowOpts(root, c.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(handlersOf(&w.cfg).onShed); got != c.fns {
			t.Errorf("%d OnShed options: %d functions, want %d", len(c.opts), got, c.fns)
		}
		if w.cfg.actuator.shedHandler != c.want || w.cfg.lastWords.shedHandled != c.want {
			t.Errorf("%d OnShed options: actuator %v, last words %v, want %v",
				len(c.opts), w.cfg.actuator.shedHandler, w.cfg.lastWords.shedHandled, c.want)
		}
		w.Stop()
	}
}

// TestWatcherAdaptiveInterval: fast growth toward the limit brings the
// interval down to the floor; no growth restores the nominal one.
func TestWatcherAdaptiveInterval(t *testing.T) {
	root, cg := fixtureV1(t)
	w, err := New(WithRoot(root), WithMeasure(MeasureUsage), WithInterval(time.Hour), WithMinInterval(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if iv := w.Latest().Sampling.Interval; iv != time.Hour {
		t.Fatalf("first interval %v", iv)
	}
	writeCg(t, cg, "memory.usage_in_bytes", 300*mib) // +89 MiB within milliseconds
	w.sampleNow()
	if iv := w.Latest().Sampling.Interval; iv != 30*time.Minute {
		t.Fatalf("interval %v under fast growth, want the floor", iv)
	}
	w.sampleNow()
	if iv := w.Latest().Sampling.Interval; iv != time.Hour {
		t.Fatalf("interval %v without growth, want nominal", iv)
	}
}

func TestWatcherWorkingSetMeasure(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	// total_inactive_file is 50368512 (48 MiB) in the fixture: usage at
	// 0.85 is warn on usage but only 0.756 on the working set.
	writeCg(t, cg, "memory.usage_in_bytes", frac(0.85, limit))
	w, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Latest()
	if s.Level != LevelOK {
		t.Fatalf("working-set level %v (ws %d of %d), want ok", s.Level, s.Cgroup.Stats.WorkingSet, s.Cgroup.Stats.Limit)
	}
	writeCg(t, cg, "memory.usage_in_bytes", frac(0.85, limit)+50368512)
	w.sampleNow()
	if l := w.Latest().Level; l != LevelWarn {
		t.Fatalf("level %v, want warn", l)
	}
}

func TestWatcherLimitChangeAndOOMKill(t *testing.T) {
	root, cg := fixtureV1(t)
	type lim struct{ old, new uint64 }
	limits := make(chan lim, 4)
	ooms := make(chan uint64, 4)
	w, err := New(slowOpts(root,
		OnLimitChange(func(o, n uint64, _ *Snapshot) { limits <- lim{o, n} }),
		OnOOMKill(func(d uint64, s *Snapshot) {
			if s.Cgroup.Stats.Events.OOMKill != 3 {
				t.Errorf("snapshot oom_kill %d", s.Cgroup.Stats.Events.OOMKill)
			}
			ooms <- d
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.sampleNow()
	noEvent(t, limits)
	noEvent(t, ooms)
	writeCg(t, cg, "memory.limit_in_bytes", 256*mib)
	w.sampleNow()
	select {
	case got := <-limits:
		if got != (lim{512 * mib, 256 * mib}) {
			t.Fatalf("limit change %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limit change callback")
	}
	if err := os.WriteFile(filepath.Join(cg, "memory.oom_control"), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.sampleNow()
	select {
	case d := <-ooms:
		if d != 3 {
			t.Fatalf("oom delta %d, want 3", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OOM kill callback")
	}
	w.sampleNow()
	noEvent(t, ooms)
}

func TestWatcherPanickingCallback(t *testing.T) {
	root, cg := fixtureV1(t)
	var buf syncbuf.Buffer
	calls := make(chan Level, 8)
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithLogger(newTestLogger(&buf)),
		OnLevel(func(_, n Level, _ *Snapshot) {
			calls <- n
			if n == LevelWarn {
				panic("boom")
			}
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeCg(t, cg, "memory.usage_in_bytes", 450*mib)
	w.sampleNow()
	writeCg(t, cg, "memory.usage_in_bytes", 500*mib)
	w.sampleNow()
	for _, want := range []Level{LevelOK, LevelWarn, LevelCritical} {
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("callback for %v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no callback for %v after a panic", want)
		}
	}
	w.Stop()
	if !strings.Contains(buf.String(), "callback panicked") || !strings.Contains(buf.String(), "boom") {
		t.Fatalf("panic not logged: %s", buf.String())
	}
}

func TestWatcherSlowCallback(t *testing.T) {
	root, cg := fixtureV1(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var buf syncbuf.Buffer
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithStopTimeout(100*time.Millisecond), WithLogger(newTestLogger(&buf)),
		OnLevel(func(_, _ Level, _ *Snapshot) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-entered // the first callback (unknown → ok) is stuck
	// Sampling goes on while the callback blocks, and the queue overflows.
	for i := range 2 * w.cfg.queueSize {
		frac := 0.5
		if i%2 == 0 {
			frac = 0.95
		}
		writeCg(t, cg, "memory.usage_in_bytes", uint64(frac*512*mib))
		if !w.sampleNow() {
			t.Fatal("sampling blocked")
		}
	}
	if w.Latest().Level != LevelOK {
		t.Fatalf("level %v, want ok", w.Latest().Level)
	}
	if w.Dropped() == 0 {
		t.Fatal("no event dropped with a stuck callback and a full queue")
	}
	start := time.Now()
	w.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Stop took %v with a stuck callback", d)
	}
	if !strings.Contains(buf.String(), "abandons") || !strings.Contains(buf.String(), "queue full") {
		t.Fatalf("log lacks the abandon/drop messages: %s", buf.String())
	}
	close(release)
	<-w.disp.done // the abandoned dispatcher exits once the callback returns
}

func TestWatcherStopStart(t *testing.T) {
	root, _ := fixtureV1(t)
	w, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	w.Stop()
	if err := w.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Start after Stop: %v", err)
	}

	w, err = New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(w.Stop)
	}
	wg.Wait()
	w.Stop()
	if w.sampleNow() {
		t.Fatal("sampled after Stop")
	}
	// A stopped Watcher's snapshot only grows stale: exporters reading it
	// must see that there is no current one.
	if w.Latest() != nil || w.LatestInto(new(Snapshot)) {
		t.Fatal("stale snapshot served after Stop")
	}
}

func TestWatcherContextCancel(t *testing.T) {
	root, _ := fixtureV1(t)
	w, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher still running after its context ended")
	}
	w.Stop()
}

func TestWatcherNoCgroup(t *testing.T) {
	var buf syncbuf.Buffer
	w, err := New(WithRoot("testdata/proc-only"), WithLogger(newTestLogger(&buf)), WithInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Latest()
	if s.Level != LevelUnknown || s.Sampling.Mode != "poll" || s.Cgroup.Available {
		t.Fatalf("no-cgroup snapshot: level %v mode %q cgroup %v", s.Level, s.Sampling.Mode, s.Cgroup.Available)
	}
	w.Stop()
	if strings.Contains(buf.String(), "level=ERROR") || strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("noise without a cgroup: %s", buf.String())
	}
}

func TestWatcherGoMemLimitMeasure(t *testing.T) {
	root, _ := fixtureV1(t)
	w, err := New(slowOpts(root, WithMeasure(MeasureGoMemLimit))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Latest()
	want := LevelUnknown
	if s.Go.HasLimit() {
		want = judge(LevelUnknown, float64(s.Go.Retained())/float64(s.Go.GOMEMLIMIT), true, 0.8, 0.9, 0.05)
	}
	if s.Level != want {
		t.Fatalf("level %v, want %v", s.Level, want)
	}
}

// TestLatestImmutable: a snapshot handed out never changes, and Latest
// races with sampling cleanly (run with -race).
func TestLatestImmutable(t *testing.T) {
	root, cg := fixtureV1(t)
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := w.Latest()
	firstUsage := first.Cgroup.Stats.Usage
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := w.Latest()
				if s == nil || s.Cgroup.Stats.Usage == 0 {
					t.Error("bad snapshot")
					return
				}
			}
		})
	}
	for i := range 200 {
		writeCg(t, cg, "memory.usage_in_bytes", uint64(100+i)*mib)
		w.sampleNow()
	}
	close(stop)
	wg.Wait()
	if first.Cgroup.Stats.Usage != firstUsage {
		t.Fatal("a handed-out snapshot changed")
	}
	if got := w.Latest().Cgroup.Stats.Usage; got != 299*mib {
		t.Fatalf("latest usage %d, want %d", got, 299*mib)
	}
}

// TestWatcherSampleAllocs: steady-state sampling, judging and publishing
// allocate nothing.
func TestWatcherSampleAllocs(t *testing.T) {
	if snapshotRace {
		t.Skip("the race runtime allocates on its own")
	}
	w, err := New(WithEvents(false))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	w.sample(true)
	w.sample(false)
	if n := testing.AllocsPerRun(50, func() { w.sample(false) }); n != 0 {
		t.Fatalf("cheap watcher sample allocates %v times", n)
	}
	if n := testing.AllocsPerRun(20, func() { w.sample(true) }); n != 0 {
		t.Fatalf("full watcher sample allocates %v times", n)
	}
	var s Snapshot
	if n := testing.AllocsPerRun(50, func() { w.LatestInto(&s) }); n != 0 {
		t.Fatalf("LatestInto allocates %v times", n)
	}
}

func BenchmarkWatcherSample(b *testing.B) {
	w, err := New(WithEvents(false))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	w.sample(true)
	b.ReportAllocs()
	for b.Loop() {
		w.sample(false)
	}
}

func BenchmarkLatestInto(b *testing.B) {
	w, err := New(WithEvents(false))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	w.sample(true)
	var s Snapshot
	b.ReportAllocs()
	for b.Loop() {
		w.LatestInto(&s)
	}
}

func BenchmarkLatest(b *testing.B) {
	w, err := New(WithEvents(false))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	w.sample(true)
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Latest()
	}
}

func frac(f float64, limit uint64) uint64 { return uint64(f * float64(limit)) }

// TestWatcherPollCheck checks that, with no kernel wake-ups (a fixture tree
// is no cgroupfs) and an hour between samples, the usage/limit check sees a
// threshold crossing and a limit change soon after they happen.
func TestWatcherPollCheck(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	levels := make(chan levelChange, 8)
	limits := make(chan uint64, 8)
	w, err := New(WithRoot(root), WithInterval(time.Hour), WithMinInterval(time.Hour), WithMeasure(MeasureUsage),
		WithPollCheck(10*time.Millisecond),
		OnLevel(func(o, n Level, _ *Snapshot) { levels <- levelChange{o, n} }),
		OnLimitChange(func(_, n uint64, _ *Snapshot) { limits <- n }))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !w.pollCheck || w.Latest().Sampling.Mode != "poll" {
		t.Fatalf("poll check off (mode %q)", w.Latest().Sampling.Mode)
	}
	recvLevel(t, levels, levelChange{LevelUnknown, LevelOK})
	writeCg(t, cg, "memory.usage_in_bytes", uint64(limit/20*19))
	recvLevel(t, levels, levelChange{LevelOK, LevelCritical})
	// A cut (the dangerous direction; on v1 a raise shows only once a full
	// sample re-reads memory.stat's hierarchical_memory_limit).
	writeCg(t, cg, "memory.limit_in_bytes", limit/2)
	select {
	case n := <-limits:
		if n != limit/2 {
			t.Fatalf("new limit %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("limit change not seen by the check")
	}
	if w.stats.checks.Load() == 0 {
		t.Fatal("no check ran")
	}
}
