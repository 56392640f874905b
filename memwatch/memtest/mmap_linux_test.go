package memtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/bytefmt"
	"golang.org/x/sys/unix"
)

// touchMmap maps n bytes of anonymous memory outside the Go heap, touches
// every page, holds it a few sampling intervals and unmaps it.
func touchMmap(t *testing.T, n int) func() {
	return func() {
		b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			t.Errorf("mmap: %v", err)
			return
		}
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(50 * time.Millisecond)
		if err := unix.Munmap(b); err != nil {
			t.Errorf("munmap: %v", err)
		}
	}
}

func TestMmapShowsInRSSNotHeap(t *testing.T) {
	r := Measure(touchMmap(t, 40*mib))
	t.Logf("\n%v", r)
	if !r.RSS.Available() {
		t.Skipf("process view unavailable: %s", r.RSS.Reason)
	}
	if r.RSS.Quality != Exact {
		t.Logf("RSS peak is %v: %s", r.RSS.Quality, r.RSS.Reason)
	}
	if g := r.RSS.Growth(); g < 38*mib {
		t.Errorf("RSS growth %s, want >= 38 MiB for a touched 40 MiB mmap", bytefmt.Compact(g))
	}
	if g := r.LiveHeap.Growth(); g > 8*mib {
		t.Errorf("live heap growth %s for an mmap outside the heap", bytefmt.Compact(g))
	}
	if nonGo := r.RSS.AtPeak.NonGo; nonGo < 36*mib {
		t.Errorf("non-Go memory at the RSS peak %s, want >= 36 MiB (%v)", bytefmt.Compact(nonGo), r.RSS.AtPeak)
	}
	// The cgroup peak is the whole cgroup's: other processes in it (compilers,
	// other test binaries) can release memory meanwhile, so growth is only
	// asserted where this process is alone in its cgroup (the VM, RunInCgroup).
	if alone, why := aloneInCgroup(); !alone {
		t.Logf("cgroup growth not asserted: %s", why)
	} else if r.Cgroup.Available() && r.Cgroup.Growth() < 36*mib {
		t.Errorf("cgroup growth %s (%v: %s), want >= 36 MiB", bytefmt.Compact(r.Cgroup.Growth()), r.Cgroup.Quality, r.Cgroup.Reason)
	}

	fake := &fakeTB{}
	AssertBudget(fake, Budget{RSS: 16 * mib, LiveHeap: 16 * mib}, touchMmap(t, 40*mib))
	msg := fake.failed()
	if !strings.Contains(msg, "peak RSS +") || !strings.Contains(msg, "> budget 16 MiB") || !strings.Contains(msg, "non-Go ") {
		t.Errorf("RSS budget failure not reported as expected: %q", msg)
	}
	if strings.Contains(msg, "peak live heap") {
		t.Errorf("mmap reported as live heap: %q", msg)
	}
	t.Logf("failure message: %s", msg)
}

// aloneInCgroup reports whether this process is the only one in its memory
// cgroup, and why not.
func aloneInCgroup() (bool, string) {
	loc, err := cgroupstat.Discover()
	if err != nil {
		return false, err.Error()
	}
	b, err := os.ReadFile(filepath.Join(loc.Dir, "cgroup.procs"))
	if err != nil {
		return false, err.Error()
	}
	if n := len(strings.Fields(string(b))); n != 1 {
		return false, fmt.Sprintf("%d processes share the cgroup %s", n, loc.Path)
	}
	return true, ""
}
