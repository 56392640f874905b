package memtest

import (
	"runtime"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/internal/bytefmt"
)

// fitLimit holds a test binary and a small workload; the race detector's
// runtime and shadow memory need more.
func fitLimit() uint64 {
	if raceEnabled {
		return 128 * mib
	}
	return 64 * mib
}

func TestRunInCgroupOOM(t *testing.T) {
	limit := uint64(64 * mib)
	res := RunInCgroup(t, limit, func(t *testing.T) {
		// 256 MiB of touched, reachable heap cannot fit in 64 MiB.
		var keep [][]byte
		for range 256 {
			b := make([]byte, mib)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		runtime.KeepAlive(keep)
		t.Log("allocated 256 MiB in a 64 MiB cgroup without being killed")
	})
	t.Log(res)
	if !res.OOMKilled || res.OOMKills == 0 {
		t.Fatalf("not reported as OOM-killed: %v\n%s", res, res.Output)
	}
	if res.Passed || res.Child != nil {
		t.Errorf("killed child reported as passed (%v) or with a result (%v)", res.Passed, res.Child)
	}
	if res.Signal != "killed" {
		t.Errorf("signal %q, want SIGKILL (\"killed\")", res.Signal)
	}
	if res.HasPeak && res.Peak < limit*3/4 {
		t.Errorf("peak %s far below the %s limit of a killed cgroup", bytefmt.Compact(res.Peak), bytefmt.Compact(limit))
	}
}

func TestRunInCgroupFits(t *testing.T) {
	limit := fitLimit()
	var inChild bool
	res := RunInCgroup(t, limit, func(t *testing.T) {
		inChild = true
		if !InCgroup() {
			t.Error("body runs outside the child")
		}
		var keep [][]byte
		for range 8 {
			keep = append(keep, make([]byte, mib))
		}
		for _, b := range keep {
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
		}
		runtime.KeepAlive(keep)
	})
	if inChild {
		t.Fatal("body ran in the parent")
	}
	t.Log(res)
	if res.OOMKilled || !res.Passed || res.ExitCode != 0 {
		t.Fatalf("workload that fits in %s: %v\n%s", bytefmt.Compact(limit), res, res.Output)
	}
	if res.Child == nil {
		t.Fatalf("child printed no result:\n%s", res.Output)
	}
	if g := res.Child.LiveHeap.Growth(); g < 15*mib/2 {
		t.Errorf("child live heap growth %s, want about 8 MiB", bytefmt.Compact(g))
	}
	if !res.HasPeak || res.Peak == 0 || res.Peak > limit {
		t.Errorf("peak %s (present %v), want within the %s limit", bytefmt.Compact(res.Peak), res.HasPeak, bytefmt.Compact(limit))
	}
	if !strings.Contains(res.Output, "--- SKIP: "+t.Name()) {
		t.Errorf("child output does not show the child run of %s:\n%s", t.Name(), res.Output)
	}
	t.Logf("child:\n%v", res.Child)
}

func TestRunInCgroupChildFailure(t *testing.T) {
	res := RunInCgroup(t, fitLimit(), func(t *testing.T) { t.Error("deliberate failure") }, AllowFailure())
	t.Log(res)
	if res.Passed || res.OOMKilled || res.ExitCode != 1 || res.Signal != "" {
		t.Errorf("failing child: %v", res)
	}
	if !strings.Contains(res.Output, "deliberate failure") || !strings.Contains(res.Output, "--- FAIL: "+t.Name()) {
		t.Errorf("child output lacks the failure:\n%s", res.Output)
	}
	if res.Child == nil {
		t.Errorf("a body that failed without exiting should still report its result:\n%s", res.Output)
	}
}
