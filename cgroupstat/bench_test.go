//go:build linux

package cgroupstat_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Benchmarks against the real cgroup of the test process. Compare
// cgroupstat with containerd/cgroups/v3 (an independent implementation, used
// in tests only) as ratios from the same run:
//
//	go test -run '^$' -bench . -benchmem ./cgroupstat/

func fxHostReader(b *testing.B) *cgroupstat.Reader {
	b.Helper()
	r, err := cgroupstat.Open()
	if err != nil {
		b.Skipf("no readable memory cgroup for this process: %v", err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func BenchmarkCgroupReadCheap(b *testing.B) {
	r := fxHostReader(b)
	var s cgroupstat.Stats
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadCheap(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCgroupReadFull(b *testing.B) {
	r := fxHostReader(b)
	var s cgroupstat.Stats
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadFull(&s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen is the one-time cost: discovery (two /proc files parsed,
// a few stats) plus opening every file and the priming full read.
func BenchmarkOpen(b *testing.B) {
	fxHostReader(b).Close()
	b.ReportAllocs()
	for b.Loop() {
		r, err := cgroupstat.Open()
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkDiscover is discovery alone.
func BenchmarkDiscover(b *testing.B) {
	fxHostReader(b).Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cgroupstat.Discover(); err != nil {
			b.Fatal(err)
		}
	}
}

// fxContainerdMemory returns containerd's cgroup1 memory-only view of this
// process (Load with its own /proc/<pid>/cgroup path), or skips.
func fxContainerdMemory(b *testing.B) (cgroup1.Path, cgroup1.InitOpts) {
	b.Helper()
	loc, err := cgroupstat.Discover()
	if err != nil {
		b.Skipf("no memory cgroup: %v", err)
	}
	if loc.Version != cgroupstat.V1 {
		b.Skipf("containerd cgroup1 comparison needs the memory controller on v1, this is %s", loc.Version)
	}
	if loc.MountRoot != "/" {
		b.Skip("containerd's PidPath cannot translate a mount whose root is " + loc.MountRoot)
	}
	root := filepath.Dir(loc.MountPoint) // containerd wants the directory holding the per-controller mounts
	hier := cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{cgroup1.NewMemory(root)}, nil
	})
	return cgroup1.PidPath(os.Getpid()), hier
}

// BenchmarkContainerdCgroup1Load is containerd's discovery for the same
// cgroup (PidPath parses /proc/<pid>/cgroup; the memory-only hierarchy skips
// its mountinfo scan), to compare with BenchmarkOpen and BenchmarkDiscover.
func BenchmarkContainerdCgroup1Load(b *testing.B) {
	_, hier := fxContainerdMemory(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cgroup1.Load(cgroup1.PidPath(os.Getpid()), hier); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContainerdCgroup1Stat(b *testing.B) {
	path, hier := fxContainerdMemory(b)
	cg, err := cgroup1.Load(path, hier)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m, err := cg.Stat()
		if err != nil {
			b.Fatal(err)
		}
		if m.Memory == nil || m.Memory.Usage.Usage == 0 {
			b.Fatalf("containerd read no memory usage: %+v", m.Memory)
		}
	}
}
