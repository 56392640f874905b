package memtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/bytefmt"
	"github.com/go-memwatch/memwatch/internal/memcg"
)

// EnvChild marks a child run started by RunInCgroup; its value is the name
// of the test the child runs.
const EnvChild = "MEMWATCH_MEMTEST_CGROUP_CHILD"

// resultPrefix starts the line on which a child prints its Result.
const resultPrefix = "memtest-child-result: "

// DefaultCgroupTimeout bounds a child run.
const DefaultCgroupTimeout = 2 * time.Minute

// InCgroup reports whether this process is a child started by RunInCgroup.
func InCgroup() bool { return os.Getenv(EnvChild) != "" }

type cgroupConfig struct {
	timeout      time.Duration
	args         []string
	allowFailure bool
}

// CgroupOption configures RunInCgroup.
type CgroupOption func(*cgroupConfig)

// WithTimeout bounds the child run (default DefaultCgroupTimeout); a child
// still running then is killed and the test fails.
func WithTimeout(d time.Duration) CgroupOption {
	return func(c *cgroupConfig) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithArgs adds test flags to the child's command line (for example
// "-test.benchtime=1x").
func WithArgs(args ...string) CgroupOption {
	return func(c *cgroupConfig) { c.args = append(c.args, args...) }
}

// AllowFailure makes a child that fails without being OOM-killed a result
// (Passed false) instead of a failure of the calling test, for tests that
// expect the body to fail.
func AllowFailure() CgroupOption {
	return func(c *cgroupConfig) { c.allowFailure = true }
}

// CgroupResult is what RunInCgroup observed.
type CgroupResult struct {
	// Limit is the cgroup's hard limit; Version the cgroup version (1 or 2).
	Limit   uint64
	Version int
	// OOMKilled is true when the cgroup's oom_kill counter rose (v1
	// memory.oom_control, v2 memory.events): the kernel OOM killer acted,
	// not merely someone sending SIGKILL. OOMKills is the counter.
	OOMKilled bool
	OOMKills  uint64
	// Peak is the cgroup's peak usage (v1 memory.max_usage_in_bytes, v2
	// memory.peak); HasPeak is false when the kernel has no such file
	// (v2 before 5.19). The cgroup is fresh, so it covers the child's whole
	// life.
	Peak    uint64
	HasPeak bool
	// ExitCode is the child's exit status (-1 when killed by a signal) and
	// Signal the signal that killed it ("" when it exited).
	ExitCode int
	Signal   string
	// Passed is true when the child exited 0.
	Passed bool
	// Output is the child's standard output and error (-test.v), bounded.
	Output string
	// Child is the Result the child measured around the body, when it got
	// to print it (nil when it was killed first).
	Child *Result
	// Elapsed is the child's run time.
	Elapsed time.Duration
}

// String summarizes the run.
func (c CgroupResult) String() string {
	s := fmt.Sprintf("cgroup v%d limit %s: ", c.Version, bytefmt.Compact(c.Limit))
	switch {
	case c.OOMKilled:
		s += fmt.Sprintf("OOM-killed (oom_kill %d)", c.OOMKills)
	case c.Signal != "":
		s += "killed by " + c.Signal
	default:
		s += fmt.Sprintf("exit %d", c.ExitCode)
	}
	if c.HasPeak {
		s += ", peak usage " + bytefmt.Compact(c.Peak)
	}
	return s
}

// RunInCgroup runs body in a child process inside a fresh memory cgroup
// limited to limit bytes (no swap where the kernel accounts swap), and
// reports what happened:
//
//	res := memtest.RunInCgroup(t, 64<<20, func(t *testing.T) {
//		// allocate, run the code under test ...
//	})
//	if res.OOMKilled { t.Fatal(res) }
//
// The child is the current test binary re-executed with
// -test.run=^<exact test name>$ and EnvChild set. In the child, RunInCgroup
// runs body under Measure with the child's t, prints the Result for the
// parent, and ends the test with t.SkipNow (a body that failed still fails
// the child); it does not return there, so the code after it runs only in
// the parent. Code before it runs in both: keep setup that matters inside
// body. The body never runs in the parent.
//
// In the parent, a child that fails (non-zero exit) without being OOM-killed
// fails t and logs its output (unless AllowFailure); an OOM kill is reported
// in the result for the caller to judge. RunInCgroup skips the test with the
// reason where memory cgroups cannot be created (not root, read-only
// cgroupfs, not Linux); it removes the cgroup when the test ends. The child
// starts inside the cgroup from its first instruction (v2: created there by
// clone3; v1: forked from a thread moved into the cgroup for the time of the
// fork), so its whole memory is charged there; nothing has to be set up in
// TestMain and importing memtest runs no code. The child's Measure is as
// process-wide as any (see the package documentation); the cgroup numbers
// cover only the child.
func RunInCgroup(t *testing.T, limit uint64, body func(t *testing.T), opts ...CgroupOption) CgroupResult {
	t.Helper()
	if name := os.Getenv(EnvChild); name != "" {
		if name != t.Name() {
			t.Skipf("memtest: child run for %s, not %s", name, t.Name())
		}
		runChild(t, body)
		panic("unreachable")
	}
	cfg := cgroupConfig{timeout: DefaultCgroupTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 5*time.Second; left > 0 && left < cfg.timeout {
			cfg.timeout = left
		}
	}
	cg, err := memcg.Create("memtest-"+t.Name(), memcg.WithLimit(limit), memcg.WithNoSwap(), memcg.WithLogf(t.Logf))
	if errors.Is(err, memcg.ErrUnavailable) {
		t.Skip("memtest: " + err.Error())
	}
	if err != nil {
		t.Fatalf("memtest: %v", err)
	}
	t.Cleanup(func() {
		if err := cg.Remove(); err != nil {
			t.Errorf("memtest: %v", err)
		}
	})
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("memtest: %v", err)
	}
	args := append([]string{"-test.run=" + RunPattern(t.Name()), "-test.v", "-test.count=1",
		"-test.timeout=" + (cfg.timeout + time.Minute).String()}, cfg.args...)
	cmd := exec.Command(self, args...)
	cmd.Env = append(withoutEnv(os.Environ(), EnvChild), EnvChild+"="+t.Name())
	out := &boundedBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	child, err := cg.Start(cmd)
	if err != nil {
		t.Fatalf("memtest: %v", err)
	}
	t.Cleanup(func() { // before the cgroup's removal
		child.Kill()
		child.Wait(30 * time.Second)
	})
	if err := child.Wait(cfg.timeout); errors.Is(err, memcg.ErrTimeout) {
		child.Kill()
		child.Wait(30 * time.Second)
		t.Fatalf("memtest: child still running after %v, killed; output:\n%s", cfg.timeout, out.String())
	}

	res := CgroupResult{Limit: limit, Version: cg.Version(), ExitCode: child.ExitCode(), Elapsed: child.Elapsed()}
	if sig := child.Signal(); sig != 0 {
		res.Signal = sig.String()
	}
	res.Passed = res.ExitCode == 0
	res.Output = out.String()
	kills, err := cg.OOMKills()
	if err != nil {
		t.Logf("memtest: cannot read the oom_kill counter: %v", err)
	}
	res.OOMKills, res.OOMKilled = kills, kills > 0
	if v, err := cg.Peak(); err == nil {
		res.Peak, res.HasPeak = v, true
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Logf("memtest: cannot read the peak usage: %v", err)
	}
	res.Child = parseChildResult(res.Output)
	if !res.Passed && !res.OOMKilled && !cfg.allowFailure {
		t.Errorf("memtest: child in %s failed (%s); output:\n%s", cg.Dir(), res, res.Output)
	}
	return res
}

// runChild runs the body in the child, prints its Result and ends the test.
func runChild(t *testing.T, body func(t *testing.T)) {
	var r Result
	finished := false
	defer func() {
		if finished {
			b, err := json.Marshal(r)
			if err == nil {
				fmt.Printf("\n%s%s\n", resultPrefix, b)
			}
		}
	}()
	r = Measure(func() { body(t) })
	finished = true
	t.Log(r.String())
	t.SkipNow()
}

func parseChildResult(out string) *Result {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		payload, ok := strings.CutPrefix(sc.Text(), resultPrefix)
		if !ok {
			continue
		}
		var r Result
		if json.Unmarshal([]byte(payload), &r) == nil {
			return &r
		}
	}
	return nil
}

// RunPattern returns the -test.run pattern selecting exactly the named test
// or subtest: each "/"-separated element anchored and quoted.
func RunPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
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

// boundedBuffer collects output from the exec copier, keeping the first max
// bytes.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
