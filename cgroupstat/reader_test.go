//go:build linux

package cgroupstat_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

func TestReaderDoesNotAllocate(t *testing.T) {
	roots := map[string]string{}
	for _, n := range []string{"hybrid", "hybrid-v2vm", "v1-missing-optional", "v2-nested", "v2-no-memory-controller", "v2-ns", "v2-missing-optional"} {
		roots[n] = fxRoot(t, n)
	}
	if _, err := cgroupstat.Discover(); err == nil {
		roots["host"] = "/"
	} else {
		t.Logf("host: %v", err)
	}
	for name, root := range roots {
		t.Run(name, func(t *testing.T) {
			r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var s cgroupstat.Stats
			var rerr error
			if n := testing.AllocsPerRun(200, func() { rerr = r.ReadCheap(&s) }); n != 0 || rerr != nil {
				t.Errorf("ReadCheap: %v allocs/op, err %v", n, rerr)
			}
			if n := testing.AllocsPerRun(200, func() { rerr = r.ReadFull(&s) }); n != 0 || rerr != nil {
				t.Errorf("ReadFull: %v allocs/op, err %v", n, rerr)
			}
		})
	}
}

// fxNeedV1Root skips unless the test runs as root on a host whose memory
// controller is on cgroup v1 at /sys/fs/cgroup/memory.
func fxNeedV1Root(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a memory cgroup")
	}
	const m = "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(m, "cgroup.sane_behavior")); err != nil {
		t.Skip("needs the cgroup v1 memory hierarchy at " + m)
	}
	return m
}

