//go:build linux

package cgroupstat_test

// Real-kernel tests of cgroupstat. Each test makes a fresh memory cgroup with
// cgtest and runs helper processes in it; the reading under test happens
// inside a helper (probe "cgroupstat"), so cgroupstat's own discovery of
// /proc/self/cgroup and /proc/self/mountinfo is exercised for real. The same
// tests run on the host (cgroup v1, hybrid layout) and, unchanged, inside the
// QEMU VM on cgroup v2 (MEMWATCH_VM=v2, via go test -exec). They need root and
// skip with the reason otherwise.
//
// github.com/containerd/cgroups/v3 serves as an independent oracle here and
// only here (never in a non-test import graph).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
)

const miB = cgtest.MiB

// TestHelperProcess is the cgtest workload helper; it does nothing in a
// normal run.
func TestHelperProcess(t *testing.T) {
	cgtest.RunHelper(cgtest.Probes{"cgroupstat": readOwnCgroup})
}

// reading is what the helper reports: cgroupstat's view of its own cgroup.
type reading struct {
	Loc   cgroupstat.Location
	Stats cgroupstat.Stats
}

// readOwnCgroup runs inside the helper process.
func readOwnCgroup() (any, error) {
	r, err := cgroupstat.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rd := reading{Loc: r.Location()}
	if err := r.ReadFull(&rd.Stats); err != nil {
		return nil, err
	}
	return rd, nil
}

func probe(t *testing.T, h *cgtest.Helper) reading {
	t.Helper()
	var rd reading
	if err := h.Probe("cgroupstat", &rd); err != nil {
		t.Fatal(err)
	}
	return rd
}

func mustReady(t *testing.T, h *cgtest.Helper) {
	t.Helper()
	if !h.Ready() {
		t.Fatalf("helper %d did not become ready: exit %d, signal %v, %s", h.Pid(), h.ExitCode(), h.Signal(), h.Output())
	}
}

func mib(b uint64) float64 { return float64(b) / miB }

// checkLocation: the helper found the cgroup it was started in.
func checkLocation(t *testing.T, c *cgtest.Cgroup, rd reading) {
	t.Helper()
	if int(rd.Stats.Version) != c.Version() || int(rd.Loc.Version) != c.Version() {
		t.Errorf("version %v / %v, want v%d", rd.Stats.Version, rd.Loc.Version, c.Version())
	}
	if rd.Loc.Path != c.Path() || rd.Stats.Path != c.Path() {
		t.Errorf("path %q / %q, want %q", rd.Loc.Path, rd.Stats.Path, c.Path())
	}
	if rd.Loc.Dir != c.Dir() {
		t.Errorf("dir %q, want %q", rd.Loc.Dir, c.Dir())
	}
	if !rd.Stats.Full {
		t.Errorf("ReadFull left Full false")
	}
}

func TestKernelUsageLimitWorkingSet(t *testing.T) {
	const limit, touched = 256 * miB, 100 * miB
	c := cgtest.Create(t, cgtest.WithLimit(limit))
	h := c.StartWorkload(t, cgtest.Workload{AnonMiB: touched / miB})
	mustReady(t, h)
	rd := probe(t, h)
	s := rd.Stats
	t.Logf("v%d %s: limit %.0f MiB, %d MiB touched: Usage %.1f, WorkingSet %.1f, Anon %.1f, File %.1f, InactiveFile %.1f MiB",
		c.Version(), c.Path(), mib(s.Limit), touched/miB, mib(s.Usage), mib(s.WorkingSet), mib(s.Stat.Anon), mib(s.Stat.File), mib(s.Stat.InactiveFile))
	checkLocation(t, c, rd)
	if s.Limit != limit || s.LimitRaw != limit || !s.HasLimit() {
		t.Errorf("Limit %d (raw %d), want %d", s.Limit, s.LimitRaw, limit)
	}
	if c.Version() == 2 && s.LimitDir != c.Dir() {
		t.Errorf("LimitDir %q, want %q", s.LimitDir, c.Dir())
	}
	if s.Usage < touched || s.Usage > touched+40*miB {
		t.Errorf("Usage %.1f MiB, want %d..%d MiB", mib(s.Usage), touched/miB, touched/miB+40)
	}
	if s.WorkingSet > s.Usage {
		t.Errorf("WorkingSet %d > Usage %d", s.WorkingSet, s.Usage)
	}
	if s.WorkingSet < touched {
		t.Errorf("WorkingSet %.1f MiB < %d MiB of touched anonymous memory", mib(s.WorkingSet), touched/miB)
	}
	if s.Stat.Present&cgroupstat.StatAnon == 0 || s.Stat.Anon < touched {
		t.Errorf("Stat.Anon %.1f MiB (present %v), want >= %d MiB", mib(s.Stat.Anon), s.Stat.Present&cgroupstat.StatAnon != 0, touched/miB)
	}
	// The test's own reading of the same file agrees (the workload is idle).
	u, err := c.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if d := absDiff(u, s.Usage); d > 2*miB {
		t.Errorf("helper read Usage %d, the test then read %d", s.Usage, u)
	}
	if err := h.Stop(); err != nil {
		t.Errorf("helper exit: %v (%s)", err, h.Output())
	}
}

