package memwatch

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// ownMemoryCgroup returns this process's memory cgroup path from
// /proc/self/cgroup (the v1 line listing memory, else the v2 line), or "".
func ownMemoryCgroup(t *testing.T) (path string, v1 bool) {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	defer f.Close()
	var v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if strings.Contains(","+parts[1]+",", ",memory,") {
			return parts[2], true
		}
		if parts[0] == "0" {
			v2 = parts[2]
		}
	}
	return v2, false
}

func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux /proc and cgroups")
	}
}

func TestSampleLive(t *testing.T) {
	requireLinux(t)
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil {
		t.Fatal(err)
	}
	if !snap.Full || snap.Time.IsZero() || snap.DetailTime != snap.Time {
		t.Errorf("full %v time %v detail %v", snap.Full, snap.Time, snap.DetailTime)
	}
	if snap.Level != LevelUnknown {
		t.Errorf("level %v without a Watcher", snap.Level)
	}

	t.Run("go", func(t *testing.T) {
		g := &snap.Go
		if g.Total == 0 || g.HeapObjects == 0 || g.Sys != g.Total || g.Alloc != g.HeapObjects || g.Goroutines == 0 {
			t.Errorf("go view: %+v", g)
		}
	})
	t.Run("process", func(t *testing.T) {
		p := &snap.Process
		if !p.Available || p.Err != nil {
			t.Fatalf("process view unavailable: %v", p.Err)
		}
		// Independent oracle: prometheus/procfs.
		fs, err := procfs.NewFS("/proc")
		if err != nil {
			t.Fatal(err)
		}
		self, err := fs.Self()
		if err != nil {
			t.Fatal(err)
		}
		st, err := self.NewStatus()
		if err != nil {
			t.Fatal(err)
		}
		if d := int64(p.RSS()) - int64(st.VmRSS); d > 8<<20 || d < -8<<20 {
			t.Errorf("RSS %d, procfs VmRSS %d", p.RSS(), st.VmRSS)
		}
		if p.Status.Present&procstat.HasVmHWM == 0 || p.Status.VmHWM < p.Status.VmRSS {
			t.Errorf("status: %+v", p.Status)
		}
		if p.Anon() == 0 || p.Anon() > p.RSS() {
			t.Errorf("anon %d rss %d", p.Anon(), p.RSS())
		}
	})
	t.Run("host", func(t *testing.T) {
		h := &snap.Host
		if !h.Available {
			t.Fatalf("host view unavailable: %v", h.Err)
		}
		fs, _ := procfs.NewFS("/proc")
		mi, err := fs.Meminfo()
		if err != nil {
			t.Fatal(err)
		}
		if h.MemTotal != *mi.MemTotal*1024 {
			t.Errorf("MemTotal %d, procfs %d KiB", h.MemTotal, *mi.MemTotal)
		}
		if h.MemAvailable == 0 || h.MemAvailable > h.MemTotal {
			t.Errorf("MemAvailable %d", h.MemAvailable)
		}
	})
	t.Run("cgroup", func(t *testing.T) {
		c := &snap.Cgroup
		want, v1 := ownMemoryCgroup(t)
		if !c.Available {
			if c.Unsupported() || want == "" {
				t.Skipf("no memory cgroup on this machine: %v", c.Err)
			}
			t.Fatalf("cgroup view unavailable: %v", c.Err)
		}
		st := &c.Stats
		if strings.TrimSuffix(want, " (deleted)") != st.Path || c.Location.Path != st.Path {
			t.Errorf("path %q (location %q), /proc/self/cgroup says %q", st.Path, c.Location.Path, want)
		}
		if wantV := map[bool]cgroupstat.Version{true: cgroupstat.V1, false: cgroupstat.V2}[v1]; st.Version != wantV {
			t.Errorf("version %v, want %v", st.Version, wantV)
		}
		if st.Usage == 0 || !st.Full || st.Stat.Present&cgroupstat.StatAnon == 0 {
			t.Errorf("stats: %+v", st)
		}
		// Our own anon is charged to our cgroup.
		if st.Stat.Anon+16<<20 < snap.Process.Anon() {
			t.Errorf("cgroup anon %d < process anon %d", st.Stat.Anon, snap.Process.Anon())
		}
		if snap.Attribution.Base != BaseCgroup || snap.Attribution.Total != st.Usage {
			t.Errorf("attribution base %v total %d", snap.Attribution.Base, snap.Attribution.Total)
		}
	})
	if err := snap.Err(); err != nil {
		t.Errorf("Snapshot.Err: %v", err)
	}
}

