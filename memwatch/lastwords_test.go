package memwatch

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a slog.Handler that keeps the records (Debug and above).
type recorder struct {
	mu   sync.Mutex
	recs []string // "LEVEL msg k=v ..."
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.mu.Unlock()
	return nil
}

// take returns the records at Warn and above since the last call.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.recs {
		if strings.HasPrefix(s, "WARN") || strings.HasPrefix(s, "ERROR") {
			out = append(out, s)
		}
	}
	r.recs = nil
	return out
}

// wantLines checks that got holds one line per element of want, each
// containing every string of its element.
func wantLines(t *testing.T, got []string, want ...[]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines at Warn and above, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, subs := range want {
		for _, sub := range subs {
			if !strings.Contains(got[i], sub) {
				t.Fatalf("line %d %q does not contain %q", i, got[i], sub)
			}
		}
	}
}

// line is one wanted line: the strings it must contain.
func line(subs ...string) []string { return subs }

// TestWatcherLastWordsCritical runs a Watcher with a logger on a fixture
// tree: one Warn line when the level turns critical, with the verdict and
// the largest parts; nothing more in the same episode (a dip to warn
// included); the next episode within LastWordsInterval is counted, not
// logged; quiet while memory is fine.
func TestWatcherLastWordsCritical(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	rec := &recorder{}
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithPollCheck(0), WithLogger(slog.New(rec)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	step := func(frac float64) {
		t.Helper()
		writeCg(t, cg, "memory.usage_in_bytes", uint64(frac*limit))
		if !w.sampleNow() {
			t.Fatal("watcher not running")
		}
	}
	step(0.5)
	step(0.85)
	wantLines(t, rec.take()) // ok and warn: quiet

	step(0.95)
	s := w.Latest()
	got := rec.take()
	wantLines(t, got, line("WARN memwatch: memory critical verdict="+s.Verdict()))
	// The fixture's largest parts: the Go parts are this process's, so only
	// check the cgroup ones that are large there.
	if !strings.Contains(got[0], " largest=") || !strings.Contains(got[0], "MiB") {
		t.Fatalf("no largest parts: %q", got[0])
	}
	step(0.97)
	step(0.84) // critical → warn: the episode goes on
	step(0.95)
	wantLines(t, rec.take())

	step(0.5) // ok: the episode ends
	step(0.95)
	wantLines(t, rec.take()) // a new episode, but within LastWordsInterval

	// With the interval elapsed, the next episode is logged with the count
	// of those that were not. The run goroutine reads cfg only inside
	// sampleNow, which synchronizes with this goroutine.
	w.words.cfg.every = 0
	step(0.5)
	step(0.95)
	wantLines(t, rec.take(), line("WARN memwatch: memory critical", "episodes_not_logged=1"))
}

// TestWatcherSilentWithoutLogger checks that a Watcher given no logger
// stays silent (it must not fall back to slog.Default).
func TestWatcherSilentWithoutLogger(t *testing.T) {
	root, cg := fixtureV1(t)
	rec := &recorder{}
	orig := slog.Default()
	slog.SetDefault(slog.New(rec))
	t.Cleanup(func() { slog.SetDefault(orig) })
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithPollCheck(0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeCg(t, cg, "memory.usage_in_bytes", 500*mib)
	w.sampleNow()
	if l := w.Latest().Level; l != LevelCritical {
		t.Fatalf("level %v", l)
	}
	w.Stop()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.recs) > 0 {
		t.Fatalf("a Watcher without a logger logged through slog.Default: %q", rec.recs)
	}
}

// goSnap is a hand-made snapshot of a Go runtime with a GOMEMLIMIT, a live
// heap and GC counters, under a cgroup limit when cgroupLimit.
func goSnap(at time.Time, level Level, limit, live uint64, cycle, limiterCycle uint64, cgroupLimit bool) *Snapshot {
	s := &Snapshot{Time: at, Level: level}
	g := &s.Go
	g.Present = GoGOMEMLIMIT | GoHeapLive | GoHeapObjects | GoHeapGoal | GoGOGC | GoGCCycles | GoGCLimiterLastEnabled | GoTotal
	g.GOMEMLIMIT = int64(limit)
	g.HeapLive, g.HeapObjects = live, live
	g.HeapGoal = live + live/10
	g.GOGC = 100
	g.Total = live + live/10
	g.GCCycles, g.GCLimiterLastEnabled = cycle, limiterCycle
	s.Attribution.Headroom.HasLimit = cgroupLimit
	return s
}

// TestLastWordsShedUnhandled: shedding advised with no OnShed handler is an
// Error line once per episode, saying how much must go; with a handler,
// nothing; without a cgroup limit, no claim of an OOM kill.
func TestLastWordsShedUnhandled(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := &recorder{}
	l := newLastWords(lastWordsConfig{every: time.Minute}, slog.New(rec))
	fits := goSnap(t0, LevelOK, 100*mib, 30*mib, 10, 0, true)
	l.observe(fits)
	wantLines(t, rec.take())

	tight := goSnap(t0.Add(time.Second), LevelWarn, 100*mib, 90*mib, 11, 0, true)
	want := ShedAdvice(tight, 0)
	if want.Bytes == 0 {
		t.Fatalf("the hand-made snapshot advises no shedding: %+v", want)
	}
	l.observe(tight)
	wantLines(t, rec.take(), line("ERROR memwatch: "+FormatBytes(want.Bytes)+" of live heap must go and nothing sheds it (no OnShed handler); unless it shrinks, the process will likely be OOM-killed",
		fmt.Sprintf("shed_bytes=%d", want.Bytes)))
	tight.Time = tight.Time.Add(time.Second)
	l.observe(tight) // same episode
	wantLines(t, rec.take())

	// The actuator's advice, when it computed one, is the one used.
	ok := goSnap(t0.Add(3*time.Second), LevelWarn, 100*mib, 90*mib, 12, 0, true)
	ok.Actions.Shed = ShedSignal{Reason: shedReasonOK}
	l.observe(ok)
	l.cfg.every = 0
	noLimit := goSnap(t0.Add(4*time.Second), LevelUnknown, 100*mib, 90*mib, 13, 0, false)
	l.observe(noLimit)
	wantLines(t, rec.take(), line("the GC will run at its CPU cap and the heap overshoot GOMEMLIMIT"))

	handled := newLastWords(lastWordsConfig{shedHandled: true, every: time.Minute}, slog.New(rec))
	handled.observe(tight)
	wantLines(t, rec.take())
}

// TestLastWordsLimiter: the GC CPU limiter engaging (a newer cycle) while
// GOMEMLIMIT binds is a Warn line once per episode; engaged without the
// limit binding, or already engaged before the first sample, is not.
func TestLastWordsLimiter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := &recorder{}
	// OnShed "handled" keeps the shed line out of this test.
	l := newLastWords(lastWordsConfig{shedHandled: true, every: time.Minute}, slog.New(rec))
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	const limit = 100 * mib
	binding := func(sec int, cycle, limiter uint64) *Snapshot {
		s := goSnap(at(sec), LevelWarn, limit, 92*mib, cycle, limiter, true) // retained 101 MiB ≥ 95 MiB
		if !memLimitBinds(&s.Go) {
			t.Fatal("the hand-made snapshot does not bind")
		}
		return s
	}
	free := func(sec int, cycle, limiter uint64) *Snapshot {
		s := goSnap(at(sec), LevelOK, limit, 20*mib, cycle, limiter, true)
		s.Go.HeapGoal = 40 * mib // GOGC sets the goal
		if memLimitBinds(&s.Go) {
			t.Fatal("the hand-made snapshot binds")
		}
		return s
	}
	l.observe(binding(0, 10, 9)) // engaged before the first sample: not news
	l.observe(free(1, 11, 11))   // engaged, but the limit does not bind
	wantLines(t, rec.take())
	l.observe(binding(2, 12, 12))
	wantLines(t, rec.take(), line("WARN memwatch: GC CPU limiter engaged while GOMEMLIMIT binds", "limiter_cycle=12", "gomemlimit=104857600"))
	l.observe(binding(3, 13, 13)) // same episode
	l.observe(binding(4, 14, 13)) // not engaged again, still binding
	l.observe(free(5, 15, 13))    // episode ends
	l.observe(binding(6, 16, 16)) // new episode within the interval
	l.observe(free(7, 17, 16))
	wantLines(t, rec.take())
	l.observe(binding(70, 18, 18))
	wantLines(t, rec.take(), line("GC CPU limiter engaged", "episodes_not_logged=1"))
}