func TestKernelOOMKillCounted(t *testing.T) {
	const limit = 128 * miB
	opts := []cgtest.Option{cgtest.WithLimit(limit)}
	swap := hostHasSwap()
	if swap {
		opts = append(opts, cgtest.WithNoSwap())
	}
	c := cgtest.Create(t, opts...)
	if swap && !c.SwapLimited() {
		t.Skip("needs swap accounting or no swap: the hog could swap instead of being OOM-killed")
	}
	// The reader lives in the cgroup and survives to count the kill of its
	// neighbour, the hog, which makes itself the OOM killer's first choice.
	reader := c.StartWorkload(t, cgtest.Workload{})
	mustReady(t, reader)
	before := probe(t, reader)
	checkLocation(t, c, before)
	if !before.Stats.Events.HasEvents {
		t.Fatalf("no event counters: %+v", before.Stats.Events)
	}

	start := time.Now()
	hog := c.StartWorkload(t, cgtest.Workload{AnonMiB: 400, OOMScoreAdj: 1000})
	if hog.Ready() {
		t.Fatalf("hog touched 400 MiB in a %d MiB cgroup and survived", limit/miB)
	}
	killed := time.Since(start)
	after := probe(t, reader)
	direct, err := c.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Stats.Events, after.Stats.Events
	t.Logf("v%d: hog died after %v (signal %v); cgroupstat OOMKill %d -> %d, OOM %d -> %d, Failcnt %d -> %d, Max %d -> %d; kernel file oom_kill %d; Peak %.1f MiB",
		c.Version(), killed, hog.Signal(), b.OOMKill, a.OOMKill, b.OOM, a.OOM, b.Failcnt, a.Failcnt, b.Max, a.Max, direct, mib(after.Stats.Peak))
	if !hog.Killed() {
		t.Fatalf("hog ended with exit %d signal %v, want SIGKILL (%s)", hog.ExitCode(), hog.Signal(), hog.Output())
	}
	if a.OOMKill < b.OOMKill+1 {
		t.Errorf("OOMKill %d -> %d, want an increase of at least 1", b.OOMKill, a.OOMKill)
	}
	if a.OOMKill != direct {
		t.Errorf("cgroupstat OOMKill %d, kernel file says %d", a.OOMKill, direct)
	}
	// Measured on Linux 6.18 v1: with memsw limited to the memory limit the
	// memsw counter trips first and neither memory.failcnt nor
	// memory.memsw.failcnt moves, so failcnt is checked only without it.
	if c.Version() == 1 && !c.SwapLimited() && a.Failcnt <= b.Failcnt {
		t.Errorf("v1 Failcnt %d -> %d: the limit was hit, want an increase", b.Failcnt, a.Failcnt)
	}
	if c.Version() == 2 && (a.Max <= b.Max || a.OOM < b.OOM+1) {
		t.Errorf("v2 events max %d -> %d, oom %d -> %d: want increases", b.Max, a.Max, b.OOM, a.OOM)
	}
	if a.UnderOOM {
		t.Errorf("UnderOOM still set after the kill")
	}
	// The peak reaches the limit; a task being OOM-killed may force a few
	// pages of charge past it.
	if after.Stats.HasPeak && (after.Stats.Peak < limit-8*miB || after.Stats.Peak > limit+2*miB) {
		t.Errorf("Peak %.3f MiB, want about the %d MiB limit", mib(after.Stats.Peak), limit/miB)
	}
	if err := reader.Stop(); err != nil {
		t.Errorf("reader exit: %v (%s)", err, reader.Output())
	}
}

