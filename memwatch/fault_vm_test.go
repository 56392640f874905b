//go:build linux

package memwatch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// TestVMFaultV2 injects faults into the test's own cgroup v2 cgroup in the
// VM (scripts/test-vm.sh) while a Watcher with every action on runs:
// memory.max set to "max" and back (real changes: the effective limit
// becomes the parent's, then the cgroup's again; one callback each,
// GOMEMLIMIT follows), then PSI switched off for the cgroup (cgroup.pressure
// 0, kernel 6.1+: memory.pressure and the Watcher's PSI trigger go away)
// and on again. While PSI is off nothing else may change: GOMEMLIMIT, the
// limit, the level; the view stays (PSI is a detail), and the Watcher does
// not spin on the dead trigger.
//
//	MEMWATCH_VM_MODE=v2 MEMWATCH_VM_MAX=256M MEMWATCH_VM_PARENT_MAX=320M \
//	  go test -count=1 -exec bin/vmexec -run TestVMFaultV2 ./memwatch/
func TestVMFaultV2(t *testing.T) {
	requireVMv2(t)
	own := vmEnvBytes(t, "MEMWATCH_VM_MAX")
	if own == 0 {
		t.Skip("needs MEMWATCH_VM_MAX (the cgroup's memory.max)")
	}
	parent := vmEnvBytes(t, "MEMWATCH_VM_PARENT_MAX") // 0: none
	unlimited := cgroupstat.Unlimited
	if parent != 0 {
		unlimited = parent
	}
	saveRuntime(t)
	const interval = 50 * time.Millisecond
	const dwell = 600 * time.Millisecond
	l := newFaultLog()
	orig := l.lastGML
	w, err := New(l.options(interval)...)
	if err != nil {
		t.Fatal(err)
	}
	stop := l.run(t, w, "start")
	defer stop()
	s0 := w.Latest()
	if !s0.Cgroup.Available || s0.Cgroup.Stats.Version != cgroupstat.V2 || s0.Cgroup.Stats.Limit != own {
		t.Fatalf("cgroup view %v (error %v), version %v, limit %d; want v2 with limit %d",
			s0.Cgroup.Available, s0.Cgroup.Err, s0.Cgroup.Stats.Version, s0.Cgroup.Stats.Limit, own)
	}
	dir := s0.Cgroup.Location.Dir
	t.Logf("cgroup %s, mode %s", dir, s0.Sampling.Mode)
	write := func(name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitLimits := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			l.mu.Lock()
			got := len(l.Limits)
			l.mu.Unlock()
			if got >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no limit-change callback #%d within 5s", n)
	}
	time.Sleep(dwell)

	l.setPhase(t, "max")
	write("memory.max", "max")
	waitLimits(1)
	time.Sleep(dwell)

	l.setPhase(t, "limited")
	write("memory.max", strconv.FormatUint(own, 10))
	waitLimits(2)
	time.Sleep(dwell)

	psiOff := true
	if _, err := os.Stat(filepath.Join(dir, "cgroup.pressure")); errors.Is(err, fs.ErrNotExist) {
		psiOff = false // kernel before 6.1
	} else {
		l.setPhase(t, "psi-off")
		write("cgroup.pressure", "0")
		time.Sleep(2 * dwell)
		l.setPhase(t, "psi-on")
		write("cgroup.pressure", "1")
		time.Sleep(dwell)
	}
	stop()
	l.logTable(t)

	if g := l.gmlAt("max"); g == orig || g >= int64(own) {
		t.Fatalf("GOMEMLIMIT %s under a %d limit before the faults", gmlName(g), own)
	}
	wantMax := limitName(own) + "→" + limitName(unlimited)
	if got := l.limitsIn("max"); len(got) != 1 || got[0] != wantMax {
		t.Errorf("max: limit changes %v, want [%s]", got, wantMax)
	}
	// GOMEMLIMIT follows the lower of the hard limit and memory.high: it
	// changes with memory.max only when memory.high does not bind.
	high := s0.Cgroup.Stats.High
	follows := min(unlimited, high) != min(own, high)
	switch g := l.gmlIn("max"); {
	case !follows && len(g) > 0:
		t.Errorf("max: GOMEMLIMIT changed %v, but memory.high %d binds before and after", g, high)
	case follows && (len(g) != 1 || (min(unlimited, high) == cgroupstat.Unlimited) != (g[0] == orig)):
		t.Errorf("max: GOMEMLIMIT %v, want one change (to off without any limit left)", g)
	}
	wantBack := limitName(unlimited) + "→" + limitName(own)
	if got := l.limitsIn("limited"); len(got) != 1 || got[0] != wantBack {
		t.Errorf("limited: limit changes %v, want [%s]", got, wantBack)
	}
	switch g := l.gmlIn("limited"); {
	case !follows && len(g) > 0:
		t.Errorf("limited: GOMEMLIMIT changed %v, but memory.high %d binds before and after", g, high)
	case follows && (len(g) != 1 || g[0] == orig || g[0] >= int64(own)):
		t.Errorf("limited: GOMEMLIMIT %v, want one change to a limit under %d", g, own)
	}
	if psiOff {
		for _, p := range []string{"psi-off", "psi-on"} {
			l.checkSteady(t, p)
			l.checkNoSpin(t, p, interval)
			if n, un, _, _ := l.samplesIn(p); un > 0 {
				t.Errorf("%s: the cgroup view was unavailable on %d of %d samples (PSI is a detail: degrade per field)", p, un, n)
			}
		}
		if lv := l.levelsIn("psi-off"); len(lv) > 0 {
			t.Errorf("psi-off: level changes %v while usage and limit did not change", lv)
		}
	} else {
		t.Log("no cgroup.pressure (kernel before 6.1): PSI phase skipped")
	}
	if n := len(l.Limits); n != 2 {
		t.Errorf("%d limit-change callbacks, want 2", n)
	}
	if l.Stopped != orig {
		t.Errorf("GOMEMLIMIT %s after Stop, want the original %s", gmlName(l.Stopped), gmlName(orig))
	}
}
