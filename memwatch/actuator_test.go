package memwatch

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

// TestActuatorYieldsToOutsideChanges: when something else changes
// GOMEMLIMIT or GOGC (another library, an operator), memwatch notices on
// the next sample, says so once, stops managing that setting, and does not
// restore over the other value at Stop.
func TestActuatorYieldsToOutsideChanges(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	var logs syncbuf.Buffer
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()), WithAdaptiveGOGC(DefaultGOGCPolicy()),
		WithLogger(newTestLogger(&logs)))...)
	if a := w.Latest().Actions; a.MemLimit == 0 || !a.GOGCSet {
		t.Fatalf("actions not applied: %+v", a)
	}
	const theirs, theirGOGC = 300 * mib, 77
	debug.SetMemoryLimit(theirs)
	debug.SetGCPercent(theirGOGC)
	w.sampleNow()
	a := w.Latest().Actions
	if a.MemLimit != 0 || a.MemLimitReason != memLimitReasonYielded || a.GOGCSet {
		t.Fatalf("after an outside change: %+v", a)
	}
	// The cgroup limit moves; memwatch must not touch the settings again.
	writeCg(t, cg, "memory.limit_in_bytes", 384*mib)
	w.sampleNow()
	w.sampleNow()
	if got := debug.SetMemoryLimit(-1); got != theirs {
		t.Fatalf("GOMEMLIMIT %d, want the outside value %d kept", got, theirs)
	}
	if g := currentGOGC(t); g != theirGOGC {
		t.Fatalf("GOGC %d, want the outside value %d kept", g, theirGOGC)
	}
	if n := strings.Count(logs.String(), "GOMEMLIMIT changed outside memwatch"); n != 1 {
		t.Errorf("outside change logged %d times, want once:\n%s", n, logs.String())
	}
	w.Stop()
	if got := debug.SetMemoryLimit(-1); got != theirs {
		t.Errorf("Stop restored over the outside GOMEMLIMIT: %d", got)
	}
	if g := currentGOGC(t); g != theirGOGC {
		t.Errorf("Stop restored over the outside GOGC: %d", g)
	}
}

// TestActuatorChangedBeforeStop: an outside change between the last sample
// and Stop is not overwritten by the restore either.
func TestActuatorChangedBeforeStop(t *testing.T) {
	root, _ := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))...)
	if w.Latest().Actions.MemLimit == 0 {
		t.Fatal("limit not set")
	}
	debug.SetMemoryLimit(123 * mib)
	w.Stop()
	if got := debug.SetMemoryLimit(-1); got != 123*mib {
		t.Errorf("GOMEMLIMIT %d after Stop, want the outside 123 MiB", got)
	}
}

// TestTwoWatchers: two Watchers with adaptive limits in one process do not
// fight. The first manages GOMEMLIMIT; the second waits (and says so) and
// takes over when the first stops, as in a reload that starts the new
// Watcher before stopping the old one.
func TestTwoWatchers(t *testing.T) {
	root1, _ := fixtureV1(t)
	root2, cg2 := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	orig, _ := saveRuntime(t)
	w1 := startWatcher(t, slowOpts(root1, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))...)
	writeCg(t, cg2, "memory.limit_in_bytes", 384*mib) // the second decides another limit
	w2 := startWatcher(t, slowOpts(root2, WithAdaptiveMemLimit(DefaultMemLimitPolicy()))...)
	l1 := w1.Latest().Actions.MemLimit
	if l1 == 0 || debug.SetMemoryLimit(-1) != int64(l1) {
		t.Fatalf("first Watcher's limit %d not in force", l1)
	}
	if a := w2.Latest().Actions; a.MemLimit != 0 || a.MemLimitReason != memLimitReasonWaiting {
		t.Fatalf("second Watcher: %+v, want it waiting", a)
	}
	w1.sampleNow()
	w2.sampleNow()
	if got := debug.SetMemoryLimit(-1); got != int64(l1) {
		t.Fatalf("GOMEMLIMIT %d: the Watchers fight", got)
	}
	w1.Stop() // restores the original
	if got := debug.SetMemoryLimit(-1); got != orig {
		t.Fatalf("after the first Stop: %d, want %d", got, orig)
	}
	w2.sampleNow()
	l2 := w2.Latest().Actions.MemLimit
	if l2 == 0 || l2 == l1 || debug.SetMemoryLimit(-1) != int64(l2) {
		t.Fatalf("second Watcher did not take over: limit %d (first %d)", l2, l1)
	}
	w2.Stop()
	if got := debug.SetMemoryLimit(-1); got != orig {
		t.Fatalf("after the second Stop: %d, want %d", got, orig)
	}
}

// TestActuatorKeepsLimitOnReadError: a cgroup view that fails to read on
// one sample (a file gone for a moment) keeps GOMEMLIMIT where it was and
// says so; it never puts the original (often "no limit") back.
func TestActuatorKeepsLimitOnReadError(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()), WithAdaptiveGOGC(DefaultGOGCPolicy()))...)
	set := w.Latest().Actions.MemLimit
	gogc := currentGOGC(t)
	if set == 0 {
		t.Fatal("limit not set")
	}
	usage := filepath.Join(cg, "memory.usage_in_bytes")
	good, err := os.ReadFile(usage)
	if err != nil {
		t.Fatal(err)
	}
	writeCg(t, cg, "memory.usage_in_bytes", "garbage")
	for range 3 {
		w.sampleNow()
		s := w.Latest()
		if s.Cgroup.Available {
			t.Fatal("the corrupt usage file did not fail the cgroup view")
		}
		if got := debug.SetMemoryLimit(-1); got != int64(set) || s.Actions.MemLimit != set || s.Actions.MemLimitReason != memLimitReasonKept {
			t.Fatalf("on a read error: GOMEMLIMIT %d, Actions %+v; want %d kept", got, s.Actions, set)
		}
		if g := currentGOGC(t); g != gogc {
			t.Fatalf("GOGC %d on a read error, want %d kept", g, gogc)
		}
	}
	if err := os.WriteFile(usage, good, 0o644); err != nil {
		t.Fatal(err)
	}
	w.sampleNow()
	if s := w.Latest(); !s.Cgroup.Available || s.Actions.MemLimitReason == memLimitReasonKept {
		t.Fatalf("after the file is back: available %v, reason %q", s.Cgroup.Available, s.Actions.MemLimitReason)
	}
}

// TestAdaptiveGOGCNothingFits: a budget of 0 (non-Go memory and slack take
// the whole limit) gives the minimum GOGC, not the default 100.
func TestAdaptiveGOGCNothingFits(t *testing.T) {
	root, cg := fixtureV1(t)
	t.Setenv("GOMEMLIMIT", "")
	saveRuntime(t)
	w := startWatcher(t, slowOpts(root, WithAdaptiveMemLimit(DefaultMemLimitPolicy()), WithAdaptiveGOGC(DefaultGOGCPolicy()))...)
	d := DefaultMemLimitPolicy().Decide(w.Latest())
	writeCg(t, cg, "memory.limit_in_bytes", d.NonGoUnreclaimable) // nothing left for Go
	w.sampleNow()
	s := w.Latest()
	if d := DefaultMemLimitPolicy().Decide(s); !d.Set || d.Budget != 0 {
		t.Fatalf("decision %+v: want a zero budget", d)
	}
	if !s.Actions.GOGCSet || s.Actions.GOGC != DefaultGOGCMin || currentGOGC(t) != DefaultGOGCMin {
		t.Fatalf("GOGC %d (Actions %+v), want the minimum %d", currentGOGC(t), s.Actions, DefaultGOGCMin)
	}
}