func hostHasSwap() bool {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return false
	}
	return strings.Count(string(b), "\n") > 1
}

func TestKernelAncestorLimit(t *testing.T) {
	const parentLimit, ownLimit = 192 * miB, 256 * miB
	c := cgtest.Create(t, cgtest.WithParentLimit(parentLimit), cgtest.WithLimit(ownLimit))
	h := c.StartWorkload(t, cgtest.Workload{AnonMiB: 8})
	mustReady(t, h)
	rd := probe(t, h)
	s := rd.Stats
	t.Logf("v%d: parent %d MiB, own %d MiB: Limit %.0f MiB, LimitRaw %d, LimitDir %q, hierarchical %d",
		c.Version(), parentLimit/miB, ownLimit/miB, mib(s.Limit), s.LimitRaw, s.LimitDir, s.Stat.HierarchicalLimit)
	checkLocation(t, c, rd)
	if s.Limit != parentLimit {
		t.Errorf("effective Limit %.1f MiB, want the parent's %d MiB", mib(s.Limit), parentLimit/miB)
	}
	// v1 may leave LimitDir empty when the limit came from
	// hierarchical_memory_limit.
	if s.LimitDir != c.ParentDir() && (c.Version() == 2 || s.LimitDir != "") {
		t.Errorf("LimitDir %q, want the parent %q", s.LimitDir, c.ParentDir())
	}
	if c.Version() == 1 && s.Stat.Present&cgroupstat.StatHierarchicalLimit != 0 && s.Stat.HierarchicalLimit != parentLimit {
		t.Errorf("HierarchicalLimit %d, want %d", s.Stat.HierarchicalLimit, parentLimit)
	}
	// Raising the own limit changes nothing; lowering it below the parent's
	// moves the effective limit to the own cgroup.
	if err := c.SetLimit(96 * miB); err != nil {
		t.Fatal(err)
	}
	rd = probe(t, h)
	if rd.Stats.Limit != 96*miB {
		t.Errorf("after lowering the own limit: Limit %.1f MiB, want 96", mib(rd.Stats.Limit))
	}
	if c.Version() == 2 && rd.Stats.LimitDir != c.Dir() {
		t.Errorf("LimitDir %q, want %q", rd.Stats.LimitDir, c.Dir())
	}
	if err := h.Stop(); err != nil {
		t.Errorf("helper exit: %v (%s)", err, h.Output())
	}
}

// oracle is the containerd/cgroups reading of the same cgroup, flattened to
// cgroupstat's names.
type oracle map[string]uint64

