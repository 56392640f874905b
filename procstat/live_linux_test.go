package procstat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// Tests on this machine's real /proc. Values that move between two reads
// (RSS, free memory) are compared within a tolerance and retried a few times;
// a parser that reads the wrong field or unit is off by far more, every time.

const (
	MiB = 1 << 20
	// Tolerance for this process's own counters between our read and the
	// oracle's (the oracle allocates; the runtime may grow the heap).
	procTol = 1 * MiB
	// Tolerance for host-wide counters, which other processes move.
	hostTol = 64 * MiB
)

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// agree runs compare up to 5 times until it reports no mismatch.
func agree(t *testing.T, compare func() ([]string, error)) {
	t.Helper()
	var last []string
	for attempt := 0; attempt < 5; attempt++ {
		m, err := compare()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			return
		}
		last = m
	}
	for _, m := range last {
		t.Error(m)
	}
}

type check struct {
	name       string
	ours, want uint64
	tol        uint64
}

func mismatches(cs []check) []string {
	var out []string
	for _, c := range cs {
		if diff(c.ours, c.want) > c.tol {
			out = append(out, fmt.Sprintf("%s: ours %d, oracle %d (tolerance %d)", c.name, c.ours, c.want, c.tol))
		}
	}
	return out
}

func openLive(t *testing.T) (*Reader, procfs.Proc, procfs.FS) {
	t.Helper()
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	pfs, err := procfs.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pfs.Self()
	if err != nil {
		t.Fatal(err)
	}
	return r, p, pfs
}

func TestLiveStatmAgreesWithProcfs(t *testing.T) {
	r, p, _ := openLive(t)
	if r.PageSize() != uint64(os.Getpagesize()) {
		t.Errorf("PageSize %d, os.Getpagesize %d", r.PageSize(), os.Getpagesize())
	}
	agree(t, func() ([]string, error) {
		var s Statm
		if err := r.ReadStatm(&s); err != nil {
			return nil, err
		}
		ps, err := p.Statm()
		if err != nil {
			return nil, err
		}
		if s.Resident == 0 || s.Size < s.Resident {
			return nil, fmt.Errorf("implausible statm %+v", s)
		}
		return mismatches([]check{
			{"Size", s.Size, ps.SizeBytes(), procTol},
			{"Resident", s.Resident, ps.ResidentBytes(), procTol},
			{"Shared", s.Shared, ps.SHRBytes(), procTol},
			{"Text", s.Text, ps.TextBytes(), 0},
			{"Data", s.Data, ps.DataBytes(), procTol},
		}), nil
	})
}

func TestLiveStatusAgreesWithProcfs(t *testing.T) {
	r, p, _ := openLive(t)
	agree(t, func() ([]string, error) {
		var s Status
		if err := r.ReadStatus(&s); err != nil {
			return nil, err
		}
		ps, err := p.NewStatus()
		if err != nil {
			return nil, err
		}
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return nil, err
		}
		want := HasVmRSS | HasRssAnon | HasRssFile | HasRssShmem | HasVmHWM | HasVmSwap | HasVmPeak | HasVmSize | HasThreads
		if s.Present != want {
			return nil, fmt.Errorf("Present = %09b, want %09b on Linux 6.18", s.Present, want)
		}
		return mismatches([]check{
			{"VmRSS", s.VmRSS, ps.VmRSS, procTol},
			{"RssAnon", s.RssAnon, ps.RssAnon, procTol},
			{"RssFile", s.RssFile, ps.RssFile, procTol},
			{"RssShmem", s.RssShmem, ps.RssShmem, procTol},
			{"VmHWM", s.VmHWM, ps.VmHWM, procTol},
			{"VmSwap", s.VmSwap, ps.VmSwap, procTol},
			{"VmPeak", s.VmPeak, ps.VmPeak, procTol},
			{"VmSize", s.VmSize, ps.VmSize, procTol},
			{"Threads (vs /proc/self/task)", s.Threads, uint64(len(tasks)), 0},
		}), nil
	})
}

func TestLiveSmapsRollupAgreesWithProcfs(t *testing.T) {
	r, p, _ := openLive(t)
	agree(t, func() ([]string, error) {
		var s SmapsRollup
		if err := r.ReadSmapsRollup(&s); err != nil {
			return nil, err
		}
		ps, err := p.ProcSMapsRollup()
		if err != nil {
			return nil, err
		}
		if s.Rss == 0 || s.Present&(HasRss|HasPss|HasAnonymous) != HasRss|HasPss|HasAnonymous {
			return nil, fmt.Errorf("implausible smaps_rollup %+v", s)
		}
		return mismatches([]check{
			{"Rss", s.Rss, ps.Rss, procTol},
			{"Pss", s.Pss, ps.Pss, procTol},
			{"Shared_Clean", s.SharedClean, ps.SharedClean, procTol},
			{"Shared_Dirty", s.SharedDirty, ps.SharedDirty, procTol},
			{"Private_Clean", s.PrivateClean, ps.PrivateClean, procTol},
			{"Private_Dirty", s.PrivateDirty, ps.PrivateDirty, procTol},
			{"Referenced", s.Referenced, ps.Referenced, procTol},
			{"Anonymous", s.Anonymous, ps.Anonymous, procTol},
			{"Swap", s.Swap, ps.Swap, procTol},
			{"SwapPss", s.SwapPss, ps.SwapPss, procTol},
		}), nil
	})
}

