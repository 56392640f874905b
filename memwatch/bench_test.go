//go:build linux

package memwatch

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// The benchmarks compare a memwatch Snapshot with the naive join a program
// would write with the usual libraries: procfs Statm + containerd/cgroups
// Stat (memory only) + runtime.ReadMemStats. Compare them as ratios within
// one run, and a sample with its floor, preading the same kernel files and
// doing nothing else:
//
//	go test ./memwatch/ -run '^$' -bench 'FloorRatio' -count 5

func benchSampler(b *testing.B) *Sampler {
	b.Helper()
	s, err := NewSampler()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil {
		b.Fatal(err)
	}
	if !snap.Process.Available || !snap.Cgroup.Available {
		b.Logf("views: process %v (%v), cgroup %v (%v)", snap.Process.Available, snap.Process.Err, snap.Cgroup.Available, snap.Cgroup.Err)
	}
	return s
}

// BenchmarkSnapshot is the cheap sample: statm, cgroup usage and limits,
// runtime/metrics, attribution.
func BenchmarkSnapshot(b *testing.B) {
	s := benchSampler(b)
	var snap Snapshot
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Sample(&snap, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotFull also reads status, memory.stat, events, PSI and
// meminfo.
func BenchmarkSnapshotFull(b *testing.B) {
	s := benchSampler(b)
	var snap Snapshot
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Sample(&snap, true); err != nil {
			b.Fatal(err)
		}
	}
}

// naiveJoin returns one step of the naive join: procfs Proc.Statm +
// containerd/cgroups/v3 Stat of the memory controller (cgroup1 or cgroup2
// as on the host; loaded once, as a long-running program would) +
// runtime.ReadMemStats (which stops the world).
func naiveJoin(b *testing.B) func() {
	b.Helper()
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		b.Fatal(err)
	}
	self, err := fs.Self()
	if err != nil {
		b.Fatal(err)
	}
	var stat func() error
	if cgroups.Mode() == cgroups.Unified {
		group, err := cgroup2.PidGroupPath(os.Getpid())
		if err != nil {
			b.Skip("no cgroup2 group: ", err)
		}
		m, err := cgroup2.Load(group)
		if err != nil {
			b.Skip("cgroup2.Load: ", err)
		}
		stat = func() error {
			st, err := m.StatFiltered(cgroup2.StatMemory | cgroup2.StatMemoryEvents)
			if err == nil && st.Memory == nil {
				b.Fatal("no memory stats")
			}
			return err
		}
	} else {
		cg, err := cgroup1.Load(cgroup1.PidPath(os.Getpid()),
			cgroup1.WithHierarchy(cgroup1.SingleSubsystem(cgroup1.Default, cgroup1.Memory)))
		if err != nil {
			b.Skip("cgroup1.Load: ", err)
		}
		stat = func() error {
			st, err := cg.Stat(cgroup1.IgnoreNotExist)
			if err == nil && (st.Memory == nil || st.Memory.Usage == nil) {
				b.Fatal("no memory stats")
			}
			return err
		}
	}
	var ms runtime.MemStats
	return func() {
		sm, err := self.Statm()
		if err != nil {
			b.Fatal(err)
		}
		_ = sm.ResidentBytes()
		if err := stat(); err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
	}
}

// BenchmarkNaiveJoin is the naive join alone.
func BenchmarkNaiveJoin(b *testing.B) {
	join := naiveJoin(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		join()
	}
}

