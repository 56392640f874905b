package memwatch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

// These tests change process-wide runtime settings (GOMEMLIMIT, GOGC): they
// must not call t.Parallel, and saveRuntime puts the settings back.

// saveRuntime records GOMEMLIMIT and GOGC and restores them at cleanup.
func saveRuntime(t *testing.T) (limit int64, gogc int) {
	t.Helper()
	limit = debug.SetMemoryLimit(-1)
	gogc, ok := readGOGC()
	if !ok {
		t.Fatal("/gc/gogc:percent not readable")
	}
	t.Cleanup(func() {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(gogc)
	})
	return limit, gogc
}

func currentGOGC(t *testing.T) int {
	t.Helper()
	v, ok := readGOGC()
	if !ok {
		t.Fatal("/gc/gogc:percent not readable")
	}
	return v
}

func startWatcher(t *testing.T, opts ...WatcherOption) *Watcher {
	t.Helper()
	w, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func TestReadGOGCMatchesSetGCPercent(t *testing.T) {
	_, orig := saveRuntime(t)
	for _, v := range []int{37, -1, 250} {
		debug.SetGCPercent(v)
		if got := currentGOGC(t); got != v {
			t.Errorf("readGOGC after SetGCPercent(%d) = %d", v, got)
		}
	}
	debug.SetGCPercent(orig)
}

func TestActionsOffByDefault(t *testing.T) {
	root, cg := fixtureV1(t)
	limit, gogc := saveRuntime(t)
	w := startWatcher(t, slowOpts(root)...)
	writeCg(t, cg, "memory.limit_in_bytes", 300*mib)
	w.sampleNow()
	w.sampleNow()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("GOMEMLIMIT changed to %d without an action option (was %d)", got, limit)
	}
	if got := currentGOGC(t); got != gogc {
		t.Errorf("GOGC changed to %d without an action option (was %d)", got, gogc)
	}
	s := w.Latest()
	if s.Actions.Enabled {
		t.Errorf("Actions.Enabled without an action option: %+v", s.Actions)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"actions"`) {
		t.Errorf("JSON has an actions key without an action option")
	}
	w.Stop()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("GOMEMLIMIT %d after Stop, want %d", got, limit)
	}
}

func TestAdaptiveMemLimitAndGOGC(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	origLimit, origGOGC := saveRuntime(t)
	pol := DefaultMemLimitPolicy()
	var logs syncbuf.Buffer
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(pol), WithAdaptiveGOGC(DefaultGOGCPolicy()),
		WithLogger(newTestLogger(&logs)))...)

	s := w.Latest()
	a := s.Actions
	d := pol.Decide(s)
	if !d.Set || d.Bound != BoundBudget || d.Source != SourceCgroupMax {
		t.Fatalf("fixture decision %+v: want a budget-bound cgroup limit", d)
	}
	got := debug.SetMemoryLimit(-1)
	if !a.Enabled || a.MemLimit != d.Limit || uint64(got) != d.Limit || a.MemLimitDecided != d.Limit {
		t.Fatalf("GOMEMLIMIT %d, Actions %+v; want the decision %d applied", got, a, d.Limit)
	}
	if d.Limit >= 512*mib || a.MemLimitReason != d.Reason || a.MemLimitBudget != d.Budget || a.MemLimitChanged.IsZero() {
		t.Fatalf("Actions %+v do not record decision %+v under the 512 MiB limit", a, d)
	}
	wantGOGC := DefaultGOGCPolicy().Decide(s, d.Budget)
	if g := currentGOGC(t); !a.GOGCSet || a.GOGC != wantGOGC || g != wantGOGC {
		t.Fatalf("GOGC %d, Actions GOGC %d set %v; want %d", g, a.GOGC, a.GOGCSet, wantGOGC)
	}
	if !strings.Contains(logs.String(), "GOMEMLIMIT changed") {
		t.Errorf("limit change not logged:\n%s", logs.String())
	}

	// Lowering the cgroup limit lowers GOMEMLIMIT on the next sample.
	first := got
	writeCg(t, cg, "memory.limit_in_bytes", 384*mib)
	w.sampleNow()
	s = w.Latest()
	d = pol.Decide(s)
	got = debug.SetMemoryLimit(-1)
	if got >= first || uint64(got) != d.Limit || s.Actions.MemLimit != d.Limit {
		t.Fatalf("after lowering the limit: GOMEMLIMIT %d (was %d), decision %d", got, first, d.Limit)
	}

	// A repeated sample with a (nearly) equal decision does not churn.
	changed := s.Actions.MemLimitChanged
	w.sampleNow()
	if s2 := w.Latest(); s2.Actions.MemLimitChanged != changed && !limitChanged(got, int64(s2.Actions.MemLimitDecided)) {
		t.Errorf("GOMEMLIMIT rewritten for a change under the threshold: %d → %d", got, s2.Actions.MemLimitDecided)
	}

	// Text and JSON show the actions.
	var js struct {
		Actions *struct {
			MemLimitBytes *uint64 `json:"memlimit_bytes"`
			GOGCPercent   *int    `json:"gogc_percent"`
			Source        string  `json:"memlimit_source"`
		} `json:"actions"`
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if js.Actions == nil || js.Actions.MemLimitBytes == nil || *js.Actions.MemLimitBytes != s.Actions.MemLimit ||
		js.Actions.GOGCPercent == nil || js.Actions.Source != "cgroup_max" {
		t.Errorf("JSON actions: %s", b)
	}
	if txt := s.String(); !strings.Contains(txt, "GOMEMLIMIT set to "+FormatBytes(s.Actions.MemLimit)) {
		t.Errorf("text lacks the actions line:\n%s", txt)
	}

	// Stop restores the original GOMEMLIMIT and GOGC.
	w.Stop()
	w.Stop()
	if got := debug.SetMemoryLimit(-1); got != origLimit {
		t.Errorf("GOMEMLIMIT %d after Stop, want the original %d", got, origLimit)
	}
	if g := currentGOGC(t); g != origGOGC {
		t.Errorf("GOGC %d after Stop, want the original %d", g, origGOGC)
	}
}

func TestAdaptiveMemLimitUnlimitedRestores(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	origLimit, _ := saveRuntime(t)
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))...)
	if got := debug.SetMemoryLimit(-1); got == origLimit {
		t.Fatalf("GOMEMLIMIT not set under the fixture limit")
	}
	// The kernel's "unlimited" value on v1 (copied from the fixture root),
	// in limit_in_bytes and in memory.stat's hierarchical_memory_limit,
	// which the reader also honours.
	const unlimited = "9223372036854771712"
	writeCg(t, cg, "memory.limit_in_bytes", unlimited)
	stat, err := os.ReadFile(filepath.Join(cg, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^hierarchical_memory_limit \d+$`)
	if !re.Match(stat) {
		t.Fatal("fixture memory.stat lacks hierarchical_memory_limit")
	}
	stat = re.ReplaceAll(stat, []byte("hierarchical_memory_limit "+unlimited))
	if err := os.WriteFile(filepath.Join(cg, "memory.stat"), stat, 0o644); err != nil {
		t.Fatal(err)
	}
	w.sampleNow()
	s := w.Latest()
	if got := debug.SetMemoryLimit(-1); got != origLimit || s.Actions.MemLimit != 0 || s.Actions.MemLimitSource != SourceNone {
		t.Errorf("limit removed: GOMEMLIMIT %d (original %d), Actions %+v", got, origLimit, s.Actions)
	}
}