// containerdView reads the cgroup with containerd/cgroups/v3.
func containerdView(t *testing.T, c *cgtest.Cgroup) oracle {
	t.Helper()
	mount, ok := strings.CutSuffix(c.Dir(), c.Path())
	if !ok {
		t.Skipf("oracle needs the hierarchy root mounted: %s does not end in %s", c.Dir(), c.Path())
	}
	if c.Version() == 1 {
		// NewMemory appends "memory" to the directory it is given.
		if filepath.Base(mount) != "memory" {
			t.Skipf("oracle needs the v1 memory hierarchy mounted at .../memory, not %s", mount)
		}
		cg, err := cgroup1.Load(cgroup1.StaticPath(c.Path()), cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) {
			return []cgroup1.Subsystem{cgroup1.NewMemory(filepath.Dir(mount))}, nil
		}))
		if err != nil {
			t.Fatalf("containerd cgroup1.Load: %v", err)
		}
		m, err := cg.Stat()
		if err != nil {
			t.Fatalf("containerd cgroup1 Stat: %v", err)
		}
		mem, oc := m.Memory, m.MemoryOomControl
		return oracle{
			"Usage":          mem.Usage.Usage,
			"LimitRaw":       mem.Usage.Limit,
			"Limit":          min(mem.Usage.Limit, mem.HierarchicalMemoryLimit),
			"Peak":           mem.Usage.Max,
			"Failcnt":        mem.Usage.Failcnt,
			"Anon":           mem.TotalRSS,
			"File":           mem.TotalCache,
			"AnonTHP":        mem.TotalRSSHuge,
			"ActiveAnon":     mem.TotalActiveAnon,
			"InactiveAnon":   mem.TotalInactiveAnon,
			"ActiveFile":     mem.TotalActiveFile,
			"InactiveFile":   mem.TotalInactiveFile,
			"Unevictable":    mem.TotalUnevictable,
			"FileMapped":     mem.TotalMappedFile,
			"FileDirty":      mem.TotalDirty,
			"FileWriteback":  mem.TotalWriteback,
			"WorkingSet":     workingSet(mem.Usage.Usage, mem.TotalInactiveFile),
			"OOMKill":        oc.OomKill,
			"UnderOOM":       oc.UnderOom,
			"OOMKillDisable": oc.OomKillDisable,
			"HierLimit":      mem.HierarchicalMemoryLimit,
			"Kernel":         mem.Kernel.Usage,
		}
	}
	m, err := cgroup2.Load(c.Path(), cgroup2.WithMountpoint(mount))
	if err != nil {
		t.Fatalf("containerd cgroup2.Load: %v", err)
	}
	st, err := m.StatFiltered(cgroup2.StatMemory | cgroup2.StatMemoryEvents)
	if err != nil {
		t.Fatalf("containerd cgroup2 Stat: %v", err)
	}
	mem := st.Memory
	o := oracle{
		"Usage":             mem.Usage,
		"LimitRaw":          mem.UsageLimit,
		"Anon":              mem.Anon,
		"File":              mem.File,
		"AnonTHP":           mem.AnonThp,
		"ActiveAnon":        mem.ActiveAnon,
		"InactiveAnon":      mem.InactiveAnon,
		"ActiveFile":        mem.ActiveFile,
		"InactiveFile":      mem.InactiveFile,
		"Unevictable":       mem.Unevictable,
		"Shmem":             mem.Shmem,
		"FileMapped":        mem.FileMapped,
		"FileDirty":         mem.FileDirty,
		"FileWriteback":     mem.FileWriteback,
		"KernelStack":       mem.KernelStack,
		"Sock":              mem.Sock,
		"SlabReclaimable":   mem.SlabReclaimable,
		"SlabUnreclaimable": mem.SlabUnreclaimable,
		"WorkingSet":        workingSet(mem.Usage, mem.InactiveFile),
	}
	if mem.MaxUsage != 0 { // memory.peak exists (5.19+)
		o["Peak"] = mem.MaxUsage
	}
	if ev := st.MemoryEvents; ev != nil {
		o["Low"], o["High"], o["Max"] = ev.Low, ev.High, ev.Max
		o["OOM"], o["OOMKill"], o["OOMGroupKill"] = ev.Oom, ev.OomKill, ev.OomGroupKill
	}
	return o
}

