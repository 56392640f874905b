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
)

// The benchmarks compare a memwatch Snapshot with the naive join a program
// would write with the usual libraries: procfs Statm + containerd/cgroups
// Stat (memory only) + runtime.ReadMemStats. Compare them as ratios within
// one run:
//
//	go test ./memwatch/ -run '^$' -bench 'Snapshot|NaiveJoin' -benchtime 2s -count 5

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

// BenchmarkNaiveJoinRatio alternates one naive join, one cheap Snapshot and
// one full Snapshot per iteration, so the three see the same machine load,
// and reports the ratios naive/cheap and naive/full. Its ns/op is the sum of
// the three.
func BenchmarkNaiveJoinRatio(b *testing.B) {
	join := naiveJoin(b)
	s := benchSampler(b)
	var snap Snapshot
	var naive, cheap, full time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		join()
		t1 := time.Now()
		_ = s.Sample(&snap, false)
		t2 := time.Now()
		_ = s.Sample(&snap, true)
		t3 := time.Now()
		naive += t1.Sub(t0)
		cheap += t2.Sub(t1)
		full += t3.Sub(t2)
	}
	b.ReportMetric(float64(naive)/float64(cheap), "naive/cheap")
	b.ReportMetric(float64(naive)/float64(full), "naive/full")
}

// BenchmarkAttribute is the pure attribution of a snapshot.
func BenchmarkAttribute(b *testing.B) {
	s := &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
	b.ReportAllocs()
	for b.Loop() {
		s.Attribution = Attribute(s)
	}
}
