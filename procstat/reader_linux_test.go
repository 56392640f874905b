package procstat

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/prometheus/procfs"
)

func TestReaderFixtures(t *testing.T) {
	for _, name := range []string{fixGo, fixTrimmed} {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join("testdata", name)
			r, err := Open(WithRoot(root), WithPageSize(fixturePageSize))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.PageSize() != fixturePageSize {
				t.Errorf("PageSize = %d", r.PageSize())
			}

			var sm, wantSm Statm
			file, b := readFixture(t, name, "self", "statm")
			if err := ParseStatm(file, b, fixturePageSize, &wantSm); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second read re-reads the open file
				if err := r.ReadStatm(&sm); err != nil {
					t.Fatal(err)
				}
				if sm != wantSm {
					t.Fatalf("read %d: ReadStatm = %+v, want %+v", i, sm, wantSm)
				}
			}

			var st, wantSt Status
			file, b = readFixture(t, name, "self", "status")
			if err := ParseStatus(file, b, &wantSt); err != nil {
				t.Fatal(err)
			}
			if err := r.ReadStatus(&st); err != nil || st != wantSt {
				t.Fatalf("ReadStatus = %+v, %v; want %+v", st, err, wantSt)
			}

			var sr, wantSr SmapsRollup
			file, b = readFixture(t, name, "self", "smaps_rollup")
			if err := ParseSmapsRollup(file, b, &wantSr); err != nil {
				t.Fatal(err)
			}
			if err := r.ReadSmapsRollup(&sr); err != nil || sr != wantSr {
				t.Fatalf("ReadSmapsRollup = %+v, %v; want %+v", sr, err, wantSr)
			}

			var mi, wantMi Meminfo
			file, b = readFixture(t, name, "meminfo")
			if err := ParseMeminfo(file, b, &wantMi); err != nil {
				t.Fatal(err)
			}
			if err := r.ReadMeminfo(&mi); err != nil || mi != wantMi {
				t.Fatalf("ReadMeminfo = %+v, %v; want %+v", mi, err, wantMi)
			}
		})
	}
}

