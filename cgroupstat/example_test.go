//go:build linux

package cgroupstat_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

func ExampleOpen() {
	// In production, cgroupstat.Open() with no option reads the process's own
	// cgroup. Here a tree captured inside a Docker container (cgroup v1, no
	// cgroup namespace) stands in for "/".
	r, err := cgroupstat.Open(cgroupstat.WithRoot("testdata/docker-v1-container"))
	switch {
	case errors.Is(err, cgroupstat.ErrNoLimit):
		fmt.Println("no memory limit applies:", err) // the root cgroup, or no memory controller
		return
	case errors.Is(err, cgroupstat.ErrNoCgroup), errors.Is(err, cgroupstat.ErrUnsupported):
		fmt.Println("no memory cgroup: nothing to watch")
		return
	case err != nil:
		log.Fatal(err) // *DiscoveryError or *ParseError, naming the file
	}
	defer r.Close()

	loc := r.Location()
	fmt.Println(loc.Version, "cgroup", loc.Path[:20]+"...")
	fmt.Println("ancestors hidden:", loc.AncestorsHidden, "read-only:", loc.ReadOnly)
	fmt.Println("PSI from:", r.Files().PressureSource)
	// Output:
	// v1 cgroup /docker/3f1c2a9be07d...
	// ancestors hidden: true read-only: true
	// PSI from: host
}

func ExampleReader_ReadFull() {
	// A cgroup v1 child whose 512 MiB limit is undercut by its parent's
	// 256 MiB, on a hybrid host (captured; use cgroupstat.Open() in production).
	r, err := cgroupstat.Open(cgroupstat.WithRoot("testdata/hybrid"))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	var s cgroupstat.Stats // reuse it: reads fill it in place without allocating
	if err := r.ReadFull(&s); err != nil {
		log.Fatal(err) // the usage or a limit: the cgroup cannot be judged
	}
	if err := s.Degraded(); err != nil {
		log.Print(err) // optional parts unknown, each with its reason
	}
	const mib = 1 << 20
	if s.HasLimit() && s.Limit > 0 && s.HasWorkingSet() {
		fmt.Printf("limit %d MiB, working set %.1f MiB (%.0f%% of the limit)\n",
			s.Limit/mib, float64(s.WorkingSet)/mib, 100*float64(s.WorkingSet)/float64(s.Limit))
	}
	fmt.Printf("page cache %.1f MiB, of which inactive %.1f MiB\n", float64(s.Stat.File)/mib, float64(s.Stat.InactiveFile)/mib)
	fmt.Printf("OOM kills so far: %d\n", s.Events.OOMKill)
	fmt.Printf("memory pressure (%s): some %.2f%% over 10 s\n", s.PSI.Source, s.PSI.Some.Avg10)
	// Output:
	// limit 256 MiB, working set 43.7 MiB (17% of the limit)
	// page cache 0.3 MiB, of which inactive 0.3 MiB
	// OOM kills so far: 1
	// memory pressure (cgroup): some 0.95% over 10 s
}
