package selftest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/vm"
)

const (
	allocEnv = "MEMWATCH_VM_SELFTEST_ALLOC" // bytes the helper child maps and touches
	failEnv  = "MEMWATCH_VM_SELFTEST_FAIL"  // "1": TestDeliberateFailure fails
)

func TestMain(m *testing.M) {
	if s := os.Getenv(allocEnv); s != "" {
		os.Exit(allocAndTouch(s))
	}
	os.Exit(m.Run())
}

// allocAndTouch maps n anonymous bytes and writes one byte per page, then
// reports success; under a smaller memory.max it never gets there.
func allocAndTouch(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		os.Stderr.WriteString("bad " + allocEnv + "\n")
		return 3
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		os.Stderr.WriteString("mmap: " + err.Error() + "\n")
		return 4
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	os.Stdout.WriteString("touched all pages\n")
	return 0
}

func needVM(t *testing.T) vm.Mode {
	t.Helper()
	mode := vm.InGuest()
	if mode == "" {
		t.Skip("runs only inside the VM harness: go test -exec <path>/vmexec (internal/testutil/vm)")
	}
	return mode
}

// ownCgroup returns the directory of this process's memory cgroup and the
// cgroup path from /proc/self/cgroup.
func ownCgroup(t *testing.T, mode vm.Mode) (dir, cg string) {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			t.Fatalf("/proc/self/cgroup: bad line %q", sc.Text())
		}
		switch {
		case mode == vm.ModeV2 && parts[0] == "0" && parts[1] == "":
			return filepath.Join("/sys/fs/cgroup", parts[2]), parts[2]
		case mode == vm.ModeHybrid && strings.Contains(","+parts[1]+",", ",memory,"):
			return filepath.Join("/sys/fs/cgroup/memory", parts[2]), parts[2]
		}
	}
	t.Fatalf("/proc/self/cgroup has no memory cgroup line for mode %s", mode)
	return "", ""
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// v1Unlimited is what memory.limit_in_bytes shows for "no limit" with 4 KiB pages.
const v1Unlimited = "9223372036854771712"

func limitFile(mode vm.Mode) string {
	if mode == vm.ModeHybrid {
		return "memory.limit_in_bytes"
	}
	return "memory.max"
}

func wantLimit(mode vm.Mode, env string) string {
	if mode == vm.ModeHybrid && env == "max" {
		return v1Unlimited
	}
	return env
}

func TestRunsInConfiguredCgroup(t *testing.T) {
	mode := needVM(t)
	dir, cg := ownCgroup(t, mode)
	if cg != vm.CgroupTest {
		t.Fatalf("/proc/self/cgroup: memory cgroup %q, want %q", cg, vm.CgroupTest)
	}
	if got, want := readTrim(t, filepath.Join(dir, limitFile(mode))), wantLimit(mode, os.Getenv("MEMWATCH_VM_MAX")); got != want {
		t.Errorf("%s/%s = %q, want MEMWATCH_VM_MAX %q", dir, limitFile(mode), got, want)
	}
	if got, want := readTrim(t, filepath.Join(filepath.Dir(dir), limitFile(mode))), wantLimit(mode, os.Getenv("MEMWATCH_VM_PARENT_MAX")); got != want {
		t.Errorf("parent %s = %q, want MEMWATCH_VM_PARENT_MAX %q", limitFile(mode), got, want)
	}
	if mode == vm.ModeV2 {
		if got, want := readTrim(t, filepath.Join(dir, "memory.high")), os.Getenv("MEMWATCH_VM_HIGH"); got != want {
			t.Errorf("memory.high = %q, want MEMWATCH_VM_HIGH %q", got, want)
		}
		// Every process of the cgroup is this test binary (the trampoline
		// exec'd into it): the binary started inside the cgroup.
		procs := strings.Fields(readTrim(t, filepath.Join(dir, "cgroup.procs")))
		if len(procs) != 1 || procs[0] != strconv.Itoa(os.Getpid()) {
			t.Errorf("cgroup.procs = %v, want only this process %d", procs, os.Getpid())
		}
	}
}

func TestGuestEnvironment(t *testing.T) {
	needVM(t)
	// PSI is on (psi=1): the kernel file exists and parses as "some ...".
	if s := readTrim(t, "/proc/pressure/memory"); !strings.HasPrefix(s, "some avg10=") {
		t.Errorf("/proc/pressure/memory = %q", s)
	}
	// testdata is copied and the working directory is the package directory.
	if got := readTrim(t, "testdata/hello.txt"); got != "memwatch vm selftest fixture" {
		t.Errorf("testdata/hello.txt = %q", got)
	}
}

// oomKills reads the OOM kill counter of the cgroup at dir.
func oomKills(t *testing.T, mode vm.Mode, dir string) int {
	t.Helper()
	file, key := "memory.events", "oom_kill"
	if mode == vm.ModeHybrid {
		file = "memory.oom_control"
	}
	for _, l := range strings.Split(readTrim(t, filepath.Join(dir, file)), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == key {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("%s: %q: %v", file, l, err)
			}
			return n
		}
	}
	t.Fatalf("%s/%s has no %s line", dir, file, key)
	return 0
}

func TestChildOverLimitIsOOMKilled(t *testing.T) {
	mode := needVM(t)
	limit, err := vm.ParseLimit(os.Getenv("MEMWATCH_VM_MAX"))
	if err != nil {
		t.Fatalf("MEMWATCH_VM_MAX: %v", err)
	}
	if limit < 0 {
		t.Skip("MEMWATCH_VM_MAX=max: no limit to exceed")
	}
	dir, _ := ownCgroup(t, mode)
	before := oomKills(t, mode, dir)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), allocEnv+"="+strconv.FormatInt(limit+64<<20, 10))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child allocating %d MiB over memory.max of %d MiB was not killed: err=%v output=%q", 64, limit>>20, err, out)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL from the OOM killer; output %q", ee, out)
	}
	// memory.events is updated by the kill itself; poll briefly anyway.
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := oomKills(t, mode, dir)
		if after > before {
			t.Logf("oom_kill %d -> %d", before, after)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("oom_kill stayed at %d after the child was SIGKILLed", after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeliberateFailure(t *testing.T) {
	needVM(t)
	if os.Getenv(failEnv) != "1" {
		t.Skip(failEnv + " not set: this test proves that a failing test in the VM fails go test")
	}
	t.Fatal("deliberate failure (" + failEnv + "=1)")
}
