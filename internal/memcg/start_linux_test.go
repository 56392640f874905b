package memcg

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envChild selects what TestHelperChild does in a child run of this test
// binary: "print" prints /proc/self/cgroup and exits 7; "hold" prints it,
// then "ready", and waits until its standard input is closed.
const envChild = "MEMWATCH_MEMCG_TEST_CHILD"

// TestHelperChild is the child program of the tests below; it does nothing
// in a normal test run.
func TestHelperChild(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		return
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	os.Stdout.Write(b)
	if mode == "print" {
		os.Exit(7)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

func childCmd(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperChild$")
	cmd.Env = append(os.Environ(), envChild+"="+mode)
	return cmd
}

// holder is a child started in "hold" mode.
type holder struct {
	*Process
	stdin   io.WriteCloser
	cgroups string // its /proc/self/cgroup
}

// startHolder starts a holding child in g and waits until it is ready; the
// test's cleanup ends it.
func startHolder(t *testing.T, g *Group) *holder {
	t.Helper()
	cmd := childCmd(t, "hold")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		p.Kill()
		if err := p.Wait(10 * time.Second); errors.Is(err, ErrTimeout) {
			t.Error(err)
		}
	})
	h := &holder{Process: p, stdin: stdin}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out strings.Builder
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("child %d exited before ready (%v): %q", p.Pid(), p.Wait(10*time.Second), out.String())
			}
			if line == "ready" {
				h.cgroups = out.String()
				go func() { // drain; ends when the child's stdout closes
					for range lines {
					}
				}()
				return h
			}
			out.WriteString(line + "\n")
		case <-timer.C:
			t.Fatalf("child %d not ready after a minute: %q", p.Pid(), out.String())
		}
	}
}

// procStatus returns a field of /proc/<pid>/status in bytes.
func procStatus(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// threadCgroups returns the memory cgroup path of every thread of this
// process.
func threadCgroups(t *testing.T) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]string)
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		mc, err := readProcCgroup(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
		if errors.Is(err, ErrUnavailable) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		out[tid] = mc.path
	}
	return out
}

// checkOutside fails the test when a thread of this process is in g: the
// forking thread must have been moved back.
func checkOutside(t *testing.T, g *Group, own string) {
	t.Helper()
	for tid, p := range threadCgroups(t) {
		if p != own {
			t.Errorf("thread %d of the test process is in %q, want %q", tid, p, own)
		}
	}
	if pids, err := g.Procs(); err != nil || slices.Contains(pids, os.Getpid()) {
		t.Errorf("cgroup.procs %v (%v) lists the test process", pids, err)
	}
}

