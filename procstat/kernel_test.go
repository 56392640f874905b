package procstat_test

import (
	"testing"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
	"github.com/go-memwatch/memwatch/procstat"
)

// Real-kernel tests: a helper process in a fresh memory cgroup touches
// memory; the process view (procstat, read by the helper about itself and by
// the test about the helper) is cross-checked against the cgroup's charge.
// They need root and a memory cgroup (v1 on the host, v2 in the test VM) and
// skip with the reason otherwise.

// TestHelperProcess is the cgtest workload helper; it does nothing in a
// normal run.
func TestHelperProcess(t *testing.T) {
	cgtest.RunHelper(cgtest.Probes{"procstat": readSelf})
}

type procReport struct {
	Statm  procstat.Statm
	Status procstat.Status
}

// readSelf runs inside the helper: procstat's own view of /proc/self.
func readSelf() (any, error) {
	return readProc()
}

func readProc(opts ...procstat.Option) (procReport, error) {
	var rep procReport
	r, err := procstat.Open(opts...)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	if err := r.ReadStatm(&rep.Statm); err != nil {
		return rep, err
	}
	err = r.ReadStatus(&rep.Status)
	return rep, err
}

func mib(b uint64) float64 { return float64(b) / cgtest.MiB }

func TestKernelRSSAgainstCgroupUsage(t *testing.T) {
	const touched = 64 * cgtest.MiB
	c := cgtest.Create(t, cgtest.WithLimit(256*cgtest.MiB))
	h := c.StartWorkload(t, cgtest.Workload{AnonMiB: 64})
	if !h.Ready() {
		t.Fatalf("helper did not become ready: exit %d, signal %v, %s", h.ExitCode(), h.Signal(), h.Output())
	}

	var self procReport
	if err := h.Probe("procstat", &self); err != nil {
		t.Fatal(err)
	}
	outside, err := readProc(procstat.WithPID(h.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	usage, err := c.Usage()
	if err != nil {
		t.Fatal(err)
	}
	anonKey := "anon"
	if c.Version() == 1 {
		anonKey = "total_rss"
	}
	cgAnon, err := c.Stat(anonKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v%d, %d MiB touched: helper's own view RSS %.1f (anon %.1f, file %.1f), test's view of pid %d RSS %.1f (anon %.1f); cgroup usage %.1f, %s %.1f MiB",
		c.Version(), touched/cgtest.MiB, mib(self.Statm.Resident), mib(self.Status.RssAnon), mib(self.Status.RssFile),
		h.Pid(), mib(outside.Statm.Resident), mib(outside.Status.RssAnon), mib(usage), anonKey, mib(cgAnon))

	for _, v := range []struct {
		name string
		rep  procReport
	}{{"helper's own view", self}, {"test's view of the helper", outside}} {
		if v.rep.Status.Present&procstat.HasRssAnon == 0 {
			t.Fatalf("%s: no RssAnon in status", v.name)
		}
		if v.rep.Statm.Resident < touched || v.rep.Status.VmRSS < touched {
			t.Errorf("%s: statm RSS %.1f MiB, VmRSS %.1f MiB: want >= %d MiB touched",
				v.name, mib(v.rep.Statm.Resident), mib(v.rep.Status.VmRSS), touched/cgtest.MiB)
		}
		if v.rep.Status.RssAnon < touched {
			t.Errorf("%s: RssAnon %.1f MiB < %d MiB touched", v.name, mib(v.rep.Status.RssAnon), touched/cgtest.MiB)
		}
		// The cgroup is charged for every anonymous page of its only
		// process (it started inside), so usage covers RssAnon.
		if usage < v.rep.Status.RssAnon {
			t.Errorf("%s: cgroup usage %.1f MiB < RssAnon %.1f MiB", v.name, mib(usage), mib(v.rep.Status.RssAnon))
		}
	}
	// Two views of the same idle process agree closely, and the cgroup's
	// anon counter matches the process's anon RSS (per-CPU counter batching
	// makes both slightly fuzzy).
	if d := absDiff(self.Status.RssAnon, outside.Status.RssAnon); d > 4*cgtest.MiB {
		t.Errorf("RssAnon differs by %.1f MiB between the helper's and the test's reading", mib(d))
	}
	if d := absDiff(cgAnon, outside.Status.RssAnon); d > 8*cgtest.MiB {
		t.Errorf("cgroup %s %.1f MiB vs RssAnon %.1f MiB: differ by %.1f MiB", anonKey, mib(cgAnon), mib(outside.Status.RssAnon), mib(d))
	}
	if err := h.Stop(); err != nil {
		t.Errorf("helper exit: %v (%s)", err, h.Output())
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