func TestMemLimitBinds(t *testing.T) {
	for _, c := range []struct {
		name  string
		g     GoStats
		binds bool
	}{
		{"no limit", GoStats{Present: GoGOMEMLIMIT, GOMEMLIMIT: 1<<63 - 1, Total: 1 << 30}, false},
		{"retained at 96%", GoStats{Present: GoGOMEMLIMIT, GOMEMLIMIT: 100 * mib, Total: 96 * mib}, true},
		{"retained at 50%, goal from GOGC", GoStats{Present: GoGOMEMLIMIT | GoHeapGoal | GoGOGC | GoHeapLive,
			GOMEMLIMIT: 100 * mib, Total: 50 * mib, HeapLive: 20 * mib, HeapGoal: 40 * mib, GOGC: 100}, false},
		{"goal below the GOGC goal", GoStats{Present: GoGOMEMLIMIT | GoHeapGoal | GoGOGC | GoHeapLive | GoGCCycles,
			GOMEMLIMIT: 100 * mib, Total: 50 * mib, HeapLive: 40 * mib, HeapGoal: 45 * mib, GOGC: 100, GCCycles: 3}, true},
		{"GOGC off", GoStats{Present: GoGOMEMLIMIT | GoHeapGoal | GoGOGC, GOMEMLIMIT: 100 * mib, Total: 10 * mib, GOGC: -1}, true},
	} {
		if got := memLimitBinds(&c.g); got != c.binds {
			t.Errorf("%s: binds %v, want %v", c.name, got, c.binds)
		}
	}
}

