package cgtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvHelper carries the JSON Workload to a helper process; RunHelper acts
// only when it is set.
const EnvHelper = "MEMWATCH_CGTEST_HELPER"

// Workload is what a helper process does: touch AnonMiB of anonymous memory
// (mmap, every page written), allocate and touch HeapMiB of Go heap, write
// PageCacheMiB to a file in Dir (fsynced, so it is clean page cache), then
// print "ready" and serve probe requests until its standard input is closed
// or Hold elapses (default 5 minutes). The zero Workload only starts and
// waits.
type Workload struct {
	AnonMiB      int
	HeapMiB      int
	PageCacheMiB int
	// Dir receives the page-cache file; Cmd sets it to t.TempDir() when
	// PageCacheMiB > 0 and it is empty. Use a disk-backed directory: files
	// on tmpfs count as shmem, not page cache.
	Dir  string
	Hold time.Duration
	// OOMScoreAdj, when not 0, is written to /proc/self/oom_score_adj
	// before allocating. 1000 makes the helper the OOM killer's first
	// choice in its cgroup; raising needs no privilege, lowering needs
	// CAP_SYS_RESOURCE.
	OOMScoreAdj int
}

// Cmd returns the command running this workload in the current test binary
// (os.Executable() -test.run=^TestHelperProcess$ with EnvHelper set). The
// test package must declare TestHelperProcess calling RunHelper.
func (w Workload) Cmd(t testing.TB) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	if w.PageCacheMiB > 0 && w.Dir == "" {
		w.Dir = t.TempDir()
	}
	spec, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperProcess$")
	cmd.Env = append(withoutEnv(os.Environ(), EnvHelper), EnvHelper+"="+string(spec))
	return cmd
}

func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Probes are named functions a helper process runs on request (see
// Helper.Probe); the result is sent back as JSON.
type Probes map[string]func() (any, error)

// RunHelper runs the helper workload and exits the process when EnvHelper is
// set; otherwise it returns at once. Call it from TestHelperProcess.
func RunHelper(probes Probes) {
	spec, ok := os.LookupEnv(EnvHelper)
	if !ok {
		return
	}
	os.Unsetenv(EnvHelper)
	os.Exit(runHelper(spec, probes, os.Stdin, os.Stdout))
}

// Helper exit codes.
const (
	exitOK      = 0
	exitFailed  = 3 // the workload could not be set up
	exitHoldOut = 4 // Hold elapsed before stdin was closed
)

// keep holds the helper's memory so it is not collected.
var keep struct {
	anon []byte
	heap [][]byte
}

func runHelper(spec string, probes Probes, in io.Reader, out io.Writer) int {
	var w Workload
	if err := json.Unmarshal([]byte(spec), &w); err != nil {
		fmt.Fprintf(out, "error bad %s: %v\n", EnvHelper, err)
		return exitFailed
	}
	if err := allocate(w); err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(out, "ready")
	hold := w.Hold
	if hold <= 0 {
		hold = defaultHold
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timer := time.NewTimer(hold)
	for {
		select {
		case <-timer.C:
			fmt.Fprintf(out, "error hold time %v elapsed\n", hold)
			return exitHoldOut
		case line, ok := <-lines:
			if !ok {
				return exitOK
			}
			name, isProbe := strings.CutPrefix(line, "probe ")
			if !isProbe {
				fmt.Fprintf(out, "error unknown command %q\n", line)
				continue
			}
			fmt.Fprintln(out, runProbe(probes, name))
		}
	}
}

func runProbe(probes Probes, name string) string {
	fn, ok := probes[name]
	if !ok {
		return fmt.Sprintf("error no probe %q", name)
	}
	v, err := fn()
	if err != nil {
		return "error " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "error " + err.Error()
	}
	return "probe " + string(b)
}

func allocate(w Workload) error {
	if w.OOMScoreAdj != 0 {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(w.OOMScoreAdj)), 0); err != nil {
			return err
		}
	}
	if w.AnonMiB > 0 {
		b, err := touchAnon(w.AnonMiB * MiB)
		if err != nil {
			return fmt.Errorf("anon %d MiB: %w", w.AnonMiB, err)
		}
		keep.anon = b
	}
	page := os.Getpagesize()
	for range w.HeapMiB {
		b := make([]byte, MiB)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		keep.heap = append(keep.heap, b)
	}
	if w.PageCacheMiB > 0 {
		if err := writePageCache(w.Dir, w.PageCacheMiB); err != nil {
			return fmt.Errorf("page cache %d MiB: %w", w.PageCacheMiB, err)
		}
	}
	return nil
}

func writePageCache(dir string, mib int) error {
	f, err := os.CreateTemp(dir, "cgtest-pagecache-*")
	if err != nil {
		return err
	}
	buf := bytes.Repeat([]byte{0xa5}, MiB)
	for range mib {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