func TestEnvGOMEMLIMITWins(t *testing.T) {
	root, _ := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "1GiB")
	origLimit, _ := saveRuntime(t)

	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))...)
	s := w.Latest()
	if got := debug.SetMemoryLimit(-1); got != origLimit || s.Actions.MemLimit != 0 || s.Actions.MemLimitReason != memLimitReasonEnv {
		t.Errorf("env GOMEMLIMIT: limit %d (original %d), Actions %+v", got, origLimit, s.Actions)
	}
	w.Stop()

	w = startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()), WithOverrideEnvGOMEMLIMIT(true))...)
	s = w.Latest()
	if got := debug.SetMemoryLimit(-1); uint64(got) != s.Actions.MemLimit || got == origLimit {
		t.Errorf("override: limit %d, Actions %+v", got, s.Actions)
	}
	w.Stop()
	if got := debug.SetMemoryLimit(-1); got != origLimit {
		t.Errorf("GOMEMLIMIT %d after Stop, want %d", got, origLimit)
	}

	// The lookup is injectable: an empty environment lets the policy act.
	w = startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()),
		watcherOption(func(c *watcherConfig) { c.actuator.lookupEnv = func(string) (string, bool) { return "", false } }))...)
	if s := w.Latest(); s.Actions.MemLimit == 0 {
		t.Errorf("injected empty env: limit not set, Actions %+v", s.Actions)
	}
}

