//go:build linux

package memwatch

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNonGoMmap: 64 MiB of anonymous memory mapped with unix.Mmap and
// touched is invisible to the Go runtime but resident: non_go_anon must grow
// by at least 56 MiB (the runtime's untouched pages may absorb a few MiB,
// see Attribute) while the Go parts move far less; when the cgroup view is
// available its usage grows too.
func TestNonGoMmap(t *testing.T) {
	s, err := NewSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var before, after Snapshot
	runtime.GC()
	if err := s.Sample(&before, true); err != nil {
		t.Fatal(err)
	}
	if !before.Process.Available {
		t.Fatalf("process view unavailable: %v", before.Process.Err)
	}

	const size = 64 << 20
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	if err := s.Sample(&after, true); err != nil {
		t.Fatal(err)
	}

	nonGo := int64(after.Attribution.NonGoBytes) - int64(before.Attribution.NonGoBytes)
	goParts := int64(after.Attribution.GoBytes) - int64(before.Attribution.GoBytes)
	goRetained := int64(after.Go.Retained()) - int64(before.Go.Retained())
	t.Logf("Δ non_go_anon %d MiB, Δ go parts %d MiB, Δ go retained %d MiB, base %v, go not resident before %d MiB",
		nonGo>>20, goParts>>20, goRetained>>20, after.Attribution.Base, before.Attribution.GoNotResidentBytes>>20)
	if nonGo < 56<<20 {
		t.Errorf("non_go_anon grew by %d MiB, want ≥ 56 MiB", nonGo>>20)
	}
	if goParts > 8<<20 || goParts < -8<<20 || goRetained > 8<<20 || goRetained < -8<<20 {
		t.Errorf("Go parts moved by %d MiB (retained %d MiB) for non-Go memory", goParts>>20, goRetained>>20)
	}
	if d := int64(after.Process.Anon()) - int64(before.Process.Anon()); d < 60<<20 {
		t.Errorf("process anon grew by %d MiB, want ≥ 60 MiB", d>>20)
	}
	if before.Cgroup.Available && after.Cgroup.Available {
		// memory.usage_in_bytes / memory.current are fresh; the charge is
		// batched per CPU, so allow a little slack. Other processes of a
		// shared cgroup move its usage too: then the growth is only logged.
		d := int64(after.Cgroup.Stats.Usage) - int64(before.Cgroup.Stats.Usage)
		switch n := cgroupProcs(after.Cgroup.Location.Dir); {
		case n == 1 && d < 56<<20:
			t.Errorf("cgroup usage grew by %d MiB, want ≥ 56 MiB", d>>20)
		case n != 1:
			t.Logf("cgroup usage grew by %d MiB; %d processes share the cgroup, not checked", d>>20, n)
		}
		if after.Attribution.Base != BaseCgroup {
			t.Errorf("base %v with a cgroup view", after.Attribution.Base)
		}
	} else {
		t.Logf("no cgroup view: %v", after.Cgroup.Err)
	}
	runtime.KeepAlive(mem)
}

// cgroupProcs counts the processes in a cgroup directory (-1: unknown).
func cgroupProcs(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}