func TestLiveMeminfoAgreesWithProcfs(t *testing.T) {
	r, _, pfs := openLive(t)
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	agree(t, func() ([]string, error) {
		var m Meminfo
		if err := r.ReadMeminfo(&m); err != nil {
			return nil, err
		}
		pm, err := pfs.Meminfo()
		if err != nil {
			return nil, err
		}
		if pm.MemAvailableBytes == nil || m.Present&HasMemAvailable == 0 {
			return nil, errors.New("MemAvailable missing on a 6.18 kernel")
		}
		return mismatches([]check{
			{"MemTotal", m.MemTotal, *pm.MemTotalBytes, 0},
			{"MemTotal (vs sysinfo)", m.MemTotal, uint64(si.Totalram) * uint64(si.Unit), 0},
			{"SwapTotal", m.SwapTotal, *pm.SwapTotalBytes, 0},
			{"MemFree", m.MemFree, *pm.MemFreeBytes, hostTol},
			{"MemAvailable", m.MemAvailable, *pm.MemAvailableBytes, hostTol},
			{"Buffers", m.Buffers, *pm.BuffersBytes, hostTol},
			{"Cached", m.Cached, *pm.CachedBytes, hostTol},
			{"SwapFree", m.SwapFree, *pm.SwapFreeBytes, hostTol},
		}), nil
	})
}

// touchAnon maps size bytes of anonymous memory and writes to every page.
func touchAnon(t *testing.T, size int) []byte {
	t.Helper()
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(m); i += os.Getpagesize() {
		m[i] = 1
	}
	return m
}

func TestLiveRSSFollowsTouchedMemory(t *testing.T) {
	const size, rise = 64 * MiB, 60 * MiB
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var before, during, after Statm
	var stBefore, stDuring, stAfter Status
	if err := r.ReadStatm(&before); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatus(&stBefore); err != nil {
		t.Fatal(err)
	}

	m := touchAnon(t, size)
	if err := r.ReadStatm(&during); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatus(&stDuring); err != nil {
		t.Fatal(err)
	}
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatm(&after); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatus(&stAfter); err != nil {
		t.Fatal(err)
	}
	t.Logf("statm resident: before %d MiB, touched %d MiB, unmapped %d MiB", before.Resident/MiB, during.Resident/MiB, after.Resident/MiB)
	t.Logf("status RssAnon: before %d MiB, touched %d MiB, unmapped %d MiB", stBefore.RssAnon/MiB, stDuring.RssAnon/MiB, stAfter.RssAnon/MiB)

	if during.Resident < before.Resident+rise {
		t.Errorf("statm resident rose %d MiB after touching 64 MiB, want >= 60", (during.Resident-before.Resident)/MiB)
	}
	if during.Size < before.Size+size {
		t.Errorf("statm size rose by less than the 64 MiB mapping: %d -> %d", before.Size, during.Size)
	}
	if stDuring.RssAnon < stBefore.RssAnon+rise || stDuring.VmRSS < stBefore.VmRSS+rise {
		t.Errorf("status RssAnon/VmRSS rose %d/%d MiB, want >= 60", (stDuring.RssAnon-stBefore.RssAnon)/MiB, (stDuring.VmRSS-stBefore.VmRSS)/MiB)
	}
	if after.Resident+rise > during.Resident {
		t.Errorf("statm resident fell only %d MiB after munmap, want >= 60", (during.Resident-after.Resident)/MiB)
	}
	if stAfter.RssAnon+rise > stDuring.RssAnon {
		t.Errorf("status RssAnon fell only %d MiB after munmap", (stDuring.RssAnon-stAfter.RssAnon)/MiB)
	}
}

func TestLiveResetPeakRSS(t *testing.T) {
	const size, rise = 64 * MiB, 60 * MiB
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := touchAnon(t, size)
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := r.ReadStatus(&st); err != nil {
		t.Fatal(err)
	}
	if st.VmHWM < st.VmRSS+rise {
		t.Fatalf("after touching and unmapping 64 MiB: VmHWM %d MiB, VmRSS %d MiB; want the peak to stay >= 60 MiB above", st.VmHWM/MiB, st.VmRSS/MiB)
	}
	if err := r.ResetPeakRSS(); err != nil {
		var re *ResetPeakError
		if !errors.As(err, &re) {
			t.Fatalf("ResetPeakRSS error %v (%T), want *ResetPeakError", err, err)
		}
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EINVAL) {
			t.Skipf("clear_refs is not writable here (read-only /proc, no permission or kernel < 4.0): %v", err)
		}
		t.Fatal(err)
	}
	if err := r.ReadStatus(&st); err != nil {
		t.Fatal(err)
	}
	t.Logf("after ResetPeakRSS: VmHWM %d KiB, VmRSS %d KiB", st.VmHWM>>10, st.VmRSS>>10)
	if st.VmHWM < st.VmRSS || st.VmHWM > st.VmRSS+4*MiB {
		t.Errorf("after ResetPeakRSS VmHWM %d, VmRSS %d: want the peak within 4 MiB above RSS", st.VmHWM, st.VmRSS)
	}
}

func TestLiveReadsDoNotAllocate(t *testing.T) {
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var (
		sm Statm
		st Status
		sr SmapsRollup
		mi Meminfo
	)
	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"ReadStatm", func() error { return r.ReadStatm(&sm) }},
		{"ReadStatus", func() error { return r.ReadStatus(&st) }},
		{"ReadMeminfo", func() error { return r.ReadMeminfo(&mi) }},
		{"ReadSmapsRollup", func() error { return r.ReadSmapsRollup(&sr) }},
	} {
		if err := c.fn(); err != nil { // warm up: lazy open, buffer sizing
			t.Fatal(err)
		}
		var err error
		if n := testing.AllocsPerRun(200, func() { err = c.fn() }); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
