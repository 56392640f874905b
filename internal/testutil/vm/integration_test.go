package vm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needVMHost skips unless QEMU, the kernel and the go command are here.
func needVMHost(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a QEMU VM (5-10 s per run): skipped with -short")
	}
	if ok, reason := Available(); !ok {
		t.Skip(reason)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build the guest binaries")
	}
	return goBin
}

func goBuild(t *testing.T, goBin string, args ...string) {
	t.Helper()
	cmd := exec.Command(goBin, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
}

// TestVMEndToEnd boots the VM: the selftest package passes in v2 and hybrid
// mode, a deliberately failing test gives a non-zero status, and a capture
// run yields a fixture tree.
func TestVMEndToEnd(t *testing.T) {
	goBin := needVMHost(t)
	tmp := t.TempDir()
	selftest := filepath.Join(tmp, "selftest.test")
	capture := filepath.Join(tmp, "capture")
	goBuild(t, goBin, "test", "-c", "-o", selftest, "./selftest")
	goBuild(t, goBin, "build", "-o", capture, "./capture")
	initBin, err := BuildInit(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	pkgDir, err := filepath.Abs("selftest")
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, o Options) (Result, string) {
		t.Helper()
		var out, errb bytes.Buffer
		o.Init = initBin
		o.Stdout, o.Stderr = &out, &errb
		o.Timeout = 4 * time.Minute
		res, err := Run(context.Background(), o)
		t.Logf("boot %v, run %v, total %v, status %d", res.Boot, res.Test, res.Total, res.Status)
		if err != nil {
			t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
		}
		return res, out.String()
	}

	t.Run("v2-pass", func(t *testing.T) {
		t.Parallel()
		res, out := run(t, Options{Binary: selftest, Args: []string{"-test.v"}, Dir: pkgDir, Max: "128M"})
		if res.Status != 0 || !strings.Contains(out, "--- PASS: TestChildOverLimitIsOOMKilled") ||
			!strings.Contains(out, "--- PASS: TestRunsInConfiguredCgroup") {
			t.Errorf("status %d, output:\n%s", res.Status, out)
		}
	})
	t.Run("hybrid-pass", func(t *testing.T) {
		t.Parallel()
		res, out := run(t, Options{Binary: selftest, Args: []string{"-test.v"}, Dir: pkgDir, Mode: ModeHybrid, Max: "128M", ParentMax: "192M"})
		if res.Status != 0 || !strings.Contains(out, "--- PASS: TestChildOverLimitIsOOMKilled") {
			t.Errorf("status %d, output:\n%s", res.Status, out)
		}
	})
	t.Run("v2-deliberate-failure", func(t *testing.T) {
		t.Parallel()
		res, out := run(t, Options{Binary: selftest, Args: []string{"-test.run=TestDeliberateFailure"}, Dir: pkgDir,
			Env: []string{"MEMWATCH_VM_SELFTEST_FAIL=1"}})
		if res.Status != 1 || !strings.Contains(out, "deliberate failure") {
			t.Errorf("status %d (want 1), output:\n%s", res.Status, out)
		}
	})
	t.Run("capture-nested", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		res, _ := run(t, Options{Binary: capture, Args: []string{"-alloc", "8M", "-settle", "0"}, Dir: tmp,
			Max: "256M", High: "160M", ParentMax: "192M", CaptureOut: dir})
		if res.Status != 0 || res.Captured < 20 {
			t.Fatalf("status %d, captured %d", res.Status, res.Captured)
		}
		for file, want := range map[string]string{
			"proc/self/cgroup":                  "0::/mw/test\n",
			"sys/fs/cgroup/mw/test/memory.max":  "268435456\n",
			"sys/fs/cgroup/mw/test/memory.high": "167772160\n",
			"sys/fs/cgroup/mw/memory.max":       "201326592\n",
		} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil || string(b) != want {
				t.Errorf("%s = %q, %v; want %q", file, b, err, want)
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, "sys/fs/cgroup/mw/test/memory.stat"))
		if err != nil || !strings.HasPrefix(string(b), "anon ") {
			t.Errorf("memory.stat = %q, %v", b, err)
		}
	})
}