func TestSampleCheapCarriesDetail(t *testing.T) {
	requireLinux(t)
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var a, b Snapshot
	if err := s.Sample(&a, false); err != nil { // the first sample is always full
		t.Fatal(err)
	}
	if !a.Full {
		t.Error("first sample not full")
	}
	if err := s.Sample(&b, false); err != nil {
		t.Fatal(err)
	}
	if b.Full || !b.DetailTime.Equal(a.Time) || !b.Time.After(a.Time) && !b.Time.Equal(a.Time) {
		t.Errorf("cheap: full %v detail %v (first %v) time %v", b.Full, b.DetailTime, a.Time, b.Time)
	}
	if b.Process.Status != a.Process.Status || b.Host.Meminfo != a.Host.Meminfo {
		t.Error("cheap sample lost the full read's process status or meminfo")
	}
	if a.Cgroup.Available {
		if b.Cgroup.Stats.Stat != a.Cgroup.Stats.Stat || b.Cgroup.Stats.Events != a.Cgroup.Stats.Events || !b.Cgroup.Stats.Full {
			t.Error("cheap sample lost the full read's memory.stat or events")
		}
	}
	// Reusing a snapshot: a full sample refreshes DetailTime.
	if err := s.Sample(&b, true); err != nil {
		t.Fatal(err)
	}
	if !b.Full || !b.DetailTime.Equal(b.Time) {
		t.Errorf("full after cheap: full %v detail %v time %v", b.Full, b.DetailTime, b.Time)
	}
}

func TestSampleAllocs(t *testing.T) {
	requireLinux(t)
	if snapshotRace {
		t.Skip("the race runtime allocates; allocation counts are checked without -race")
	}
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil { // opens the lazily opened files
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _ = s.Sample(&snap, false) }); n != 0 {
		t.Errorf("cheap Sample allocates %v times", n)
	}
	if n := testing.AllocsPerRun(200, func() { _ = s.Sample(&snap, true) }); n != 0 {
		t.Errorf("full Sample allocates %v times", n)
	}
	if !snap.Process.Available {
		t.Errorf("process view unavailable: %v", snap.Process.Err)
	}
	t.Logf("views: process %v, cgroup %v (%v), host %v", snap.Process.Available, snap.Cgroup.Available, snap.Cgroup.Err, snap.Host.Available)
}