func TestOnShedEdge(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	// A live heap for the advice to measure (/gc/heap/live is 0 before
	// the first GC).
	live := make([]byte, 4*mib)
	runtime.GC()
	defer runtime.KeepAlive(live)
	sheds := make(chan ShedSignal, 8)
	w := startWatcher(t, slowOpts(root, OnShed(func(sig ShedSignal, s *Snapshot) {
		if s.Actions.Shed != sig {
			t.Errorf("callback snapshot holds %+v, signal %+v", s.Actions.Shed, sig)
		}
		sheds <- sig
	}))...)
	if s := w.Latest(); s.Actions.Shed.Bytes != 0 {
		t.Fatalf("shed advice under the 512 MiB fixture limit: %+v", s.Actions.Shed)
	}
	noEvent(t, sheds)

	// A limit just above the non-Go memory leaves Go no budget: it won't fit.
	d := DefaultMemLimitPolicy().Decide(w.Latest())
	writeCg(t, cg, "memory.limit_in_bytes", d.NonGoUnreclaimable+mib)
	w.sampleNow()
	select {
	case sig := <-sheds:
		if !sig.WontFit || sig.Bytes == 0 {
			t.Errorf("shed signal %+v: want won't fit", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no OnShed; Actions %+v", w.Latest().Actions)
	}
	// The same advice again is not reported again.
	w.sampleNow()
	if sig := w.Latest().Actions.Shed; sig.Bytes == 0 {
		t.Fatalf("advice vanished: %+v", sig)
	}
	noEvent(t, sheds)
	// Nothing was enabled that touches the runtime.
	if w.Latest().Actions.MemLimit != 0 || w.Latest().Actions.GOGCSet {
		t.Errorf("OnShed alone changed runtime settings: %+v", w.Latest().Actions)
	}
}

func TestFreeOSMemoryAtCritical(t *testing.T) {
	root, cg := fixtureV1(t)
	saveRuntime(t)
	w := startWatcher(t, slowOpts(root, WithFreeOSMemory(time.Hour, 0))...)
	if s := w.Latest(); s.Actions.FreeOSMemoryCount != 0 {
		t.Fatalf("FreeOSMemory below critical: %+v", s.Actions)
	}
	// Leave free heap behind, then push the level to critical.
	garbage := make([][]byte, 64)
	for i := range garbage {
		garbage[i] = make([]byte, 64<<10)
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	runtime.GC()
	writeCg(t, cg, "memory.limit_in_bytes", 64*mib)
	w.sampleNow()
	s := w.Latest()
	if s.Level != LevelCritical {
		t.Fatalf("level %v, want critical", s.Level)
	}
	want := uint64(0)
	if s.Go.HeapFree > 0 {
		want = 1
	}
	t.Logf("heap free %d at critical: FreeOSMemory expected %d time(s)", s.Go.HeapFree, want)
	if s.Actions.FreeOSMemoryCount != want || (want == 1) == s.Actions.FreeOSMemoryTime.IsZero() {
		t.Fatalf("heap free %d: FreeOSMemory count %d time %v, want count %d", s.Go.HeapFree, s.Actions.FreeOSMemoryCount, s.Actions.FreeOSMemoryTime, want)
	}
	// Rate-limited: not again within the minimum interval.
	w.sampleNow()
	if got := w.Latest().Actions.FreeOSMemoryCount; got != want {
		t.Errorf("FreeOSMemory count %d after a second critical sample, want %d", got, want)
	}
	w.Stop() // waits for the FreeOSMemory goroutine (goleak checks)
}

func TestLimitChangedThreshold(t *testing.T) {
	for _, c := range []struct {
		cur, next int64
		want      bool
	}{
		{512 * mib, 512*mib + mib/2, false},
		{512 * mib, 512*mib + 2*mib, false}, // < 1% of 512 MiB
		{512 * mib, 512*mib + 6*mib, true},
		{512 * mib, 500 * mib, true},
		{32 * mib, 32*mib + mib/2, false}, // < 1 MiB
		{32 * mib, 34 * mib, true},
	} {
		if got := limitChanged(c.cur, c.next); got != c.want {
			t.Errorf("limitChanged(%d, %d) = %v", c.cur, c.next, got)
		}
	}
	if gogcChanged(100, 100) || gogcChanged(400, 403) || !gogcChanged(100, 102) || !gogcChanged(25, 26) {
		t.Error("gogcChanged thresholds")
	}
}

func TestWontFitPolicy(t *testing.T) {
	root, cg := fixtureV1(t)
	saveRuntime(t)
	live := make([]byte, 4*mib)
	runtime.GC()
	defer runtime.KeepAlive(live)
	var logs syncbuf.Buffer
	exits := make(chan int, 4)
	w := startWatcher(t, slowOpts(root, WithWontFitPolicy(WontFitExit), WithLogger(newTestLogger(&logs)),
		watcherOption(func(c *watcherConfig) { c.actuator.exit = func(code int) { exits <- code } }))...)
	if s := w.Latest(); !s.Actions.Enabled || s.Actions.Shed.WontFit {
		t.Fatalf("fixture: %+v", s.Actions)
	}
	noEvent(t, exits)
	if got := debug.SetMemoryLimit(-1); w.Latest().Actions.MemLimit != 0 || got != w.act.origLimit {
		t.Errorf("WithWontFitPolicy alone changed GOMEMLIMIT to %d", got)
	}

	d := DefaultMemLimitPolicy().Decide(w.Latest())
	writeCg(t, cg, "memory.limit_in_bytes", d.NonGoUnreclaimable+mib)
	w.sampleNow()
	select {
	case code := <-exits:
		if code != WontFitExitCode {
			t.Errorf("exit code %d, want %d", code, WontFitExitCode)
		}
	default:
		t.Fatalf("no exit on won't fit: %+v", w.Latest().Actions.Shed)
	}
	if !strings.Contains(logs.String(), "does not fit") {
		t.Errorf("won't fit not logged:\n%s", logs.String())
	}
	w.sampleNow() // same episode: no second exit
	noEvent(t, exits)
}

// TestActionsSampleAllocs checks that the actions add no allocation to a
// steady-state sample (no change to apply, nothing to log).
func TestActionsSampleAllocs(t *testing.T) {
	if snapshotRace {
		t.Skip("the race runtime allocates on its own")
	}
	root, _ := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	w, err := New(slowOpts(root, WithEvents(false), WithAdaptiveMemLimit(DefaultMemLimitPolicy()),
		WithAdaptiveGOGC(DefaultGOGCPolicy()), OnShed(func(ShedSignal, *Snapshot) {}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	w.act = newActuator(w.cfg.actuator, w.log)
	defer w.act.restore()
	w.sample(true)
	w.sample(false)
	if !w.Latest().Actions.GOGCSet || w.Latest().Actions.MemLimit == 0 {
		t.Fatalf("actions not applied: %+v", w.Latest().Actions)
	}
	if n := testing.AllocsPerRun(50, func() { w.sample(false) }); n != 0 {
		t.Fatalf("cheap watcher sample with actions allocates %v times", n)
	}
	if n := testing.AllocsPerRun(20, func() { w.sample(true) }); n != 0 {
		t.Fatalf("full watcher sample with actions allocates %v times", n)
	}
}
