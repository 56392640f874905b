package cgtest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/memcg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHelperProcess is the workload helper (see Workload.Cmd).
func TestHelperProcess(t *testing.T) {
	RunHelper(Probes{
		"self": func() (any, error) {
			b, err := os.ReadFile("/proc/self/cgroup")
			return selfReport{Pid: os.Getpid(), ProcCgroup: string(b)}, err
		},
	})
}

type selfReport struct {
	Pid        int
	ProcCgroup string
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

func mib(b uint64) float64 { return float64(b) / MiB }

func TestCreateAndCleanup(t *testing.T) {
	var dir, parent string
	t.Run("create", func(t *testing.T) {
		c := Create(t, WithLimit(64*MiB), WithParentLimit(48*MiB), WithNoSwap())
		dir, parent = c.Dir(), c.ParentDir()
		if filepath.Dir(dir) != parent {
			t.Fatalf("child %s not inside parent %s", dir, parent)
		}
		if c.Version() != 1 && c.Version() != 2 {
			t.Fatalf("version %d", c.Version())
		}
		// Path is the cgroup path: the directory's tail below the mount.
		if !strings.HasSuffix(dir, c.Path()) && !strings.HasSuffix(c.Path(), filepath.Base(dir)) {
			t.Fatalf("Path %q does not name %s", c.Path(), dir)
		}
		limit := "memory.max"
		if c.Version() == 1 {
			limit = "memory.limit_in_bytes"
		}
		if got := strings.TrimSpace(c.ReadFile(limit)); got != strconv.Itoa(64*MiB) {
			t.Fatalf("%s = %s", limit, got)
		}
		b, err := os.ReadFile(filepath.Join(parent, limit))
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(48*MiB) {
			t.Fatalf("parent %s = %q, %v", limit, b, err)
		}
		if c.Version() == 1 && c.SwapLimited() {
			if got := strings.TrimSpace(c.ReadFile("memory.memsw.limit_in_bytes")); got != strconv.Itoa(64*MiB) {
				t.Fatalf("memsw = %s", got)
			}
		}
		if err := c.SetLimit(32 * MiB); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(c.ReadFile(limit)); got != strconv.Itoa(32*MiB) {
			t.Fatalf("after SetLimit %s = %s", limit, got)
		}
		if _, err := c.OOMKills(); err != nil {
			t.Fatal(err)
		}
		if u, err := c.Usage(); err != nil || u > MiB {
			t.Fatalf("fresh cgroup usage %d, %v", u, err)
		}
		// A process left running is killed by the cleanup.
		c.StartWorkload(t, Workload{AnonMiB: 4})
	})
	if dir == "" {
		t.Skip("create skipped")
	}
	for _, d := range []string{dir, parent} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after the test: %v", d, err)
		}
	}
}

