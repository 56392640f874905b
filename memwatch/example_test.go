package memwatch_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-memwatch/memwatch/memwatch"
)

// Read takes one full snapshot of this process: the Go runtime, /proc/self
// and the memory cgroup, and prints the text rendering (values vary from run
// to run, so there is no Output).
func ExampleRead() {
	snap, err := memwatch.Read()
	if err != nil {
		fmt.Println(err)
		return
	}
	snap.WriteText(os.Stdout)
	// A view that could not be read says why, for example on a laptop
	// without a memory cgroup or on macOS.
	if !snap.Cgroup.Available {
		fmt.Println("no cgroup view:", snap.Cgroup.Err)
	}
}

// A Sampler keeps the files open: cheap samples at a high rate, a full one
// now and then, the same Snapshot reused (no allocation).
func ExampleNewSampler() {
	s, err := memwatch.NewSampler()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	var snap memwatch.Snapshot
	for i := 0; i < 10; i++ {
		if err := s.Sample(&snap, i%5 == 0); err != nil {
			fmt.Println(err)
			return
		}
		h := snap.Attribution.Headroom
		if h.HasLimit && h.WorkingSetPercent > 90 {
			fmt.Println("close to the limit:", snap.Verdict())
		}
	}
	b, _ := json.Marshal(&snap)
	fmt.Println(len(b) > 0)
}

// WithRoot reads /proc and /sys under a fixture tree copied from a real
// cgroup v1 kernel (a process with a 512 MiB limit, dirty page cache, tmpfs
// and a second process in its cgroup). The cgroup side of the attribution is
// deterministic; the Go side is this process's live runtime, so it is not
// printed.
func ExampleRead_fixture() {
	snap, err := memwatch.Read(memwatch.WithRoot("testdata/v1-limit"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := snap.Cgroup.Stats
	a := snap.Attribution
	fmt.Printf("cgroup %s %s: usage %s of %s (%.0f%%), working set %s\n", st.Version, st.Path,
		memwatch.FormatBytes(st.Usage), memwatch.FormatBytes(st.Limit),
		a.Headroom.UsagePercent, memwatch.FormatBytes(st.WorkingSet))
	for _, id := range []memwatch.PartID{memwatch.PartOtherProcesses, memwatch.PartShmem,
		memwatch.PartPageCacheInactive, memwatch.PartKernel} {
		p := a.Part(id)
		fmt.Printf("%-20s %10s  %s\n", p.Name(), memwatch.FormatBytes(p.Bytes), p.Reclaim)
	}
	fmt.Println("needs writeback:", memwatch.FormatBytes(a.NeedsWritebackBytes))
	fmt.Println("can still be charged before an OOM kill:", memwatch.FormatBytes(uint64(a.Headroom.AvailableBeforeOOM)))
	// Output:
	// cgroup v1 /mwsnap: usage 211.3 MiB of 512.0 MiB (41%), working set 163.3 MiB
	// other_processes        21.0 MiB  no
	// shmem                   8.0 MiB  no
	// page_cache_inactive    48.0 MiB  reclaimable
	// kernel                  2.0 MiB  no
	// needs writeback: 48.1 MiB
	// can still be charged before an OOM kill: 348.7 MiB
}
