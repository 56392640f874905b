package cgtest_test

import (
	"testing"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
)

// In the package under test:
//
//	func TestHelperProcess(t *testing.T) { cgtest.RunHelper(probes) }
//
// where probes maps names to functions run inside the helper.
func Example() {
	t := &testing.T{} // in a real test: the test's *testing.T

	// A 128 MiB cgroup without swap, removed when the test ends.
	cg := cgtest.Create(t, cgtest.WithLimit(128*cgtest.MiB), cgtest.WithNoSwap())

	// A helper touching 400 MiB dies of the OOM killer before it is ready.
	before, _ := cg.OOMKills()
	h := cg.StartWorkload(t, cgtest.Workload{AnonMiB: 400})
	after, _ := cg.OOMKills()
	if h.Ready() || !h.Killed() || after <= before {
		t.Errorf("no OOM kill: %s", h.Output())
	}

	// A helper that fits reports through a probe from inside the cgroup.
	small := cg.StartWorkload(t, cgtest.Workload{AnonMiB: 32})
	var reading map[string]any
	if err := small.Probe("cgroupstat", &reading); err != nil {
		t.Error(err)
	}
	_ = small.Stop()
}