func TestStartsInside(t *testing.T) {
	c := Create(t)
	h := c.StartWorkload(t, Workload{})
	if !h.Ready() {
		t.Fatalf("helper not ready: %s", h.Output())
	}
	got, err := memcg.ProcessCgroup(h.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if got != c.Path() {
		t.Fatalf("/proc/%d/cgroup memory path %q, want %q", h.Pid(), got, c.Path())
	}
	procs, err := c.Procs()
	if err != nil || !slices.Contains(procs, h.Pid()) {
		t.Fatalf("cgroup.procs %v (%v) lacks %d", procs, err, h.Pid())
	}
	var r selfReport
	if err := h.Probe("self", &r); err != nil {
		t.Fatal(err)
	}
	if r.Pid != h.Pid() {
		t.Fatalf("probe ran in pid %d, want %d (the started process must be the program itself)", r.Pid, h.Pid())
	}
	// Everything the program touched is charged inside: the cgroup's usage
	// covers the helper's whole anonymous RSS (file pages of the binary
	// may be charged to whoever read them first, so they are left out).
	usage, err := c.Usage()
	if err != nil {
		t.Fatal(err)
	}
	anon := procStatus(t, h.Pid(), "RssAnon")
	t.Logf("v%d idle helper: usage %.1f MiB, RssAnon %.1f MiB", c.Version(), mib(usage), mib(anon))
	if usage < anon {
		t.Fatalf("usage %d < RssAnon %d: part of the program was charged outside the cgroup", usage, anon)
	}
	if err := h.Probe("nope", &r); err == nil || !strings.Contains(err.Error(), "no probe") {
		t.Fatalf("unknown probe: %v", err)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("stop: %v (%s)", err, h.Output())
	}
	if h.ExitCode() != 0 || h.Killed() {
		t.Fatalf("exit %d signal %v", h.ExitCode(), h.Signal())
	}
}

func TestWorkloadCharges(t *testing.T) {
	c := Create(t, WithLimit(512*MiB))
	anonKey, fileKey := "anon", "file"
	if c.Version() == 1 {
		anonKey, fileKey = "total_rss", "total_cache"
	}
	h := c.StartWorkload(t, Workload{AnonMiB: 100, HeapMiB: 32, PageCacheMiB: 48})
	if !h.Ready() {
		t.Fatalf("helper not ready: %s", h.Output())
	}
	usage, err := c.Usage()
	if err != nil {
		t.Fatal(err)
	}
	anon, err := c.Stat(anonKey)
	if err != nil {
		t.Fatal(err)
	}
	file, err := c.Stat(fileKey)
	if err != nil {
		t.Fatal(err)
	}
	rss := procStatus(t, h.Pid(), "VmRSS")
	t.Logf("v%d anon 100 + heap 32 + page cache 48 MiB: usage %.1f, %s %.1f, %s %.1f, VmRSS %.1f MiB",
		c.Version(), mib(usage), anonKey, mib(anon), fileKey, mib(file), mib(rss))
	hi := uint64(180 * MiB)
	if raceEnabled {
		hi += 64 * MiB // shadow memory of the 32 MiB heap, race runtime
	}
	if anon < 132*MiB || anon > hi {
		t.Errorf("%s = %.1f MiB, want 132..%.0f (100 anon + 32 heap + runtime)", anonKey, mib(anon), mib(hi))
	}
	if file < 48*MiB {
		t.Errorf("%s = %.1f MiB, want >= 48 (the page cache written)", fileKey, mib(file))
	}
	if usage < anon+48*MiB {
		t.Errorf("usage %.1f MiB < anon + page cache", mib(usage))
	}
}

func TestOOMKill(t *testing.T) {
	c := Create(t, WithLimit(128*MiB), WithNoSwap())
	before, err := c.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	h := c.StartWorkload(t, Workload{AnonMiB: 400})
	if h.Ready() {
		t.Fatalf("helper touched 400 MiB in a 128 MiB cgroup and survived (swap limited: %v)", c.SwapLimited())
	}
	after, err := c.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	events := "memory.events"
	if c.Version() == 1 {
		events = "memory.oom_control"
	}
	t.Logf("v%d: OOM kill after %v, oom_kill %d -> %d, signal %v; %s:\n%s", c.Version(), h.Elapsed(), before, after, h.Signal(), events, c.ReadFile(events))
	if !h.Killed() {
		t.Fatalf("helper ended with exit %d signal %v, want SIGKILL (%s)", h.ExitCode(), h.Signal(), h.Output())
	}
	if after < before+1 {
		t.Fatalf("oom_kill %d -> %d: the kill was not the OOM killer's", before, after)
	}
}

func TestRunHelperProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int)
	probes := Probes{
		"n":   func() (any, error) { return 42, nil },
		"bad": func() (any, error) { return nil, errors.New("broken\nreader") },
	}
	go func() { done <- runHelper(`{"HeapMiB":1}`, probes, inR, outW); outW.Close() }()
	lines := make(chan string)
	go func() {
		defer close(lines)
		b := make([]byte, 4096)
		var acc string
		for {
			n, err := outR.Read(b)
			acc += string(b[:n])
			for {
				line, rest, ok := strings.Cut(acc, "\n")
				if !ok {
					break
				}
				lines <- line
				acc = rest
			}
			if err != nil {
				return
			}
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no line, want %q", want)
		}
	}
	expect("ready")
	io.WriteString(inW, "probe n\n")
	expect("probe 42")
	io.WriteString(inW, "probe bad\n")
	expect("error broken reader")
	io.WriteString(inW, "probe none\n")
	expect(`error no probe "none"`)
	io.WriteString(inW, "dance\n")
	expect(`error unknown command "dance"`)
	inW.Close()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for range lines {
	}

	// Hold bounds the wait; a bad spec fails.
	inR2, inW2 := io.Pipe()
	defer inW2.Close()
	var out strings.Builder
	if code := runHelper(`{"Hold":1000000}`, nil, inR2, &out); code != exitHoldOut || !strings.Contains(out.String(), "hold time") {
		t.Fatalf("hold: exit %d, %q", code, out.String())
	}
	inW2.Close()
	out.Reset()
	if code := runHelper(`{`, nil, strings.NewReader(""), &out); code != exitFailed {
		t.Fatalf("bad spec: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := runHelper(`{"PageCacheMiB":1,"Dir":"/nonexistent/dir"}`, nil, strings.NewReader(""), &out); code != exitFailed || !strings.HasPrefix(out.String(), "error page cache") {
		t.Fatalf("bad dir: exit %d, %q", code, out.String())
	}
	keep.heap = nil
	runtime.GC()
}