// TestReaderVanishedCgroup removes a real cgroup under an open Reader: the
// kernel answers reads of its open files with ENODEV, and the Reader must
// report that file, not zeros. The test root points /proc/self/* at a
// child process in the new cgroup and bind-mounts the real hierarchy at
// /sys/fs/cgroup/memory (a symbolic link would resolve inside the root, see
// WithRoot), so every read is a real kernel read.
func TestReaderVanishedCgroup(t *testing.T) {
	m := fxNeedV1Root(t)
	cg := filepath.Join(m, "mwtest-vanish-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Remove(cg); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	}()
	if err := os.WriteFile(filepath.Join(cg, "memory.limit_in_bytes"), []byte("67108864"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		t.Fatal(err)
	}
	// Snapshot the child's view into a root.
	root := t.TempDir()
	for _, f := range []string{"cgroup", "mountinfo"} {
		b, err := os.ReadFile("/proc/" + pid + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		fxWrite(t, root, map[string]string{"proc/self/" + f: string(b)})
	}
	mi, _ := os.ReadFile("/proc/meminfo")
	fxWrite(t, root, map[string]string{"proc/meminfo": string(mi)})
	mnt := filepath.Join(root, "sys/fs/cgroup/memory")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(m, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount of %s: %v", m, err)
	}
	defer func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	}()
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var s cgroupstat.Stats
	if err := r.ReadFull(&s); err != nil {
		t.Fatal(err)
	}
	if s.Limit != 64<<20 || !strings.HasSuffix(r.Location().Dir, filepath.Base(cg)) {
		t.Fatalf("read %+v at %s, want the 64 MiB test cgroup", s, r.Location().Dir)
	}
	// Move the child out and remove the cgroup.
	if err := os.WriteFile(filepath.Join(m, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(cg)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			t.Fatalf("rmdir: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, read := range map[string]func(*cgroupstat.Stats) error{"ReadCheap": r.ReadCheap, "ReadFull": r.ReadFull} {
		err := read(&s)
		var pe *os.PathError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Path, r.Location().Dir+"/memory.") {
			t.Errorf("%s after rmdir: %v, want an error naming a file of the removed cgroup", name, err)
			continue
		}
		if !errors.Is(err, syscall.ENODEV) {
			t.Logf("%s: %v (not ENODEV)", name, err)
		}
	}
}

func TestHostReader(t *testing.T) {
	loc, err := cgroupstat.Discover()
	if err != nil {
		t.Skipf("no memory cgroup here: %v", err)
	}
	r, err := cgroupstat.Open()
	if err != nil {
		t.Fatalf("Discover found %+v but Open failed: %v", loc, err)
	}
	defer r.Close()
	if r.Location() != loc {
		t.Errorf("Open's location %+v differs from Discover's %+v", r.Location(), loc)
	}
	var s cgroupstat.Stats
	if err := r.ReadFull(&s); err != nil {
		t.Fatal(err)
	}
	if s.Usage == 0 || s.WorkingSet > s.Usage || s.Stat.Present&cgroupstat.StatInactiveFile == 0 {
		t.Errorf("implausible reading of our own cgroup: %+v", s)
	}
	if r.Files().Usage == "" || r.Files().Stat == "" || r.UsageFd() < 0 {
		t.Errorf("files %+v fd %d", r.Files(), r.UsageFd())
	}
}

// fxOpenFds counts this process's open descriptors.
func fxOpenFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestFailedOpenClosesFiles(t *testing.T) {
	// The usage is parsed by the priming read, once every file is open: a
	// bad one fails Open after a dozen files are open.
	root := fxCopy(t, "hybrid")
	fxRewrite(t, filepath.Join(root, "sys/fs/cgroup/memory/mwfix/app/memory.usage_in_bytes"), "max\n")
	before := fxOpenFds(t)
	for range 20 {
		if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); err == nil {
			t.Fatal("Open accepted a usage of max")
		}
	}
	if after := fxOpenFds(t); after > before {
		t.Errorf("%d descriptors leaked by 20 failed Opens", after-before)
	}
	r, err := cgroupstat.Open(cgroupstat.WithRoot(fxRoot(t, "hybrid")))
	if err != nil {
		t.Fatal(err)
	}
	if during := fxOpenFds(t); during <= before {
		t.Errorf("an open Reader holds no descriptors (%d <= %d)", during, before)
	}
	r.Close()
	if after := fxOpenFds(t); after > before {
		t.Errorf("%d descriptors left after Close", after-before)
	}
}

// TestPSITurnedOffAtRuntime turns PSI off for a real cgroup2 cgroup
// (cgroup.pressure 0, Linux 6.1+) under an open Reader: the kernel removes
// memory.pressure and reads through the open descriptor fail (ENODEV on
// 6.18). Only the PSI part becomes unknown, with that reason; turned back
// on, the file is opened again and read.
func TestPSITurnedOffAtRuntime(t *testing.T) {
	m := fxNeedV1Root(t)
	const u = "/sys/fs/cgroup/unified"
	cg := filepath.Join(u, "mwtest-psi-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("no cgroup2 hierarchy at %s: %v", u, err)
	}
	defer func() {
		if err := os.Remove(cg); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	}()
	if _, err := os.Stat(filepath.Join(cg, "cgroup.pressure")); err != nil {
		t.Skipf("no cgroup.pressure (Linux < 6.1): %v", err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(filepath.Join(u, "cgroup.procs"), []byte(pid), 0o644)
	root := t.TempDir()
	for _, f := range []string{"cgroup", "mountinfo"} {
		b, err := os.ReadFile("/proc/" + pid + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		fxWrite(t, root, map[string]string{"proc/self/" + f: string(b)})
	}
	mi, _ := os.ReadFile("/proc/meminfo")
	fxWrite(t, root, map[string]string{"proc/meminfo": string(mi)})
	for _, d := range []string{m, u} {
		mnt := filepath.Join(root, d)
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(d, mnt, "", unix.MS_BIND, ""); err != nil {
			t.Skipf("bind mount of %s: %v", d, err)
		}
		defer func() {
			if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", mnt, err)
			}
		}()
	}
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if f := r.Files(); f.PressureSource != cgroupstat.PSICgroup || !strings.HasSuffix(f.Pressure, filepath.Base(cg)+"/memory.pressure") {
		t.Fatalf("pressure from %s %s, want the test cgroup's", f.PressureSource, f.Pressure)
	}
	pressure := filepath.Join(cg, "cgroup.pressure")
	var s cgroupstat.Stats
	for _, c := range []struct {
		set string
		on  bool
	}{{"", true}, {"0", false}, {"0", false}, {"1", true}} {
		if c.set != "" {
			if err := os.WriteFile(pressure, []byte(c.set), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.ReadFull(&s); err != nil {
			t.Fatalf("cgroup.pressure %q: ReadFull failed: %v", c.set, err)
		}
		if c.on != (s.Errs[cgroupstat.PartPSI] == nil) || c.on != (s.PSI.Source == cgroupstat.PSICgroup) {
			t.Errorf("cgroup.pressure %q: PSI %+v, error %v", c.set, s.PSI, s.Errs[cgroupstat.PartPSI])
		}
		if s.Degraded() != nil && c.on {
			t.Errorf("degraded: %v", s.Degraded())
		}
		if !c.on {
			t.Logf("PSI off: %v", s.Errs[cgroupstat.PartPSI])
		}
	}
}