// pageCacheDir is a disk-backed directory for page cache: the VM's scratch
// disk when there is one (its /tmp is tmpfs, whose files count as shmem),
// else the test's temporary directory.
func pageCacheDir(t *testing.T) string {
	if scratch := os.Getenv("MEMWATCH_VM_SCRATCH"); scratch != "" {
		dir, err := os.MkdirTemp(scratch, "cgroupstat-kernel-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// flatten puts cgroupstat's reading under the oracle's names.
func flatten(s cgroupstat.Stats) oracle {
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	st, ev := s.Stat, s.Events
	o := oracle{
		"Usage": s.Usage, "LimitRaw": s.LimitRaw, "Limit": s.Limit, "WorkingSet": s.WorkingSet,
		"Anon": st.Anon, "File": st.File, "AnonTHP": st.AnonTHP,
		"ActiveAnon": st.ActiveAnon, "InactiveAnon": st.InactiveAnon,
		"ActiveFile": st.ActiveFile, "InactiveFile": st.InactiveFile,
		"Unevictable": st.Unevictable, "Shmem": st.Shmem, "FileMapped": st.FileMapped,
		"FileDirty": st.FileDirty, "FileWriteback": st.FileWriteback,
		"KernelStack": st.KernelStack, "Sock": st.Sock,
		"SlabReclaimable": st.SlabReclaimable, "SlabUnreclaimable": st.SlabUnreclaimable,
		"OOMKill": ev.OOMKill, "Failcnt": ev.Failcnt,
		"UnderOOM": b2u(ev.UnderOOM), "OOMKillDisable": b2u(ev.OOMKillDisable),
		"Low": ev.Low, "High": ev.High, "Max": ev.Max, "OOM": ev.OOM, "OOMGroupKill": ev.OOMGroupKill,
		"HierLimit": st.HierarchicalLimit,
	}
	if s.HasPeak {
		o["Peak"] = s.Peak
	}
	if st.Present&cgroupstat.StatKernel != 0 && st.Present&cgroupstat.StatKernelFromParts == 0 {
		o["Kernel"] = st.Kernel
	}
	return o
}

// exact keys must agree to the byte; the others are memory counters that
// may move by a few pages between two back-to-back reads of an idle cgroup.
var exactKeys = map[string]bool{
	"LimitRaw": true, "Limit": true, "HierLimit": true, "Failcnt": true,
	"OOMKill": true, "UnderOOM": true, "OOMKillDisable": true,
	"Low": true, "High": true, "Max": true, "OOM": true, "OOMGroupKill": true,
}

const tolerance = 512 << 10 // bytes, for the moving counters

// compare returns the disagreements on the keys both sides define.
func compare(got, want oracle) (diffs []string, compared int) {
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			continue
		}
		compared++
		if exactKeys[k] {
			if g != w {
				diffs = append(diffs, fmt.Sprintf("%s: cgroupstat %d, containerd %d", k, g, w))
			}
		} else if absDiff(g, w) > tolerance {
			diffs = append(diffs, fmt.Sprintf("%s: cgroupstat %d, containerd %d (differ by %d)", k, g, w, absDiff(g, w)))
		}
	}
	return diffs, compared
}

func TestKernelAgreesWithContainerd(t *testing.T) {
	const limit = 256 * miB
	c := cgtest.Create(t, cgtest.WithLimit(limit))
	h := c.StartWorkload(t, cgtest.Workload{AnonMiB: 48, HeapMiB: 16, PageCacheMiB: 16, Dir: pageCacheDir(t)})
	mustReady(t, h)
	// v2 flushes memory.stat lazily (up to ~2 s); an idle cgroup settles.
	// Retry a few times rather than sleep a fixed amount.
	var diffs []string
	var compared int
	for attempt := range 5 {
		rd := probe(t, h)
		want := containerdView(t, c)
		if attempt == 0 {
			checkLocation(t, c, rd)
			t.Logf("v%d: cgroupstat Usage %.1f Anon %.1f File %.1f InactiveFile %.1f MiB; containerd Usage %.1f Anon %.1f File %.1f InactiveFile %.1f MiB",
				c.Version(), mib(rd.Stats.Usage), mib(rd.Stats.Stat.Anon), mib(rd.Stats.Stat.File), mib(rd.Stats.Stat.InactiveFile),
				mib(want["Usage"]), mib(want["Anon"]), mib(want["File"]), mib(want["InactiveFile"]))
		}
		if want["LimitRaw"] != limit {
			t.Fatalf("containerd reads limit %d, want %d: oracle looks at the wrong cgroup", want["LimitRaw"], limit)
		}
		diffs, compared = compare(flatten(rd.Stats), want)
		if len(diffs) == 0 {
			break
		}
		t.Logf("attempt %d: %d differences: %s", attempt, len(diffs), strings.Join(diffs, "; "))
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("compared %d values with containerd/cgroups/v3", compared)
	if compared < 15 {
		t.Errorf("only %d values compared", compared)
	}
	for _, d := range diffs {
		t.Error(d)
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