func TestLargestParts(t *testing.T) {
	var a Attribution
	for i := range a.Parts {
		a.Parts[i] = Part{ID: PartID(i), Reclaim: staticReclaim[i]}
	}
	set := func(id PartID, n uint64) { a.Parts[id].Bytes, a.Parts[id].Known = n, true }
	set(PartGoHeapLive, 100*mib)
	set(PartPageCacheInactive, 300*mib)
	set(PartNonGoAnon, 50*mib)
	set(PartGoHeapFree, 50*mib)
	set(PartKernel, 0)
	a.Parts[PartShmem].Bytes = 999 * mib // not known: left out
	got := largestPartsText(&a, 3)
	want := "page_cache_inactive 300.0 MiB (reclaimable), go_heap_live 100.0 MiB, go_heap_free 50.0 MiB (the Go runtime can release it)"
	if got != want {
		t.Fatalf("largestPartsText = %q, want %q", got, want)
	}
	if n := len(largestParts(&a, 10)); n != 4 {
		t.Fatalf("%d parts, want the 4 known non-empty ones", n)
	}
}

// TestReportsSampleAllocs checks that the operator's reports (last words,
// termination message) add no allocation to a steady-state
// sample while memory is fine, with and without the action options.
func TestReportsSampleAllocs(t *testing.T) {
	if snapshotRace {
		t.Skip("the race runtime allocates on its own")
	}
	root, _ := fixtureV1(t)
	term := t.TempDir() + "/termination-log"
	for _, actions := range []bool{false, true} {
		opts := slowOpts(root, WithEvents(false), WithLogger(slog.New(&recorder{})), WithTerminationMessage(term))
		if actions {
			saveRuntime(t)
			opts = append(opts, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))
		}
		w, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		w.act = newActuator(w.cfg.actuator, w.log)
		w.sample(true)
		w.sample(false)
		if l := w.Latest().Level; l != LevelOK {
			t.Fatalf("level %v", l)
		}
		if n := testing.AllocsPerRun(50, func() { w.sample(false) }); n != 0 {
			t.Errorf("actions %v: cheap sample with the reports allocates %v times", actions, n)
		}
		if n := testing.AllocsPerRun(20, func() { w.sample(true) }); n != 0 {
			t.Errorf("actions %v: full sample with the reports allocates %v times", actions, n)
		}
		if w.act != nil {
			w.act.restore()
		}
		w.Stop()
	}
}

// limiterNode is a small object with pointers: marking a heap of them
// costs the GC real work, unlike a heap of pointer-free []byte.
type limiterNode struct {
	next *limiterNode
	_    [6]*int // 64-byte nodes
}

// limiterSink keeps TestWatcherLastWordsLimiterLive's heap alive.
var limiterSink *limiterNode

// TestWatcherLastWordsLimiterLive drives the real runtime into the GC CPU
// limiter, to check the detection against the runtime's own metric: 48 MiB
// of live, pointer-rich heap over a 32 MiB GOMEMLIMIT, and an allocating
// goroutine on top, make the GC run back to back; on one P (GOMAXPROCS 1,
// put back after) the GC's share passes 50% and the limiter engages within
// a few seconds (on two Ps it stayed near 45% for seconds). The Watcher
// (no cgroup: the proc-only fixture) must log it once.
func TestWatcherLastWordsLimiterLive(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: spins the GC for seconds")
	}
	// Registered first, so it runs last: once the allocator has stopped
	// and the settings are back, return the overshoot to the OS, so that
	// the tests after this one start from a calm heap.
	t.Cleanup(func() { debug.FreeOSMemory() })
	saveRuntime(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rec := &recorder{}
	w, err := New(WithRoot("testdata/proc-only"), WithInterval(time.Hour), WithMinInterval(time.Hour),
		WithLogger(slog.New(rec)), OnShed(func(ShedSignal, *Snapshot) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { limiterSink = nil }()
	for range 48 << 20 / 64 { // 48 MiB of 64-byte nodes
		limiterSink = &limiterNode{next: limiterSink}
	}
	debug.SetMemoryLimit(32 << 20)
	stop, done := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		var keep [64][]byte
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for j := range 10 {
				keep[(i+j)%64] = make([]byte, 32<<10)
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		w.sampleNow()
		if got := rec.take(); len(got) > 0 {
			wantLines(t, got, line("WARN memwatch: GC CPU limiter engaged while GOMEMLIMIT binds", "gomemlimit=33554432"))
			g := w.Latest().Go
			t.Logf("limiter engaged in GC cycle %d (now %d); retained %s of GOMEMLIMIT %s",
				g.GCLimiterLastEnabled, g.GCCycles, FormatBytes(g.Retained()), FormatBytes(uint64(g.GOMEMLIMIT)))
			return
		}
	}
	g := w.Latest().Go
	t.Fatalf("no limiter line in 30 s: limiter last enabled in cycle %d of %d, retained %s, binds %v",
		g.GCLimiterLastEnabled, g.GCCycles, FormatBytes(g.Retained()), memLimitBinds(&g))
}