func ownCgroup(t *testing.T) string {
	t.Helper()
	p, err := ProcessCgroup(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartInside(t *testing.T) {
	g := create(t)
	own := ownCgroup(t)
	h := startHolder(t, g)
	mc, err := parseProcCgroup("child", h.cgroups)
	if err != nil || mc.path != g.Path() {
		t.Fatalf("child saw %q (%v), want %q", h.cgroups, err, g.Path())
	}
	if got, err := ProcessCgroup(h.Pid()); err != nil || got != g.Path() {
		t.Fatalf("ProcessCgroup(%d) = %q, %v; want %q", h.Pid(), got, err, g.Path())
	}
	if pids, err := g.Procs(); err != nil || !slices.Equal(pids, []int{h.Pid()}) {
		t.Fatalf("cgroup.procs %v (%v), want only %d", pids, err, h.Pid())
	}
	checkOutside(t, g, own)
	// Everything the program touched from its first instruction is charged
	// inside: the cgroup's usage covers the child's whole anonymous RSS
	// (file pages of the binary may be charged to whoever read them first,
	// so they are left out).
	usage, err := g.Usage()
	if err != nil {
		t.Fatal(err)
	}
	anon := procStatus(t, h.Pid(), "RssAnon")
	t.Logf("v%d idle child: usage %d KiB, RssAnon %d KiB", g.Version(), usage>>10, anon>>10)
	if usage < anon {
		t.Fatalf("usage %d < RssAnon %d: part of the program was charged outside the cgroup", usage, anon)
	}
	h.stdin.Close()
	if err := h.Wait(30 * time.Second); err != nil || h.ExitCode() != 0 || h.Killed() || h.Elapsed() <= 0 {
		t.Fatalf("wait: %v, exit %d, signal %v, elapsed %v", err, h.ExitCode(), h.Signal(), h.Elapsed())
	}
}

func TestStartArbitraryCommand(t *testing.T) {
	commands := map[string]func() *exec.Cmd{
		"self": func() *exec.Cmd { return childCmd(t, "print") },
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		commands["sh"] = func() *exec.Cmd { return exec.Command(sh, "-c", "cat /proc/self/cgroup; exit 7") }
	}
	for name, mk := range commands {
		t.Run(name, func(t *testing.T) {
			g := create(t)
			cmd := mk()
			var out strings.Builder
			cmd.Stdout = &out
			p, err := g.Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Wait(30 * time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || p.ExitCode() != 7 || p.Signal() != 0 || p.Killed() {
				t.Fatalf("wait: %v, exit %d, signal %v", err, p.ExitCode(), p.Signal())
			}
			// The program reports its own cgroup: it was inside from the start.
			mc, err := parseProcCgroup("child", out.String())
			if err != nil || mc.path != g.Path() {
				t.Fatalf("child saw %q (%v), want %q", out.String(), err, g.Path())
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	g := create(t)
	own := ownCgroup(t)
	cmd := exec.Command(filepath.Join(t.TempDir(), "missing"))
	cmd.Err = nil // exec.Command found nothing; force the start itself to fail
	if p, err := g.Start(cmd); err == nil {
		p.Wait(10 * time.Second)
		t.Fatal("starting a missing program succeeded")
	} else if !strings.Contains(err.Error(), g.Dir()) {
		t.Errorf("error %q does not name the cgroup", err)
	}
	checkOutside(t, g, own)
	started := exec.Command("true")
	started.Process = &os.Process{Pid: 1}
	if _, err := g.Start(started); err == nil {
		t.Fatal("a started command was accepted")
	}
}

func TestWaitTimeout(t *testing.T) {
	g := create(t)
	h := startHolder(t, g)
	if err := h.Wait(50 * time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if h.Exited() || h.Elapsed() != 0 || h.ExitCode() != -1 || h.Signal() != 0 {
		t.Fatalf("running process: exited %v, elapsed %v, exit %d, signal %v", h.Exited(), h.Elapsed(), h.ExitCode(), h.Signal())
	}
	h.Kill()
	if err := h.Wait(10 * time.Second); err == nil || !h.Killed() {
		t.Fatalf("after Kill: %v, signal %v", err, h.Signal())
	}
	select {
	case <-h.Done():
	default:
		t.Fatal("Done not closed after the process was reaped")
	}
	h.Kill() // no-op once exited
}

// Many starts at once, from many goroutines: each child lands in its own
// cgroup and no thread of the test process is left behind in any.
func TestStartConcurrent(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	own := ownCgroup(t)
	const n = 8
	groups := make([]*Group, n)
	for i := range groups {
		groups[i] = create(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, g := range groups {
		wg.Go(func() {
			for range 5 {
				var out strings.Builder
				cmd := exec.Command(sh, "-c", "cat /proc/self/cgroup")
				cmd.Stdout = &out
				p, err := g.Start(cmd)
				if err != nil {
					errs <- err
					return
				}
				if err := p.Wait(30 * time.Second); err != nil {
					errs <- fmt.Errorf("child %d: %v", i, err)
					return
				}
				if mc, err := parseProcCgroup("child", out.String()); err != nil || mc.path != g.Path() {
					errs <- fmt.Errorf("child %d saw %q (%v), want %q", i, out.String(), err, g.Path())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, g := range groups {
		checkOutside(t, g, own)
	}
}

// The thread-group leader is never used; a goroutine that lands on it keeps
// it and hands the work to another thread.
func TestOnThreadAvoids(t *testing.T) {
	var avoided []int
	var mu sync.Mutex
	calls := 0
	avoidFirst := func() bool {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			avoided = append(avoided, unix.Gettid())
			return true
		}
		return false
	}
	var ran int
	err := onThread(avoidFirst, func(tid int) (bool, error) {
		ran = tid
		if tid != unix.Gettid() {
			return false, fmt.Errorf("fn got tid %d on thread %d", tid, unix.Gettid())
		}
		return false, errors.New("fn error")
	})
	if err == nil || err.Error() != "fn error" {
		t.Fatalf("error %v, want fn's", err)
	}
	if calls != 2 || len(avoided) != 1 || ran == 0 || ran == avoided[0] {
		t.Fatalf("avoided %v after %d calls, fn ran on %d", avoided, calls, ran)
	}
	if err := onSpareThread(func(tid int) (bool, error) {
		if tid == os.Getpid() {
			return false, errors.New("ran on the thread-group leader")
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A retired thread is gone: its goroutine ends locked and the runtime
// terminates the thread.
func TestOnThreadRetires(t *testing.T) {
	var tid int
	if err := onSpareThread(func(id int) (bool, error) { tid = id; return true, nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retired thread %d still exists (%v)", tid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