// TestReaderFixturesAgreeWithProcfs parses the same fixture files with
// prometheus/procfs as an independent oracle; the files are static, so the
// values must be equal.
func TestReaderFixturesAgreeWithProcfs(t *testing.T) {
	for _, name := range []string{fixGo, fixTrimmed} {
		t.Run(name, func(t *testing.T) {
			// procfs wants a numeric pid directory.
			tmp := t.TempDir()
			abs, err := filepath.Abs(fixturePath(name))
			if err != nil {
				t.Fatal(err)
			}
			// A copy with links inside the root: WithRoot resolves links
			// inside it, so links to the fixture itself would not resolve.
			if err := os.CopyFS(filepath.Join(tmp, "fx"), os.DirFS(abs)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(tmp, "proc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../fx/self", filepath.Join(tmp, "proc", "1")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../fx/meminfo", filepath.Join(tmp, "proc", "meminfo")); err != nil {
				t.Fatal(err)
			}
			pfs, err := procfs.NewFS(filepath.Join(tmp, "proc"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := pfs.Proc(1)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(WithRoot(tmp), WithPID(1), WithPageSize(fixturePageSize))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()

			ps, err := p.Statm()
			if err != nil {
				t.Fatal(err)
			}
			var sm Statm
			if err := r.ReadStatm(&sm); err != nil {
				t.Fatal(err)
			}
			if want := (Statm{ps.SizeBytes(), ps.ResidentBytes(), ps.SHRBytes(), ps.TextBytes(), ps.DataBytes()}); sm != want {
				t.Errorf("statm: ours %+v, procfs %+v", sm, want)
			}

			pst, err := p.NewStatus()
			if err != nil {
				t.Fatal(err)
			}
			var st Status
			if err := r.ReadStatus(&st); err != nil {
				t.Fatal(err)
			}
			if want := (Status{pst.VmRSS, pst.RssAnon, pst.RssFile, pst.RssShmem, pst.VmHWM, pst.VmSwap, pst.VmPeak, pst.VmSize, st.Threads, st.Present}); st != want {
				t.Errorf("status: ours %+v, procfs %+v", st, want)
			}

			psr, err := p.ProcSMapsRollup()
			if err != nil {
				t.Fatal(err)
			}
			var sr SmapsRollup
			if err := r.ReadSmapsRollup(&sr); err != nil {
				t.Fatal(err)
			}
			got := [...]uint64{sr.Rss, sr.Pss, sr.SharedClean, sr.SharedDirty, sr.PrivateClean, sr.PrivateDirty, sr.Referenced, sr.Anonymous, sr.Swap, sr.SwapPss}
			want := [...]uint64{psr.Rss, psr.Pss, psr.SharedClean, psr.SharedDirty, psr.PrivateClean, psr.PrivateDirty, psr.Referenced, psr.Anonymous, psr.Swap, psr.SwapPss}
			if got != want {
				t.Errorf("smaps_rollup: ours %v, procfs %v", got, want)
			}

			pmi, err := pfs.Meminfo()
			if err != nil {
				t.Fatal(err)
			}
			var mi Meminfo
			if err := r.ReadMeminfo(&mi); err != nil {
				t.Fatal(err)
			}
			if mi.MemTotal != *pmi.MemTotalBytes || mi.MemFree != *pmi.MemFreeBytes || mi.Cached != *pmi.CachedBytes ||
				mi.Buffers != *pmi.BuffersBytes || mi.SwapTotal != *pmi.SwapTotalBytes || mi.SwapFree != *pmi.SwapFreeBytes {
				t.Errorf("meminfo: ours %+v, procfs total %d free %d", mi, *pmi.MemTotalBytes, *pmi.MemFreeBytes)
			}
			if (pmi.MemAvailableBytes != nil) != (mi.Present&HasMemAvailable != 0) {
				t.Errorf("MemAvailable presence: procfs %v, ours %v", pmi.MemAvailableBytes != nil, mi.Present&HasMemAvailable != 0)
			} else if pmi.MemAvailableBytes != nil && *pmi.MemAvailableBytes != mi.MemAvailable {
				t.Errorf("MemAvailable: ours %d, procfs %d", mi.MemAvailable, *pmi.MemAvailableBytes)
			}
		})
	}
}

func TestReaderKernelThreadFixture(t *testing.T) {
	root := filepath.Join("testdata", fixKthread)
	r, err := Open(WithRoot(root), WithPID(2), WithPageSize(fixturePageSize))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var sm Statm
	if err := r.ReadStatm(&sm); err != nil || sm != (Statm{}) {
		t.Fatalf("ReadStatm = %+v, %v; want zeros", sm, err)
	}
	var st Status
	if err := r.ReadStatus(&st); err != nil {
		t.Fatal(err)
	}
	if st.Present != HasThreads || st.Threads != 1 || st.VmRSS != 0 {
		t.Fatalf("kernel thread status = %+v, want only Threads=1", st)
	}
	// The real kernel refuses smaps_rollup for a kernel thread (ESRCH), so
	// the fixture has none: the open error names the file under the root.
	var sr SmapsRollup
	err = r.ReadSmapsRollup(&sr)
	var pe *fs.PathError
	abs, _ := filepath.Abs(root)
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Path != filepath.Join(abs, "proc", "2", "smaps_rollup") {
		t.Fatalf("ReadSmapsRollup = %v, want a not-exist *fs.PathError naming the file", err)
	}
	// A failed lazy open is retried, and meminfo is independent of it.
	var mi Meminfo
	if err := r.ReadMeminfo(&mi); err != nil || mi.MemTotal == 0 {
		t.Fatalf("ReadMeminfo = %+v, %v", mi, err)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(WithRoot(filepath.Join(t.TempDir(), "missing")))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "statm") {
		t.Errorf("missing root: %v, want not-exist naming statm", err)
	}
	for _, opts := range [][]Option{{WithPID(0)}, {WithPID(-5)}, {WithPageSize(-1)}} {
		if r, err := Open(opts...); err == nil {
			r.Close()
			t.Errorf("Open(%v) succeeded", opts)
		}
	}
	// A PID that cannot exist (above pid_max's hard limit of 2^22).
	if _, err := Open(WithPID(1 << 30)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing pid: %v, want not-exist", err)
	}
}

func TestReaderRereadsAndGrows(t *testing.T) {
	root := fixture.Copy(t, filepath.Join("testdata", fixGo))
	r, err := Open(WithRoot(root), WithPageSize(fixturePageSize))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var sm Statm
	if err := r.ReadStatm(&sm); err != nil {
		t.Fatal(err)
	}
	statm := filepath.Join(root, "proc", "self", "statm")
	// Rewrite in place (same inode, as a kernel file would change).
	if err := os.WriteFile(statm, []byte("10 20 30 40 0 50 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatm(&sm); err != nil {
		t.Fatal(err)
	}
	if want := (Statm{10 * 4096, 20 * 4096, 30 * 4096, 40 * 4096, 50 * 4096}); sm != want {
		t.Fatalf("after rewrite ReadStatm = %+v, want %+v", sm, want)
	}
	// Malformed content surfaces as a *ParseError naming the file.
	if err := os.WriteFile(statm, []byte("10 20 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if err := r.ReadStatm(&sm); !errors.As(err, &pe) || pe.File != statm {
		t.Fatalf("ReadStatm on 3 fields = %v, want *ParseError for %s", err, statm)
	}

	// A status far larger than the initial buffer (many NUMA nodes make
	// Mems_allowed long) still reads whole.
	status := filepath.Join(root, "proc", "self", "status")
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	long := "Mems_allowed:\t" + strings.Repeat("00000000,", 2000) + "00000001\n"
	if err := os.WriteFile(status, append([]byte(long), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	var st, want Status
	if err := ParseStatus(status, b, &want); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadStatus(&st); err != nil || st != want {
		t.Fatalf("ReadStatus of %d bytes = %+v, %v; want %+v", len(long)+len(b), st, err, want)
	}
}

func TestReaderCloseIdempotent(t *testing.T) {
	r, err := Open(WithRoot(filepath.Join("testdata", fixGo)))
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := r.ReadStatus(&st); err != nil { // opens status lazily
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	var sm Statm
	var sr SmapsRollup
	var mi Meminfo
	for name, err := range map[string]error{
		"ReadStatm":       r.ReadStatm(&sm),
		"ReadStatus":      r.ReadStatus(&st),
		"ReadSmapsRollup": r.ReadSmapsRollup(&sr),
		"ReadMeminfo":     r.ReadMeminfo(&mi),
		"ResetPeakRSS":    r.ResetPeakRSS(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestResetPeakRSSFixture(t *testing.T) {
	root := fixture.Copy(t, filepath.Join("testdata", fixGo))
	r, err := Open(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The fixture has no clear_refs (it is write-only in /proc and cannot be
	// copied): the error is typed and names the file.
	clearRefs := filepath.Join(root, "proc", "self", "clear_refs")
	err = r.ResetPeakRSS()
	var re *ResetPeakError
	if !errors.As(err, &re) || re.Path != clearRefs || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ResetPeakRSS without clear_refs = %v, want *ResetPeakError (not exist) for %s", err, clearRefs)
	}
	if err := os.WriteFile(clearRefs, nil, 0o200); err != nil {
		t.Fatal(err)
	}
	if err := r.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	// Readable to check what was written: root reads a write-only file,
	// other users (an unprivileged go test) need the permission.
	if err := os.Chmod(clearRefs, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(clearRefs); err != nil || string(b) != "5" {
		t.Fatalf("clear_refs holds %q, %v; want \"5\"", b, err)
	}
}

func TestReaderConcurrentUse(t *testing.T) {
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4*50*3)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sm Statm
			var st Status
			var mi Meminfo
			for i := 0; i < 50; i++ {
				errs <- r.ReadStatm(&sm)
				errs <- r.ReadStatus(&st)
				errs <- r.ReadMeminfo(&mi)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