// sampleFloor returns a function that preads once, at offset 0, each
// kernel file a cheap (full false) or full sample of s re-reads, into one
// buffer large enough for any of them, and nothing else: no parsing, no
// runtime/metrics. It is the floor a sample cannot go below; the file list
// comes from the readers themselves (readset_test.go).
func sampleFloor(b *testing.B, s *Sampler, full bool) func() {
	b.Helper()
	var files []*kfile.File
	if s.proc != nil {
		files = readsetProc(s.proc, files, full)
	}
	if s.cg != nil {
		files = readsetCgroup(s.cg, files, full)
	}
	if len(files) == 0 {
		b.Skip("no kernel file to read")
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	buf := make([]byte, 64<<10)
	return func() {
		for i, fd := range fds {
			if _, err := unix.Pread(fd, buf, 0); err != nil {
				b.Fatalf("pread %s: %v", files[i].Path(), err)
			}
		}
	}
}

// TestFloorFiles checks the premise of the floor benchmarks on this
// machine's kernel: a cheap sample reads exactly the files appendFiles lists for
// it, once each, and a full sample those of the full list; and one pread,
// as sampleFloor and kfile do, returns each file whole (a second pread at
// its end finds nothing more).
func TestFloorFiles(t *testing.T) {
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil { // opens the lazy files
		t.Fatal(err)
	}
	lists := func(full bool) []*kfile.File {
		var files []*kfile.File
		if s.proc != nil {
			files = readsetProc(s.proc, files, full)
		}
		if s.cg != nil {
			files = readsetCgroup(s.cg, files, full)
		}
		return files
	}
	all := lists(true)
	if len(all) == 0 {
		t.Skip("no process or cgroup view here")
	}
	for _, full := range []bool{false, true} {
		listed := map[*kfile.File]bool{}
		for _, f := range lists(full) {
			listed[f] = true
		}
		before := make([]uint64, len(all))
		for i, f := range all {
			before[i] = f.Reads()
		}
		if err := s.Sample(&snap, full); err != nil {
			t.Fatal(err)
		}
		for i, f := range all {
			want := uint64(0)
			if listed[f] {
				want = 1
			}
			if got := f.Reads() - before[i]; got != want {
				t.Errorf("full=%v: the sample read %s %d times, the floor %d", full, f.Path(), got, want)
			}
		}
	}
	buf := make([]byte, 64<<10)
	for _, f := range all {
		b, err := f.Read()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := unix.Pread(int(f.Fd()), buf, int64(len(b))); n != 0 || err != nil {
			t.Errorf("%s: one pread returned %d bytes, a second %d more (%v)", f.Path(), len(b), n, err)
		}
	}
}

// BenchmarkFloor is sampleFloor alone, for the cheap and the full file set.
func BenchmarkFloor(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "cheap"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			floor := sampleFloor(b, benchSampler(b), full)
			b.ReportAllocs()
			for b.Loop() {
				floor()
			}
		})
	}
}

// BenchmarkFloorRatio runs, in each iteration, the floor of a cheap sample
// and a cheap sample, the floor of a full sample and a full sample, and one
// naive join, so that all five see the same machine load, and reports
// cheap/floor, full/floor, naive/cheap and naive/full, and each one's mean
// time (cheap-ns, ...). Each sample and its floor swap order every
// iteration, so that neither always runs on the kernel caches the other
// warmed. Its ns/op is the sum of the five; allocations are
// BenchmarkSnapshot's and BenchmarkSnapshotFull's.
func BenchmarkFloorRatio(b *testing.B) {
	join := naiveJoin(b)
	s := benchSampler(b)
	floorCheap, floorFull := sampleFloor(b, s, false), sampleFloor(b, s, true)
	var snap Snapshot
	sample := func(full bool) func() {
		return func() {
			if err := s.Sample(&snap, full); err != nil {
				b.Fatal(err)
			}
		}
	}
	cheap, full := sample(false), sample(true)
	const (
		iFloorCheap = iota
		iCheap
		iFloorFull
		iFull
		iNaive
		nKinds
	)
	fns := [nKinds]func(){floorCheap, cheap, floorFull, full, join}
	var sum [nKinds]time.Duration
	timed := func(i int) {
		t0 := time.Now()
		fns[i]()
		sum[i] += time.Since(t0)
	}
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			timed(iFloorCheap)
			timed(iCheap)
			timed(iFloorFull)
			timed(iFull)
		} else {
			timed(iCheap)
			timed(iFloorCheap)
			timed(iFull)
			timed(iFloorFull)
		}
		timed(iNaive)
		n++
	}
	ratio := func(a, b int) float64 { return float64(sum[a]) / float64(sum[b]) }
	b.ReportMetric(ratio(iCheap, iFloorCheap), "cheap/floor")
	b.ReportMetric(ratio(iFull, iFloorFull), "full/floor")
	b.ReportMetric(ratio(iNaive, iCheap), "naive/cheap")
	b.ReportMetric(ratio(iNaive, iFull), "naive/full")
	for i, unit := range [nKinds]string{"floor-cheap-ns", "cheap-ns", "floor-full-ns", "full-ns", "naive-ns"} {
		b.ReportMetric(float64(sum[i])/float64(n), unit)
	}
}

// BenchmarkAttribute is the pure attribution of a snapshot.
func BenchmarkAttribute(b *testing.B) {
	s := &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
	b.ReportAllocs()
	for b.Loop() {
		s.Attribution = Attribute(s)
	}
}
