package memtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A root without /proc and cgroups stands for a system without them (the
// non-Linux case): the Go layers are still measured, the others are
// unavailable with the reason, and budgets on them are logged, not failed.
func TestMeasureWithoutKernelViews(t *testing.T) {
	root := t.TempDir()
	fake := &fakeTB{}
	r := AssertBudget(fake, Budget{RSS: 1, CgroupPeak: 1, LiveHeap: 1 << 30}, holdLive(4*mib), withRoot(root))
	if msg := fake.failed(); msg != "" {
		t.Errorf("unavailable layers failed the budget: %q", msg)
	}
	if r.RSS.Available() || r.RSS.Reason == "" || r.Cgroup.Available() || r.Cgroup.Reason == "" {
		t.Errorf("RSS %+v, cgroup %+v: want unavailable with a reason", r.RSS, r.Cgroup)
	}
	if len(fake.logs) != 2 || !strings.Contains(fake.logs[0], "peak RSS budget not checked: unavailable") {
		t.Errorf("logs %q", fake.logs)
	}
	if r.LiveHeap.Growth() < 7*mib/2 || r.LiveHeap.AtPeak.GoHeap < 4*mib || r.LiveHeap.AtPeak.RSS != 0 {
		t.Errorf("live heap %+v", r.LiveHeap)
	}
	if !strings.Contains(r.String(), "RSS           unavailable: ") {
		t.Errorf("String:\n%s", r)
	}
}

// A v2 memory.peak that the kernel would not reset (before Linux 6.12) is
// reported as the peak since cgroup creation, and the usage is sampled.
func TestCgroupPeakNotReset(t *testing.T) {
	dir := t.TempDir()
	peakPath := filepath.Join(dir, "memory.peak")
	if err := os.WriteFile(peakPath, []byte("734003200\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(peakPath)
	if err != nil {
		t.Fatal(err)
	}
	cg := &cgroupFiles{dir: dir, peakF: f}
	p := &probe{cg: cg}
	defer f.Close()
	base := sample{cgUsage: 100 * mib, hasCg: true}
	pk := peaks{cg: 150 * mib}
	m, since := p.cgroupResult(&base, &pk, errors.New("write memory.peak: invalid argument"), DefaultInterval)
	if m.Quality != Sampled || m.Growth() != 50*mib || since != 700*mib {
		t.Errorf("got %+v, since %d", m, since)
	}
	if !strings.Contains(m.Reason, "not reset") || !strings.Contains(m.Reason, "6.12") || !strings.Contains(m.Reason, "700 MiB") {
		t.Errorf("reason %q", m.Reason)
	}
	m, since = p.cgroupResult(&base, &pk, nil, DefaultInterval)
	if m.Quality != Exact || m.Peak != 700*mib || since != 0 {
		t.Errorf("resettable: got %+v, since %d", m, since)
	}
}