// pauses returns the number of stop-the-world pauses of a
// /sched/pauses/total/* histogram.
func pauses(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		t.Skipf("%s not offered by %s", name, runtime.Version())
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestSampleNoStopTheWorld: 1000 samples (cheap and full) cause no
// stop-the-world pause outside the GC; the GC pause count may move only
// together with GC cycles. The control with WithExactMemStats must see one
// pause per sample, which shows the counter does observe ReadMemStats.
func TestSampleNoStopTheWorld(t *testing.T) {
	const n = 1000
	run := func(exact bool) (other, gcPauses, cycles uint64) {
		s, err := NewSampler(WithExactMemStats(exact))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var snap Snapshot
		o0, g0, c0 := pauses(t, "/sched/pauses/total/other:seconds"), pauses(t, "/sched/pauses/total/gc:seconds"), gcCycles()
		for i := range n {
			if err := s.Sample(&snap, i%10 == 0); err != nil {
				t.Fatal(err)
			}
		}
		return pauses(t, "/sched/pauses/total/other:seconds") - o0,
			pauses(t, "/sched/pauses/total/gc:seconds") - g0, gcCycles() - c0
	}
	other, gcp, cycles := run(false)
	if other != 0 {
		t.Errorf("%d samples caused %d non-GC stop-the-world pauses", n, other)
	}
	if gcp > 0 && cycles == 0 {
		t.Errorf("%d GC pauses without a GC cycle", gcp)
	}
	other, _, _ = run(true)
	if other < n {
		t.Errorf("control: %d exact samples caused only %d stop-the-world pauses", n, other)
	}
}

func TestSamplerLifecycle(t *testing.T) {
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(nil, false); err == nil {
		t.Error("Sample(nil) succeeded")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var snap Snapshot
	if err := s.Sample(&snap, true); !errors.Is(err, ErrClosed) {
		t.Errorf("Sample after Close: %v, want ErrClosed", err)
	}

	if _, err := NewSampler(WithRoot(filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Error("NewSampler with a missing root succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSampler(WithRoot(f)); err == nil {
		t.Error("NewSampler with a file as root succeeded")
	}
}

// TestSampleEmptyRoot: a root without /proc or /sys (as on a system without
// them) leaves only the Go view, with each missing view's reason recorded.
func TestSampleEmptyRoot(t *testing.T) {
	snap, err := Read(WithRoot(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Process.Available || snap.Cgroup.Available || snap.Host.Available {
		t.Errorf("views available under an empty root: %v %v %v", snap.Process.Available, snap.Cgroup.Available, snap.Host.Available)
	}
	for name, v := range map[string]*ViewStatus{"process": &snap.Process.ViewStatus, "cgroup": &snap.Cgroup.ViewStatus, "host": &snap.Host.ViewStatus} {
		if v.Err == nil {
			t.Errorf("%s: unavailable without a reason", name)
		}
	}
	if snap.Go.Total == 0 {
		t.Error("Go view empty")
	}
	a := &snap.Attribution
	if a.Base != BaseGo || a.Total != snap.Go.Retained() || a.Notes&(NoteNoCgroup|NoteNoProcess) != NoteNoCgroup|NoteNoProcess {
		t.Errorf("attribution: base %v total %d retained %d notes %v", a.Base, a.Total, snap.Go.Retained(), a.Notes.Names())
	}
	if snap.Err() == nil {
		t.Error("Snapshot.Err() = nil with missing files")
	}

	// Degraded sampling allocates nothing either.
	if !snapshotRace {
		s, err := NewSampler(WithRoot(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if n := testing.AllocsPerRun(100, func() { _ = s.Sample(snap, true) }); n != 0 {
			t.Errorf("Sample with unavailable views allocates %v times", n)
		}
	}
}

func TestReadOneShot(t *testing.T) {
	requireLinux(t)
	snap, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Full || !snap.Process.Available || snap.Go.Total == 0 {
		t.Errorf("Read: full %v process %v go %d", snap.Full, snap.Process.Available, snap.Go.Total)
	}
	if _, err := Read(WithRoot("/nonexistent-memwatch-root")); err == nil {
		t.Error("Read with a missing root succeeded")
	}
}

func TestSamplerCgroupFiles(t *testing.T) {
	s, err := NewSampler(WithRoot("testdata/v1-limit"))
	if err != nil {
		t.Fatal(err)
	}
	loc, files, fd, err := s.cgroupFiles()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(files.Usage, "/mwsnap/memory.usage_in_bytes") || fd < 0 || loc.Version != cgroupstat.V1 {
		t.Errorf("files %+v fd %d version %v", files, fd, loc.Version)
	}
	if u, l, ok := s.usageLimit(); !ok || u == 0 || l != 512*mib {
		t.Errorf("usageLimit = %d, %d, %v; want the fixture's usage and its 512 MiB limit", u, l, ok)
	}
	s.Close()
	if _, _, _, err := s.cgroupFiles(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, _, ok := s.usageLimit(); ok {
		t.Error("usageLimit after Close succeeded")
	}
	s, err = NewSampler(WithRoot("testdata/proc-only"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, fd, err := s.cgroupFiles(); err == nil || fd != -1 {
		t.Errorf("proc-only: fd %d err %v", fd, err)
	}
	if _, _, ok := s.usageLimit(); ok {
		t.Error("proc-only usageLimit succeeded")
	}
	if _, err := s.Location(); !errors.Is(err, cgroupstat.ErrNoCgroup) {
		t.Errorf("proc-only Location error %v, want ErrNoCgroup", err)
	}
}

// TestSampleFixture checks the Sampler end to end on the real v1 fixture
// against the raw file contents.
func TestSampleFixture(t *testing.T) {
	snap := fixtureSnapshot(t, "testdata/v1-limit")
	readNum := func(path string) uint64 {
		b, err := os.ReadFile(filepath.Join("testdata/v1-limit", path))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range strings.TrimSpace(string(b)) {
			n = n*10 + uint64(c-'0')
		}
		return n
	}
	dir := "sys/fs/cgroup/memory/mwsnap/"
	st := &snap.Cgroup.Stats
	if !snap.Cgroup.Available || st.Version != cgroupstat.V1 || st.Path != "/mwsnap" || !snap.Cgroup.Location.Hybrid {
		t.Fatalf("cgroup view: %+v %v", snap.Cgroup.Location, snap.Cgroup.Err)
	}
	if st.Usage != readNum(dir+"memory.usage_in_bytes") || st.Limit != readNum(dir+"memory.limit_in_bytes") ||
		st.Stat.Kernel != readNum(dir+"memory.kmem.usage_in_bytes") {
		t.Errorf("usage %d limit %d kernel %d differ from the files", st.Usage, st.Limit, st.Stat.Kernel)
	}
	if !snap.Process.Available || !snap.Host.Available {
		t.Fatalf("process %v host %v", snap.Process.Err, snap.Host.Err)
	}
	a := &snap.Attribution
	// What capture.sh put there: 20 MiB in another process, 8 MiB of
	// tmpfs, 48 MiB of dirty page cache, 40 MiB of mmap the runtime does
	// not see (a lower bound: the runtime counts ~3 MiB it never touched).
	for _, c := range []struct {
		id       PartID
		min, max uint64
	}{
		{PartOtherProcesses, 20 * mi, 22 * mi},
		{PartShmem, 8 * mi, 8 * mi},
		{PartPageCacheInactive, 47 * mi, 49 * mi},
		{PartNonGoAnon, 35 * mi, 40 * mi},
		{PartGoHeapLive, 64 * mi, 65 * mi},
	} {
		if b := a.Bytes(c.id); b < c.min || b > c.max {
			t.Errorf("%s = %.1f MiB, want %d..%d MiB", c.id, float64(b)/mi, c.min/mi, c.max/mi)
		}
	}
	if a.NeedsWritebackBytes < 47*mi || a.Notes != NoteKernelUnsplit {
		t.Errorf("writeback %d MiB, notes %v", a.NeedsWritebackBytes/mi, a.Notes.Names())
	}
	if !a.Headroom.HasLimit || a.Headroom.Limit != 512*mi || a.Headroom.HasHigh {
		t.Errorf("headroom %+v", a.Headroom)
	}
}
